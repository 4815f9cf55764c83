"""The records the store hands out: plain frozen dataclasses, never database rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

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

    @classmethod
    def from_row(cls, row: dict) -> Session:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        values["is_used"] = bool(values["is_used"])
        values["pinned"] = bool(values["pinned"])
        return cls(**values)


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
    latency_ms: int | None = None
    first_token_ms: int | None = None
    error: str | None = None
    error_code: str | None = None
    error_params: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: dict) -> Message:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        values["error_params"] = params_from_text(values["error_params"])
        return cls(**values)


@dataclass(frozen=True)
class SearchHit:
    """A session that matches a search, with a snippet of the matching text."""

    session_id: str
    title: str | None
    snippet: str
    message_id: int | None = None


SESSION_SETTINGS = ("model", "system_prompt", "temperature", "thinking", "cache_mode")


def params_to_text(params: Mapping[str, Any] | None) -> str | None:
    """Error parameters as the JSON text the `error_params` column holds."""
    if params is None:
        return None
    return json.dumps(dict(params), ensure_ascii=False, default=str)


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
