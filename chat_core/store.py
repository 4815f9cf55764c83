"""The chat store: sessions and messages in SQLite, every call scoped to an owner.

The UI and the model layer talk to `Store` only, never to sqlite-utils or SQL, so another
backend can replace it later. A session id that belongs to another owner behaves exactly
like an unknown id.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from . import search as _search
from .db import immediate, open_database, translating_errors
from .errors import InvalidInputError, SessionNotFoundError
from .records import SESSION_SETTINGS, SearchHit, Session
from .store_messages import CACHE_RESET, MessageOperations, utc_now
from .text import clean_text, make_title

DEFAULT_PAGE_SIZE = 50
__all__ = ["Store", "utc_now"]


class Store(MessageOperations):
    """Sessions and messages of every owner, in one SQLite file.

    Open one `Store` per script run or thread and close it after: a sqlite3 connection
    must not cross threads.
    """

    def __init__(
        self, path: Path | str, *, busy_timeout: float = 5.0, max_message_chars: int = 100_000
    ) -> None:
        self.path = Path(path)
        self.max_message_chars = max_message_chars
        self.db = open_database(self.path, busy_timeout)

    @classmethod
    def from_settings(cls, settings) -> Store:
        return cls(
            settings.db_path,
            busy_timeout=settings.busy_timeout,
            max_message_chars=settings.max_message_chars,
        )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- sessions ------------------------------------------------------------------------

    @translating_errors
    def new_session(self, owner: str) -> tuple[Session, bool]:
        """The owner's latest unused session, or a new one: `(session, is_new)`.

        A partial unique index keeps at most one unused session per owner, and the
        select-or-insert runs under `BEGIN IMMEDIATE`, so concurrent calls agree.
        """
        with immediate(self.db):
            row = self._one(
                "SELECT * FROM chat_session WHERE owner = ? AND is_used = 0 "
                "ORDER BY created_at DESC LIMIT 1",
                [owner],
            )
            if row:
                return Session.from_row(row), False
            now = utc_now()
            row = {"id": uuid.uuid4().hex, "owner": owner, "is_used": 0}
            row.update(created_at=now, updated_at=now, pinned=0)
            self.db.table("chat_session").insert(row)
            return self._get(owner, row["id"]), True

    @translating_errors
    def find_session(self, owner: str, session_id: object) -> Session | None:
        """The owner's session with this id, or None for an unknown or foreign id."""
        if not isinstance(session_id, str) or not session_id.isalnum() or len(session_id) > 64:
            return None
        row = self._one(
            "SELECT * FROM chat_session WHERE id = ? AND owner = ?", [session_id, owner]
        )
        return Session.from_row(row) if row else None

    def get_session(self, owner: str, session_id: object) -> Session:
        """Like `find_session`, but raises `SessionNotFoundError`."""
        session = self.find_session(owner, session_id)
        if session is None:
            raise SessionNotFoundError(
                "This chat does not exist or belongs to someone else.",
                "该会话不存在，或属于其他用户。",
            )
        return session

    @translating_errors
    def list_sessions(
        self, owner: str, *, limit: int = DEFAULT_PAGE_SIZE, after: Session | None = None
    ) -> list[Session]:
        """Pinned first, then newest activity first. Pass the last session of a page as
        `after` to get the next page (keyset paging stays fast on deep pages)."""
        where, params = "owner = ?", [owner]
        if after is not None:
            where += " AND (pinned, updated_at, id) < (?, ?, ?)"
            params += [int(after.pinned), after.updated_at, after.id]
        rows = self.db.query(
            f"SELECT * FROM chat_session WHERE {where} "
            "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        return [Session.from_row(row) for row in rows]

    @translating_errors
    def count_sessions(self, owner: str) -> int:
        return self._one("SELECT count(*) AS n FROM chat_session WHERE owner = ?", [owner])["n"]

    @translating_errors
    def rename(self, owner: str, session_id: str, title: str) -> Session:
        title = make_title(title, max_chars=200)
        if not title:
            raise InvalidInputError("A title cannot be empty.", "标题不能为空。")
        return self._update(owner, session_id, {"title": title})

    @translating_errors
    def set_pinned(self, owner: str, session_id: str, pinned: bool) -> Session:
        return self._update(owner, session_id, {"pinned": int(bool(pinned))})

    @translating_errors
    def update_settings(self, owner: str, session_id: str, **settings) -> Session:
        """Store per-session settings (model, system prompt, temperature, thinking, cache
        mode). A change that alters what the model sees also drops the cached context."""
        unknown = set(settings) - set(SESSION_SETTINGS)
        if unknown:
            raise ValueError(f"Unknown session settings: {sorted(unknown)}")
        values = {key: clean_text(v) if isinstance(v, str) else v for key, v in settings.items()}
        if {"model", "system_prompt", "cache_mode"} & set(values):
            values.update(CACHE_RESET)
        return self._update(owner, session_id, values)

    @translating_errors
    def set_cache_state(
        self,
        session: Session,
        *,
        context_id: str | None = None,
        context_expires_at: float | None = None,
        response_id: str | None = None,
    ) -> Session:
        """Remember the Ark context or the last response id to chain from."""
        values = {
            "ark_context_id": context_id,
            "ark_context_expires_at": context_expires_at,
            "response_id": response_id,
        }
        return self._update(session.owner, session.id, values)

    @translating_errors
    def delete_session(self, owner: str, session_id: str) -> None:
        """Delete a session, its messages and their search entries."""
        with immediate(self.db):
            self._get(owner, session_id)
            self.db.execute(
                "DELETE FROM chat_session WHERE id = ? AND owner = ?", [session_id, owner]
            )

    # --- search and transfer -------------------------------------------------------------

    @translating_errors
    def search(self, owner: str, query: object, *, limit: int = 20) -> list[SearchHit]:
        """Sessions whose title or messages contain the query. Never raises on odd input."""
        return _search.search(self.db, owner, query, limit=limit)

    @translating_errors
    def rebuild_short_term_index(self) -> None:
        """Re-fill the index for short queries, e.g. after rows were bulk-loaded."""
        with immediate(self.db):
            _search.rebuild_char_indexes(self.db)

    # --- helpers -------------------------------------------------------------------------

    def _one(self, sql: str, params: list) -> dict | None:
        return next(iter(self.db.query(sql, params)), None)

    def _get(self, owner: str, session_id: str) -> Session:
        row = self._one(
            "SELECT * FROM chat_session WHERE id = ? AND owner = ?", [session_id, owner]
        )
        if row is None:
            raise SessionNotFoundError(
                "This chat does not exist or belongs to someone else.",
                "该会话不存在，或属于其他用户。",
            )
        return Session.from_row(row)

    def _set(self, session_id: str, values: dict) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.db.execute(
            f"UPDATE chat_session SET {assignments} WHERE id = ?", [*values.values(), session_id]
        )
        if "title" in values:
            _search.index_title(self.db, session_id, values["title"])

    def _update(self, owner: str, session_id: str, values: dict) -> Session:
        """Change session columns without moving it in the list (no `updated_at`)."""
        with immediate(self.db):
            self._get(owner, session_id)
            self._set(session_id, values)
        return self._get(owner, session_id)
