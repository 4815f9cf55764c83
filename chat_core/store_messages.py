"""The message half of `Store`: turns, streamed replies, history and import.

Split from store.py to keep modules small; `Store` inherits these methods, and they use
its connection and session helpers (`_get`, `_set`, `_one`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timezone

from . import search as _search
from .db import immediate, translating_errors
from .records import MESSAGE_STATUSES, Message, Session
from .text import check_message, clean_text, make_title

CACHE_RESET = {"ark_context_id": None, "ark_context_expires_at": None, "response_id": None}


def utc_now() -> str:
    """ISO 8601 UTC with microseconds: sorts as text in time order."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class MessageOperations:
    """Message operations of `Store`. Every call checks the session's owner first."""

    @translating_errors
    def start_turn(self, session: Session, text: str) -> Message:
        """Store a user message and, in the same transaction, mark the session used and
        title it from its first message. Bad text raises before anything is written."""
        text = check_message(text, self.max_message_chars)
        now = utc_now()
        with immediate(self.db):
            current = self._get(session.owner, session.id)
            message_id = self._insert_message(current.id, "user", text, now)
            changes = {"is_used": 1, "updated_at": now, "used_at": current.used_at or now}
            if not current.title:
                changes["title"] = make_title(text)
            self._set(current.id, changes)
        return self._message(message_id)

    @translating_errors
    def begin_reply(self, session: Session, model: str | None = None) -> Message:
        """An empty assistant message with status `streaming`, filled in as tokens arrive."""
        with immediate(self.db):
            self._get(session.owner, session.id)
            message_id = self._insert_message(
                session.id, "assistant", "", utc_now(), status="streaming", model=model
            )
        return self._message(message_id)

    @translating_errors
    def save_reply(
        self,
        session: Session,
        message_id: int,
        *,
        content: str,
        reasoning: str | None = None,
        status: str = "streaming",
        model: str | None = None,
        usage: dict | None = None,
        latency_ms: int | None = None,
        error: str | None = None,
    ) -> Message:
        """Save a reply's text so far (status `streaming`) or its final state."""
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"Unknown message status: {status!r}")
        values = {"content": clean_text(content), "status": status}
        values["reasoning_content"] = clean_text(reasoning) if reasoning else None
        optional = {"model": model, "latency_ms": latency_ms, "error": error, **(usage or {})}
        values.update({key: value for key, value in optional.items() if value is not None})
        with immediate(self.db):
            self._get(session.owner, session.id)
            self.db.table("chat_message").update(message_id, values)
            _search.index_message(self.db, message_id, values["content"])
            self._set(session.id, {"updated_at": utc_now()})
        return self._message(message_id)

    @translating_errors
    def get_messages(
        self, session: Session, *, limit: int | None = None, before: int | None = None
    ) -> list[Message]:
        """The session's messages, oldest first; with `limit`, only the latest ones (older
        than message id `before`, when given)."""
        rows = self.db.query(
            "SELECT m.* FROM chat_message m WHERE m.session_id = ? AND m.id < ? AND EXISTS "
            "(SELECT 1 FROM chat_session s WHERE s.id = m.session_id AND s.owner = ?) "
            "ORDER BY m.id DESC LIMIT ?",
            [session.id, before or 2**63 - 1, session.owner, -1 if limit is None else limit],
        )
        return [Message.from_row(row) for row in rows][::-1]

    @translating_errors
    def count_messages(self, session: Session) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM chat_message m JOIN chat_session s ON s.id = m.session_id "
            "WHERE m.session_id = ? AND s.owner = ?",
            [session.id, session.owner],
        )
        return row["n"]

    @translating_errors
    def reply_usage(self, session: Session) -> list[Message]:
        """The session's replies that reported usage, with only the usage fields filled
        (enough to price the session without loading every text)."""
        rows = self.db.query(
            "SELECT m.id, m.session_id, m.role, '' AS content, m.created_at, m.model, "
            "m.prompt_tokens, m.completion_tokens, m.cached_tokens, m.reasoning_tokens "
            "FROM chat_message m JOIN chat_session s ON s.id = m.session_id "
            "WHERE m.session_id = ? AND s.owner = ? AND m.prompt_tokens IS NOT NULL",
            [session.id, session.owner],
        )
        return [Message.from_row(row) for row in rows]

    @translating_errors
    def truncate_from(self, session: Session, message_id: int) -> Session:
        """Delete a message and everything after it (to regenerate or edit a turn), and
        drop the cached context, which still holds the removed turns."""
        with immediate(self.db):
            self._get(session.owner, session.id)
            self.db.execute(
                "DELETE FROM chat_message WHERE session_id = ? AND id >= ?",
                [session.id, message_id],
            )
            self._set(session.id, {**CACHE_RESET, "updated_at": utc_now()})
        return self._get(session.owner, session.id)

    @translating_errors
    def import_session(self, owner: str, title: str | None, messages: Iterable[dict]) -> Session:
        """Create a new, used session holding `messages` (already validated by transfer)."""
        now = utc_now()
        session_id = uuid.uuid4().hex
        with immediate(self.db):
            self.db.table("chat_session").insert(
                {
                    "id": session_id,
                    "owner": owner,
                    "title": title,
                    "is_used": 1,
                    "created_at": now,
                    "updated_at": now,
                    "used_at": now,
                    "pinned": 0,
                }
            )
            _search.index_title(self.db, session_id, title)
            for message in messages:
                self._insert_message(session_id, **message)
        return self._get(owner, session_id)

    def _insert_message(self, session_id, role, content, created_at, **extra) -> int:
        row = {
            "session_id": session_id,
            "role": role,
            "content": content,
            "created_at": created_at,
            **extra,
        }
        message_id = self.db.table("chat_message").insert(row).last_pk
        _search.index_message(self.db, message_id, content)
        return message_id

    def _message(self, message_id: int) -> Message:
        return Message.from_row(self._one("SELECT * FROM chat_message WHERE id = ?", [message_id]))
