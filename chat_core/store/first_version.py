"""Reading a database written by the first version of Ark Chat (Flask and SQLAlchemy).

It has `chat_session(id VARCHAR(36) PRIMARY KEY, created_at DATETIME, is_used BOOLEAN)`
and `chat_message(session_id, role, content, created_at)`: no owners, titles, statuses
or usage. Its session ids are Ark context ids such as `ctx-20250120174458-6c94p`. Its
chats become the single-user owner's (`local`) unless another owner is named.
"""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from ..identity import LOCAL_OWNER
from ..text import clean_text, make_title
from .rules import is_session_id, utc_now

TABLES = ("chat_session", "chat_message")
SET_ASIDE = ("first_version_chat_session", "first_version_chat_message")


def is_first_version(conn: sqlite3.Connection, tables: tuple[str, str] = TABLES) -> bool:
    """Whether the file holds the first version's tables (a session table without owners)."""
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({tables[0]})")}
    return bool(columns) and "owner" not in columns


def set_aside(conn: sqlite3.Connection) -> None:
    """Rename the first version's tables, freeing their names for the current schema."""
    for old, new in zip(TABLES, SET_ASIDE, strict=True):
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")


def drop_set_aside(conn: sqlite3.Connection) -> None:
    for table in reversed(SET_ASIDE):
        conn.execute(f"DROP TABLE {table}")


def read(
    conn: sqlite3.Connection, tables: tuple[str, str] = TABLES, owner: str = LOCAL_OWNER
) -> Iterator[tuple[dict, list[dict]]]:
    """Each chat as a session row and its message rows, in the current schema's shape.

    A session with messages is used; of the empty ones only the newest is kept, as
    the unused one (the first version piled them up).
    """
    sessions, messages = tables
    by_session = itertools.groupby(
        conn.execute(
            f"SELECT session_id, role, content, created_at FROM {messages} "
            "ORDER BY session_id, created_at, rowid"
        ),
        key=lambda row: row[0],
    )
    rows = {session_id: list(group) for session_id, group in by_session}
    empty = []
    for old_id, created_at in conn.execute(
        f"SELECT id, created_at FROM {sessions} ORDER BY created_at, rowid"
    ):
        # An id the app could not open (none seen in real data) gets a new one.
        session_id = str(old_id) if is_session_id(str(old_id)) else uuid.uuid4().hex
        chat = _messages(rows.get(old_id, []), session_id)
        if chat:
            yield _session(session_id, created_at, owner, chat), chat
        else:
            empty.append((session_id, created_at))
    if empty:
        session_id, created_at = empty[-1]
        yield _session(session_id, created_at, owner, []), []


def _session(session_id: str, created_at: object, owner: str, chat: list[dict]) -> dict:
    created = _timestamp(created_at) or (chat[0]["created_at"] if chat else utc_now())
    first_user = next((m["content"] for m in chat if m["role"] == "user"), "")
    return {
        "id": session_id,
        "owner": owner,
        "title": make_title(first_user) if chat else None,
        "is_used": bool(chat),
        "created_at": created,
        "updated_at": chat[-1]["created_at"] if chat else created,
        "used_at": chat[0]["created_at"] if chat else None,
        "pinned": False,
    }


def _messages(rows: list[tuple], session_id: str) -> list[dict]:
    chat = []
    for _, role, content, created_at in rows:
        if role not in ("user", "assistant"):
            continue
        chat.append(
            {
                "session_id": session_id,
                "role": role,
                "content": clean_text(content) if isinstance(content, str) else "",
                "status": "complete",
                "created_at": _timestamp(created_at) or utc_now(),
            }
        )
    return chat


def _timestamp(value: object) -> str | None:
    """ISO 8601 UTC from the first version's DATETIME text (naive values are UTC)."""
    try:
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")
