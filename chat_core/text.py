"""Cleaning and checking user text, and deriving session titles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from .errors import InvalidInputError

TITLE_MAX_CHARS = 60
_THINK_BLOCK = re.compile(r"<think>.*?(</think>|$)", re.IGNORECASE | re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Make `text` storable: drop NUL characters and turn unpaired surrogates into U+FFFD.

    Paired surrogates (as some clipboards deliver emoji) are joined into one character.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def shows_nothing(text: str) -> bool:
    """Whether `text` is empty, or only spaces and marks that show as nothing (zero-width
    spaces, joiners, direction marks)."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


def check_message(text: object, max_chars: int) -> str:
    """Return the cleaned message, or raise `InvalidInputError` (nothing is written then)."""
    if not isinstance(text, str):
        raise InvalidInputError("message_not_text")
    text = clean_text(text)
    if shows_nothing(text):
        raise InvalidInputError("message_empty")
    if len(text) > max_chars:
        raise InvalidInputError("message_too_long", length=len(text), limit=max_chars)
    return text


def message_text(text: object, max_chars: int, has_images: bool) -> str:
    """The checked text of a message (see `check_message`); with images it may be empty."""
    if has_images and isinstance(text, str) and shows_nothing(clean_text(text)):
        return ""
    return check_message(text, max_chars)


def message_title(text: str, image_names: Sequence[str | None] = ()) -> str | None:
    """A chat's title from its first message: its text, or the name of its first image
    when it has no text to make one of."""
    return make_title(text) or (make_title(image_names[0] or "") if image_names else None)


def make_title(
    text: str, max_chars: int = TITLE_MAX_CHARS, *, model_output: bool = False
) -> str | None:
    """A one-line title from a first message or a name the user typed: whitespace
    collapsed, cut at a word boundary (or mid-text for scripts without spaces, such as
    Chinese). Of `model_output` (a generated title), the `<think>` text is dropped; a
    user's `<think>` is text like any other."""
    text = clean_text(text)
    if model_output:
        text = _THINK_BLOCK.sub(" ", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if shows_nothing(text):
        return None
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:!?，。；：！？") + "…"
