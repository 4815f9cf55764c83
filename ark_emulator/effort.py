"""Reasoning effort, as the SDK sends it: `reasoning_effort` on Chat Completions and
`reasoning: {"effort": ...}` on Responses, one of minimal, low, medium or high
(types/shared/reasoning_effort.py). Another value is refused with 400 InvalidParameter.

What it does here, so tests can see it arrived: "minimal" answers without reasoning,
"low" reasons in at most `LOW_EFFORT_TOKENS` tokens, "medium" and "high" as the
thinking setting says.
"""

from __future__ import annotations

from . import errors

EFFORTS = ("minimal", "low", "medium", "high")
LOW_EFFORT_TOKENS = 3


def requested_effort(body: dict) -> str | None:
    """The request's reasoning effort (None when it sets none); 400 for an unknown one."""
    effort, param = body.get("reasoning_effort"), "reasoning_effort"
    reasoning = body.get("reasoning")
    if effort is None and isinstance(reasoning, dict):
        effort, param = reasoning.get("effort"), "reasoning.effort"
    if effort is None:
        return None
    if effort not in EFFORTS:
        raise errors.invalid_parameter(param, f"{param} must be one of {', '.join(EFFORTS)}")
    return effort


def reasoning_tokens(effort: str | None, reasoning: list[str]) -> list[str]:
    """The reasoning a reply keeps under `effort`."""
    if effort == "minimal":
        return []
    if effort == "low":
        return reasoning[:LOW_EFFORT_TOKENS]
    return reasoning
