"""AppTest: a chat's Settings start from what is stored and a Save writes only what the
user changed there, so it never puts back what another tab, the preferences or a slow
server check left behind (real SQLite file, the loopback emulator)."""

import pytest

from ark_emulator import ArkEmulator
from chat_core.ark import probe
from chat_core.chat import effective
from chat_core.config import load_settings
from chat_core.store import connect
from tests.conftest import EMULATOR_KEY
from tests.test_app import app, close_clients, env, labelled, param  # noqa: F401 (fixtures)

PROMPT, TEMPERATURE, MODEL = "System prompt", "Temperature", "Model or endpoint id"
SERVES, MODE = "Model this endpoint serves", "Conversation mode"


def stored(db_path, sid):
    with connect(db_path) as store:
        return store.get_session("local", sid)


def save(at, sid):
    return at.button(key=f"settings-save-{sid}").click().run()


@pytest.mark.usefixtures("env")
def test_a_save_in_one_tab_keeps_what_another_tab_saved_since(db_path):
    first = app().run()
    sid = param(first)
    second = app(session=sid).run()
    labelled(second.text_area, PROMPT).input("Second tab's prompt")
    save(second, sid)
    first.run()  # any click in the first tab
    assert labelled(first.text_area, PROMPT).value == "Second tab's prompt"
    labelled(first.slider, TEMPERATURE).set_value(0.2)
    save(first, sid)
    chat = stored(db_path, sid)
    assert (chat.system_prompt, chat.temperature) == ("Second tab's prompt", 0.2)


@pytest.mark.usefixtures("env")
def test_after_new_preferences_a_save_keeps_the_chat_following_them(db_path):
    at = app().run()
    sid = param(at)
    assert labelled(at.selectbox, MODEL).value == "ep-test"
    with connect(db_path) as store:  # saved in the Preferences dialog, or another tab
        store.set_preferences(
            "local", {"model": "doubao-seed-2-1-pro-260628", "system_prompt": "Preferred"}
        )
    at.run()
    assert labelled(at.selectbox, MODEL).value == "doubao-seed-2-1-pro-260628"
    assert labelled(at.text_area, PROMPT).value == "Preferred"
    labelled(at.slider, TEMPERATURE).set_value(0.5)
    save(at, sid)
    chat = stored(db_path, sid)
    assert (chat.model, chat.system_prompt, chat.temperature) == (None, None, 0.5)


@pytest.mark.usefixtures("env")
def test_what_an_endpoint_serves_is_stored_with_the_endpoint(db_path, monkeypatch):
    at = app().run()  # the default model: the endpoint ep-test
    sid = param(at)
    labelled(at.selectbox, SERVES).set_value("doubao-seed-2-0-lite-260428").run()
    save(at, sid)
    chat = stored(db_path, sid)
    assert (chat.model, chat.model_alias) == ("ep-test", "doubao-seed-2-0-lite-260428")
    monkeypatch.setenv("ARK_MODEL", "ep-other")  # a later default serves another model
    chosen = effective(chat, load_settings())
    assert (chosen["model"], chosen["model_alias"]) == ("ep-test", "doubao-seed-2-0-lite-260428")


@pytest.fixture
def unanswered_server(request, monkeypatch):
    """A generic server that keeps responses, before its check has answered (the
    background question is never asked, as while a slow server thinks)."""
    request.getfixturevalue("env")  # the app's settings, then this server's
    probe.forget()
    monkeypatch.setattr(probe, "ask_in_background", lambda *args, **kwargs: None)
    with ArkEmulator(api_key=EMULATOR_KEY, generic=True, stores_responses=True) as server:
        monkeypatch.setenv("ARK_BASE_URL", server.base_url)
        monkeypatch.setenv("ARK_MODEL", "smollm2")
        monkeypatch.delenv("ARK_THINKING")
        yield server
    probe.forget()


def test_a_save_before_the_server_check_answers_keeps_the_chats_mode(unanswered_server, db_path):
    with connect(db_path) as store:
        chat, _ = store.new_session("local")
        store.update_settings("local", chat.id, cache_mode="responses", web_search=True)
    at = app(session=chat.id).run()
    assert labelled(at.selectbox, MODE).value == "responses"
    assert any("asking this server" in caption.value for caption in at.caption)
    labelled(at.slider, TEMPERATURE).set_value(0.4)
    save(at, chat.id)
    assert not at.exception
    chat = stored(db_path, chat.id)
    assert (chat.cache_mode, chat.web_search, chat.temperature) == ("responses", True, 0.4)
