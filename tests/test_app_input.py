"""AppTest: what the chat input keeps, and what the header shows, on a real SQLite file
and the loopback emulator."""

import contextlib

import pytest

from chat_core.config import load_settings
from chat_core.errors import DatabaseReadOnlyError, DatabaseUnavailableError
from chat_core.runner import MAX_PER_OWNER
from chat_core.store import Store, connect
from tests.test_app import (  # noqa: F401 (fixtures)
    MARKDOWN_TITLE,
    app,
    close_clients,
    env,
    flags,
    last_action,
    param,
    texts,
)
from ui.runtime import shared_runner

pytestmark = pytest.mark.usefixtures("env")


def typed(at) -> str | None:
    return at.chat_input(key="chat_input").value


def test_a_message_over_the_limit_stays_in_the_input(db_path):
    at = app().run()
    text = "界" * 100_001
    at.chat_input(key="chat_input").set_value(text).run()
    assert not at.exception
    assert [e.value for e in at.error if "too long" in e.value]
    assert typed(at) == text  # where the user typed it, to shorten and send again
    assert len(at.chat_message) == 0 and flags(db_path) == {param(at): 0}


def test_a_message_the_database_refuses_stays_in_the_input(db_path, monkeypatch):
    at = app().run()
    original = Store.start_turn

    def read_only(self, session, text, **options):
        raise DatabaseReadOnlyError("database_folder_read_only", folder=str(db_path.parent))

    monkeypatch.setattr(Store, "start_turn", read_only)  # injected fault
    at.chat_input(key="chat_input").set_value("keep me safe").run()
    assert not at.exception  # a message in the chat area, never Streamlit's error page
    assert [e.value for e in at.error if "make the folder writable" in e.value]
    assert typed(at) == "keep me safe"
    monkeypatch.setattr(Store, "start_turn", original)  # the folder is writable again
    at.chat_input(key="chat_input").set_value(typed(at)).run()
    assert texts(at) == [("user", ["keep me safe"]), ("assistant", ["Echo: keep me safe"])]


def test_the_title_above_the_chat_shows_as_typed(db_path):
    with connect(db_path) as store:
        session, _ = store.new_session("local")
        store.start_turn(session, "a question")
        store.rename("local", session.id, MARKDOWN_TITLE)
    at = app(session=session.id).run()
    assert MARKDOWN_TITLE in [text.value for text in at.text]  # st.text: no Markdown
    assert not [m.value for m in at.markdown if "evil.example" in m.value]


def test_a_refused_message_in_a_temporary_chat_stays_in_the_input():
    at = app(temporary="1").run()
    text = "界" * 100_001
    at.chat_input(key="temporary_input").set_value(text).run()
    assert not at.exception
    assert [e.value for e in at.error if "too long" in e.value]
    assert at.chat_input(key="temporary_input").value == text
    assert len(at.chat_message) == 0


def test_a_temporary_chat_counts_within_the_users_reply_limit():
    at = app(temporary="1").run()
    runner = shared_runner(load_settings())
    with contextlib.ExitStack() as busy:  # three replies of this user running elsewhere
        for _ in range(MAX_PER_OWNER):
            busy.enter_context(runner.counted("local"))
        at.chat_input(key="temporary_input").set_value("hello").run()
        assert not at.exception
        assert [e.value for e in at.error if "You already have 3 replies" in e.value]
        assert at.chat_input(key="temporary_input").value == "hello"
        assert len(at.chat_message) == 0
    at.chat_input(key="temporary_input").set_value("hello").run()  # one has finished
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    runner.check_room("local")  # the temporary reply, done, holds no place


def test_a_refused_edit_opens_its_editor_again_with_the_text(db_path, monkeypatch):
    monkeypatch.setenv("CHAT_MAX_MESSAGE_CHARS", "10")
    at = app().run()
    at.chat_input(key="chat_input").set_value("short").run()
    last_action(at, "edit").click().run()
    at.text_area(key="edit_text").input("much longer than ten")
    at.button(key="FormSubmitter:edit_form-Save and resend").click().run()
    assert not at.exception
    assert [e.value for e in at.error if "too long" in e.value]
    assert at.text_area(key="edit_text").value == "much longer than ten"  # where it was
    assert not typed(at)  # not in the chat input, where sending would add a new turn
    with connect(db_path) as store:  # nothing was written
        (session,) = [s for s in store.list_sessions("local") if s.is_used]
        assert [m.content for m in store.get_messages(session)] == ["short", "Echo: short"]


def test_a_refused_edit_of_an_older_version_reopens_there(db_path, monkeypatch):
    at = app().run()
    at.chat_input(key="chat_input").set_value("one").run()
    last_action(at, "edit").click().run()
    at.text_area(key="edit_text").input("uno")
    at.button(key="FormSubmitter:edit_form-Save and resend").click().run()
    next(b for b in at.button if b.key.startswith("prev-")).click().run()  # back to "one"
    assert texts(at)[0] == ("user", ["one"])
    last_action(at, "edit").click().run()
    at.text_area(key="edit_text").input("third version")
    original = Store.get_messages

    def unavailable(self, session, **options):  # the read after the edit was stored
        if options.get("before") is not None:
            raise DatabaseUnavailableError("database_unavailable", location="chat.db")
        return original(self, session, **options)

    monkeypatch.setattr(Store, "get_messages", unavailable)  # injected fault
    at.button(key="FormSubmitter:edit_form-Save and resend").click().run()
    assert not at.exception and at.error
    assert at.text_area(key="edit_text").value == "third version"
    assert texts(at)[-1] == ("assistant", ["Echo: one"])  # the version it was editing
