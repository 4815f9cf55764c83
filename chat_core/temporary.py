"""Temporary chats: conversations that are never written to the database.

A `TemporaryChat` holds its messages and their images in memory (the page keeps it in
the browser session, so a reload drops it). Its replies stream through the same `Reply` and Ark
layer as a stored chat's, with a `MemoryRecorder` in place of the store's recorder:
nothing reaches the database, not a session row, message, title, search entry or
usage row. A temporary chat runs stateless (mode "off"): the caching modes keep
state on the model service, and their ids would have to be stored.

`TemporaryChat.save()` turns it into a normal chat on request, through
`Store.import_session`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .capabilities import check_images
from .chat import Reply, build_request, effective
from .config import Settings
from .errors import ChatError, InvalidInputError
from .images import Image
from .recording import usage_columns
from .response import Response
from .store import Message, Session, Store, utc_now
from .store.sql import MESSAGE_COLUMNS
from .text import clean_text, message_text, message_title

TEMPORARY_ID = "temporary"
# The images a temporary chat keeps in the server's memory (a stored chat keeps them
# in the database): dozens of photos as the app prepares them.
MAX_TEMPORARY_IMAGE_BYTES = 32 * 1024 * 1024


@dataclass
class TemporaryChat:
    """One temporary conversation of `owner`, oldest message first."""

    owner: str
    model: str | None = None  # None: the configured default
    messages: list[Message] = field(default_factory=list)
    # The images of the user's messages, by message id.
    images: dict[int, list[Image]] = field(default_factory=dict)

    @property
    def session(self) -> Session:
        """The chat as the request builder sees it: no settings of its own but the
        model, stateless, never stored."""
        now = self.messages[0].created_at if self.messages else utc_now()
        return Session(
            id=TEMPORARY_ID,
            owner=self.owner,
            title=None,
            is_used=bool(self.messages),
            created_at=now,
            updated_at=now,
            model=self.model,
            cache_mode="off",
            web_search=False,
        )

    @property
    def busy(self) -> bool:
        return bool(self.messages) and self.messages[-1].status == "streaming"

    def send(
        self,
        settings: Settings,
        client,
        text: str,
        *,
        max_chars: int,
        images: Sequence[Image] = (),
    ) -> Reply:
        """Add the user's message with its `images` (checked ones, see
        `chat_core.images`) and return the `Reply` to it (iterate it to stream). Bad
        text, or images for a model known to read text only, raise before anything is
        added; a message of images alone may have no text."""
        if self.busy:
            raise InvalidInputError("reply_in_progress")
        text = message_text(text, max_chars, bool(images))
        chosen = effective(self.session, settings)
        check_images(chosen["model"], chosen["model_alias"], len(images))
        self._check_room_for(images)
        message = self._append(role="user", content=text, status="complete")
        if images:
            self.images[message.id] = list(images)
        return self.reply(settings, client)

    def _check_room_for(self, images: Sequence[Image]) -> None:
        """Refuse images that would take the chat's images over
        `MAX_TEMPORARY_IMAGE_BYTES`: many tabs' temporary chats share one server."""
        if not images:
            return
        kept = sum(len(image.data) for kept in self.images.values() for image in kept)
        if kept + sum(len(image.data) for image in images) > MAX_TEMPORARY_IMAGE_BYTES:
            limit = MAX_TEMPORARY_IMAGE_BYTES // (1024 * 1024)
            raise InvalidInputError("temporary_images_full", limit=limit)

    def reply(self, settings: Settings, client) -> Reply:
        """A `Reply` to the last message, which must be the user's."""
        if not self.messages or self.messages[-1].role != "user":
            raise InvalidInputError("nothing_to_answer")
        session = self.session
        request = build_request(settings, session, list(self.messages), self.images)
        reply = Reply(None, session, client, request)
        # The reply keeps its row here instead of in the store.
        alias = effective(session, settings)["model_alias"]
        reply.recorder = MemoryRecorder(self, session, model=request.model, model_alias=alias)
        return reply

    def save(self, store: Store) -> Session:
        """Write the conversation as a normal chat of its owner (finished messages
        only) and return it; the temporary chat itself is left as it was."""
        kept = [m for m in self.messages if m.status != "streaming"]
        if not kept:
            raise InvalidInputError("nothing_to_save")
        settings = {"model": self.model} if self.model else {}
        return store.import_session(
            self.owner,
            self._title(kept),
            [_as_row(message, self.images.get(message.id)) for message in kept],
            settings=settings,
        )

    def _title(self, messages: list[Message]) -> str | None:
        """The saved chat's title, as a stored chat gets it: from its first question,
        or the name of that question's first image."""
        question = next((m for m in messages if m.role == "user"), None)
        if question is None:
            return None
        images = self.images.get(question.id) or []
        return message_title(question.content, [image.name for image in images])

    def _append(self, **values) -> Message:
        previous = self.messages[-1].id if self.messages else None
        message = Message(
            id=(previous or 0) + 1,
            session_id=TEMPORARY_ID,
            created_at=utc_now(),
            parent_id=previous,
            **values,
        )
        self.messages.append(message)
        return message

    def _replace(self, message: Message) -> None:
        for index, old in enumerate(self.messages):
            if old.id == message.id:
                self.messages[index] = message
                return


class MemoryRecorder:
    """`ReplyRecorder`'s part for a temporary chat: the reply's message lives in the
    chat's list, updated as it streams and finished whatever happens."""

    def __init__(
        self,
        chat: TemporaryChat,
        session: Session,
        *,
        model: str | None,
        model_alias: str | None = None,
    ) -> None:
        self.chat, self.session, self.model = chat, session, model
        self.model_alias = model_alias
        self.message: Message | None = None
        self.saved = False
        self.on_save = None
        self.save_every = 0.0
        self.first_token_ms: int | None = None
        self._started = 0.0

    def begin(self) -> Message:
        self._started = time.monotonic()
        self.message = self.chat._append(
            role="assistant",
            content="",
            status="streaming",
            model=self.model,
            model_alias=self.model_alias,
        )
        return self.message

    def first_text(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = self._elapsed_ms()

    def progress(self, response: Response) -> None:
        self._keep(response, "streaming", None)

    def finish(self, response: Response, status: str, error: ChatError | None) -> None:
        self._keep(response, status, error)
        self.saved = True

    def _keep(self, response: Response, status: str, error: ChatError | None) -> None:
        usage = response.usage
        values = {
            "content": clean_text(response.text),
            "reasoning_content": clean_text(response.reasoning_text or "") or None,
            "status": status,
            "latency_ms": self._elapsed_ms(),
            "first_token_ms": self.first_token_ms,
            "finish_reason": response.finish,
            **(usage_columns(usage) or {}),
        }
        if usage is not None and usage.model:
            values["model"] = usage.model
        if error is not None:
            values.update(error_code=error.code, error_params=error.as_dict()["params"])
        self.message = dataclasses.replace(self.message, **values)
        self.chat._replace(self.message)

    def _elapsed_ms(self) -> int:
        return round((time.monotonic() - self._started) * 1000)


# What a saved message keeps: the stored columns but the ones the store sets itself
# (the chat, the branch) and the ones a temporary reply never has.
_SAVED_FIELDS = tuple(
    name for name in MESSAGE_COLUMNS if name not in ("session_id", "parent_id", "response_id")
)


def _as_row(message: Message, images: list[Image] | None) -> dict:
    row = {name: getattr(message, name) for name in _SAVED_FIELDS}
    return {**row, "attachments": images} if images else row
