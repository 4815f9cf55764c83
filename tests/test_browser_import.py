"""In Debian chromium: an imported chat's title, drawn in the page's notice, is text
that links nowhere and loads nothing, and importing the same file again opens the chat
it made."""

from __future__ import annotations

import json

import pytest

from tests.browser_support import expect, session_of, wait_for_app
from tests.test_app_import import TITLE, export_file
from tests.test_browser import browser, emu, open_as, server  # noqa: F401 (fixtures)
from tests.test_browser_remote_images import assert_nothing_reached, sink  # noqa: F401

pytestmark = pytest.mark.browser


def upload(page, path) -> None:
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(path)


def info(page, text: str):
    """The page's info notice holding `text`, whichever other notices show: after New
    chat the page may also say it continues in the chat not started yet."""
    return page.get_by_test_id("stAlertContentInfo").filter(has_text=text)


def test_an_imported_title_is_plain_text_and_a_second_import_opens_the_first(
    open_as,  # noqa: F811 (the fixture imported above)
    tmp_path,
):
    exported = tmp_path / "chat.json"
    exported.write_bytes(export_file())
    page = open_as("importer@example.com")
    page.get_by_test_id("stExpander").locator("summary").click()
    upload(page, exported)
    notice = info(page, "Imported “")
    expect(notice).to_contain_text("Imported “Log in [here](https", timeout=20_000)
    assert notice.locator("a").count() == 0 and notice.locator("img").count() == 0
    shown = notice.get_by_test_id("stMarkdownContainer").inner_text()
    assert shown.replace("\u2060", "").strip() == f"Imported “{TITLE}”."
    imported = session_of(page)
    page.locator(".st-key-new_chat button").click()
    wait_for_app(page)
    # The same export downloaded again (the uploader ignores a file input set to the
    # very file it already holds, so the copy has a path of its own).
    again = tmp_path / "chat (1).json"
    again.write_bytes(exported.read_bytes())
    upload(page, again)
    repeated = info(page, "This file was imported before")
    expect(repeated).to_have_count(1, timeout=20_000)
    assert repeated.locator("a").count() == 0
    assert session_of(page) == imported


def test_imported_model_ids_are_plain_text_and_fetch_nothing(
    open_as,  # noqa: F811 (the fixture imported above)
    sink,  # noqa: F811
    tmp_path,
):
    # A file's model ids (the chat's and a reply's) reach the chat's header and the
    # reply's usage line.
    model = f"![m]({sink.origin}/header) [here](https://example.com)"
    reply_model = f"![r]({sink.origin}/usage) :red[loud]"
    exported = tmp_path / "models.json"
    exported.write_text(
        json.dumps(
            {
                "format": "ark-chat-session",
                "version": 1,
                "session": {"title": "models", "model": model},
                "messages": [
                    {"role": "user", "content": "question"},
                    {
                        "role": "assistant",
                        "content": "answer",
                        "status": "complete",
                        "model": reply_model,
                        "prompt_tokens": 10,
                        "completion_tokens": 5,
                        "latency_ms": 700,
                    },
                ],
            }
        )
    )
    page = open_as("models@example.com")
    page.get_by_test_id("stExpander").locator("summary").click()
    upload(page, exported)
    expect(info(page, "Imported “models”")).to_have_count(1, timeout=20_000)
    wait_for_app(page)
    header = page.locator(".stMain [data-testid='stCaptionContainer']").first
    usage = page.get_by_test_id("stChatMessage").nth(1).get_by_test_id("stCaptionContainer")
    expect(usage).to_contain_text("700 ms")
    assert model in header.inner_text().replace("\u2060", "")  # word joiners are invisible
    assert usage.inner_text().replace("\u2060", "").endswith(reply_model)
    main = page.locator(".stMain")
    assert main.locator("img").count() == 0
    assert main.locator("a[href='https://example.com']").count() == 0
    assert_nothing_reached(page, sink)
