"""Retry answers the message it was clicked under, in the chat as the page showed it:
when another tab went on with the chat since, it is refused instead of answering
another question. Two tabs are two connections to one SQLite file; real SDK, emulator."""

from pathlib import Path

import httpx
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chat_core import chat
from chat_core.ark import make_client
from chat_core.config import load_settings
from chat_core.errors import ChatError, InvalidInputError
from chat_core.store import connect
from tests.conftest import EMULATOR_KEY
from ui import runtime

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture
def env(emu, db_path):
    emu.clear_faults()
    return {
        "ARK_API_KEY": EMULATOR_KEY,
        "ARK_BASE_URL": emu.base_url,
        "ARK_MODEL": "ep-test-model",
        "ARK_MAX_RETRIES": "0",
        "ARK_THINKING": "disabled",
        "CHAT_DB": str(db_path),
        "CHAT_TITLES": "off",
        "NO_PROXY": "127.0.0.1",
    }


@pytest.fixture
def settings(env):
    return load_settings(env=env)


@pytest.fixture
def tabs(db_path):
    """Two tabs of the same chat app: two stores on one database file."""
    with connect(str(db_path)) as tab_a, connect(str(db_path)) as tab_b:
        yield tab_a, tab_b


def run(reply) -> str:
    with reply:
        return "".join(e.text for e in reply if type(e).__name__ == "ContentDelta")


def branch(store, session) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in store.get_messages(store.get_session("alice", session.id))]


def test_retry_under_a_question_answers_it_not_a_later_one(tabs, settings, client):
    tab_a, tab_b = tabs
    session, _ = tab_a.new_session("alice")
    one = tab_a.start_turn(session, "one")  # its reply could not begin: Retry under it
    two = tab_b.start_turn(tab_b.get_session("alice", session.id), "two")  # the same, in B
    with pytest.raises(InvalidInputError) as refused:
        chat.reply_to_last(tab_a, settings, session, client, one.id)
    assert refused.value.code == "retry_not_last"
    assert branch(tab_a, session) == [("user", "one"), ("user", "two")]  # nothing answered
    assert run(chat.reply_to_last(tab_b, settings, session, client, two.id)) == "Echo: two"


def test_retry_under_a_question_still_last_answers_it(tabs, settings, client):
    tab_a, _ = tabs
    session, _ = tab_a.new_session("alice")
    one = tab_a.start_turn(session, "one")
    assert run(chat.reply_to_last(tab_a, settings, session, client, one.id)) == "Echo: one"


def failed_turn(store, settings, client, emu, text: str):
    """A chat whose turn `text` failed; (the chat, the failed answer)."""
    session, _ = store.new_session("alice")
    emu.fail_next("500")
    with pytest.raises(ChatError):
        run(chat.send(store, settings, session, client, text))
    failed = store.get_messages(session)[-1]
    assert failed.status == "error"
    return session, failed


def test_retry_under_a_failed_answer_is_refused_once_another_tab_went_on(
    tabs, settings, client, emu
):
    tab_a, tab_b = tabs
    session, failed = failed_turn(tab_a, settings, client, emu, "one")
    run(chat.send(tab_b, settings, tab_b.get_session("alice", session.id), client, "two"))
    went_on = branch(tab_b, session)
    with pytest.raises(InvalidInputError) as refused:
        chat.regenerate(tab_a, settings, session, client, failed.id, failed.id)
    assert refused.value.code == "retry_not_last"
    assert branch(tab_a, session) == went_on  # the chat still shows the other tab's turn


def test_retry_under_a_failed_answer_the_page_shows_last_answers_it(tabs, settings, client, emu):
    tab_a, _ = tabs
    session, failed = failed_turn(tab_a, settings, client, emu, "one")
    assert run(chat.regenerate(tab_a, settings, session, client, failed.id, failed.id)) == (
        "Echo: one"
    )


# --- the page --------------------------------------------------------------------------------


@pytest.fixture
def page_env(env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("ARK_CACHE", "CHAT_LANG"):
        monkeypatch.delenv(name, raising=False)
    opened: list[AppTest] = []
    yield opened
    for at in opened:
        cached = at.session_state.get("_ark_client")
        if cached:
            cached[1].close()
    runtime.release_shared()
    st.cache_resource.clear()


def open_page(opened, session_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    opened.append(at)
    at.user = {}  # the single-user owner "local"
    at.query_params["session"] = session_id
    return at.run()


def another_tab(db_path, session_id: str, step) -> None:
    """`step(store, session, client, settings)` done by another tab of the same user."""
    with connect(str(db_path)) as store:
        settings = load_settings()
        http = httpx.Client(trust_env=False)
        try:
            step(
                store,
                store.get_session("local", session_id),
                make_client(settings, http_client=http),
                settings,
            )
        finally:
            http.close()


def contents(db_path, session_id: str) -> list[str]:
    with connect(str(db_path)) as store:
        return [m.content for m in store.get_messages(store.get_session("local", session_id))]


def retry_button(at):
    (retry,) = [b for b in at.button if b.key.startswith("retry-")]
    return retry


def test_retry_under_a_question_clicked_after_another_tab_went_on_says_so(page_env, db_path):
    with connect(str(db_path)) as store:
        session, _ = store.new_session("local")
        store.start_turn(session, "one")  # its reply could not begin
    at = open_page(page_env, session.id)  # "one", with Retry under it

    def answer_and_go_on(store, session, client, settings):
        run(chat.reply_to_last(store, settings, session, client))
        store.start_turn(session, "two")  # its reply could not begin either

    another_tab(db_path, session.id, answer_and_go_on)
    retry_button(at).click().run()
    assert not at.exception
    assert any("went on in another tab" in e.value for e in at.error)
    assert contents(db_path, session.id) == ["one", "Echo: one", "two"]  # "two" unanswered


def test_retry_under_a_failed_answer_clicked_after_another_tab_went_on_says_so(
    page_env, db_path, emu
):
    with connect(str(db_path)) as store:
        session, _ = store.new_session("local")
    at = open_page(page_env, session.id)
    emu.fail_next("500")
    at.chat_input(key="chat_input").set_value("one").run()  # fails: Retry under it

    def go_on(store, session, client, settings):
        run(chat.send(store, settings, session, client, "two"))

    another_tab(db_path, session.id, go_on)
    retry_button(at).click().run()
    assert not at.exception
    assert any("went on in another tab" in e.value for e in at.error)
    assert contents(db_path, session.id) == ["one", "", "two", "Echo: two"]
