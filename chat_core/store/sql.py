"""The storage seam: `SqlBackend` stores and fetches, in SQL that SQLite and PostgreSQL
both accept. Each engine adds its connections, transactions, schema and search.

Values arrive checked and cleaned by `Store`, which holds the domain rules. Every query
names the owner, so an id of another owner matches nothing, exactly like an unknown id.
SQL is written with `?` placeholders; the PostgreSQL backend translates them.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

from ..errors import DatabaseLockedError, InvalidInputError
from ..images import Image
from . import attachments, tree
from .records import SearchHit, Session

# `parent` of a new message: the leaf of the chat's current branch.
LEAF = object()
T = TypeVar("T")
MESSAGE_COLUMNS = (
    "session_id",
    "role",
    "content",
    "reasoning_content",
    "status",
    "created_at",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "tier_prompt_tokens",
    "tier_completion_tokens",
    "model_alias",
    "latency_ms",
    "first_token_ms",
    "parent_id",
    "response_id",
    "finish_reason",
    "sources",
    "error",
    "error_code",
    "error_params",
)
SESSION_COLUMNS = (
    "id",
    "owner",
    "title",
    "is_used",
    "created_at",
    "updated_at",
    "used_at",
    "pinned",
    "model",
    "system_prompt",
    "temperature",
    "thinking",
    "cache_mode",
    "ark_context_id",
    "ark_context_expires_at",
    "response_id",
    "current_leaf_id",
    "title_by_user",
    "archived",
    "reasoning_effort",
    "web_search",
    "model_alias",
    "ark_context_leaf_id",
)


class Tx(Protocol):
    """One connection inside `SqlBackend.reading()` or `writing()`."""

    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        """Rows as dicts, timestamps as ISO 8601 text."""

    def execute(self, sql: str, params: Sequence = ()) -> int:
        """Run a statement; the number of rows it changed."""

    def execute_many(self, sql: str, rows: Iterable[Sequence]) -> None:
        """Run a statement once per parameter row."""


class SqlBackend(ABC):
    """Where sessions and messages are kept. Thread-safe: one per process is enough."""

    # The predicate of the partial unique index that allows one unused session per
    # owner; `ON CONFLICT` must repeat it word for word.
    UNUSED: str
    # SQL for the UTC day (YYYY-MM-DD text) of the timestamp column in `{}`.
    UTC_DAY: str
    # SQL summing the integers in `{}` without failing on a sum past 2**63.
    SUM: str
    # What a SELECT ends with to lock the rows it reads against other writers until the
    # transaction ends ("" where a write transaction already locks the whole database).
    ROW_LOCK: str

    @abstractmethod
    def reading(self) -> contextlib.AbstractContextManager[Tx]:
        """A connection for reads (no transaction is held open)."""

    @abstractmethod
    def writing(self) -> contextlib.AbstractContextManager[Tx]:
        """A connection inside a write transaction, committed on success."""

    @abstractmethod
    def search(self, owner: str, terms: list[str], limit: int) -> list[SearchHit]:
        """Up to `limit` sessions with a title or message containing every term."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection."""

    # --- sessions ------------------------------------------------------------------------

    def new_session(self, owner: str, session_id: str, now: str) -> tuple[dict, bool]:
        """The owner's unused session, creating it (`True`) when there is none."""
        insert = (
            f"INSERT INTO chat_session (id, owner, is_used, created_at, updated_at, pinned) "
            f"VALUES (?, ?, FALSE, ?, ?, FALSE) ON CONFLICT (owner) WHERE {self.UNUSED} "
            "DO NOTHING"
        )
        select = f"SELECT * FROM chat_session WHERE owner = ? AND {self.UNUSED}"
        with self.writing() as tx:
            # Another connection may use the unused session between the two statements
            # (PostgreSQL reads committed rows per statement): then try again.
            for _ in range(5):
                created = tx.execute(insert, [session_id, owner, now, now])
                rows = tx.query(select, [owner])
                if rows:
                    return rows[0], created > 0
        raise DatabaseLockedError("database_busy")

    def find_session(self, owner: str, session_id: str) -> dict | None:
        with self.reading() as tx:
            return _first(
                tx.query(
                    "SELECT * FROM chat_session WHERE id = ? AND owner = ?", [session_id, owner]
                )
            )

    def list_sessions(
        self, owner: str, limit: int, after: Session | None, archived: bool = False
    ) -> list[dict]:
        where, params = f"owner = ? AND {'' if archived else 'NOT '}archived", [owner]
        if after is not None:
            where += " AND (pinned, updated_at, id) < (?, ?, ?)"
            params += [after.pinned, after.updated_at, after.id]
        with self.reading() as tx:
            return tx.query(
                f"SELECT * FROM chat_session WHERE {where} "
                "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?",
                [*params, limit],
            )

    def update_session(
        self, owner: str, session_id: str, values: dict, *, forget_responses: bool = False
    ) -> dict | None:
        """Change session columns (named by the store, never by a user). With
        `forget_responses`, no reply of the session is chained from any more, and a
        chat with a reply being written is refused (`InvalidInputError`): that reply's
        final save would store the cache of what it was asked before the change."""
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self.writing() as tx:
            if forget_responses and self._owned(tx, owner, session_id, locked=True):
                streaming = tx.query(
                    "SELECT 1 FROM chat_message WHERE session_id = ? AND status = 'streaming' "
                    "LIMIT 1",
                    [session_id],
                )
                if streaming:
                    raise InvalidInputError("settings_while_streaming")
            row = _first(
                tx.query(
                    f"UPDATE chat_session SET {assignments} WHERE id = ? AND owner = ? RETURNING *",
                    [*values.values(), session_id, owner],
                )
            )
            if row is not None and forget_responses:
                tx.execute(
                    "UPDATE chat_message SET response_id = NULL WHERE session_id = ? "
                    "AND response_id IS NOT NULL",
                    [session_id],
                )
            return row

    def delete_session(self, owner: str, session_id: str) -> bool:
        return self.delete_sessions(owner, [session_id]) > 0

    def delete_sessions(self, owner: str, session_ids: list[str]) -> int:
        """Delete several of the owner's sessions, with their share links (a deleted
        chat is gone for good, snapshots too), in one transaction; how many went."""
        if not session_ids:
            return 0
        marks = ", ".join("?" for _ in session_ids)
        with self.writing() as tx:
            self._lock_chats(tx, owner, session_ids)
            tx.execute(
                f"DELETE FROM share_link WHERE owner = ? AND session_id IN ({marks})",
                [owner, *session_ids],
            )
            return tx.execute(
                f"DELETE FROM chat_session WHERE owner = ? AND id IN ({marks})",
                [owner, *session_ids],
            )

    def set_sessions_archived(self, owner: str, session_ids: list[str], archived: bool) -> int:
        """Archive (or restore) several of the owner's chats in one transaction, never
        the unused one when archiving; how many it matched. Their activity time stays."""
        if not session_ids:
            return 0
        marks = ", ".join("?" for _ in session_ids)
        used = f" AND NOT ({self.UNUSED})" if archived else ""
        with self.writing() as tx:
            self._lock_chats(tx, owner, session_ids)
            return tx.execute(
                f"UPDATE chat_session SET archived = ? WHERE owner = ? AND id IN ({marks}){used}",
                [archived, owner, *session_ids],
            )

    def _lock_chats(self, tx: Tx, owner: str, session_ids: list[str]) -> None:
        """Lock the owner's chats among `session_ids` in id order: two writes to some of
        the same chats then wait for each other instead of deadlocking."""
        marks = ", ".join("?" for _ in session_ids)
        tx.query(
            f"SELECT id FROM chat_session WHERE owner = ? AND id IN ({marks}) "
            f"ORDER BY id{self.ROW_LOCK}",
            [owner, *session_ids],
        )

    def set_generated_title(self, owner: str, session_id: str, title: str) -> dict | None:
        """Title the session unless its user named it; None when nothing changed."""
        with self.writing() as tx:
            return _first(
                tx.query(
                    "UPDATE chat_session SET title = ? WHERE id = ? AND owner = ? "
                    "AND NOT title_by_user RETURNING *",
                    [title, session_id, owner],
                )
            )

    # --- preferences -------------------------------------------------------------------

    def preferences(self, owner: str) -> dict[str, str]:
        with self.reading() as tx:
            rows = tx.query("SELECT name, value FROM owner_preference WHERE owner = ?", [owner])
        return {row["name"]: row["value"] for row in rows}

    def set_preferences(
        self,
        owner: str,
        values: dict[str, str | None],
        followed: Mapping[str, str] | None = None,
        cache_reset: Mapping[str, None] | None = None,
        defaults: Mapping[str, str | None] | None = None,
    ) -> None:
        """Set (or, for None, remove) the owner's preferences, in one transaction. When
        one of `followed` (preference name: session column) changes, the owner's chats
        with that column NULL get `cache_reset` and chain from no reply any more. A
        preference that is not set counts as its value in `defaults`, if any."""
        defaults = defaults or {}
        with self.writing() as tx:
            before = {
                row["name"]: row["value"]
                for row in tx.query(
                    "SELECT name, value FROM owner_preference WHERE owner = ?", [owner]
                )
            }

            def applied(stored: Mapping, name: str) -> str | None:
                value = stored.get(name)
                return defaults.get(name) if value is None else value

            changed = [
                column
                for name, column in (followed or {}).items()
                if name in values and applied(values, name) != applied(before, name)
            ]
            if changed and cache_reset:
                self._forget_caches(tx, owner, changed, cache_reset)
            for name, value in values.items():
                if value is None:
                    tx.execute(
                        "DELETE FROM owner_preference WHERE owner = ? AND name = ?", [owner, name]
                    )
                else:
                    tx.execute(
                        "INSERT INTO owner_preference (owner, name, value) VALUES (?, ?, ?) "
                        "ON CONFLICT (owner, name) DO UPDATE SET value = excluded.value",
                        [owner, name, value],
                    )

    def _forget_caches(self, tx: Tx, owner: str, columns: list[str], cache_reset: Mapping) -> None:
        """Drop the cache of the owner's chats with any of `columns` NULL; refused
        (`InvalidInputError`) while one of them has a reply being written, whose final
        save would store the cache of what it was asked before the change."""
        follows = " OR ".join(f"{column} IS NULL" for column in columns)
        chats = f"SELECT id FROM chat_session WHERE owner = ? AND ({follows})"
        # The chats first, locked in id order, as every write takes a chat before its
        # messages: a Continue reopening a reply of one of them waits, not deadlocks.
        tx.query(f"{chats} ORDER BY id{self.ROW_LOCK}", [owner])
        streaming = tx.query(
            f"SELECT 1 FROM chat_message WHERE status = 'streaming' AND session_id IN ({chats}) "
            "LIMIT 1",
            [owner],
        )
        if streaming:
            raise InvalidInputError("preferences_while_streaming")
        tx.execute(
            "UPDATE chat_message SET response_id = NULL WHERE response_id IS NOT NULL "
            f"AND session_id IN ({chats})",
            [owner],
        )
        assignments = ", ".join(f"{column} = ?" for column in cache_reset)
        cached = " OR ".join(f"{column} IS NOT NULL" for column in cache_reset)
        tx.execute(
            f"UPDATE chat_session SET {assignments} WHERE ({cached}) AND id IN ({chats})",
            [*cache_reset.values(), owner],
        )

    def session_exists(self, session_id: str) -> bool:
        """Whether any owner has a session with this id (ids are unique across owners)."""
        with self.reading() as tx:
            return bool(tx.query("SELECT 1 FROM chat_session WHERE id = ?", [session_id]))

    def owners(self) -> list[str]:
        """Every owner with a session (for maintenance tools, never for a visitor)."""
        with self.reading() as tx:
            rows = tx.query("SELECT DISTINCT owner FROM chat_session ORDER BY owner")
        return [row["owner"] for row in rows]

    def reassign_owner(self, old: str, new: str) -> int:
        """Give every session and share link of `old` to `new` in one transaction; how
        many sessions moved. When both have an unused session, `old`'s (it holds no
        message) is dropped with its links, as the one-unused-session-per-owner index
        requires. Links left under `old` by an older version move too."""
        with self.reading() as tx:  # the usual case: nothing to move, no write lock
            if not tx.query(
                "SELECT 1 FROM chat_session WHERE owner = ? "
                "UNION ALL SELECT 1 FROM share_link WHERE owner = ? LIMIT 1",
                [old, old],
            ):
                return 0
        move = "UPDATE chat_session SET owner = ? WHERE owner = ?"
        with self.writing() as tx:
            if tx.query(f"SELECT id FROM chat_session WHERE owner = ? AND {self.UNUSED}", [new]):
                self._drop_unused(tx, old)
            moved = self._unless_taken(tx, lambda: tx.execute(move, [new, old]))
            if moved is None:  # `new` has an unused chat the check above could not see
                self._drop_unused(tx, old)
                moved = tx.execute(move, [new, old])
            tx.execute("UPDATE share_link SET owner = ? WHERE owner = ?", [new, old])
            # Preferences follow too, where the new key has not set its own.
            tx.execute(
                "UPDATE owner_preference SET owner = ? WHERE owner = ? AND name NOT IN "
                "(SELECT name FROM owner_preference WHERE owner = ?)",
                [new, old, new],
            )
            tx.execute("DELETE FROM owner_preference WHERE owner = ?", [old])
            return moved

    def _drop_unused(self, tx: Tx, owner: str) -> None:
        """Delete the owner's unused chat (it holds no message) with its share links."""
        unused = f"SELECT id FROM chat_session WHERE owner = ? AND {self.UNUSED}"
        tx.execute(
            f"DELETE FROM share_link WHERE owner = ? AND session_id IN ({unused})", [owner, owner]
        )
        tx.execute(f"DELETE FROM chat_session WHERE owner = ? AND {self.UNUSED}", [owner])

    def _unless_taken(self, tx: Tx, write: Callable[[], T]) -> T | None:
        """The result of `write`, a statement that may give an owner an unused chat
        after checking that the owner has none; None, with nothing of it kept, when the
        one-unused-chat index refuses it. Here never: a write transaction holds the
        whole database (SQLite), so the check saw every unused chat. A backend whose
        transactions interleave overrides this."""
        return write()

    # --- messages ------------------------------------------------------------------------

    def add_user_message(
        self,
        owner: str,
        session_id: str,
        text: str,
        title: str | None,
        now: str,
        *,
        only_if_unused: bool = False,
        parent: object = LEAF,
        images: Sequence[Image] = (),
        images_of: int | None = None,
        live_since: str,
    ) -> dict | None:
        """Store a user message and, in the same transaction, mark its session used and
        give it `title` unless it has one. None when the session is not the owner's, or
        (with `only_if_unused`) when it is already used, or when `parent` (a message id,
        or None for a new first message) or `images_of` is not one of the session's
        messages. Its `images`, and those of message `images_of` (the message it is a
        version of), are kept with it in the same transaction. A reply of the session
        saved or beaten since `live_since` refuses it (see `_refuse_live_reply`).

        A new first message (an edit of the first one) re-titles the chat unless its
        user named it."""
        unused = " AND NOT is_used" if only_if_unused else ""
        title_sql = (
            "CASE WHEN title_by_user THEN title ELSE COALESCE(?, title) END"
            if parent is None
            else "COALESCE(title, ?)"
        )
        with self.writing() as tx:
            if not self._owned(tx, owner, session_id, locked=True):
                return None
            self._refuse_live_reply(tx, session_id, live_since)
            if not self._parent_exists(tx, session_id, parent):
                return None
            if images_of is not None and not tree.parent_of(tx, session_id, images_of)[0]:
                return None  # the message edited is gone: its images with it
            marked = tx.query(
                "UPDATE chat_session SET is_used = TRUE, used_at = COALESCE(used_at, ?), "
                f"updated_at = ?, title = {title_sql} "
                f"WHERE id = ? AND owner = ?{unused} RETURNING id",
                [now, now, title, session_id, owner],
            )
            if not marked:
                return None
            row = self._add_to_branch(tx, session_id, "user", text, now, "complete", parent)
            if images_of is not None:
                attachments.copy_images(tx, images_of, row["id"])
            attachments.insert_images(tx, row["id"], images, now)
            return row

    def add_reply(
        self,
        owner: str,
        session_id: str,
        model: str | None,
        now: str,
        parent: object = LEAF,
        *,
        live_since: str,
        model_alias: str | None = None,
    ) -> dict | None:
        """An empty assistant message with status `streaming`, under `parent` (by default
        the current leaf), asked of `model` serving `model_alias`. None when the session
        is not the owner's or `parent` is gone; refused while another reply is live (see
        `_refuse_live_reply`)."""
        with self.writing() as tx:
            if not self._owned(tx, owner, session_id, locked=True):
                return None
            self._refuse_live_reply(tx, session_id, live_since)
            if not self._parent_exists(tx, session_id, parent):
                return None
            return self._add_to_branch(
                tx,
                session_id,
                "assistant",
                "",
                now,
                "streaming",
                parent,
                model=model,
                model_alias=model_alias,
                heartbeat_at=now,
            )

    def _add_to_branch(
        self, tx: Tx, session_id: str, role, content, now, status, parent=LEAF, **extra
    ):
        """Add a message under `parent` (by default the leaf of the chat's current
        branch: its newest message when the chat names none); it becomes the leaf."""
        if parent is LEAF:
            parent = tree.leaf(tx, session_id)
        values = {"session_id": session_id, "role": role, "content": content}
        values.update(created_at=now, status=status, parent_id=parent, **extra)
        row = tx.query(
            f"INSERT INTO chat_message ({', '.join(values)}) "
            f"VALUES ({', '.join('?' for _ in values)}) RETURNING *",
            list(values.values()),
        )[0]
        tx.execute(
            "UPDATE chat_session SET current_leaf_id = ? WHERE id = ?", [row["id"], session_id]
        )
        return row

    def _owned(self, tx: Tx, owner: str, session_id: str, *, locked: bool = False) -> bool:
        """Whether the session is the owner's; `locked`, its row also locked until the
        transaction ends: writes that read a chat's messages before they add or delete
        some take turns, so a reply is never added under a message another transaction
        is deleting."""
        lock = self.ROW_LOCK if locked else ""
        return bool(
            tx.query(
                f"SELECT 1 FROM chat_session WHERE id = ? AND owner = ?{lock}", [session_id, owner]
            )
        )

    @staticmethod
    def _refuse_live_reply(tx: Tx, session_id: str, since: str) -> None:
        """A chat takes one reply at a time: while one of its replies is streaming and
        was saved or beaten since `since` (its writer alive, in any process), nothing is
        added to it. The caller holds the chat's row lock, so two processes cannot both
        pass."""
        live = tx.query(
            "SELECT 1 FROM chat_message WHERE session_id = ? AND status = 'streaming' "
            "AND COALESCE(heartbeat_at, created_at) >= ? LIMIT 1",
            [session_id, since],
        )
        if live:
            raise InvalidInputError("reply_in_progress")

    @staticmethod
    def _parent_exists(tx: Tx, session_id: str, parent: object) -> bool:
        return parent is LEAF or parent is None or tree.parent_of(tx, session_id, parent)[0]

    def save_reply(
        self, owner: str, session_id: str, message_id: int, values: dict, now: str
    ) -> dict | None:
        """Update a reply that is still streaming, and only that row: the id, its session
        and the session's owner must all match. None when the row is gone or finished.
        A final save (any status but `streaming`) also marks the session's activity."""
        assignments = ", ".join(f"{column} = ?" for column in values)
        final = values["status"] != "streaming"
        with self.writing() as tx:
            # A final save updates the session too: its row is locked first, as every
            # write that touches both does, so two of them never wait on each other.
            if final and not self._owned(tx, owner, session_id, locked=True):
                return None
            row = _first(
                tx.query(
                    f"UPDATE chat_message SET {assignments} WHERE id = ? AND status = 'streaming' "
                    "AND session_id = (SELECT id FROM chat_session WHERE id = ? AND owner = ?) "
                    "RETURNING *",
                    [*values.values(), message_id, session_id, owner],
                )
            )
            if row is not None and final:
                tx.execute(
                    "UPDATE chat_session SET updated_at = ? WHERE id = ? AND owner = ?",
                    [now, session_id, owner],
                )
            return row

    def reopen_reply(
        self,
        owner: str,
        session_id: str,
        message_id: int,
        now: str,
        *,
        live_since: str,
        model_alias: str | None = None,
    ) -> dict | None:
        """Set a complete reply cut by the token limit streaming again, without the
        Responses id of its cut turn; None when the row is not such a reply of the
        owner's session. Refused while another reply is live (`_refuse_live_reply`)."""
        with self.writing() as tx:
            if not self._owned(tx, owner, session_id, locked=True):
                return None
            self._refuse_live_reply(tx, session_id, live_since)
            return _first(
                tx.query(
                    "UPDATE chat_message SET status = 'streaming', heartbeat_at = ?, "
                    "response_id = NULL, model_alias = COALESCE(model_alias, ?) "
                    "WHERE id = ? AND role = 'assistant' "
                    "AND status = 'complete' "
                    "AND finish_reason = 'length' AND session_id = "
                    "(SELECT id FROM chat_session WHERE id = ? AND owner = ?) RETURNING *",
                    [now, model_alias, message_id, session_id, owner],
                )
            )

    def beat(self, owner: str, session_id: str, message_id: int, now: str) -> bool:
        """Mark a streaming reply as still being written; False when it is not streaming."""
        with self.writing() as tx:
            return (
                tx.execute(
                    "UPDATE chat_message SET heartbeat_at = ? WHERE id = ? "
                    "AND status = 'streaming' AND session_id = "
                    "(SELECT id FROM chat_session WHERE id = ? AND owner = ?)",
                    [now, message_id, session_id, owner],
                )
                > 0
            )

    def interrupt_stale_replies(self, cutoff: str, values: dict, chat_values: dict) -> int:
        """Finish every reply still `streaming` whose writer last beat before `cutoff`
        (its process died or hung) with `values`, and set `chat_values` on its session
        (dropping the cache state, which may hold more of the turn than the row).
        System maintenance: all owners."""
        stale = "status = 'streaming' AND COALESCE(heartbeat_at, created_at) < ?"
        resets = ", ".join(f"{column} = ?" for column in chat_values)
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self.writing() as tx:
            # Their chats first, locked in id order, as every write takes a chat before
            # its messages: two processes sweeping at once wait instead of deadlocking.
            chats = [
                row["id"]
                for row in tx.query(
                    "SELECT id FROM chat_session WHERE id IN "
                    f"(SELECT session_id FROM chat_message WHERE {stale}) "
                    f"ORDER BY id{self.ROW_LOCK}",
                    [cutoff],
                )
            ]
            if not chats:
                return 0
            marks = ", ".join("?" for _ in chats)
            tx.execute(
                f"UPDATE chat_session SET {resets} WHERE id IN ({marks})",
                [*chat_values.values(), *chats],
            )
            return tx.execute(
                f"UPDATE chat_message SET {assignments} WHERE {stale} AND session_id IN ({marks})",
                [*values.values(), cutoff, *chats],
            )

    def get_message(self, owner: str, session_id: str, message_id: int) -> dict | None:
        with self.reading() as tx:
            return _first(
                tx.query(
                    "SELECT m.* FROM chat_message m WHERE m.id = ? AND m.session_id = ? AND EXISTS "
                    "(SELECT 1 FROM chat_session s WHERE s.id = m.session_id AND s.owner = ?)",
                    [message_id, session_id, owner],
                )
            )

    def get_messages(
        self, owner: str, session_id: str, limit: int | None, before: int | None
    ) -> list[dict]:
        """The current branch, newest first (the caller reverses): the path from its leaf
        to the root, or from the parent of `before` when that message is on it."""
        with self.reading() as tx:
            if not self._owned(tx, owner, session_id):
                return []
            start = tree.leaf(tx, session_id)
            if before is not None:
                known, parent = tree.parent_of(tx, session_id, before)
                if not known:  # gone meanwhile: the branch's messages older than it
                    rows = tree.path(tx, session_id, start, None)
                    return [row for row in rows if row["id"] < before][:limit]
                start = parent
            return tree.path(tx, session_id, start, limit)

    def count_messages(self, owner: str, session_id: str) -> int:
        """How many messages the current branch holds."""
        return len(self.branch_ids(owner, session_id))

    def branch_ids(self, owner: str, session_id: str) -> list[int]:
        """The ids of the current branch, newest first."""
        with self.reading() as tx:
            if not self._owned(tx, owner, session_id):
                return []
            return tree.path_ids(tx, session_id, tree.leaf(tx, session_id))

    def children(self, owner: str, session_id: str, parents: list[int | None]) -> list[dict]:
        """`id` and `parent_id` of the children of `parents` (None: the first messages)."""
        with self.reading() as tx:
            if not self._owned(tx, owner, session_id):
                return []
            return tree.children(tx, session_id, parents)

    def switch_branch(self, owner: str, session_id: str, message_id: int) -> dict | None:
        """Make the newest branch through `message_id` the current one. None when the
        session is not the owner's or the message not the session's."""
        with self.writing() as tx:
            if not self._owned(tx, owner, session_id, locked=True):
                return None
            leaf = tree.newest_leaf_below(tx, session_id, message_id)
            if leaf is None:
                return None
            return _first(
                tx.query(
                    "UPDATE chat_session SET current_leaf_id = ? WHERE id = ? RETURNING *",
                    [leaf, session_id],
                )
            )

    def delete_branch(
        self, owner: str, session_id: str, message_id: int, cache_reset: dict, now: str
    ) -> dict | None:
        """Delete a message and every message below it. When the current branch went
        with them, the newest branch left under the message's parent becomes current
        (the parent itself when none is left), and `cache_reset` is applied. None when
        the session is not the owner's or the message not the session's."""
        with self.writing() as tx:
            if not self._owned(tx, owner, session_id, locked=True):
                return None
            known, parent = tree.parent_of(tx, session_id, message_id)
            if not known:
                return None
            current = tree.leaf(tx, session_id)
            gone = set(tree.subtree_ids(tx, session_id, message_id))
            tree.delete_subtree(tx, session_id, message_id)
            values = {"updated_at": now}
            if current in gone:
                values.update(cache_reset, current_leaf_id=self._leaf_after(tx, session_id, parent))
            assignments = ", ".join(f"{column} = ?" for column in values)
            row = _first(
                tx.query(
                    f"UPDATE chat_session SET {assignments} WHERE id = ? RETURNING *",
                    [*values.values(), session_id],
                )
            )
            return self._unused_if_empty(tx, owner, session_id) or row

    def _unused_if_empty(self, tx: Tx, owner: str, session_id: str) -> dict | None:
        """A chat left with no message becomes the owner's unused chat again (its
        settings kept, its title unless the user named it), unless the owner has one
        already: New chat then returns it rather than make another empty chat, out of the
        archive and unpinned, as a new one would be. One that another transaction is
        writing counts too: the chat then stays used."""
        rows = self._unless_taken(
            tx,
            lambda: tx.query(
                "UPDATE chat_session SET is_used = FALSE, used_at = NULL, archived = FALSE, "
                "pinned = FALSE, title = CASE WHEN title_by_user THEN title END "
                "WHERE id = ? AND NOT EXISTS (SELECT 1 FROM chat_message WHERE session_id = ?) "
                f"AND NOT EXISTS (SELECT 1 FROM chat_session WHERE owner = ? AND {self.UNUSED}) "
                "RETURNING *",
                [session_id, session_id, owner],
            ),
        )
        return _first(rows or [])

    @staticmethod
    def _leaf_after(tx: Tx, session_id: str, parent: int | None) -> int | None:
        """The leaf to show once a branch under `parent` was deleted: the newest branch
        left beside it, else `parent` (None, the chat's newest message, for a root)."""
        siblings = tree.children(tx, session_id, [parent])
        leaves = [tree.newest_leaf_below(tx, session_id, row["id"]) for row in siblings]
        return max(leaves, default=parent)

    def reply_usage(self, owner: str, session_id: str) -> list[dict]:
        """The session's replies that reported usage, with only the usage columns."""
        with self.reading() as tx:
            return tx.query(
                "SELECT m.id, m.session_id, m.role, '' AS content, m.created_at, m.model, "
                "m.prompt_tokens, m.completion_tokens, m.cached_tokens, m.reasoning_tokens, "
                "m.tier_prompt_tokens, m.tier_completion_tokens, m.model_alias "
                "FROM chat_message m JOIN chat_session s ON s.id = m.session_id "
                "WHERE m.session_id = ? AND s.owner = ? AND m.prompt_tokens IS NOT NULL",
                [session_id, owner],
            )

    def insert_session(self, session: dict, messages: list[dict]) -> None:
        """Write a whole session with its messages (import and copy), in one transaction.
        Messages keep the ids they carry; without one (all or none) they get new ones."""
        self.insert_sessions([(session, messages)])

    def insert_sessions(self, sessions: Iterable[tuple[dict, list[dict]]]) -> None:
        """Write whole sessions, each with its messages (as `insert_session` does), all
        in one transaction: when one fails, none is written (a file of several chats)."""
        with self.writing() as tx:
            for session, messages in sessions:
                self._insert_session(tx, session)
                self._insert_messages(tx, messages)
                link_unparented(tx, session["id"])
                self._insert_attachments(tx, session["id"], messages)

    def _insert_session(self, tx: Tx, session: dict) -> None:
        columns = [column for column in SESSION_COLUMNS if column in session]
        tx.execute(
            f"INSERT INTO chat_session ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [session[column] for column in columns],
        )

    def _insert_messages(self, tx: Tx, messages: list[dict]) -> None:
        if not messages:
            return
        columns = (("id",) if "id" in messages[0] else ()) + MESSAGE_COLUMNS
        tx.execute_many(
            f"INSERT INTO chat_message ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            ([m.get(column) for column in columns] for m in messages),
        )
        if "id" in columns:
            self._ids_inserted(tx)

    def _ids_inserted(self, tx: Tx) -> None:  # noqa: B027 (optional hook)
        """Called after rows were written with explicit message ids."""

    def _insert_attachments(self, tx: Tx, session_id: str, messages: list[dict]) -> None:
        """The images of written messages (their `attachments`), after the messages."""
        if not any(message.get("attachments") for message in messages):
            return
        if "id" in messages[0]:
            ids = [message["id"] for message in messages]
        else:
            ids = attachments.inserted_ids(tx, session_id)
        for message_id, message in zip(ids, messages, strict=True):
            images = message.get("attachments") or ()
            attachments.insert_images(tx, message_id, images, message["created_at"])

    def message_images(self, owner: str, session_id: str, message_ids) -> dict:
        """The images of each of the chat's `message_ids` that has any."""
        with self.reading() as tx:
            return attachments.images_of(tx, owner, session_id, message_ids)


def _first(rows: list[dict]) -> dict | None:
    return rows[0] if rows else None


def link_unparented(tx: Tx, session_id: str) -> None:
    """Give the chat's messages that name no parent the message before them: rows
    written without a tree (an import of an older export) become one branch."""
    tx.execute(
        "UPDATE chat_message SET parent_id = (SELECT max(earlier.id) FROM chat_message "
        "earlier WHERE earlier.session_id = chat_message.session_id AND earlier.id < "
        "chat_message.id) WHERE session_id = ? AND parent_id IS NULL",
        [session_id],
    )
