"""Conversations as trees, in SQL both engines accept (`?` placeholders).

Each message names its parent (`parent_id`, NULL for a chat's first message) and a
chat names the leaf of its current branch (`current_leaf_id`, NULL: its newest
message). What a chat shows, and what the model sees, is the path from the root to
that leaf. A parent is always written before its children, so on every path the ids
grow from the root down: the walks below follow only `parent_id < id`, which also
makes them end on a row edited by hand into a loop.

These functions run inside a transaction of `SqlBackend`, which has already checked
that the session is the owner's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sql import Tx

# Deeper than any chat the app allows, so a walk with no limit is never cut short.
NO_LIMIT = 2**31 - 1

_LEAF = (
    "SELECT COALESCE(s.current_leaf_id, (SELECT max(m.id) FROM chat_message m "
    "WHERE m.session_id = s.id)) AS leaf FROM chat_session s WHERE s.id = ?"
)
_UP = (
    "WITH RECURSIVE branch(id, depth) AS ("
    " SELECT id, 1 FROM chat_message WHERE id = ? AND session_id = ?"
    " UNION ALL"
    " SELECT m.parent_id, b.depth + 1 FROM branch b JOIN chat_message m ON m.id = b.id"
    " WHERE m.parent_id < m.id AND b.depth < ?"
    ") "
)
_DOWN = (
    "WITH RECURSIVE subtree(id) AS ("
    " SELECT id FROM chat_message WHERE id = ? AND session_id = ?"
    " UNION ALL"
    " SELECT m.id FROM subtree t JOIN chat_message m"
    " ON m.session_id = ? AND m.parent_id = t.id AND m.id > t.id"
    ") "
)


def leaf(tx: Tx, session_id: str) -> int | None:
    """The leaf of the chat's current branch (None for a chat with no message)."""
    rows = tx.query(_LEAF, [session_id])
    return rows[0]["leaf"] if rows else None


def path(tx: Tx, session_id: str, start: int | None, limit: int | None) -> list[dict]:
    """The messages from `start` up towards the root, newest first, at most `limit`."""
    if start is None:
        return []
    return tx.query(
        _UP + "SELECT m.* FROM branch b JOIN chat_message m ON m.id = b.id "
        "WHERE m.session_id = ? ORDER BY m.id DESC",
        [start, session_id, limit or NO_LIMIT, session_id],
    )


def path_ids(tx: Tx, session_id: str, start: int | None) -> list[int]:
    """The ids of the path from `start` to the root, newest first."""
    if start is None:
        return []
    rows = tx.query(
        _UP + "SELECT b.id FROM branch b JOIN chat_message m ON m.id = b.id "
        "WHERE m.session_id = ? ORDER BY b.id DESC",
        [start, session_id, NO_LIMIT, session_id],
    )
    return [row["id"] for row in rows]


def parent_of(tx: Tx, session_id: str, message_id: int) -> tuple[bool, int | None]:
    """(whether the message is the session's, its parent id)."""
    rows = tx.query(
        "SELECT parent_id FROM chat_message WHERE id = ? AND session_id = ?",
        [message_id, session_id],
    )
    return (True, rows[0]["parent_id"]) if rows else (False, None)


def newest_leaf_below(tx: Tx, session_id: str, message_id: int) -> int | None:
    """The newest message in the subtree of `message_id` (itself included). Ids grow
    downwards, so it is a leaf, and the branch through it was the last one written."""
    rows = tx.query(
        _DOWN + "SELECT max(id) AS leaf FROM subtree", [message_id, session_id, session_id]
    )
    return rows[0]["leaf"]


def subtree_ids(tx: Tx, session_id: str, message_id: int) -> list[int]:
    rows = tx.query(_DOWN + "SELECT id FROM subtree", [message_id, session_id, session_id])
    return [row["id"] for row in rows]


def delete_subtree(tx: Tx, session_id: str, message_id: int) -> int:
    """Delete a message and every message below it; how many went."""
    return tx.execute(
        _DOWN + "DELETE FROM chat_message WHERE id IN (SELECT id FROM subtree)",
        [message_id, session_id, session_id],
    )


def children(tx: Tx, session_id: str, parents: Sequence[int | None]) -> list[dict]:
    """`id` and `parent_id` of every child of `parents` (None: the chat's roots),
    oldest first."""
    ids = sorted({p for p in parents if p is not None})
    conditions = []
    if ids:
        conditions.append(f"parent_id IN ({', '.join('?' for _ in ids)})")
    if None in parents:
        conditions.append("parent_id IS NULL")
    if not conditions:
        return []
    return tx.query(
        "SELECT id, parent_id FROM chat_message WHERE session_id = ? "
        f"AND ({' OR '.join(conditions)}) ORDER BY id",
        [session_id, *ids],
    )
