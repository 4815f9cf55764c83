"""Two app processes on one PostgreSQL database, in Debian chromium.

What `CHAT_DB=postgresql://…` promises: several `streamlit run` processes share one
history, New chat agrees across them on the one unused chat, and the history survives a
restart. Each process runs behind its own identity proxy, both against one emulator; a
browser context is one user, who signs in with the same identity on both.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from bench.identity_proxy import identity_cookie
from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server,
    assert_no_exception_shown,
    browser_fixture,
    click_new_chat,
    expect,
    new_context,
    send,
    session_of,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
REUSED_NOTICE = "Continue in the session you have not started yet"


emu = emulator_fixture(**EMULATOR_SETTINGS)


@pytest.fixture(scope="module")
def database(postgres_server):
    """One empty database for the module: both processes must share it."""
    from psycopg.conninfo import conninfo_to_dict

    if not postgres_server.is_running():  # another module may have stopped it
        postgres_server.start()
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(conninfo_to_dict(url)["dbname"])


@pytest.fixture(scope="module")
def replicas(emu, database, tmp_path_factory):
    """Two app processes, each behind its own proxy, on the same `CHAT_DB` URL."""
    folder = tmp_path_factory.mktemp("replicas")
    with (
        app_server(emu, database, folder / "one.log") as one,
        app_server(emu, database, folder / "two.log") as two,
    ):
        yield one, two


browser = browser_fixture()


@pytest.fixture
def open_as(browser, replicas):
    """`open_as(owner, server, path)`: a new tab of `owner`'s browser on `server`."""
    contexts = {}

    def open_page(owner: str, server, path: str = ""):
        if owner not in contexts:
            contexts[owner] = new_context(browser)
            # Cookies ignore the port, but say it for both proxies anyway.
            contexts[owner].add_cookies([identity_cookie(app.url, owner) for app in replicas])
        page = contexts[owner].new_page()
        page.goto(server.url + path)
        wait_for_app(page)
        return page

    yield open_page
    for context in contexts.values():
        assert_no_exception_shown(context)
        context.close()
    for server in replicas:
        assert "Traceback" not in server.log_text(), server.log_text()


def sessions_in_database(url: str, owner: str) -> list:
    """`owner`'s chats: the proxy asserts an email, which the app keys case-folded."""
    with connect(url) as store:
        return store.list_sessions(owner_key("email", owner.casefold()))


def messages_in_database(url: str, session) -> list[tuple[str, str, str]]:
    with connect(url) as store:
        return [(m.role, m.content, m.status) for m in store.get_messages(session)]


def expect_chat(page, sid: str, prompt: str) -> None:
    """`page` shows chat `sid` with `prompt` and the emulator's complete reply."""
    assert session_of(page) == sid
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2, timeout=30_000)
    expect(messages.nth(0)).to_contain_text(prompt)
    expect(messages.nth(1)).to_contain_text(f"Echo: {prompt}")


@contextlib.contextmanager
def followed_on_process_two(open_as, replicas, emu, owner: str, tokens: int):
    """`owner` sends a message on process one, answered slowly in `tokens` words, and
    opens the chat in a second tab on process two mid-reply (no wait for that page to
    settle: it is busy following the reply); yields (writer, reader)."""
    one, two = replicas
    writer = open_as(owner, one)
    chat = session_of(writer)
    emu.token_delay = 0.05
    try:
        send(writer, f"written on process one #tokens={tokens}")
        expect(writer.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w5", timeout=20_000)
        reader = writer.context.new_page()
        reader.goto(f"{two.url}?session={chat}")
        # Process two has no worker for it: it follows what process one saves.
        expect(reader.get_by_text("being written by another app process")).to_be_visible()
        yield writer, reader
    finally:
        emu.token_delay = EMULATOR_SETTINGS["token_delay"]


def test_new_chat_on_the_second_process_returns_the_unused_chat_of_the_first(
    open_as, replicas, database
):
    owner = "replicas-new-chat@example.com"
    one, two = replicas
    unused = session_of(open_as(owner, one))
    page = open_as(owner, two)
    assert session_of(page) == unused
    click_new_chat(page)
    expect(page.get_by_text(REUSED_NOTICE)).to_be_visible(timeout=30_000)
    assert session_of(page) == unused
    listed = [(s.id, s.is_used) for s in sessions_in_database(database, owner)]
    assert listed == [(unused, False)]


def test_a_chat_sent_on_one_process_shows_on_the_other_and_after_a_restart(
    open_as, replicas, database
):
    owner = "replicas-history@example.com"
    prompt = "hello from process one"
    one, two = replicas
    page = open_as(owner, one)
    sid = session_of(page)
    send(page, prompt)
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
        f"Echo: {prompt}", timeout=30_000
    )
    wait_for_app(page)

    expect_chat(open_as(owner, two, f"/?session={sid}"), sid, prompt)

    one.restart()
    page.goto(f"{one.url}/?session={sid}")
    wait_for_app(page)
    expect_chat(page, sid, prompt)
    [stored] = sessions_in_database(database, owner)
    assert (stored.id, stored.is_used, stored.title) == (sid, True, prompt)
    assert messages_in_database(database, stored) == [
        ("user", prompt, "complete"),
        ("assistant", f"Echo: {prompt}", "complete"),
    ]
    expect(page.locator(f".st-key-session-{sid}")).to_contain_text(prompt)


def test_a_reply_written_by_one_process_shows_live_on_the_other(open_as, replicas, emu):
    owner = "live-elsewhere@example.com"
    with followed_on_process_two(open_as, replicas, emu, owner, 200) as (_, reader):
        answer = reader.get_by_test_id("stChatMessage").nth(1)
        expect(answer).to_contain_text("w100", timeout=30_000)
        expect(answer).to_contain_text("w200", timeout=30_000)
        expect(reader.get_by_text("being written by another app process")).to_have_count(0)


def test_stop_on_the_other_process_ends_the_reply_with_what_it_showed(
    open_as, replicas, emu, database
):
    owner = "stop-elsewhere@example.com"
    with followed_on_process_two(open_as, replicas, emu, owner, 2000) as (writer, reader):
        # A message sent while the reply is written waits for it: Stop shows meanwhile.
        # (The same text as the question being answered: it is still this tab's own.)
        send(reader, "written on process one #tokens=2000")
        reader.get_by_test_id("stChatInputStopButton").click()  # a real mouse click
        for page in (reader, writer):  # both end at once, no reload
            expect(page.get_by_text("Reply interrupted")).to_be_visible(timeout=10_000)
        shown = reader.get_by_test_id("stChatMessage").nth(1).inner_text()
        [session] = sessions_in_database(database, owner)
        [question, (_, content, status)] = messages_in_database(database, session)
        assert status == "interrupted"
        assert content.split()[-1] in shown.split()  # what the page showed
        assert "w2000" not in content
        time.sleep(1)  # the writer's worker adds nothing after the end
        assert messages_in_database(database, session) == [question, ("assistant", content, status)]
        # The message that waited was not sent: it is back in the input.
        expect(reader.get_by_test_id("stChatInputTextArea")).to_have_value(
            "written on process one #tokens=2000"
        )


def test_a_message_sent_on_the_other_process_waits_for_the_reply_being_written(
    open_as, replicas, emu, database
):
    owner = "busy-elsewhere@example.com"
    with followed_on_process_two(open_as, replicas, emu, owner, 100) as (_, reader):
        send(reader, "sent on process two")
        expect(reader.get_by_test_id("stChatMessage").nth(3)).to_contain_text(
            "Echo: sent on process two", timeout=30_000
        )
    [session] = sessions_in_database(database, owner)
    [first, reply, second, answer] = messages_in_database(database, session)
    assert (first[0], reply[0], second[:2]) == (
        "user",
        "assistant",
        ("user", "sent on process two"),
    )
    assert reply[1].endswith("w100") and reply[2] == answer[2] == "complete"
