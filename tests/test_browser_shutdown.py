"""No reply is left `streaming` for good when the app process stops: a graceful stop
(SIGTERM) saves every running reply before it exits, and after a kill (SIGKILL) the
restarted app finishes the replies whose writer died, dropping their chat's cache state.
What the user saw is always in the database."""

from __future__ import annotations

import signal
import time

import pytest

from bench.identity_proxy import identity_cookie
from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    AppServer,
    browser_fixture,
    expect,
    send,
    session_of,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
emu = emulator_fixture(scope="function", **EMULATOR_SETTINGS)
EMAIL = "shutdown@example.com"
OWNER = owner_key("email", EMAIL)


@pytest.fixture
def app(emu, tmp_path):
    server = AppServer(emu, tmp_path / "chat.db", tmp_path / "server.log")
    server.start()
    with server.proxy:
        yield server
        server.stop()
    assert "Traceback" not in server.log_text()


browser = browser_fixture()


def open_chat(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([identity_cookie(app.url, EMAIL)])
    page = context.new_page()
    page.goto(app.url)
    wait_for_app(page)
    return page


def rows(app, session_id: str):
    with connect(app.env["CHAT_DB"]) as store:
        session = store.get_session(OWNER, session_id)
        return session, store.get_messages(session)


def shown_answer(page) -> str:
    answer = page.get_by_test_id("stChatMessage").nth(1)
    return " ".join(answer.get_by_test_id("stMarkdownContainer").all_inner_texts())


def test_sigterm_saves_the_running_reply_before_the_process_exits(browser, app, emu):
    page = open_chat(browser, app)
    chat = session_of(page)
    emu.token_delay = 0.05
    send(page, "a long one #tokens=400")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w10", timeout=20_000)
    seen = shown_answer(page).split()
    app.process.send_signal(signal.SIGTERM)
    app.process.wait(20)
    app.process = None
    page.context.close()  # the tab would keep reconnecting while the proxy stops
    _, messages = rows(app, chat)
    reply = messages[-1]
    assert (reply.status, reply.error_code) == ("interrupted", "reply_abandoned")
    assert reply.content.split()[: len(seen)] == seen  # what was seen is kept


def test_sigterm_while_waiting_for_the_first_token(browser, app, emu):
    page = open_chat(browser, app)
    chat = session_of(page)
    emu.ttft = 5.0
    send(page, "slow to start")
    expect(page.get_by_text("Waiting for the model…", exact=False)).to_be_visible()
    app.process.send_signal(signal.SIGTERM)
    app.process.wait(20)
    app.process = None
    page.context.close()  # the tab would keep reconnecting while the proxy stops
    _, messages = rows(app, chat)
    assert [m.status for m in messages] == ["complete", "interrupted"]


def test_after_a_kill_the_restarted_app_finishes_the_reply_and_drops_the_cache(browser, app, emu):
    page = open_chat(browser, app)
    chat = session_of(page)
    with connect(app.env["CHAT_DB"]) as store:
        store.update_settings(OWNER, chat, cache_mode="responses")
    send(page, "warm up")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo: warm up")
    wait_for_app(page)
    emu.token_delay = 0.05
    send(page, "to be killed #tokens=400")
    answer = page.get_by_test_id("stChatMessage").nth(3)
    expect(answer).to_contain_text("w10", timeout=20_000)
    seen = " ".join(answer.get_by_test_id("stMarkdownContainer").all_inner_texts()).split()
    app.process.send_signal(signal.SIGKILL)
    app.process.wait(20)
    app.process = None
    session, messages = rows(app, chat)
    assert messages[-1].status == "streaming"
    assert messages[-1].content.split()[: len(seen)] == seen  # what was seen was saved
    assert session.response_id  # the chain from the warm-up turn is still there
    app.start()  # a new process on the same database
    deadline = time.monotonic() + 90  # the writer is given up after its heartbeats stop
    while rows(app, chat)[1][-1].status == "streaming" and time.monotonic() < deadline:
        time.sleep(1)
    session, messages = rows(app, chat)
    assert messages[-1].status == "interrupted"
    assert messages[-1].error_code == "reply_abandoned"
    # The service may hold more of the killed turn than the chat: no chaining from it.
    assert session.response_id is None
