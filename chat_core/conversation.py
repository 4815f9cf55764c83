"""What the model sees of a chat, and how much of it fits.

**Roles alternate.** Chat templates of many models (and llama.cpp's checks) refuse two
user messages in a row, which a failed turn would otherwise leave behind. The rule: a
turn whose answer has no text (it failed, or was stopped before any text came) is left
out of what the model sees, question included. The chat still shows it, marked as not
seen by the model. A reply with some text (cut by an error, Stop or the token limit)
counts as an answer and is sent as it stands.

**The context window** of the chat's model comes from `ARK_CONTEXT_WINDOW` when set,
else, on Ark, from the model catalogue; on a generic server the turn asks the server
(see `chat_core.ark.probe`).
"""

from __future__ import annotations

from collections.abc import Sequence

from .catalogue import model_info
from .config import Settings
from .provider import ARK
from .store import Message, Session
from .store.records import answered


def model_view(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """The (role, content) pairs the model sees of `messages` (a path of the chat,
    oldest first): every answered turn as a user message and its answer, in turn."""
    view: list[tuple[str, str]] = []
    question: Message | None = None
    for message in messages:
        if message.role == "user":
            question = message  # a question still waiting for its answer is dropped
        elif question is not None and answered(message):
            view += [("user", question.content), ("assistant", message.content)]
            question = None
    return view


def left_out(message: Message) -> bool:
    """Whether a finished reply is left out of what the model sees (so is its question)."""
    return message.role == "assistant" and message.status != "streaming" and not answered(message)


def is_cut(message: Message) -> bool:
    """Whether `message` is a complete answer the token limit stopped (it can be
    continued; see `chat_core.continuation`)."""
    return (
        message.role == "assistant"
        and message.status == "complete"
        and message.finish_reason == "length"
    )


def context_window(settings: Settings, session: Session, model: str) -> int | None:
    """The model's context window in tokens when the app knows it (see the module
    docstring); None leaves it to the server, or to the history setting alone."""
    if settings.context_window is not None:
        return settings.context_window
    if settings.provider_kind != ARK:
        return None  # a generic server's model is not in Ark's catalogue
    info = model_info(model, session.model_alias)
    return info.context_window if info is not None else None
