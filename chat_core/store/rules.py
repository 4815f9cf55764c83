"""The domain rules every backend shares, kept out of SQL: ids, settings, search terms.

Text checks and titles live in `chat_core.text`; `Store` applies all of these before a
backend sees any value, so a backend only stores and fetches.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..text import clean_text
from .records import SESSION_SETTINGS

# Settings whose change alters what the model has seen, so a cached context or response
# chain no longer matches the chat.
CACHE_KEYS = ("ark_context_id", "ark_context_expires_at", "response_id", "ark_context_leaf_id")
CACHE_RESET = dict.fromkeys(CACHE_KEYS)
CACHE_SENSITIVE_SETTINGS = {"model", "system_prompt", "cache_mode"}
# Ids this app issues (32 hex digits) and ids found in real data: UUIDs with hyphens
# and Ark context ids such as ctx-20250120174458-6c94p from the first version of the
# app. ASCII only: `str.isalnum` would also accept other scripts' digits.
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
MAX_QUERY_CHARS = 200
SNIPPET_RADIUS = 40


def utc_now() -> str:
    """ISO 8601 UTC with microseconds: sorts as text in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def is_session_id(value: object) -> bool:
    """Whether `value` has the shape of a session id (it may still not exist)."""
    return isinstance(value, str) and _SESSION_ID.match(value) is not None


def settings_changes(settings: dict) -> dict:
    """Column values for a change of per-session settings, with the cache dropped when
    the change alters what the model sees. Unknown names raise `ValueError`."""
    unknown = set(settings) - set(SESSION_SETTINGS)
    if unknown:
        raise ValueError(f"Unknown session settings: {sorted(unknown)}")
    values = {key: clean_text(v) if isinstance(v, str) else v for key, v in settings.items()}
    if CACHE_SENSITIVE_SETTINGS & set(values):
        values.update(CACHE_RESET)
    return values


def search_terms(query: object) -> list[str]:
    """The distinct whitespace-separated terms of a query; none for anything but text."""
    if not isinstance(query, str):
        return []
    return list(dict.fromkeys(clean_text(query)[:MAX_QUERY_CHARS].split()))


def snippet(text: str | None, terms: list[str]) -> str:
    """About `SNIPPET_RADIUS` characters either side of the first term found."""
    text = " ".join((text or "").split())
    lowered = text.lower()
    positions = [lowered.find(term.lower()) for term in terms]
    start = min((p for p in positions if p >= 0), default=0)
    begin = max(start - SNIPPET_RADIUS, 0)
    end = min(start + SNIPPET_RADIUS * 2, len(text))
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + text[begin:end] + suffix


def like_pattern(term: str) -> str:
    r"""A LIKE pattern matching `term` anywhere, with `\` as the escape character."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
