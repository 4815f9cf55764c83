"""Where chats are kept: the `Store` contract and its SQLite and PostgreSQL backends.

`open_store(settings)` picks the backend from `CHAT_DB`: a `postgresql://` or
`postgres://` URL selects PostgreSQL, anything else is the path of a SQLite file.
"""

from __future__ import annotations

from pathlib import Path

from ..config import is_postgres_url
from .base import Store
from .records import MESSAGE_STATUSES, SESSION_SETTINGS, Message, SearchHit, Session
from .rules import is_session_id, utc_now

__all__ = [
    "MESSAGE_STATUSES",
    "SESSION_SETTINGS",
    "Message",
    "SearchHit",
    "Session",
    "Store",
    "connect",
    "is_postgres_url",
    "is_session_id",
    "open_store",
    "utc_now",
]


def connect(
    location: str | Path, *, busy_timeout: float = 5.0, max_message_chars: int = 100_000
) -> Store:
    """A `Store` on the database at `location` (a PostgreSQL URL or a SQLite path),
    migrated and ready. Open one per process: it is thread-safe and pools connections."""
    if is_postgres_url(location):
        from .postgres import PostgresBackend  # psycopg is needed only for PostgreSQL

        backend = PostgresBackend(str(location), timeout=busy_timeout)
    else:
        from .sqlite import SQLiteBackend

        backend = SQLiteBackend(Path(location).expanduser(), busy_timeout=busy_timeout)
    return Store(backend, max_message_chars=max_message_chars)


def open_store(settings) -> Store:
    """The store `settings` name (`CHAT_DB`, `CHAT_BUSY_TIMEOUT`, `CHAT_MAX_MESSAGE_CHARS`)."""
    return connect(
        settings.db,
        busy_timeout=settings.busy_timeout,
        max_message_chars=settings.max_message_chars,
    )
