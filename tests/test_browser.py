"""End to end in Debian chromium: `streamlit run` against the loopback emulator.

Each test signs in as its own owner through the identity proxy (tests/browser_support.py),
so the tests cannot see each other's chats.
"""

from __future__ import annotations

import os
import time

import pytest

from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server,
    browser_fixture,
    click_new_chat,
    expect,
    send,
    session_of,
    signed_in_pages,
    slow_replies,
    stop_mid_reply,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser


emu = emulator_fixture(**EMULATOR_SETTINGS)


@pytest.fixture(scope="module")
def server(emu, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    db_path = folder / "chat.db"
    with app_server(emu, db_path, folder / "server.log") as running:
        yield {"url": running.url, "db": db_path, "log": running.log_path}


browser = browser_fixture()


@pytest.fixture
def open_as(browser, server):
    with signed_in_pages(browser, server["url"], viewport={"width": 1280, "height": 860}) as opener:
        yield opener


def owner_of(email: str) -> str:
    """The owner key the app gives a proxy-asserted email."""
    return owner_key("email", email.casefold())


def sessions_of(server, owner: str) -> dict[str, int]:
    with connect(server["db"]) as store, store.backend.reading() as tx:
        rows = tx.query("SELECT id, is_used FROM chat_session WHERE owner = ?", [owner_of(owner)])
    return {row["id"]: row["is_used"] for row in rows}


def test_new_chat_twice_without_sending_keeps_one_session(open_as, server):
    page = open_as("one@example.com")
    first = session_of(page)
    click_new_chat(page)
    expect(page.get_by_text("Continue in the session you have not started yet")).to_be_visible()
    click_new_chat(page)
    assert session_of(page) == first
    assert sessions_of(server, "one@example.com") == {first: 0}


def test_send_streams_marks_used_and_new_chat_then_creates_once(open_as, server):
    owner = "two@example.com"
    page = open_as(owner)
    first = session_of(page)
    send(page, "hello browser")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages.nth(1)).to_contain_text("Echo: hello browser", timeout=20_000)
    wait_for_app(page)
    assert sessions_of(server, owner) == {first: 1}
    expect(page.locator(f".st-key-session-{first}")).to_contain_text("hello browser")
    click_new_chat(page)
    page.wait_for_url(lambda url: "session=" in url and first not in url)
    second = session_of(page)
    expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
    click_new_chat(page)
    assert session_of(page) == second
    assert sessions_of(server, owner) == {first: 1, second: 0}


def test_reload_with_session_in_the_url_shows_the_history(open_as, server):
    page = open_as("three@example.com")
    send(page, "remember this")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
        "Echo: remember this", timeout=20_000
    )
    sid = session_of(page)
    page.reload()
    wait_for_app(page)
    assert session_of(page) == sid
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
    expect(page.get_by_test_id("stChatMessage").nth(0)).to_contain_text("remember this")


def test_closing_the_page_mid_stream_lets_the_reply_finish(open_as, server, emu):
    owner = "four@example.com"
    page = open_as(owner)
    sid = session_of(page)
    with slow_replies(emu):
        send(page, "a long answer please #tokens=150")
        expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w10", timeout=20_000)
        page.close()
        reply = wait_for_final_reply(server, sid)
    # The reply is written by the server, not by the page: it completes all the same.
    assert reply["status"] == "complete"
    assert reply["content"].split() == [f"w{i}" for i in range(1, 151)]


def wait_for_final_reply(server, sid: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connect(server["db"]) as store, store.backend.reading() as tx:
            rows = tx.query(
                "SELECT status, content FROM chat_message WHERE session_id = ? "
                "AND role = 'assistant' ORDER BY id DESC LIMIT 1",
                [sid],
            )
        if rows and rows[0]["status"] != "streaming":
            return rows[0]
        time.sleep(0.2)
    raise AssertionError(f"the reply in {sid} never left the streaming state")


def test_two_owners_never_see_each_other(open_as, server):
    alice = open_as("alice@example.com")
    send(alice, "alice private note")
    expect(alice.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
        "Echo: alice private note", timeout=20_000
    )
    alice_sid = session_of(alice)
    bob = open_as("bob@example.com")
    bob_sid = session_of(bob)
    assert bob_sid != alice_sid
    expect(bob.get_by_test_id("stSidebar")).not_to_contain_text("alice private note")
    bob.goto(f"{server['url']}/?session={alice_sid}")
    wait_for_app(bob)
    assert session_of(bob) != alice_sid
    expect(bob.get_by_test_id("stChatMessage")).to_have_count(0)
    expect(bob.get_by_text("does not exist or is not yours")).to_be_visible()
    assert set(sessions_of(server, "bob@example.com")) == {bob_sid}


def test_stop_shows_the_interrupted_reply_at_once_and_keeps_what_was_shown(open_as, server, emu):
    page = open_as("five@example.com")
    sid = session_of(page)
    answer = stop_mid_reply(page, emu)
    # No reload: the actions and the chat's title show too.
    # (a button with a tooltip also has a hidden copy in the page: the visible one)
    regenerate = page.locator("[class*='st-key-regenerate-'] button").filter(visible=True)
    expect(regenerate).to_be_visible()
    expect(page.locator("[class*='st-key-edit-'] button").filter(visible=True)).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_contain_text("stop me")
    # The message was sent: the input does not get it back.
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_value("")
    # The answer's own text, not the status notice under it.
    shown = answer.locator(
        "[data-testid='stMarkdownContainer']:not([data-testid='stAlert'] *)"
    ).all_inner_texts()
    reply = wait_for_final_reply(server, sid)
    assert reply["status"] == "interrupted"
    assert " ".join(shown).split() == reply["content"].split()  # stored = what was seen
    assert "w2000" not in reply["content"]


def test_import_an_exported_chat(open_as, server, tmp_path):
    with connect(server["db"]) as store:
        from chat_core.transfer import export_json

        source, _ = store.new_session("someone@example.com")
        store.start_turn(source, "imported hello")
        exported = tmp_path / "chat.json"
        exported.write_text(export_json(store, "someone@example.com", source.id))
    page = open_as("six@example.com")
    page.get_by_test_id("stExpander").locator("summary").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(exported)
    expect(page.get_by_text("Imported “imported hello”")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("stChatMessage").nth(0)).to_contain_text("imported hello")
    imported = session_of(page)
    assert imported != source.id
    assert sessions_of(server, "six@example.com")[imported] == 1


def test_html_in_prompts_and_replies_is_never_executed(open_as):
    page = open_as("seven@example.com")
    payload = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> **bold**'
    send(page, payload)
    reply = page.get_by_test_id("stChatMessage").nth(1)
    expect(reply).to_contain_text("Echo:", timeout=20_000)
    wait_for_app(page)
    assert page.evaluate("window.pwned") is None
    assert page.locator("[data-testid='stChatMessage'] img[src='x']").count() == 0
    expect(reply.locator("strong")).to_have_text("bold")


def test_markdown_code_and_latex_render(open_as, server):
    page = open_as("eight@example.com")
    send(page, "Plan a trip to Kyoto")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Kyoto", timeout=20_000)
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Show **bold**, `inline code` and \\(E = mc^2\\), for $5 or $10")
    box.press("Enter")
    reply = page.get_by_test_id("stChatMessage").nth(3)
    expect(reply).to_contain_text("for $5 or $10", timeout=20_000)  # money, not maths
    expect(reply.locator(".katex")).to_have_count(1)
    expect(reply.locator("code")).to_have_text("inline code")
    expect(reply.locator("strong")).to_have_text("bold")
    wait_for_app(page)
    save_screenshot(page)


def save_screenshot(page) -> None:
    """With ARK_CHAT_SCREENSHOT set, keep the README's screenshot current."""
    target = os.environ.get("ARK_CHAT_SCREENSHOT")
    if target:
        page.screenshot(path=target)
