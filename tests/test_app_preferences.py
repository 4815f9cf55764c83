"""AppTest: preferences set in the dialog are kept per owner in the database, new chats
take them (a chat's own settings still win), and the language chosen survives a
reload (a new browser session). Real SQLite file, the loopback emulator."""

import pytest

from chat_core.errors import DatabaseLockedError
from chat_core.store import Store, connect
from tests.test_app import app, close_clients, env, param  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("env")


def stored(db_path, owner: str = "local") -> dict[str, str]:
    with connect(db_path) as store:
        return store.preferences(owner)


def sent_for(emu, text: str) -> dict:
    """The body of the last request whose last message is `text`."""
    bodies = [
        r.body
        for r in emu.requests
        if r.body and (r.body.get("messages") or [{}])[-1].get("content") == text
    ]
    return bodies[-1]


def open_dialog(at):
    return at.sidebar.button(key="open_preferences").click().run()


def save_dialog(at):
    return at.button(key="save_preferences").click().run()


def test_the_dialog_keeps_the_preferences_in_the_database(db_path):
    at = open_dialog(app().run())
    at.text_area(key="preference-system_prompt").input("Answer like a pirate.")
    at.selectbox(key="preference-thinking").set_value("enabled")
    at.toggle(key="preference-own_temperature").set_value(True).run()  # enables the slider
    at.slider(key="preference-temperature").set_value(0.3)
    at.toggle(key="preference-titles").set_value(True)  # the operator's is off
    save_dialog(at)
    assert not at.exception
    assert any("Preferences saved." in notice.value for notice in at.info)
    kept = stored(db_path)
    assert kept["system_prompt"] == "Answer like a pirate."
    assert kept["thinking"] == "enabled"
    assert float(kept["temperature"]) == 0.3
    assert kept["generated_titles"] == "true"
    assert stored(db_path, "someone-else") == {}


def test_a_new_chat_takes_the_preferences(db_path, emu):
    with connect(db_path) as store:
        store.set_preferences(
            "local", {"system_prompt": "Answer like a pirate.", "temperature": "0.3"}
        )
    at = app().run()
    at.chat_input(key="chat_input").set_value("hello there").run()
    body = sent_for(emu, "hello there")
    assert body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
    assert body["temperature"] == 0.3


def test_a_chats_own_settings_win_over_the_preferences(db_path, emu):
    with connect(db_path) as store:
        store.set_preferences("local", {"system_prompt": "Answer like a pirate."})
        session, _ = store.new_session("local")
        store.update_settings("local", session.id, system_prompt="Answer in one word.")
    at = app(session=session.id).run()
    at.chat_input(key="chat_input").set_value("own settings").run()
    assert param(at) == session.id
    body = sent_for(emu, "own settings")
    assert body["messages"][0] == {"role": "system", "content": "Answer in one word."}


def test_the_language_chosen_in_the_sidebar_survives_a_reload(db_path):
    at = app().run()
    at.sidebar.selectbox(key="lang_choice").set_value("zh").run()
    assert stored(db_path)["language"] == "zh"
    reloaded = app().run()  # a new browser session: nothing kept in the page
    assert not reloaded.exception
    assert reloaded.sidebar.button(key="new_chat").label == "新建会话"


def test_the_language_saved_in_the_dialog_applies_at_once_and_after_a_reload(db_path):
    at = open_dialog(app().run())
    at.selectbox(key="preference-language").set_value("zh")
    save_dialog(at)
    assert at.sidebar.button(key="new_chat").label == "新建会话"
    assert app().run().sidebar.button(key="new_chat").label == "新建会话"


def test_a_save_keeps_only_what_differs_from_the_operators_settings(db_path, emu, monkeypatch):
    with connect(db_path) as store:  # a chat on the defaults, with a Context API cache
        chat, _ = store.new_session("local")
        store.start_turn(chat, "hello")
        store.set_cache_state(chat, context_id="ctx-kept", context_expires_at="2099-01-01")
    at = open_dialog(app().run())
    at.selectbox(key="preference-language").set_value("zh")  # the only change
    save_dialog(at)
    assert not at.exception
    assert stored(db_path) == {"language": "zh"}
    with connect(db_path) as store:  # nothing it follows changed: its cache stays
        assert store.get_session("local", chat.id).ark_context_id == "ctx-kept"
    monkeypatch.setenv("ARK_SYSTEM_PROMPT", "Operator policy.")  # the operator's, later
    at = app().run()
    at.chat_input(key="chat_input").set_value("who sets the rules?").run()
    assert sent_for(emu, "who sets the rules?")["messages"][0] == {
        "role": "system",
        "content": "Operator policy.",
    }


def test_a_save_that_leaves_the_language_alone_leaves_it_to_the_operator(db_path, monkeypatch):
    at = open_dialog(app().run())
    assert at.selectbox(key="preference-language").value == "en"  # shown, not chosen
    at.selectbox(key="preference-thinking").set_value("enabled")  # the only change
    save_dialog(at)
    assert not at.exception
    assert stored(db_path) == {"thinking": "enabled"}
    monkeypatch.setenv("CHAT_LANG", "zh")  # the operator's, later
    assert app().run().sidebar.button(key="new_chat").label == "新建会话"


def test_the_temperature_switched_off_sends_none_over_the_operators(db_path, emu, monkeypatch):
    monkeypatch.setenv("ARK_TEMPERATURE", "0.75")
    at = open_dialog(app().run())
    assert at.toggle(key="preference-own_temperature").value  # the operator's 0.75
    at.toggle(key="preference-own_temperature").set_value(False).run()
    save_dialog(at)
    assert not at.exception
    assert stored(db_path) == {"temperature": "default"}
    at.chat_input(key="chat_input").set_value("your own default").run()
    assert "temperature" not in sent_for(emu, "your own default")
    assert not open_dialog(at).toggle(key="preference-own_temperature").value


def test_the_temperature_left_off_follows_the_operators_later_one(db_path, emu, monkeypatch):
    at = open_dialog(app().run())
    assert not at.toggle(key="preference-own_temperature").value  # no operator's
    at.selectbox(key="preference-thinking").set_value("enabled")
    save_dialog(at)
    assert stored(db_path) == {"thinking": "enabled"}
    monkeypatch.setenv("ARK_TEMPERATURE", "0.75")
    at = app().run()
    at.chat_input(key="chat_input").set_value("the operator's now").run()
    assert sent_for(emu, "the operator's now")["temperature"] == 0.75


def test_an_operators_system_prompt_longer_than_the_field_takes_survives_a_save(
    db_path, monkeypatch
):
    monkeypatch.setenv("ARK_SYSTEM_PROMPT", "Follow the house rules. " * 1_000)  # 24,000
    at = open_dialog(app().run())
    at.selectbox(key="preference-language").set_value("zh")
    save_dialog(at)
    assert not at.exception
    assert stored(db_path) == {"language": "zh"}  # not a cut copy of the operator's


def test_a_preference_this_version_cannot_use_leaves_the_operators_setting(db_path, emu):
    with connect(db_path) as store:
        store.set_preferences("local", {"language": "klingon", "temperature": "hot"})
    at = app().run()
    assert not at.exception
    assert at.sidebar.button(key="new_chat").label == "New chat"
    at.chat_input(key="chat_input").set_value("plain").run()
    assert "temperature" not in sent_for(emu, "plain")


def test_a_save_the_database_refuses_is_said_in_the_dialog(db_path, monkeypatch):
    at = open_dialog(app().run())
    at.text_area(key="preference-system_prompt").input("Answer like a pirate.")

    def busy(self, owner, values, defaults=None):
        raise DatabaseLockedError("database_locked")

    monkeypatch.setattr(Store, "set_preferences", busy)  # injected fault
    save_dialog(at)
    assert not at.exception
    assert [e.value for e in at.error if "busy" in e.value or "locked" in e.value]
    assert at.text_area(key="preference-system_prompt").value == "Answer like a pirate."
    assert stored(db_path) == {}


def test_the_dialog_offers_the_thinking_modes_the_default_model_takes(db_path, monkeypatch):
    monkeypatch.setenv("ARK_MODEL", "deepseek-v3-2-251201")  # on or off, no auto
    monkeypatch.setenv("ARK_THINKING", "auto")
    at = open_dialog(app().run())
    thinking = at.selectbox(key="preference-thinking")
    assert (thinking.options, thinking.value) == (["On", "Off"], "disabled")
    save_dialog(at)
    assert "thinking" not in stored(db_path)  # shown as what the model takes: left alone
    at = open_dialog(at)
    at.selectbox(key="preference-thinking").set_value("enabled")
    save_dialog(at)
    assert stored(db_path)["thinking"] == "enabled"
