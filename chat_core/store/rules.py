"""The domain rules every backend shares, kept out of SQL: ids, settings, search terms.

Text checks and titles live in `chat_core.text`; `Store` applies all of these before a
backend sees any value, so a backend only stores and fetches.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import InvalidInputError
from ..text import clean_text
from .records import SESSION_SETTINGS, SearchHit

# Settings whose change alters what the model has seen, so a cached context or response
# chain no longer matches the chat.
CACHE_KEYS = ("ark_context_id", "ark_context_expires_at", "response_id", "ark_context_leaf_id")
CACHE_RESET = dict.fromkeys(CACHE_KEYS)
CACHE_SENSITIVE_SETTINGS = {"model", "system_prompt", "cache_mode"}
# The preferences among those, by the chat setting they stand in for: a chat with no
# setting of its own follows its owner's preference.
CACHE_SENSITIVE_PREFERENCES = {
    "model": "model",
    "system_prompt": "system_prompt",
    "mode": "cache_mode",
}
# Ids this app issues (32 hex digits) and ids found in real data: UUIDs with hyphens
# and Ark context ids such as ctx-20250120174458-6c94p from the first version of the
# app. ASCII only: `str.isalnum` would also accept other scripts' digits.
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
MAX_QUERY_CHARS = 200
# A streaming reply whose row has not been saved or beaten for this long has lost its
# writer (a killed or hung process); until then it is live, wherever it is written.
WRITER_SILENT_SECONDS = 30.0
_PREFERENCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
MAX_PREFERENCE_CHARS = 20_000  # a system prompt, as the settings form allows
SNIPPET_RADIUS = 40


def utc_now() -> str:
    """ISO 8601 UTC with microseconds: sorts as text in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def utc_ago(seconds: float) -> str:
    """`utc_now()` of `seconds` ago."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


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


def preference_changes(values: dict) -> dict[str, str | None]:
    """Preference values to store: text cleaned, None kept (it removes one). A name
    that is not a short lowercase word raises `ValueError`; a value that is not text or
    is too long, `InvalidInputError`."""
    changes = {}
    for name, value in values.items():
        if not isinstance(name, str) or not _PREFERENCE_NAME.match(name):
            raise ValueError(f"Not a preference name: {name!r}")
        if value is not None and not isinstance(value, str):
            raise InvalidInputError("preference_invalid", name=name)
        if value is not None and len(value) > MAX_PREFERENCE_CHARS:
            raise InvalidInputError("preference_too_long", name=name, limit=MAX_PREFERENCE_CHARS)
        changes[name] = None if value is None else clean_text(value)
    return changes


def search_terms(query: object) -> list[str]:
    """The distinct whitespace-separated terms of a query; none for anything but text."""
    if not isinstance(query, str):
        return []
    return list(dict.fromkeys(clean_text(query)[:MAX_QUERY_CHARS].split()))


def merged(titles: list[SearchHit], messages: list[SearchHit], limit: int) -> list[SearchHit]:
    """Search hits in the order shown: the chats whose title matches while none of
    their messages found does (a title the user chose), then every message found."""
    found = {hit.session_id for hit in messages}
    return ([hit for hit in titles if hit.session_id not in found] + messages)[:limit]


def folded(text: str) -> str:
    """`text` as search compares it: in lower case, a final sigma as any other (Python
    lowers a word-final Σ to ς, PostgreSQL to σ, and a term may end where a word goes
    on)."""
    return text.lower().replace("ς", "σ")


def snippet(text: str | None, terms: list[str]) -> str:
    """About `SNIPPET_RADIUS` characters either side of the first term found."""
    text = " ".join((text or "").split())
    searched = folded(text)
    positions = [searched.find(folded(term)) for term in terms]
    found = [p for p in positions if p >= 0]
    if found and len(searched) != len(text):
        # A letter lowered to two (İ to i and a dot) moved every later position: folded
        # a character at a time, each position is taken back to where it came from.
        origins = [index for index, char in enumerate(text) for _ in folded(char)]
        found = [origins[p] for p in found]
    start = min(found, default=0)
    begin = max(start - SNIPPET_RADIUS, 0)
    end = min(start + SNIPPET_RADIUS * 2, len(text))
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + text[begin:end] + suffix


def like_pattern(term: str) -> str:
    r"""A LIKE pattern matching `term` anywhere, with `\` as the escape character."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
