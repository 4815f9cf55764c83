"""What a turn sends in (`TurnRequest`) and what it streams out (the events).

Events are small frozen dataclasses, built once per token, so they carry no validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..images import Image


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
    A reply made of several calls (a continued answer) sums their counts, and keeps in
    `tier_prompt_tokens` and `tier_completion_tokens` the largest prompt and the largest
    reply among its calls, which set the price tier of its tokens; None for one call.
    """

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    model: str | None
    tier_prompt_tokens: int | None = None
    tier_completion_tokens: int | None = None


# How a turn can end normally (other reasons a server gives count as "stop").
FINISH_REASONS = frozenset({"stop", "length", "content_filter"})


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


@dataclass(frozen=True, slots=True)
class SearchProgress:
    """A web search the model runs: "searching" while it runs, "done" once it is over
    (with what it searched for, when the service says)."""

    status: str
    query: str | None = None


@dataclass(frozen=True, slots=True)
class Sources:
    """The web pages the answer cites so far, in order: dicts with `url` and `title`
    (and `site` when known), as the service gave them."""

    items: tuple[dict, ...]


Event = ReasoningDelta | ContentDelta | Usage | Finish | CacheUpdate | SearchProgress | Sources


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
    # Who serves the model on a generic server, as it says ("vllm"…); None: not known.
    served_by: str | None = None
    # How hard the model reasons (minimal … high); None leaves it to the model. The
    # Context API has no such parameter: it is not sent there.
    reasoning_effort: str | None = None
    # Let the model search the web (the Responses API's web_search tool; that mode only).
    web_search: bool = False
    # Images sent with `new_message`, and with each message of `history` (aligned with
    # it, or empty when no earlier message has any).
    images: Sequence[Image] = ()
    history_images: Sequence[Sequence[Image]] = ()
