"""Images in message content, in the shapes the SDK sends them:

* Chat Completions (and the Context API): a content list with parts
  `{"type": "image_url", "image_url": {"url": ..., "detail": ...}}` beside
  `{"type": "text", "text": ...}`;
* Responses: `{"type": "input_image", "image_url": ..., "detail": ...}` beside
  `{"type": "input_text", "text": ...}` (types/responses/response_input_image_param.py).

An image is a `data:image/<type>;base64,...` URL (decoded and measured here) or an
http(s) URL (not fetched: it counts as `URL_IMAGE_TOKENS`). A data URL that does not
decode to an image is refused with 400 InvalidParameter, as is any image sent to a model
that reads text only (models whose id starts with one of `TEXT_ONLY_PREFIXES`; the exact
wording of Ark's refusal is not documented, so the message here is an inference).
An image costs one input token per 28 × 28 pixel patch, and the reply names the images
it saw, so tests can tell what arrived.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass

from . import errors

IMAGE_PART_TYPES = ("image_url", "input_image")
PIXELS_PER_TOKEN = 28 * 28
URL_IMAGE_TOKENS = 1000
TEXT_ONLY_PREFIXES = ("deepseek", "glm-", "kimi")
_DATA_URL = re.compile(r"data:(image/[a-z0-9.+-]+);base64,(.*)\Z", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class SeenImage:
    """An image the emulator received: its type and size (None for a remote URL)."""

    mime: str | None
    width: int | None
    height: int | None
    url: str | None = None

    @property
    def tokens(self) -> int:
        if self.width is None or self.height is None:
            return URL_IMAGE_TOKENS
        return max(1, self.width * self.height // PIXELS_PER_TOKEN)

    def describe(self) -> str:
        if self.width is None:
            return "image at a URL"
        kind = (self.mime or "image/?").split("/")[-1].upper()
        return f"{self.width}×{self.height} {kind}"


def image_parts(content: object) -> list[dict]:
    """The image parts of a message `content` (none for plain text)."""
    if not isinstance(content, list):
        return []
    return [
        part for part in content if isinstance(part, dict) and part.get("type") in IMAGE_PART_TYPES
    ]


def images_of(content: object) -> list[SeenImage]:
    """The images of a message `content`, decoded; raises 400 for a bad one."""
    return [_seen(part) for part in image_parts(content)]


def check_images(messages: list[dict], model: str) -> None:
    """Refuse malformed images, and any image for a text-only model."""
    for message in messages:
        if images_of(message.get("content")) and model.lower().startswith(TEXT_ONLY_PREFIXES):
            raise errors.invalid_parameter(
                "messages", f"the model {model} does not support image input"
            )


def image_tokens(content: object) -> int:
    """The input tokens the images of `content` cost."""
    return sum(image.tokens for image in images_of(content))


def describe_images(content: object) -> str:
    """`" [image: 2000×1500 JPEG]"` for each image of `content`, or ""."""
    return "".join(f" [image: {image.describe()}]" for image in images_of(content))


def _seen(part: dict) -> SeenImage:
    url = _url(part)
    if url.startswith(("http://", "https://")):
        return SeenImage(None, None, None, url)
    match = _DATA_URL.match(url)
    if match is None:
        raise _bad_image("an image must be an http(s) URL or a base64 data URL")
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise _bad_image("the image data is not valid base64") from None
    width, height = _size(data)
    return SeenImage(match.group(1).lower(), width, height)


def _url(part: dict) -> str:
    value = part.get("image_url")
    if isinstance(value, dict):  # chat completions nest it
        value = value.get("url")
    if not isinstance(value, str) or not value:
        raise _bad_image("an image part needs an image_url")
    return value


def _size(data: bytes) -> tuple[int, int]:
    """Width and height from the image's header (PNG, JPEG, GIF, WebP or BMP), with the
    standard library only; 400 for anything else."""
    for reader in (_png_size, _gif_size, _bmp_size, _webp_size, _jpeg_size):
        size = reader(data)
        if size is not None and size[0] > 0 and size[1] > 0:
            return size
    raise _bad_image("the image data is not an image")


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _gif_size(data: bytes) -> tuple[int, int] | None:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 10:
        return None
    return struct.unpack("<HH", data[6:10])


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"BM" or len(data) < 26:
        return None
    width, height = struct.unpack("<ii", data[18:26])
    return width, abs(height)


def _webp_size(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment of a JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return None


# Start-of-frame markers: C0–CF but the Huffman, arithmetic-coding and JPEG-LS tables.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _bad_image(detail: str) -> errors.ApiError:
    return errors.invalid_parameter("image_url", detail)
