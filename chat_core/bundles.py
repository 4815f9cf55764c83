"""Several chats in one JSON file: a bulk export, importable again.

A bundle holds the same document per chat that `transfer.export_json` writes for one.
Importing reads either kind of file. A file holds at most `transfer.MAX_IMPORT_MESSAGES`
messages over all its chats, as one chat's export does, counted before any chat is
checked. Every chat of a bundle is checked before any is written, and all are written in
one transaction, so a file with one bad chat (or a write that fails) writes nothing; a
chat the owner has imported before is skipped and named, as a single file's duplicate
is, and so is a chat the file holds twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from . import transfer
from .errors import ImportFormatError, SessionExistsError, SessionNotFoundError
from .store import Session, Store, utc_now

FORMAT = "ark-chat-bundle"
VERSION = 1
# Writes to try when another import wrote one of the file's chats meanwhile.
WRITE_ATTEMPTS = 3


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
    Raises `ImportFormatError` for anything malformed; whatever fails, nothing of the
    file is written."""
    documents = _chat_documents(data)
    _check_message_count(documents)
    chats = [transfer.prepared(store, owner, chat) for chat in documents]
    for _ in range(WRITE_ATTEMPTS - 1):
        try:
            return _written(store, owner, chats)
        except SessionExistsError as exc:
            # Another import wrote that chat meanwhile (and nothing of ours was written):
            # looked up again, it is found as imported before. Another owner's is not.
            if store.find_session(owner, exc.params["session_id"]) is None:
                raise
    return _written(store, owner, chats)


def _chat_documents(data: bytes | str) -> list:
    """The chat documents of a file: a bundle's chats, or the file itself."""
    document = transfer.parsed(data)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return [document]
    documents = document.get("chats")
    if not isinstance(documents, list) or not documents:
        raise ImportFormatError("import_no_messages")
    return documents


def _check_message_count(documents: list) -> None:
    """Refuse a file holding more messages than an import takes, over all its chats
    (each of which has the same limit), before any chat is checked message by message."""
    total = sum(
        len(document["messages"])
        for document in documents
        if isinstance(document, dict) and isinstance(document.get("messages"), list)
    )
    if total > transfer.MAX_IMPORT_MESSAGES:
        raise ImportFormatError("import_too_many_messages", limit=transfer.MAX_IMPORT_MESSAGES)


def _written(store: Store, owner: str, chats: list[transfer.Chat]) -> list[Imported]:
    """Write, in one transaction, each chat the owner does not have yet (once, when
    the file holds it twice); what each chat of the file became."""
    before = {chat.session_id: store.find_session(owner, chat.session_id) for chat in chats}
    new = {chat.session_id: chat for chat in chats if before[chat.session_id] is None}
    made = store.import_sessions(owner, [chat.store_arguments() for chat in new.values()])
    sessions = {session.id: session for session in made}
    result, seen = [], set()
    for chat in chats:
        session: Session = before[chat.session_id] or sessions[chat.session_id]
        duplicate = before[chat.session_id] is not None or session.id in seen
        seen.add(session.id)
        result.append(Imported(session.id, session.title, duplicate=duplicate))
    return result
