"""Images kept with a message (`chat_attachment`), in SQL both backends accept.

They are written in the transaction that writes their message, read for the messages a
page draws (one query, scoped to the owner), and go with their message: the foreign key
deletes them with it (`ON DELETE CASCADE`; SQLite connections enable foreign keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..images import Image

if TYPE_CHECKING:
    from .sql import Tx

COLUMNS = ("message_id", "mime", "width", "height", "name", "data", "created_at")
# Ids per query when reading the attachments of many messages.
BATCH = 500


def insert_images(tx: Tx, message_id: int, images: Sequence[Image], now: str) -> None:
    """Keep `images` with message `message_id`, in order."""
    if not images:
        return
    tx.execute_many(
        f"INSERT INTO chat_attachment ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in COLUMNS)})",
        [
            (message_id, image.mime, image.width, image.height, image.name, image.data, now)
            for image in images
        ],
    )


def copy_images(tx: Tx, from_message: int, to_message: int) -> None:
    """Give `to_message` the images of `from_message` (a new version of a message)."""
    tx.execute(
        "INSERT INTO chat_attachment (message_id, mime, width, height, name, data, created_at) "
        "SELECT ?, mime, width, height, name, data, created_at FROM chat_attachment "
        "WHERE message_id = ? ORDER BY id",
        [to_message, from_message],
    )


def images_of(
    tx: Tx, owner: str, session_id: str, message_ids: Iterable[int]
) -> dict[int, list[Image]]:
    """The images of each of `message_ids` that has any, in the order they were added;
    messages of another owner or chat have none."""
    ids = sorted({int(message_id) for message_id in message_ids})
    found: dict[int, list[Image]] = {}
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        rows = tx.query(
            "SELECT a.message_id, a.mime, a.width, a.height, a.name, a.data "
            "FROM chat_attachment a JOIN chat_message m ON m.id = a.message_id "
            "JOIN chat_session s ON s.id = m.session_id "
            f"WHERE m.session_id = ? AND s.owner = ? AND a.message_id IN "
            f"({', '.join('?' for _ in batch)}) ORDER BY a.id",
            [session_id, owner, *batch],
        )
        for row in rows:
            found.setdefault(row["message_id"], []).append(
                Image(row["mime"], row["width"], row["height"], bytes(row["data"]), row["name"])
            )
    return found


def images_by_message(tx: Tx, message_ids: Sequence[int]) -> dict[int, list[Image]]:
    """The images of `message_ids`, whoever owns them: for maintenance (the copy
    command), never for a visitor."""
    found: dict[int, list[Image]] = {}
    for start in range(0, len(message_ids), BATCH):
        batch = list(message_ids[start : start + BATCH])
        rows = tx.query(
            "SELECT message_id, mime, width, height, name, data FROM chat_attachment "
            f"WHERE message_id IN ({', '.join('?' for _ in batch)}) ORDER BY id",
            batch,
        )
        for row in rows:
            found.setdefault(row["message_id"], []).append(
                Image(row["mime"], row["width"], row["height"], bytes(row["data"]), row["name"])
            )
    return found


def inserted_ids(tx: Tx, session_id: str) -> list[int]:
    """The ids of a chat's messages in the order they were written (an import's)."""
    rows = tx.query("SELECT id FROM chat_message WHERE session_id = ? ORDER BY id", [session_id])
    return [row["id"] for row in rows]
