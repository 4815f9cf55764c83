"""What a turn sends in (`TurnRequest`) and what it streams out (the events).

Events are small frozen dataclasses, built once per token, so they carry no validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning (thinking) text."""

    text: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """A piece of the reply text."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts the service reported for the turn.

    `prompt_tokens` includes `cached_tokens`; `completion_tokens` includes `reasoning_tokens`.
    `model` is the model version that answered (it can differ from the endpoint id sent).
    """

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    model: str | None


@dataclass(frozen=True, slots=True)
class Finish:
    """The turn ended normally: "stop", "length" (token limit) or "content_filter"."""

    reason: str


@dataclass(frozen=True, slots=True)
class CacheUpdate:
    """Server-side cache state the caller must persist for the session's next turn."""

    context_id: str | None
    context_expires_at: float | None
    response_id: str | None


Event = ReasoningDelta | ContentDelta | Usage | Finish | CacheUpdate


@dataclass(frozen=True)
class TurnRequest:
    """One user turn and everything needed to send it.

    `history` holds the earlier (role, content) messages, oldest first, without
    `new_message`. `cache_mode` is "off", "context" or "responses"; the cache fields
    (`context_id`, `context_expires_at` in epoch seconds, `previous_response_id`)
    come from the last `CacheUpdate` the caller stored. `history_tokens` caps the
    history sent; the context window, less the room kept for the reply, caps it too.
    """

    model: str
    new_message: str
    history: Sequence[tuple[str, str]] = ()
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    thinking: str = "auto"
    cache_mode: str = "off"
    context_id: str | None = None
    context_expires_at: float | None = None
    previous_response_id: str | None = None
    context_ttl: int = 3600
    history_tokens: int = 32000
    # "ark" or "generic" (any OpenAI-compatible server; see `chat_core.provider`).
    provider: str = "ark"
    # The model's context window in tokens when known (a setting or the catalogue); a
    # generic server is asked for its own when this is None.
    context_window: int | None = None
    # A reply cut at the token limit, to be continued: sent as the start of the answer.
    continue_from: str | None = None
