"""Images a user attaches to a message: checked, made upright, scaled down and re-encoded
before anything is stored, so the database and every request hold small, clean images.

Limits (the README repeats them):
- at most `MAX_IMAGES` images per message;
- a file of at most `MAX_FILE_BYTES` (20 MB);
- at most `MAX_SOURCE_PIXELS` (50 megapixels) as decoded, which also stops decompression
  bombs: the size is read from the header, before any pixel is decoded;
- JPEG, PNG, WebP, GIF (its first frame) or BMP, recognised from the bytes, never from
  the name or the type the browser claims.

What is kept is at most `MAX_SIDE` (2048) pixels on its longest side and `MAX_PIXELS` in all
(within what Ark's vision models take), as JPEG, or PNG when the image has transparency.
Re-encoding also drops the file's metadata (camera, GPS position).
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InvalidInputError
from .text import clean_text

MAX_IMAGES = 8
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_SOURCE_PIXELS = 50_000_000
MAX_SIDE = 2048
MAX_PIXELS = 4_194_304  # 2048 × 2048
EXIF_ORIENTATION = 0x0112
DRAFT_KEEPS = 0.75
MAX_NAME_CHARS = 200
JPEG_QUALITY = 85
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
MIME_TYPES = ("image/jpeg", "image/png")  # what is stored and sent
# What the file chooser offers (the bytes decide in the end).
FILE_TYPES = ("jpg", "jpeg", "png", "webp", "gif", "bmp")
# Ark counts an image as about one token per 28 × 28 pixel patch (an estimate, used
# only to budget the history).
PIXELS_PER_TOKEN = 28 * 28


class ImageError(InvalidInputError):
    """An attached file cannot be used as an image; nothing was stored."""


@dataclass(frozen=True)
class Image:
    """An image as stored with its message and sent to the model."""

    mime: str
    width: int
    height: int
    data: bytes = b""
    name: str | None = None

    @property
    def data_url(self) -> str:
        """The image as a `data:` URL, the form Ark takes inline images in."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    @property
    def tokens(self) -> int:
        """Roughly what the image costs the model in input tokens."""
        return max(1, self.width * self.height // PIXELS_PER_TOKEN)


def prepare_images(
    files: Sequence[tuple[str | None, bytes]], *, kept: Sequence[Image] = ()
) -> list[Image]:
    """`kept` (images prepared before, such as those of a message that was not sent)
    followed by every `(name, bytes)` file, checked and prepared; the first bad one
    raises `ImageError`, so either all the images are kept or none."""
    count = len(kept) + len(files)
    if count > MAX_IMAGES:
        raise ImageError("image_too_many", count=count, limit=MAX_IMAGES)
    return [*kept, *(prepare_image(name, data) for name, data in files)]


def prepare_image(name: str | None, data: bytes) -> Image:
    """One file as a stored image: checked, upright, scaled to the limits, re-encoded."""
    label = _name(name)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError("image_too_large", name=label or "", size=len(data), limit=MAX_FILE_BYTES)
    from PIL import Image as Pillow  # loaded with the first image, not at start

    with warnings.catch_warnings():
        # Pillow warns of a possible decompression bomb; here it is a refusal.
        warnings.simplefilter("error", Pillow.DecompressionBombWarning)
        try:
            picture = _open(Pillow, data, label)
            width, height = picture.size
            if width * height > MAX_SOURCE_PIXELS:
                raise _too_many_pixels(label, width * height)
            if not width or not height:
                raise ImageError("image_not_image", name=label or "")
            return _stored(picture, label)
        except ImageError:
            raise
        except (Pillow.DecompressionBombError, Pillow.DecompressionBombWarning):
            raise _too_many_pixels(label, None) from None
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
            # Truncated or corrupt data, found while decoding.
            raise ImageError("image_not_image", name=label or "") from None


def check_image(image: Image) -> Image:
    """Refuse stored image data that is not what it says (an import, say): it must
    decode as its `mime` type, within the kept limits. Returns it with its real size."""
    if image.mime not in MIME_TYPES:
        raise ImageError("image_bad_type", name=image.name or "", mime=str(image.mime)[:40])
    if len(image.data) > MAX_FILE_BYTES:
        raise ImageError(
            "image_too_large", name=image.name or "", size=len(image.data), limit=MAX_FILE_BYTES
        )
    from PIL import Image as Pillow

    with warnings.catch_warnings():
        warnings.simplefilter("error", Pillow.DecompressionBombWarning)
        try:
            picture = Pillow.open(io.BytesIO(image.data))
            width, height = picture.size
            if Pillow.MIME.get(picture.format) != image.mime:
                raise ImageError("image_bad_type", name=image.name or "", mime=image.mime)
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise _too_many_pixels(image.name, width * height)
            picture.load()
        except ImageError:
            raise
        except (Pillow.DecompressionBombError, Pillow.DecompressionBombWarning):
            raise _too_many_pixels(image.name, None) from None
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
            raise ImageError("image_not_image", name=image.name or "") from None
    return Image(image.mime, width, height, image.data, _name(image.name))


def _open(pillow, data: bytes, label: str | None):
    try:
        picture = pillow.open(io.BytesIO(data), formats=FORMATS)
    except pillow.UnidentifiedImageError:
        raise ImageError("image_not_image", name=label or "") from None
    return picture


def _stored(picture, label: str | None) -> Image:
    """Decode (at a reduced scale where JPEG allows), orient, scale and re-encode."""
    if picture.format == "JPEG":
        picture.draft("RGB", _draft_size(*picture.size))
    picture.seek(0)  # an animation's first frame
    if picture.getexif().get(EXIF_ORIENTATION, 1) != 1:
        from PIL import ImageOps

        picture = ImageOps.exif_transpose(picture)  # phones store photos sideways
    transparent = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    mode = "RGBA" if transparent else "RGB"
    if picture.mode != mode:
        picture = picture.convert(mode)
    target = _fitted(*picture.size)
    if target != picture.size:
        picture = picture.resize(target, reducing_gap=3.0)
    out = io.BytesIO()
    if transparent:
        picture.save(out, "PNG", optimize=False)
        mime = "image/png"
    else:
        picture.save(out, "JPEG", quality=JPEG_QUALITY)
        mime = "image/jpeg"
    return Image(mime, picture.width, picture.height, out.getvalue(), label)


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """The size to decode a JPEG at (it decodes at 1/2, 1/4 or 1/8 scale several times
    faster than whole): the mildest scale that fits the limits when that keeps at least
    `DRAFT_KEEPS` of the kept size (a phone's 4032 × 3024 photo decodes at 2016 × 1512,
    and no resize is left to do), else the smallest scale at or above it, resized after."""
    target = _fitted(width, height)
    for scale in (1, 2, 4, 8):
        size = (-(-width // scale), -(-height // scale))
        if _fitted(*size) == size:
            return size if max(size) >= DRAFT_KEEPS * max(target) else target
    return target


def _fitted(width: int, height: int) -> tuple[int, int]:
    """The size within `MAX_SIDE` and `MAX_PIXELS`, keeping the aspect ratio."""
    scale = min(1.0, MAX_SIDE / max(width, height), (MAX_PIXELS / (width * height)) ** 0.5)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _too_many_pixels(name: str | None, pixels: int | None) -> ImageError:
    return ImageError(
        "image_too_many_pixels", name=name or "", pixels=pixels or 0, limit=MAX_SOURCE_PIXELS
    )


def _name(name: object) -> str | None:
    """A file name fit to show and store: no folders, cleaned, at most 200 characters."""
    if not isinstance(name, str):
        return None
    name = clean_text(name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:MAX_NAME_CHARS] or None
