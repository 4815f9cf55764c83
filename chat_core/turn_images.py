"""The images a turn sends: those of the new message, and those of the earlier user
messages the model sees again (aligned with `conversation.model_view`'s pairs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .conversation import answered
from .images import Image
from .store import Message, Session, Store


def turn_images(
    store: Store, session: Session, messages: Sequence[Message]
) -> Mapping[int, list[Image]]:
    """The images of the user messages among `messages`, by message id."""
    return store.attachments(session, [m.id for m in messages if m.role == "user"])


def history_images(
    earlier: Sequence[Message], images: Mapping[int, list[Image]]
) -> list[list[Image]]:
    """For each (role, content) pair `model_view(earlier)` gives, the images it carries:
    a question's own, none for an answer. Empty when no earlier message has any."""
    aligned: list[list[Image]] = []
    question: Message | None = None
    for message in earlier:
        if message.role == "user":
            question = message
        elif question is not None and answered(message):
            aligned += [images.get(question.id, []), []]
            question = None
    return aligned if any(aligned) else []


def named_images(
    history: Sequence[tuple[str, str]], aligned: Sequence[Sequence[Image]]
) -> list[tuple[str, str]]:
    """`history` for a model that reads text only: each question's images (`aligned`
    with it, as `history_images` gives them) named in its text instead, so a question
    of images alone is not empty and its answer still makes sense."""
    if not aligned:
        return list(history)
    named = []
    for (role, content), images in zip(history, aligned, strict=True):
        if images:
            names = " ".join(f"[image: {image.name or 'unnamed'}]" for image in images)
            content = f"{content}\n\n{names}" if content else names
        named.append((role, content))
    return named
