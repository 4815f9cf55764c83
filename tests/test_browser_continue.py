"""A reply cut at the token limit, in chromium as a person sees it: the chat says the
answer stopped at the limit, a mouse click on Continue carries it on, and the rest joins
the same answer, on screen and in the database. Retry under a failed answer acts on it,
and says so when the chat went on in another tab instead of answering a later turn."""

from __future__ import annotations

import pytest

from bench.identity_proxy import identity_cookie
from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server,
    assert_no_exception_shown,
    expect,
    launched_browser,
    send,
    session_of,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
emu = emulator_fixture(scope="module", **EMULATOR_SETTINGS)
CUT_NOTICE = "This answer stopped at the token limit"
EMAIL = "cut@example.com"


@pytest.fixture
def page(emu, tmp_path):
    log = tmp_path / "server.log"
    with app_server(emu, tmp_path / "chat.db", log) as server, launched_browser() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([identity_cookie(server.url, EMAIL)])
        opened = context.new_page()
        opened.goto(server.url)
        wait_for_app(opened)
        opened.server = server
        yield opened
        assert_no_exception_shown(context)
        context.close()


def stored(server, session_id):
    with connect(server.env["CHAT_DB"]) as store:
        session = store.get_session(owner_key("email", EMAIL), session_id)
        return [(m.role, m.content, m.status, m.finish_reason) for m in store.get_messages(session)]


def test_a_cut_reply_shows_the_notice_and_continue_completes_it(page, emu):
    emu.output_limit = 5  # the model's own limit: the app sets no max_tokens
    try:
        send(page, "#tokens=9")
        main = page.get_by_test_id("stMain")
        expect(main.get_by_text(CUT_NOTICE)).to_be_visible(timeout=30_000)
        answer = page.get_by_test_id("stChatMessage").last
        expect(answer).to_contain_text("w1 w2 w3 w4 w5")
        expect(answer).not_to_contain_text("w6")
        page.get_by_role("button", name="Continue").click()
        expect(answer).to_contain_text("w1 w2 w3 w4 w5 w6 w7 w8 w9", timeout=30_000)
        expect(main.get_by_text(CUT_NOTICE)).to_have_count(0, timeout=30_000)
        expect(page.get_by_role("button", name="Continue")).to_have_count(0)
        expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
    finally:
        emu.output_limit = None
    assert stored(page.server, session_of(page)) == [
        ("user", "#tokens=9", "complete", None),
        ("assistant", "w1 w2 w3 w4 w5 w6 w7 w8 w9", "complete", "stop"),
    ]


def test_a_continue_that_fails_before_new_text_says_why_and_can_be_clicked_again(page, emu):
    emu.output_limit = 5
    try:
        send(page, "#tokens=9")
        main = page.get_by_test_id("stMain")
        expect(main.get_by_text(CUT_NOTICE)).to_be_visible(timeout=30_000)
        emu.fail_next("500", n=5)  # every try of the SDK's
        try:
            page.get_by_role("button", name="Continue").click()
            failure = main.get_by_text("The model service had an internal error")
            expect(failure).to_be_visible(timeout=30_000)
        finally:
            emu.clear_faults()
        answer = page.get_by_test_id("stChatMessage").last
        expect(answer).to_contain_text("w1 w2 w3 w4 w5")
        expect(answer).not_to_contain_text("w6")
        page.get_by_role("button", name="Continue").click()
        expect(answer).to_contain_text("w1 w2 w3 w4 w5 w6 w7 w8 w9", timeout=30_000)
        expect(failure).to_have_count(0)
    finally:
        emu.output_limit = None
    assert stored(page.server, session_of(page)) == [
        ("user", "#tokens=9", "complete", None),
        ("assistant", "w1 w2 w3 w4 w5 w6 w7 w8 w9", "complete", "stop"),
    ]


def test_retry_under_a_failed_answer_says_the_chat_went_on_in_another_tab(page, emu):
    emu.fail_next("500", n=5)  # every try of the SDK's
    try:
        send(page, "first question")
        main = page.get_by_test_id("stMain")
        expect(main.get_by_text("The model service had an internal error")).to_be_visible(
            timeout=30_000
        )
    finally:
        emu.clear_faults()
    chat_id = session_of(page)
    other = page.context.new_page()  # the same chat in another tab goes on
    other.goto(f"{page.server.url}/?session={chat_id}")
    wait_for_app(other)
    send(other, "second question")
    expect(other.get_by_test_id("stChatMessage")).to_have_count(4, timeout=30_000)
    expect(other.get_by_test_id("stChatMessage").last).to_contain_text("second", timeout=30_000)
    # (a button with a tooltip also has a hidden copy in the page: the visible one)
    retry = page.locator("[class*='st-key-retry-'] button").filter(visible=True)
    retry.hover()
    retry.click()
    expect(page.get_by_text("The chat went on in another tab after this message")).to_be_visible(
        timeout=30_000
    )
    # Nothing was answered again: the failed answer stays, the other tab's turn is last.
    assert [(role, status) for role, _, status, _ in stored(page.server, chat_id)] == [
        ("user", "complete"),
        ("assistant", "error"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
