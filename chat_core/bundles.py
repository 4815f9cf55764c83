"""Several chats in one JSON file: a bulk export, importable again.

A bundle holds the same document per chat that `transfer.export_json` writes for one.
Importing reads either kind of file. Every chat of a bundle is checked before any is
written, so a file with one bad chat writes nothing; a chat the owner has imported
before is skipped and named, as a single file's duplicate is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from . import transfer
from .errors import ImportDuplicateError, ImportFormatError, SessionNotFoundError
from .store import Session, Store, utc_now

FORMAT = "ark-chat-bundle"
VERSION = 1


@dataclass(frozen=True)
class Imported:
    """One chat of an import: the chat made, or the one imported before (`duplicate`)."""

    session_id: str
    title: str | None
    duplicate: bool = False


def export_bundle(store: Store, owner: str, session_ids: Iterable[str]) -> str:
    """The owner's chats named by `session_ids` (others' and unknown ids skipped), in
    the order given, as one JSON document."""
    chats = []
    for session_id in dict.fromkeys(session_ids):
        try:
            chats.append(json.loads(transfer.export_json(store, owner, session_id)))
        except SessionNotFoundError:
            continue  # deleted meanwhile, or not the owner's
    document = {"format": FORMAT, "version": VERSION, "exported_at": utc_now(), "chats": chats}
    return json.dumps(document, ensure_ascii=False, indent=2)


def import_file(store: Store, owner: str, data: bytes | str) -> list[Imported]:
    """Import a chat export or a bundle of them; what each chat became, in file order.
    Raises `ImportFormatError` (nothing written) for anything malformed."""
    document = transfer.parsed(data)
    if isinstance(document, dict) and document.get("format") == FORMAT:
        documents = document.get("chats")
        if not isinstance(documents, list) or not documents:
            raise ImportFormatError("import_no_messages")
    else:
        documents = [document]
    chats = [transfer.prepared(store, owner, chat) for chat in documents]
    return [_written(store, owner, chat) for chat in chats]


def _written(store: Store, owner: str, chat: tuple) -> Imported:
    try:
        session: Session = transfer.create(store, owner, chat)
    except ImportDuplicateError as exc:
        return Imported(exc.params["session_id"], exc.params["title"] or None, duplicate=True)
    return Imported(session.id, session.title)
