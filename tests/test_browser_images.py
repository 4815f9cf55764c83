"""Images in chromium, attached as a person does: through the chat input's file chooser
(a real click on its button) and by pasting an image copied to the clipboard (Ctrl+V in
the input). Each is what the emulator received, and shows in the history after a reload,
served by the app itself."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image as Pillow

from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server_fixture,
    browser_fixture,
    expect,
    session_of,
    signed_in_pages,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
emu = emulator_fixture(scope="module", **EMULATOR_SETTINGS)
USER_MESSAGE = "[data-testid='stChatMessage']:has([data-testid='stChatMessageAvatarUser'])"


server = app_server_fixture("images")


browser = browser_fixture()


@pytest.fixture
def page_of(browser, server):
    clipboard = ["clipboard-read", "clipboard-write"]
    with signed_in_pages(browser, server.url, permissions=clipboard) as open_page:
        yield open_page


def png(color: str, size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Pillow.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def sent_images(emu, text: str) -> list[str]:
    """The image URLs of the last request whose last message holds `text`."""
    for request in reversed(emu.requests):
        messages = (request.body or {}).get("messages") or []
        content = messages[-1]["content"] if messages else None
        if isinstance(content, list) and any(p.get("text") == text for p in content):
            return [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    return []


def stored_images(server, email: str, session_id: str):
    with connect(server.env["CHAT_DB"]) as store:
        session = store.get_session(owner_key("email", email), session_id)
        user = store.get_messages(session)[0]
        return store.attachments(session, [user.id]).get(user.id, [])


def choose(page, *paths) -> None:
    """Attach files through the chat input's file chooser, as a person does."""
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stChatInputFileUploadButton").click()
    chooser.value.set_files([str(path) for path in paths])


def submit(page, text: str, file_name: str) -> None:
    """Wait until the attached file shows in the input, type and send."""
    chat_input = page.get_by_test_id("stChatInput")
    expect(chat_input).to_contain_text(file_name, timeout=15_000)
    page.get_by_test_id("stChatInputTextArea").click()
    page.keyboard.type(text)
    send(page)


def send(page) -> None:
    """Press Enter once the input can send: not while a file still uploads (its name
    shows from the start; Enter meanwhile does nothing)."""
    expect(page.get_by_test_id("stChatInputSubmitButton")).to_be_enabled(timeout=30_000)
    page.keyboard.press("Enter")


def shows_image_after_reload(page, server) -> None:
    page.reload()
    wait_for_app(page)
    image = page.locator(f"{USER_MESSAGE} [data-testid='stImage'] img").first
    expect(image).to_be_visible(timeout=15_000)
    source = image.get_attribute("src")
    assert source.startswith(("/media/", server.url, "http://127.0.0.1")), source
    assert "search.example" not in source
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0  # loaded from the app


def test_an_image_chosen_with_the_file_chooser(page_of, server, emu, tmp_path):
    email = "chooser@example.com"
    page = page_of(email)
    path = tmp_path / "red square.png"
    path.write_bytes(png("red"))
    choose(page, path)
    submit(page, "what colour is this?", "red square.png")
    expect(page.get_by_text("Echo: what colour is this? [image: 300×200 JPEG]")).to_be_visible(
        timeout=15_000
    )
    (url,) = sent_images(emu, "what colour is this?")
    assert url.startswith("data:image/jpeg;base64,")
    sent = Pillow.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (300, 200) and sent.getpixel((150, 100))[0] > 200  # red
    session = session_of(page)
    (image,) = stored_images(server, email, session)
    assert (image.name, image.width, image.height) == ("red square.png", 300, 200)
    shows_image_after_reload(page, server)


def test_an_image_pasted_into_the_input(page_of, server, emu):
    email = "paste@example.com"
    page = page_of(email)
    data = base64.b64encode(png("blue")).decode()
    # The user copied an image elsewhere: it is on the system clipboard.
    page.evaluate(
        """async (data) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const blob = new Blob([bytes], {type: "image/png"});
            await navigator.clipboard.write([new ClipboardItem({"image/png": blob})]);
        }""",
        data,
    )
    page.get_by_test_id("stChatInputTextArea").click()
    page.keyboard.press("Control+V")
    submit(page, "and this one?", ".png")
    expect(page.get_by_text("Echo: and this one? [image: 300×200 JPEG]")).to_be_visible(
        timeout=15_000
    )
    (url,) = sent_images(emu, "and this one?")
    sent = Pillow.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.getpixel((150, 100))[2] > 200  # blue
    assert len(stored_images(server, email, session_of(page))) == 1
    shows_image_after_reload(page, server)


def test_an_image_over_the_size_limit_is_refused_by_name_and_nothing_is_sent(
    page_of, server, emu, tmp_path
):
    email = "too-big@example.com"
    page = page_of(email)
    small, big = tmp_path / "small.png", tmp_path / "big photo.jpg"
    small.write_bytes(png("blue"))
    big.write_bytes(b"\xff\xd8" + b"\0" * 21_500_000)  # over 20 MB, whichever MB is meant
    choose(page, small, big)
    expect(page.get_by_test_id("stChatInput")).to_contain_text("small.png", timeout=15_000)
    submit(page, "two pictures", "big photo.jpg")
    expect(page.get_by_text("“big photo.jpg” is too large")).to_be_visible(timeout=30_000)
    assert page.get_by_test_id("stChatMessage").count() == 0  # nothing sent
    assert page.get_by_test_id("stChatInputTextArea").input_value() == "two pictures"
    with connect(server.env["CHAT_DB"]) as store:
        assert store.list_sessions(owner_key("email", email))[0].is_used is False


def test_a_refused_messages_image_waits_above_the_input_for_the_next_message(
    page_of, server, emu, tmp_path
):
    email = "kept@example.com"
    page = page_of(email)
    path = tmp_path / "green.png"
    path.write_bytes(png("green"))
    choose(page, path)
    expect(page.get_by_test_id("stChatInput")).to_contain_text("green.png", timeout=15_000)
    text_area = page.get_by_test_id("stChatInputTextArea")
    text_area.click()
    page.keyboard.insert_text("界" * 100_001)  # pasted: over the length limit
    send(page)
    expect(page.get_by_text("too long")).to_be_visible(timeout=30_000)
    kept = page.locator(".st-key-held_images")
    expect(kept).to_contain_text("message that was not sent (1)", timeout=15_000)
    expect(kept.locator("[data-testid='stImage'] img")).to_be_visible()
    assert page.get_by_test_id("stChatInput").get_by_text("green.png").count() == 0
    text_area.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("and now, what colour?")
    send(page)
    expect(page.get_by_text("Echo: and now, what colour? [image: 300×200 JPEG]")).to_be_visible(
        timeout=15_000
    )
    expect(kept).to_have_count(0)
    (url,) = sent_images(emu, "and now, what colour?")
    sent = Pillow.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.getpixel((150, 100))[1] > 100  # green
    (image,) = stored_images(server, email, session_of(page))
    assert image.name == "green.png"
