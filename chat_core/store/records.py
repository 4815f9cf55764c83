"""The records the store hands out: plain frozen dataclasses, never database rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..config import CACHE_MODES, REASONING_EFFORTS, THINKING_MODES
from ..text import clean_text

MESSAGE_STATUSES = ("complete", "streaming", "interrupted", "error")


@dataclass(frozen=True)
class Session:
    """A chat session of one owner, with its per-session settings and cache state."""

    id: str
    owner: str
    title: str | None
    is_used: bool
    created_at: str
    updated_at: str
    used_at: str | None = None
    pinned: bool = False
    model: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    thinking: str | None = None
    cache_mode: str | None = None
    ark_context_id: str | None = None
    ark_context_expires_at: float | None = None
    response_id: str | None = None
    # The leaf of the branch the chat shows and continues (None: its newest message).
    current_leaf_id: int | None = None
    title_by_user: bool = False
    archived: bool = False
    reasoning_effort: str | None = None
    web_search: bool | None = None
    # The catalogue model an endpoint (`ep-…`) serves, for its prices and abilities.
    model_alias: str | None = None
    # The leaf the cached Ark context was built for: another branch needs a new one.
    ark_context_leaf_id: int | None = None

    @classmethod
    def from_row(cls, row: dict) -> Session:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        for flag in ("is_used", "pinned", "title_by_user", "archived"):
            values[flag] = bool(values[flag])
        if values["web_search"] is not None:
            values["web_search"] = bool(values["web_search"])
        for name, known in _CHOICES.items():  # one set by hand, unknown: not set
            if values[name] not in known:
                values[name] = None
        return cls(**values)


# Session settings that take one of a few values; None is "not set".
_CHOICES = {
    "cache_mode": (None, *CACHE_MODES),
    "thinking": (None, *THINKING_MODES),
    "reasoning_effort": (None, *REASONING_EFFORTS),
}


@dataclass(frozen=True)
class Message:
    """One stored message. Assistant replies carry usage, latency and a final status.

    A failed reply carries its error as `error_code` and `error_params`, which the UI
    renders in the reader's language. `error` is text only for rows that predate error
    codes (or imports of such rows) whose sentence could not be mapped to a code.
    """

    id: int
    session_id: str
    role: str
    content: str
    created_at: str
    status: str = "complete"
    reasoning_content: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    # A reply of several calls (a continued answer): the largest prompt and reply among
    # them, which set its price tier (see `chat_core.pricing.tier_lengths`); None for
    # one call.
    tier_prompt_tokens: int | None = None
    tier_completion_tokens: int | None = None
    # The catalogue model the reply's endpoint served when it was asked (see
    # `chat_core.chat.effective`), which prices it; None when not said, or for rows
    # older than it (their chat's alias stands in).
    model_alias: str | None = None
    latency_ms: int | None = None
    first_token_ms: int | None = None
    error: str | None = None
    error_code: str | None = None
    error_params: dict[str, Any] | None = None
    # The message before this one in its branch (None for a chat's first message).
    parent_id: int | None = None
    # The Responses API id of this reply's turn, to chain the next turn of its branch.
    response_id: str | None = None
    # Why the model stopped: "stop", "length" (the token limit cut it) or
    # "content_filter".
    finish_reason: str | None = None
    # Web pages a web search used: [{"url": ..., "title": ...}, ...].
    sources: list[dict[str, Any]] | None = None

    @classmethod
    def from_row(cls, row: dict) -> Message:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        values["error_params"] = params_from_text(values["error_params"])
        values["sources"] = _json_list(values["sources"])
        return cls(**values)


@dataclass(frozen=True)
class SearchHit:
    """A session that matches a search, with a snippet of the matching text."""

    session_id: str
    title: str | None
    snippet: str
    message_id: int | None = None


SESSION_SETTINGS = (
    "model",
    "system_prompt",
    "temperature",
    "thinking",
    "cache_mode",
    "reasoning_effort",
    "web_search",
    "model_alias",
)


def answered(message: Message) -> bool:
    """Whether an assistant message holds an answer the model should see next turn."""
    return message.status != "streaming" and bool(message.content.strip())


def params_to_text(params: Mapping[str, Any] | None) -> str | None:
    """Error parameters as the JSON text the `error_params` column holds."""
    if params is None:
        return None
    # A service's message may hold half a character (cut by UTF-16 length): storable.
    return clean_text(json.dumps(dict(params), ensure_ascii=False, default=str))


def sources_to_text(sources: list[dict] | None) -> str | None:
    """Web sources as the JSON text the `sources` column holds (None for none)."""
    if not sources:
        return None
    return clean_text(json.dumps(list(sources), ensure_ascii=False))


def params_from_text(value: object) -> dict[str, Any] | None:
    """The `error_params` column as a dict; None when it is empty or not a JSON object
    (a row written by hand must not break reading a chat)."""
    if isinstance(value, Mapping):
        return dict(value)
    try:
        params = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return params if isinstance(params, dict) else None


def _json_list(value: object) -> list | None:
    """A JSON list stored as text (PostgreSQL may hand it over parsed)."""
    if value is None or isinstance(value, list):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, list) else None
