"""Images and web sources in a chat's exports, and their checks on import.

A user message's images travel as `"attachments": [{"name", "mime", "width", "height",
"data"}]`, `data` being the image file in base64; an answer's web sources as
`"sources": [{"url", "title", "site"}]`.

Import refuses the whole file (`ImportFormatError("import_bad_attachment", number=…)`)
for an image that is not base64, not of a stored type (JPEG or PNG), too large, or not
the image it claims once decoded (see `images.check_image`); sources only describe an
answer, so unusable ones are dropped (see `sources.clean_sources`).

The Markdown export names each image with its size and lists an answer's sources as links.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from .errors import ImportFormatError
from .images import MAX_FILE_BYTES, MAX_IMAGES, MIME_TYPES, Image, ImageError, check_image
from .markdown import escape
from .sources import clean_sources
from .store import Message, Session, Store

# Characters a link target keeps as they are; others (spaces, parentheses) are encoded.
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"
# Base64 holds 3 bytes in 4 characters.
MAX_DATA_CHARS = (MAX_FILE_BYTES + 2) // 3 * 4


def exported_media(store: Store, session: Session, messages: list[Message]) -> dict[int, dict]:
    """What each message carries besides its text, by message id."""
    images = store.attachments(session, [m.id for m in messages if m.role == "user"])
    media: dict[int, dict] = {}
    for message in messages:
        extra = {}
        if images.get(message.id):
            extra["attachments"] = [_exported(image) for image in images[message.id]]
        if message.sources:
            extra["sources"] = message.sources
        if extra:
            media[message.id] = extra
    return media


def markdown_media(message: Message, images: list[Image], label: Callable[..., str]) -> list[str]:
    """The Markdown export's lines for what a message carries besides its text: each
    image named with its size (the transcript holds no image data; the JSON export does),
    and an answer's web sources as links."""
    lines = []
    for image in images:
        lines += [f"*{_image_label(image, label)}*", ""]
    sources = clean_sources(message.sources or [])  # links to web pages only
    if sources:
        lines += [f"**{label('sources')}**", ""]
        lines += [
            f"{number}. [{escape(source['title'])}]({_link(source['url'])})"
            for number, source in enumerate(sources, start=1)
        ]
        lines.append("")
    return lines


def _image_label(image: Image, label: Callable[..., str]) -> str:
    name = escape(image.name or image.mime)
    return label("image", name=name, width=image.width, height=image.height)


def _link(url: str) -> str:
    """`url` with the characters that would end a Markdown link target encoded."""
    return quote(url, safe=_URL_SAFE)


def check_media(raw: dict[str, Any], number: int) -> None:
    """Refuse attachments this app could not have exported, before anything is decoded."""
    attachments = raw.get("attachments")
    if attachments is None:
        return
    if not isinstance(attachments, list) or len(attachments) > MAX_IMAGES:
        raise _bad(number)
    if attachments and raw.get("role") != "user":
        raise _bad(number)
    for item in attachments:
        if not isinstance(item, dict) or item.get("mime") not in MIME_TYPES:
            raise _bad(number)
        data = item.get("data")
        if not isinstance(data, str) or not data or len(data) > MAX_DATA_CHARS:
            raise _bad(number)


def imported_media(raw: dict[str, Any], number: int) -> dict[str, Any]:
    """The message's images (decoded and checked) and its usable sources."""
    attachments = [_imported(item, number) for item in raw.get("attachments") or ()]
    sources = raw.get("sources")
    return {
        "attachments": attachments,
        "sources": clean_sources(sources) if isinstance(sources, list) else [],
    }


# Fields exports gained later: a message without them counts exactly as before.
_LATER_FIELDS = ("tier_prompt_tokens", "tier_completion_tokens", "finish_reason", "model_alias")


def fingerprint(message: dict[str, Any], later: tuple[str, ...] = _LATER_FIELDS) -> dict[str, Any]:
    """The message as it counts for an import's id: each image by its digest, and a
    message without images, sources or the fields added `later` exactly as before they
    existed (a file imported by an older version is still found as imported)."""
    counted = {
        k: v
        for k, v in message.items()
        if k not in ("attachments", "sources") and not (k in later and v is None)
    }
    if message.get("attachments"):
        counted["attachments"] = [
            hashlib.sha256(i.data).hexdigest() for i in message["attachments"]
        ]
    if message.get("sources"):
        counted["sources"] = message["sources"]
    return counted


def _exported(image: Image) -> dict[str, Any]:
    return {
        "name": image.name,
        "mime": image.mime,
        "width": image.width,
        "height": image.height,
        "data": base64.b64encode(image.data).decode("ascii"),
    }


def _imported(item: dict[str, Any], number: int) -> Image:
    try:
        data = base64.b64decode(item["data"], validate=True)
    except (binascii.Error, ValueError):
        raise _bad(number) from None
    name = item.get("name")
    try:
        return check_image(Image(item["mime"], 0, 0, data, name if isinstance(name, str) else None))
    except ImageError:
        raise _bad(number) from None


def _bad(number: int) -> ImportFormatError:
    return ImportFormatError("import_bad_attachment", number=number)
