"""Read-only share links (part of the `Store` contract): a snapshot of a chat's current
branch behind an unguessable token.

A link holds a copy of the answered turns (each question and its answer: their role,
text, and whether the answer was cut short; never settings, the system prompt, usage or
anything of the owner's other chats), taken when it is made, so later messages in the
chat never change it. A question's images stay with the chat's message and are read
from there, so a message the owner deletes takes its images out of the link too. A
turn whose answer has no text (failed, or stopped before any) is left out, as the
model leaves it out of what it sees. The token alone opens
it; a chat id never does. Who may open it is its audience: only its owner, any
signed-in user, or anyone with the link. The owner lists and revokes their links; a
revoked link stays listed, revoked.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..errors import InvalidInputError, ShareLinkError
from ..identity import LOCAL_OWNER
from ..images import Image
from . import attachments
from .records import Message, Session, answered
from .rules import utc_now

AUDIENCES = ("owner", "signed_in", "anyone")
TOKEN_BYTES = 24  # 192 random bits: 32 URL-safe characters
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}\Z")
SNAPSHOT_VERSION = 1
SHARED_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class SharedMessage:
    role: str
    content: str
    created_at: str
    status: str = "complete"  # or "interrupted": an answer that did not finish
    finish_reason: str | None = None  # "length": an answer the token limit cut
    image_count: int = 0  # of a question: how many images it was sent with
    source_id: int | None = None  # the chat's message that holds them
    images: tuple[Image, ...] = ()  # read only when asked for (see `open_share`)


@dataclass(frozen=True)
class ShareLink:
    token: str
    owner: str
    session_id: str
    title: str | None
    audience: str
    created_at: str
    revoked_at: str | None
    messages: tuple[SharedMessage, ...] = ()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def from_row(cls, row: dict, *, with_messages: bool = False) -> ShareLink:
        messages = _messages(row["snapshot"]) if with_messages else ()
        return cls(
            token=row["token"],
            owner=row["owner"],
            session_id=row["session_id"],
            title=row["title"],
            audience=row["audience"],
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
            messages=messages,
        )


def is_token(value: object) -> bool:
    """Whether `value` has the shape of a link token (anything else is never looked up)."""
    return isinstance(value, str) and bool(_TOKEN.match(value))


def may_open(link: ShareLink, viewer: str | None) -> bool:
    """Whether `viewer` (an owner key; None for someone not signed in) may open `link`:
    its owner always; a signed-in user (not the `local` user of an app without a login)
    a signed-in or public link; anyone a public one."""
    if viewer is not None and viewer == link.owner:
        return True
    if link.audience == "anyone":
        return True
    return link.audience == "signed_in" and viewer not in (None, LOCAL_OWNER)


class ShareLinks:
    """The share-link calls of `Store` (which provides `backend` and `get_session`,
    `get_messages`)."""

    def create_share(self, owner: str, session_id: str, audience: str) -> ShareLink:
        """A new link to a snapshot of the chat's current branch. Raises
        `SessionNotFoundError` for a chat that is not the owner's, `InvalidInputError`
        for one with no message to show, `ValueError` for an unknown audience."""
        if audience not in AUDIENCES:
            raise ValueError(f"Unknown audience: {audience!r}")
        session: Session = self.get_session(owner, session_id)
        messages = self.get_messages(session)
        questions = [m.id for m in messages if m.role == "user"]
        images = self.attachments(session, questions) if questions else {}
        snapshot = _snapshot(messages, {key: len(found) for key, found in images.items()})
        if not _messages(snapshot):
            raise InvalidInputError("share_nothing")  # a chat with no message yet
        row = {
            "token": secrets.token_urlsafe(TOKEN_BYTES),
            "owner": owner,
            "session_id": session.id,
            "title": session.title,
            "snapshot": snapshot,
            "audience": audience,
            "created_at": utc_now(),
        }
        with self.backend.writing() as tx:
            tx.execute(
                f"INSERT INTO share_link ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
        return ShareLink.from_row({**row, "revoked_at": None}, with_messages=True)

    def share_links(self, owner: str, *, session_id: str | None = None) -> list[ShareLink]:
        """The owner's links, newest first (of one chat when `session_id` is given),
        revoked ones included; without their snapshots."""
        where, params = "owner = ?", [owner]
        if session_id is not None:
            where += " AND session_id = ?"
            params.append(session_id)
        with self.backend.reading() as tx:
            rows = tx.query(
                "SELECT token, owner, session_id, title, audience, created_at, revoked_at, "
                f"'' AS snapshot FROM share_link WHERE {where} ORDER BY created_at DESC, token",
                params,
            )
        return [ShareLink.from_row(row) for row in rows]

    def revoke_share(self, owner: str, token: object) -> ShareLink:
        """Revoke one of the owner's links (again is harmless); another owner's or an
        unknown token raises `ShareLinkError("share_unknown")`."""
        if not is_token(token):
            raise ShareLinkError("share_unknown")
        with self.backend.writing() as tx:
            tx.execute(
                "UPDATE share_link SET revoked_at = COALESCE(revoked_at, ?) "
                "WHERE token = ? AND owner = ?",
                [utc_now(), token, owner],
            )
            rows = tx.query(
                "SELECT * FROM share_link WHERE token = ? AND owner = ?", [token, owner]
            )
        if not rows:
            raise ShareLinkError("share_unknown")
        return ShareLink.from_row(rows[0])

    def open_share(
        self, token: object, viewer: str | None, *, with_images: bool = False
    ) -> ShareLink:
        """The link with its snapshot, for `viewer` (see `may_open`); `with_images`
        reads the questions' images too (those the chat still holds). Raises
        `ShareLinkError`: `share_unknown` for a malformed or unknown token and for a
        link private to another owner, `share_revoked`, or `share_sign_in` when the
        link is for signed-in users and the viewer is not one."""
        row = None
        if is_token(token):
            with self.backend.reading() as tx:
                rows = tx.query("SELECT * FROM share_link WHERE token = ?", [token])
            row = rows[0] if rows else None
        if row is None:
            raise ShareLinkError("share_unknown")
        link = ShareLink.from_row(row, with_messages=True)
        if link.audience == "owner" and not may_open(link, viewer):
            raise ShareLinkError("share_unknown")  # private to its owner: as if there were none
        if link.revoked:  # said before asking to sign in: signing in would not help
            raise ShareLinkError("share_revoked")
        if not may_open(link, viewer):
            raise ShareLinkError("share_sign_in")
        return self._with_images(link) if with_images else link

    def _with_images(self, link: ShareLink) -> ShareLink:
        sources = [m.source_id for m in link.messages if m.source_id is not None]
        if not sources:
            return link
        with self.backend.reading() as tx:
            found = attachments.images_of(tx, link.owner, link.session_id, sources)
        messages = tuple(
            replace(m, images=tuple(found.get(m.source_id, ()))) for m in link.messages
        )
        return replace(link, messages=messages)

    def copy_share(self, token: object, viewer: str) -> Session:
        """Continue a shared chat in the viewer's own history: a new chat of `viewer`
        holding the snapshot's messages (opening rules as `open_share`)."""
        link = self.open_share(token, viewer, with_images=True)
        if not link.messages:  # the viewer would get one more empty chat
            raise InvalidInputError("share_nothing")
        messages = [
            {
                "role": m.role,
                "content": m.content,
                "created_at": m.created_at,
                "status": m.status,
                "finish_reason": m.finish_reason,
                "attachments": list(m.images),
            }
            for m in link.messages
        ]
        return self.import_session(viewer, link.title, messages)


def _snapshot(messages: Iterable[Message], image_counts: dict[int, int]) -> str:
    """The branch's answered turns as JSON (see the module docstring): each message's
    role, text and time; of a question, its images' count and message; of an answer,
    whether it was cut short (interrupted or failed with part of its text, or cut by
    the token limit)."""
    kept: list[dict] = []
    question: Message | None = None
    for m in messages:
        if m.role == "user":
            question = m  # one that no answer follows is left out
        elif m.role == "assistant" and question is not None and answered(m):
            kept += [_question(question, image_counts.get(question.id, 0)), _answer(m)]
            question = None
    return json.dumps({"version": SNAPSHOT_VERSION, "messages": kept}, ensure_ascii=False)


def _question(m: Message, images: int) -> dict:
    entry = {"role": m.role, "content": m.content, "created_at": m.created_at}
    return {**entry, "images": images, "source_id": m.id} if images else entry


def _answer(m: Message) -> dict:
    status = "complete" if m.status == "complete" else "interrupted"
    entry = {"role": m.role, "content": m.content, "created_at": m.created_at, "status": status}
    return {**entry, "finish_reason": m.finish_reason} if m.finish_reason else entry


def _messages(snapshot: object) -> tuple[SharedMessage, ...]:
    """The snapshot's messages; a snapshot that is not what this app writes (edited by
    hand, say) shows as empty rather than failing."""
    try:
        document = json.loads(snapshot) if isinstance(snapshot, str) else snapshot
        return tuple(
            SharedMessage(
                str(m["role"]),
                str(m["content"]),
                str(m["created_at"]),
                "interrupted" if m.get("status") == "interrupted" else "complete",
                "length" if m.get("finish_reason") == "length" else None,
                _count(m.get("images")),
                _count(m.get("source_id")) or None,
            )
            for m in document["messages"]
            if m.get("role") in SHARED_ROLES
        )
    except (TypeError, ValueError, KeyError, AttributeError):
        return ()


def _count(value: object) -> int:
    """A whole number of the snapshot (0 for anything else)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
