"""Request bodies without JSON nulls, and without Ark-only parameters on other servers.

The SDK's resource methods put every parameter in the body, defaulting to None, which
goes out as JSON null. Ark reads null as absent; a strict OpenAI-compatible server
refuses it (llama.cpp: 400 "'tools' must be an array of objects"). The SDK's own way to
leave a parameter out is its `NOT_GIVEN` sentinel: request options drop it from the body
(`RequestOptions.construct` strips it). So each call passes `NOT_GIVEN` for every body
parameter it does not set. The names below are those the SDK's `create` methods send;
the strict emulator's tests fail if a newer SDK adds one.

`responses.create` iterates `tools` before building the body, so it cannot take
`NOT_GIVEN` there; it gets the compliant empty list instead.
"""

from __future__ import annotations

from typing import Any

from volcenginesdkarkruntime._types import NOT_GIVEN

CHAT = (
    "frequency_penalty",
    "function_call",
    "logit_bias",
    "logprobs",
    "max_tokens",
    "presence_penalty",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "tools",
    "top_logprobs",
    "top_p",
    "repetition_penalty",
    "n",
    "parallel_tool_calls",
    "service_tier",
    "tool_choice",
    "response_format",
    "thinking",
    "max_completion_tokens",
    "reasoning_effort",
    "user",
)
CONTEXT_CHAT = tuple(
    name
    for name in CHAT
    if name
    not in (
        "parallel_tool_calls",
        "service_tier",
        "thinking",
        "max_completion_tokens",
        "reasoning_effort",
    )
)
CONTEXT_CREATE = ("ttl", "truncation_strategy")
RESPONSES = (
    "instructions",
    "max_output_tokens",
    "parallel_tool_calls",
    "previous_response_id",
    "thinking",
    "store",
    "caching",
    "stream",
    "temperature",
    "text",
    "tool_choice",
    "top_p",
    "max_tool_calls",
    "context_management",
    "expire_at",
    "reasoning",
    "session",
    "service_tier",
)
# Parameters only Ark knows; a generic server may reject them, so they are not sent there.
ARK_ONLY = frozenset({"thinking", "caching", "expire_at", "context_management", "session"})


def body(names: tuple[str, ...], provider: str, **given: Any) -> dict[str, Any]:
    """Keyword arguments for an SDK call: `given` without its None values (and without
    Ark-only ones unless `provider` is Ark), every other name of `names` as `NOT_GIVEN`."""
    values: dict[str, Any] = dict.fromkeys(names, NOT_GIVEN)
    for name, value in given.items():
        if value is None or (provider != "ark" and name in ARK_ONLY):
            continue
        values[name] = value
    return values


def responses_body(provider: str, **given: Any) -> dict[str, Any]:
    """`body` for `responses.create`, with a list for `tools` (see the module docstring)."""
    given.setdefault("tools", [])
    return body(RESPONSES, provider, **given)
