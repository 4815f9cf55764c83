"""Attached images: good files are kept small and clean; bad ones are refused whole."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image as Pillow

from chat_core.errors import InvalidInputError
from chat_core.images import (
    MAX_FILE_BYTES,
    MAX_IMAGES,
    MAX_SIDE,
    Image,
    ImageError,
    check_image,
    prepare_image,
    prepare_images,
)


def encoded(picture, kind="JPEG", **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, kind, **options)
    return out.getvalue()


def photo(width=4000, height=3000) -> bytes:
    noise = Pillow.effect_noise((width, height), 40).convert("RGB")
    return encoded(noise, quality=92)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size but holds almost nothing: a decompression bomb."""
    header = b"\x89PNG\r\n\x1a\n"
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    chunk = b"IHDR" + ihdr
    crc = zlib.crc32(chunk).to_bytes(4, "big")
    body = zlib.compress(b"\x00" * 1000)
    idat = b"IDAT" + body
    return (
        header
        + len(ihdr).to_bytes(4, "big")
        + chunk
        + crc
        + len(body).to_bytes(4, "big")
        + idat
        + zlib.crc32(idat).to_bytes(4, "big")
    )


@pytest.mark.parametrize(
    ("size", "kept"),
    [
        ((4032, 3024), (2016, 1512)),  # a phone's photo: half its size, as decoded
        ((5000, 3000), (MAX_SIDE, 1229)),  # decoded at half, then scaled to the limit
        ((3000, 3000), (MAX_SIDE, MAX_SIDE)),
        ((1200, 800), (1200, 800)),  # small enough: kept as it is
    ],
)
def test_a_large_photo_is_scaled_within_the_limits_and_stored_as_jpeg(size, kept):
    image = prepare_image("holiday.jpg", photo(*size))
    assert (image.width, image.height) == kept
    assert image.mime == "image/jpeg" and image.name == "holiday.jpg"
    stored = Pillow.open(io.BytesIO(image.data))
    assert stored.format == "JPEG" and stored.size == kept


def test_a_small_image_keeps_its_size():
    image = prepare_image("dot.png", encoded(Pillow.new("RGB", (40, 30), "red"), "PNG"))
    assert (image.width, image.height, image.mime) == (40, 30, "image/jpeg")


def test_transparency_is_kept_as_png():
    data = encoded(Pillow.new("RGBA", (64, 64), (0, 0, 255, 100)), "PNG")
    image = prepare_image("logo.png", data)
    assert image.mime == "image/png"
    assert Pillow.open(io.BytesIO(image.data)).mode == "RGBA"


def test_a_photo_stored_sideways_is_made_upright_and_loses_its_metadata():
    picture = Pillow.new("RGB", (300, 100), "white")
    exif = Pillow.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x010F] = "Camera maker"
    image = prepare_image("phone.jpg", encoded(picture, exif=exif.tobytes()))
    assert (image.width, image.height) == (100, 300)
    assert not Pillow.open(io.BytesIO(image.data)).getexif()


def test_the_first_frame_of_an_animation_is_kept():
    frames = [Pillow.new("RGB", (20, 20), color) for color in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    image = prepare_image("anim.gif", out.getvalue())
    assert (image.width, image.height) == (20, 20)
    assert Pillow.open(io.BytesIO(image.data)).getpixel((5, 5))[0] > 200  # red


def test_the_bytes_decide_the_type_not_the_name():
    image = prepare_image("really-a-png.txt", encoded(Pillow.new("RGB", (8, 8)), "PNG"))
    assert image.mime == "image/jpeg"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am text",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"%PDF-1.7\n",
        encoded(Pillow.new("RGB", (50, 50)), "JPEG")[:200],  # cut off
        encoded(Pillow.new("RGB", (50, 50)), "TIFF"),  # a format not accepted
    ],
    ids=["empty", "text", "svg", "pdf", "truncated", "tiff"],
)
def test_files_that_are_not_usable_images_are_refused(data):
    with pytest.raises(ImageError) as refused:
        prepare_image("x.jpg", data)
    assert refused.value.code == "image_not_image"
    assert isinstance(refused.value, InvalidInputError)


def test_a_huge_pixel_count_is_refused_before_decoding():
    with pytest.raises(ImageError) as refused:
        prepare_image("wide.png", png_header_only(10_000, 6_000))  # 60 megapixels
    assert refused.value.code == "image_too_many_pixels"
    assert refused.value.params["pixels"] == 60_000_000


def test_a_decompression_bomb_is_refused():
    with pytest.raises(ImageError) as refused:
        prepare_image("bomb.png", png_header_only(30_000, 30_000))  # 900 megapixels
    assert refused.value.code == "image_too_many_pixels"


def test_a_file_over_the_size_limit_is_refused_unread():
    with pytest.raises(ImageError) as refused:
        prepare_image("big.jpg", b"\xff" * (MAX_FILE_BYTES + 1))
    assert refused.value.code == "image_too_large"
    assert refused.value.params["limit"] == MAX_FILE_BYTES


def test_one_bad_file_refuses_the_whole_set():
    good = encoded(Pillow.new("RGB", (8, 8)), "PNG")
    with pytest.raises(ImageError):
        prepare_images([("a.png", good), ("b.png", b"nope")])
    with pytest.raises(ImageError) as refused:
        prepare_images([("a.png", good)] * (MAX_IMAGES + 1))
    assert refused.value.code == "image_too_many"


def test_images_kept_from_a_refused_message_go_first_and_count_toward_the_limit():
    good = encoded(Pillow.new("RGB", (8, 8)), "PNG")
    kept = prepare_images([("kept.png", good)])
    both = prepare_images([("new.png", good)], kept=kept)
    assert [image.name for image in both] == ["kept.png", "new.png"]
    with pytest.raises(ImageError) as refused:
        prepare_images([("new.png", good)] * MAX_IMAGES, kept=kept)
    assert refused.value.code == "image_too_many"
    assert refused.value.params["count"] == MAX_IMAGES + 1


def test_file_names_lose_their_folders_and_odd_characters():
    data = encoded(Pillow.new("RGB", (8, 8)), "PNG")
    assert prepare_image("C:\\Users\\me\\cat\x00.png", data).name == "cat.png"
    assert prepare_image("../../" + "n" * 500, data).name == "n" * 200
    assert prepare_image(None, data).name is None


def test_stored_image_data_is_checked_again_on_the_way_in():
    kept = prepare_image("a.png", encoded(Pillow.new("RGB", (30, 20)), "PNG"))
    assert check_image(kept) == kept
    with pytest.raises(ImageError) as refused:
        check_image(Image("image/png", 30, 20, kept.data, "a.png"))  # JPEG bytes
    assert refused.value.code == "image_bad_type"
    with pytest.raises(ImageError) as refused:
        check_image(Image("text/html", 1, 1, b"<b>", "a.html"))
    assert refused.value.code == "image_bad_type"
    with pytest.raises(ImageError) as refused:
        check_image(Image("image/jpeg", 1, 1, b"\xff\xd8 not really", "a.jpg"))
    assert refused.value.code == "image_not_image"
    # Real but oversized: stored images are never larger than what is kept.
    big = encoded(Pillow.new("RGB", (MAX_SIDE + 1, 10)), "JPEG")
    with pytest.raises(ImageError) as refused:
        check_image(Image("image/jpeg", 1, 1, big, None))
    assert refused.value.code == "image_too_many_pixels"


def test_an_image_becomes_a_data_url():
    image = Image("image/png", 1, 1, b"\x89PNG", None)
    assert image.data_url == "data:image/png;base64,iVBORw=="
