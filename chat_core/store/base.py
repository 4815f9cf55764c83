"""`Store`: the one contract the UI, the chat service and import/export use.

It applies the domain rules (text checks, titles, settings that reset the cache, id
shapes, owner scoping) and hands clean values to a backend, which only stores and
fetches: SQLite (`sqlite.py`) or PostgreSQL (`postgres.py`). A session id of another
owner behaves exactly like an unknown id.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence

from ..errors import (
    DatabaseError,
    InvalidInputError,
    MessageNotFoundError,
    ReplyReplacedError,
    SessionExistsError,
    SessionNotFoundError,
    SessionTakenError,
    is_error_code,
)
from ..identity import LOCAL_OWNER
from ..images import Image
from ..text import check_message, clean_text, make_title, message_text, message_title
from .records import (
    MESSAGE_STATUSES,
    Message,
    SearchHit,
    Session,
    params_to_text,
    sources_to_text,
)
from .rules import (
    CACHE_RESET,
    CACHE_SENSITIVE_PREFERENCES,
    WRITER_SILENT_SECONDS,
    is_session_id,
    preference_changes,
    search_terms,
    settings_changes,
    utc_ago,
    utc_now,
)
from .shares import ShareLinks
from .sql import LEAF, SqlBackend
from .usage import UsageFigures

DEFAULT_PAGE_SIZE = 50
RENAME_MAX_CHARS = 200


class Store(UsageFigures, ShareLinks):
    """Sessions and messages of every owner. Thread-safe: open one per process.

    `backend` is the storage engine, for maintenance tools and tests; the app goes
    through the methods here only, and those of its parts: usage figures (`usage.py`)
    and share links (`shares.py`).
    """

    def __init__(self, backend: SqlBackend, *, max_message_chars: int = 100_000) -> None:
        self.backend = backend
        self.max_message_chars = max_message_chars

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- sessions ------------------------------------------------------------------------

    def new_session(self, owner: str) -> tuple[Session, bool]:
        """The owner's unused session, or a new one: `(session, is_new)`. The database
        allows one unused session per owner, so concurrent calls agree."""
        row, is_new = self.backend.new_session(owner, uuid.uuid4().hex, utc_now())
        return Session.from_row(row), is_new

    def find_session(self, owner: str, session_id: object) -> Session | None:
        """The owner's session with this id, or None for an unknown, foreign or
        malformed id."""
        if not is_session_id(session_id):
            return None
        row = self.backend.find_session(owner, session_id)
        return Session.from_row(row) if row else None

    def get_session(self, owner: str, session_id: object) -> Session:
        """Like `find_session`, but raises `SessionNotFoundError`."""
        session = self.find_session(owner, session_id)
        if session is None:
            raise _not_found()
        return session

    def list_sessions(
        self,
        owner: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        after: Session | None = None,
        archived: bool = False,
    ) -> list[Session]:
        """Pinned first, then newest activity first: the chats in the list, or with
        `archived` the archived ones. Pass the last session of a page as `after` to get
        the next page (keyset paging stays fast on deep pages)."""
        rows = self.backend.list_sessions(owner, limit, after, archived)
        return [Session.from_row(row) for row in rows]

    def rename(self, owner: str, session_id: str, title: str) -> Session:
        """A title the user chose: generated titles never replace it."""
        title = make_title(title, max_chars=RENAME_MAX_CHARS)
        if not title:
            raise InvalidInputError("title_empty")
        return self._update(owner, session_id, {"title": title, "title_by_user": True})

    def set_generated_title(self, session: Session, title: str) -> Session | None:
        """Title the chat with a generated title, unless its user named it (then, or
        for an empty title, None and nothing changes)."""
        title = make_title(title, model_output=True)
        if not title:
            return None
        row = self.backend.set_generated_title(session.owner, session.id, title)
        return Session.from_row(row) if row else None

    def set_archived(self, owner: str, session_id: str, archived: bool) -> Session:
        """Hide a chat from the list (still found by search), or bring it back."""
        session = self.get_session(owner, session_id)
        if archived and not session.is_used:
            raise InvalidInputError("archive_unused")
        return self._update(owner, session.id, {"archived": bool(archived)})

    def set_sessions_archived(
        self, owner: str, session_ids: Iterable[object], archived: bool
    ) -> int:
        """Archive several chats at once, or restore them (one transaction: all or
        none); ids that are unknown, malformed or another owner's are skipped, and so is
        a chat with no message when archiving. Returns how many it archived or restored."""
        ids = list(dict.fromkeys(sid for sid in session_ids if is_session_id(sid)))
        return self.backend.set_sessions_archived(owner, ids, bool(archived))

    def set_pinned(self, owner: str, session_id: str, pinned: bool) -> Session:
        return self._update(owner, session_id, {"pinned": bool(pinned)})

    def update_settings(self, owner: str, session_id: str, **settings) -> Session:
        """Store per-session settings (model, system prompt, temperature, thinking, cache
        mode). A change that alters what the model sees also drops the cached context
        and every response the chat could chain from."""
        values = settings_changes(settings)
        row = self.backend.update_session(
            owner, _checked(session_id), values, forget_responses="response_id" in values
        )
        if row is None:
            raise _not_found()
        return Session.from_row(row)

    def set_cache_state(
        self,
        session: Session,
        *,
        context_id: str | None = None,
        context_expires_at: float | None = None,
        response_id: str | None = None,
        context_leaf_id: int | None = None,
    ) -> Session:
        """Remember the Ark context (and the leaf of the branch it holds) or the last
        response id. Called with no values, drop them."""
        values = {
            "ark_context_id": context_id,
            "ark_context_expires_at": context_expires_at,
            "response_id": response_id,
            "ark_context_leaf_id": context_leaf_id,
        }
        return self._update(session.owner, session.id, values)

    def delete_session(self, owner: str, session_id: str) -> None:
        """Delete a session and its messages; raises `SessionNotFoundError` when there
        was nothing of the owner's to delete."""
        if not self.backend.delete_session(owner, _checked(session_id)):
            raise _not_found()

    def delete_sessions(self, owner: str, session_ids: Iterable[object]) -> int:
        """Delete several chats at once (one transaction); ids that are unknown,
        malformed or another owner's are skipped. Returns how many were deleted."""
        ids = list(dict.fromkeys(sid for sid in session_ids if is_session_id(sid)))
        return self.backend.delete_sessions(owner, ids)

    def reassign_owner(self, old: str, new: str) -> int:
        """Move every session of owner `old` to owner `new` (a renamed owner key), in one
        transaction; returns how many moved. `old`'s unused session is dropped when `new`
        already has one. `local`'s sessions never move, and nothing becomes `local`'s:
        they belong to whoever opens the app without a login."""
        if not (isinstance(old, str) and isinstance(new, str) and old and new and old != new):
            raise ValueError("reassign_owner needs two different owners")
        if LOCAL_OWNER in (old, new):
            raise ValueError(f"the sessions of {LOCAL_OWNER!r} are never reassigned")
        return self.backend.reassign_owner(old, new)

    def search(self, owner: str, query: object, *, limit: int = 30) -> list[SearchHit]:
        """Every message (newest first) containing every term of the query, after the
        chats whose title alone matches. Archived chats are searched too. Never raises
        on odd input."""
        terms = search_terms(query)
        return self.backend.search(owner, terms, limit) if terms else []

    # --- messages ------------------------------------------------------------------------

    def start_turn(
        self,
        session: Session,
        text: str,
        *,
        only_if_unused: bool = False,
        images: Sequence[Image] = (),
        after: int | None = None,
    ) -> Message:
        """Store a user message with its `images` (checked ones, see `chat_core.images`)
        and, in the same transaction, mark the session used and title it from its first
        message. Bad text raises before anything is written; a message of images alone
        may have no text.

        The message goes under message `after` (the last one the page showed; its
        branch becomes the current one, whichever another tab switched to since), by
        default under the current branch's last message; `MessageNotFoundError` when
        `after` is gone. With `only_if_unused` (a first message sent from a page that
        showed the chat empty), a chat that another tab has started meanwhile raises
        `SessionTakenError` and is left alone. While a reply of the chat is being
        written, by this process or another, `InvalidInputError` ("reply_in_progress")
        refuses it.
        """
        text = message_text(text, self.max_message_chars, bool(images))
        title = message_title(text, [image.name for image in images])
        row = self.backend.add_user_message(
            session.owner,
            session.id,
            text,
            title,
            utc_now(),
            only_if_unused=only_if_unused,
            parent=LEAF if after is None else after,
            images=images,
            live_since=_live_since(),
        )
        if row is None:
            found = self.find_session(session.owner, session.id) is not None
            if only_if_unused and found:
                raise SessionTakenError("session_taken")
            if after is not None and found:
                raise MessageNotFoundError("message_not_found")
            raise _not_found()
        return Message.from_row(row)

    def begin_reply(
        self,
        session: Session,
        model: str | None = None,
        *,
        reply_to: int | None = None,
        model_alias: str | None = None,
    ) -> Message:
        """An empty assistant message with status `streaming`, filled in as tokens
        arrive. It answers `reply_to` (a message id: a new version beside that message's
        other answers), by default the current branch's last message, and becomes the
        current branch's leaf. It keeps `model_alias`, the catalogue model its endpoint
        serves as it is asked, which prices it whatever its chat says later. Refused as
        `start_turn` while another reply is written."""
        parent = LEAF if reply_to is None else reply_to
        row = self.backend.add_reply(
            session.owner,
            session.id,
            model,
            utc_now(),
            parent,
            live_since=_live_since(),
            model_alias=model_alias,
        )
        if row is None:
            if reply_to is not None and self.find_session(session.owner, session.id):
                raise MessageNotFoundError("message_not_found")
            raise _not_found()
        return Message.from_row(row)

    def edit_message(self, session: Session, message_id: int, text: str) -> Message:
        """A new version of one of the user's messages: `text` starts a branch beside
        it (the old branch is kept) and becomes the current leaf. Editing a chat's first
        message re-titles it, unless its user named it. Refused as `start_turn` while a
        reply is written."""
        text = check_message(text, self.max_message_chars)
        original = self.get_message(session, message_id)
        if original is None:
            raise MessageNotFoundError("message_not_found")
        if original.role != "user":
            raise ValueError("only the user's messages are edited")
        row = self.backend.add_user_message(
            session.owner,
            session.id,
            text,
            make_title(text),
            utc_now(),
            parent=original.parent_id,
            images_of=original.id,  # the new version keeps the message's images
            live_since=_live_since(),
        )
        if row is None:
            self.get_session(session.owner, session.id)
            raise MessageNotFoundError("message_not_found")
        return Message.from_row(row)

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
        first_token_ms: int | None = None,
        error_code: str | None = None,
        error_params: dict | None = None,
        finish_reason: str | None = None,
        response_id: str | None = None,
        sources: list[dict] | None = None,
    ) -> Message:
        """Save a streaming reply's text so far, or its final state (any other status).

        A failure is saved as its error code and JSON-serialisable parameters (as
        `ChatError.as_dict()` gives them), never as text, so it can be shown in any
        language later. Only the reply's own row changes, and only while it is still
        streaming. When the row is gone (its turn was edited, regenerated or deleted,
        say in another tab) or already final, nothing is written and
        `ReplyReplacedError` says so.
        """
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"Unknown message status: {status!r}")
        if error_code is not None and not is_error_code(error_code):
            raise ValueError(f"Not an error code: {error_code!r}")
        now = utc_now()
        values = {"content": clean_text(content), "status": status, "heartbeat_at": now}
        values["reasoning_content"] = clean_text(reasoning) if reasoning else None
        optional = {
            "model": model,
            "latency_ms": latency_ms,
            "first_token_ms": first_token_ms,
            "finish_reason": finish_reason,
            "response_id": response_id,
            "sources": sources_to_text(sources),
            **(usage or {}),
        }
        if error_code is not None:
            optional.update(error_code=error_code, error_params=params_to_text(error_params or {}))
        values.update({key: value for key, value in optional.items() if value is not None})
        row = self.backend.save_reply(session.owner, session.id, message_id, values, now)
        if row is None:
            raise ReplyReplacedError("reply_replaced")
        return Message.from_row(row)

    def reopen_reply(
        self, session: Session, message_id: int, *, model_alias: str | None = None
    ) -> Message:
        """Make a complete reply that the token limit cut (`finish_reason` "length")
        stream again, to be continued; `InvalidInputError` when it is not such a reply
        (any more: continued in another tab, say), or not this owner's; refused as
        `start_turn` while another reply of the chat is written. A reply that kept no
        `model_alias` (older than that record) takes this one."""
        row = self.backend.reopen_reply(
            session.owner,
            session.id,
            message_id,
            utc_now(),
            live_since=_live_since(),
            model_alias=model_alias,
        )
        if row is None:
            raise InvalidInputError("nothing_to_continue")
        return Message.from_row(row)

    def beat(self, session: Session, message_id: int) -> bool:
        """Say that a streaming reply is still being written (its writer is alive), even
        while no text arrives; False when the reply is no longer streaming."""
        return self.backend.beat(session.owner, session.id, message_id, utc_now())

    def get_message(self, session: Session, message_id: int) -> Message | None:
        """One message of the session, or None (gone, or another owner's)."""
        row = self.backend.get_message(session.owner, session.id, message_id)
        return Message.from_row(row) if row else None

    def interrupt_stale_replies(self, silent_seconds: float) -> int:
        """Finish as `interrupted` every reply, of any owner, whose writer has not beaten
        for `silent_seconds` (its process was killed or hung), keeping the text it saved,
        and drop the cache state of its chat. Maintenance for the app's reply runner,
        never a visitor's call. Returns how many replies it finished."""
        values = {"status": "interrupted", "error_code": "reply_abandoned"}
        # The chat's activity time moves, as a reply's final save moves it (usage
        # queries rely on it to skip chats idle since before their date range).
        chat_values = {**CACHE_RESET, "updated_at": utc_now()}
        return self.backend.interrupt_stale_replies(utc_ago(silent_seconds), values, chat_values)

    def get_messages(
        self, session: Session, *, limit: int | None = None, before: int | None = None
    ) -> list[Message]:
        """The messages of the chat's current branch (the path from its first message
        to the current leaf), oldest first; with `limit`, only the latest ones (those
        before message `before`, when given)."""
        rows = self.backend.get_messages(session.owner, session.id, limit, before)
        return [Message.from_row(row) for row in reversed(rows)]

    def attachments(self, session: Session, message_ids: Iterable[int]) -> dict[int, list[Image]]:
        """The images kept with each of `message_ids` that has any (another owner's or
        chat's messages have none), oldest first."""
        return self.backend.message_images(session.owner, session.id, message_ids)

    def count_messages(self, session: Session) -> int:
        """How many messages the current branch holds."""
        return self.backend.count_messages(session.owner, session.id)

    def messages_after(self, session: Session, message_id: int) -> int | None:
        """How many messages of the current branch come after `message_id` (None when
        it is not on the branch): how far back a page must reach to show it."""
        ids = self.backend.branch_ids(session.owner, session.id)
        return ids.index(message_id) if message_id in ids else None

    def versions(self, session: Session, messages: Iterable[Message]) -> dict[int, list[int]]:
        """For each of `messages` that has other versions (siblings: other edits of a
        user message, other answers to it), the ids of all of them, oldest first."""
        messages = list(messages)
        parents = list({m.parent_id for m in messages})
        rows = self.backend.children(session.owner, session.id, parents)
        by_parent: dict[int | None, list[int]] = {}
        for row in rows:
            by_parent.setdefault(row["parent_id"], []).append(row["id"])
        return {
            m.id: by_parent[m.parent_id]
            for m in messages
            if len(by_parent.get(m.parent_id, ())) > 1
        }

    def switch_branch(self, session: Session, message_id: int) -> Session:
        """Show the branch through `message_id`, continued by the newest branch below
        it. Raises `MessageNotFoundError` when the message is not the chat's."""
        row = self.backend.switch_branch(session.owner, session.id, message_id)
        if row is None:
            self.get_session(session.owner, session.id)
            raise MessageNotFoundError("message_not_found")
        return Session.from_row(row)

    def reply_usage(self, session: Session) -> list[Message]:
        """The session's replies that reported usage, with only the usage fields filled
        (enough to price the session without loading every text)."""
        return [
            Message.from_row(row) for row in self.backend.reply_usage(session.owner, session.id)
        ]

    def delete_message(self, session: Session, message_id: int) -> Session:
        """Delete a message and the branch below it (every reply and later turn that
        followed it). When that was the current branch, the newest branch left beside
        it becomes current (else the message before it), and the cached context, which
        still holds the removed turns, is dropped. A reply still being written there
        stops saving."""
        row = self.backend.delete_branch(
            session.owner, session.id, message_id, CACHE_RESET, utc_now()
        )
        if row is None:
            self.get_session(session.owner, session.id)
            raise MessageNotFoundError("message_not_found")
        return Session.from_row(row)

    def import_session(
        self,
        owner: str,
        title: str | None,
        messages: Iterable[dict],
        *,
        session_id: str | None = None,
        settings: dict | None = None,
        title_by_user: bool = False,
    ) -> Session:
        """Create a new, used session holding `messages` (already validated by transfer;
        `error_params` as a dict) and per-session `settings`, in one transaction; with
        `title_by_user`, `title` counts as one the user chose (see `rename`). An id that
        is taken raises `SessionExistsError` and writes nothing."""
        chat = {
            "title": title,
            "messages": messages,
            "session_id": session_id,
            "settings": settings,
            "title_by_user": title_by_user,
        }
        (session,) = self.import_sessions(owner, [chat])
        return session

    def import_sessions(self, owner: str, chats: Sequence[Mapping]) -> list[Session]:
        """Create several sessions, each as `import_session` does with the keyword
        arguments in `chats`, all in one transaction: when one fails (an id that is
        taken raises `SessionExistsError`), none is written. Returns them in order."""
        sessions = [_new_session(owner, chat) for chat in chats]
        ids = [row["id"] for row, _ in sessions]
        if len(set(ids)) < len(ids):
            raise ValueError("An import names one session id twice")
        given = [chat["session_id"] for chat in chats if chat.get("session_id")]
        if sessions:
            with _taken_id_named(self.backend, given):
                self.backend.insert_sessions(sessions)
        return [self.get_session(owner, session_id) for session_id in ids]

    # --- preferences ---------------------------------------------------------------------

    def preferences(self, owner: str) -> dict[str, str]:
        """The owner's preferences, name to text (see `chat_core.preferences`)."""
        return self.backend.preferences(owner)

    def set_preferences(
        self,
        owner: str,
        values: dict[str, str | None],
        defaults: Mapping[str, str | None] | None = None,
    ) -> None:
        """Set the owner's preferences named in `values` (None removes one), in one
        transaction. Names are short lowercase words; a value over the limit raises
        `InvalidInputError` and nothing is written. A change of the model, system
        prompt or mode drops the cache of every chat of the owner's that follows it
        (one with no such setting of its own), as a change of the chat's own would;
        with the operator's `defaults` (stored alike), only a change of what applies:
        a preference removed that equals its default changes nothing."""
        self.backend.set_preferences(
            owner,
            preference_changes(values),
            CACHE_SENSITIVE_PREFERENCES,
            CACHE_RESET,
            defaults or {},
        )

    # --- helpers -------------------------------------------------------------------------

    def _update(self, owner: str, session_id: str, values: dict) -> Session:
        """Change session columns without moving it in the list (no `updated_at`)."""
        row = self.backend.update_session(owner, _checked(session_id), values)
        if row is None:
            raise _not_found()
        return Session.from_row(row)


def _new_session(owner: str, chat: Mapping) -> tuple[dict, list[dict]]:
    """The session row and message rows an import writes for `chat` (the arguments of
    `Store.import_session` by name)."""
    session_id = chat.get("session_id")
    if session_id is not None and not is_session_id(session_id):
        raise ValueError(f"Not a session id: {session_id!r}")
    now = utc_now()
    row = {"id": session_id or uuid.uuid4().hex, "owner": owner, "title": chat["title"]}
    row.update(is_used=True, created_at=now, updated_at=now, used_at=now, pinned=False)
    row["title_by_user"] = bool(chat.get("title_by_user"))
    row.update(settings_changes(chat.get("settings") or {}))
    rows = [
        {
            **message,
            "session_id": row["id"],
            "error_params": params_to_text(message.get("error_params")),
            "sources": sources_to_text(message.get("sources")),
        }
        for message in chat["messages"]
    ]
    return row, rows


@contextlib.contextmanager
def _taken_id_named(backend: SqlBackend, session_ids: list[str]) -> Iterator[None]:
    """Raise `SessionExistsError` naming one of `session_ids` (ids the caller chose)
    when a write failed because it was taken meanwhile."""
    try:
        yield
    except DatabaseError:
        taken = [session_id for session_id in session_ids if backend.session_exists(session_id)]
        if not taken:
            raise
        raise SessionExistsError("session_exists", session_id=taken[0]) from None


def _checked(session_id: object) -> str:
    if not is_session_id(session_id):
        raise _not_found()
    return session_id


def _live_since() -> str:
    """Replies of a chat saved or beaten since then are being written (by any process):
    a chat takes one at a time, so nothing else is added to it meanwhile."""
    return utc_ago(WRITER_SILENT_SECONDS)


def _not_found() -> SessionNotFoundError:
    return SessionNotFoundError("session_not_found")
