"""AppTest: the chat settings offer only what the chosen model and mode can do, say why
the rest is not there, and store what is saved (against a real SQLite file)."""

import pytest

from chat_core.store import connect
from tests.test_app import app, close_clients, env, labelled, param  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("env")  # ARK_MODEL=ep-test, on `db_path`

MODEL = "Model or endpoint id"
MODE = "Conversation mode"
EFFORT = "Reasoning effort"


def choose_model(at, model_id: str):
    return labelled(at.selectbox, MODEL).set_value(model_id).run()


def captions(at) -> list[str]:
    return [caption.value for caption in at.caption]


def stored(db_path, sid):
    with connect(db_path) as store:
        return store.get_session("local", sid)


def test_the_list_offers_the_catalogue_and_keeps_an_endpoint_typed_before():
    at = app().run()
    picker = labelled(at.selectbox, MODEL)
    assert picker.value == "ep-test"  # the configured endpoint, kept as typed
    assert "Doubao Seed 2.1 Pro · doubao-seed-2-1-pro-260628" in picker.options
    assert "ep-test (not in the catalogue)" in picker.options


def test_context_caching_is_offered_for_an_endpoint_only():
    at = app().run()
    assert "Context API cache (ep- endpoint)" in labelled(at.selectbox, MODE).options
    at = choose_model(at, "doubao-seed-2-1-pro-260628")
    assert "Context API cache (ep- endpoint)" not in labelled(at.selectbox, MODE).options
    assert any("needs an endpoint id" in text for text in captions(at))


def test_reasoning_effort_is_disabled_with_the_reason_for_a_model_without_it():
    at = choose_model(app().run(), "doubao-seed-1-6-flash-250828")
    effort = labelled(at.selectbox, EFFORT)
    assert effort.disabled
    assert "This model takes no reasoning effort." in captions(at)
    at = choose_model(at, "doubao-seed-2-1-pro-260628")
    effort = labelled(at.selectbox, EFFORT)
    assert not effort.disabled
    assert effort.options == ["Model default", "Minimal", "Low", "Medium", "High"]


def test_the_context_api_says_it_has_no_reasoning_effort():
    at = app().run()  # an endpoint: the context mode is offered
    labelled(at.selectbox, MODE).set_value("context").run()
    assert labelled(at.selectbox, EFFORT).disabled
    assert any("Context API has no reasoning effort" in text for text in captions(at))


def test_web_search_needs_the_responses_mode():
    at = choose_model(app().run(), "doubao-seed-2-1-pro-260628")
    assert labelled(at.toggle, "Web search").disabled
    assert "Web search needs the Responses API mode." in captions(at)
    labelled(at.selectbox, MODE).set_value("responses").run()
    assert not labelled(at.toggle, "Web search").disabled


def test_a_text_only_model_says_images_cannot_be_attached():
    at = choose_model(app().run(), "glm-5-2-260617")
    assert "This model reads text only: images cannot be attached." in captions(at)


def test_an_endpoint_can_say_which_model_it_serves(db_path):
    at = app().run()
    sid = param(at)
    labelled(at.selectbox, "Model this endpoint serves").set_value(
        "doubao-seed-1-6-flash-250828"
    ).run()
    assert labelled(at.selectbox, EFFORT).disabled  # the served model takes none
    at.button(key=f"settings-save-{sid}").click().run()
    assert stored(db_path, sid).model_alias == "doubao-seed-1-6-flash-250828"


def test_saving_stores_effort_search_and_mode(db_path):
    at = choose_model(app().run(), "doubao-seed-2-1-pro-260628")
    sid = param(at)
    labelled(at.selectbox, MODE).set_value("responses").run()
    labelled(at.selectbox, EFFORT).set_value("low").run()
    labelled(at.toggle, "Web search").set_value(True).run()
    at.button(key=f"settings-save-{sid}").click().run()
    assert any("Settings saved" in info.value for info in at.info)
    session = stored(db_path, sid)
    assert (session.model, session.cache_mode) == ("doubao-seed-2-1-pro-260628", "responses")
    assert (session.reasoning_effort, session.web_search) == ("low", True)
    # What is stored is what the settings show next time.
    assert labelled(at.selectbox, EFFORT).value == "low"
    assert labelled(at.toggle, "Web search").value is True


def test_a_mode_the_new_model_cannot_use_is_not_kept(db_path):
    at = app().run()
    sid = param(at)
    labelled(at.selectbox, MODE).set_value("context").run()
    at.button(key=f"settings-save-{sid}").click().run()
    assert stored(db_path, sid).cache_mode == "context"
    at = choose_model(at, "doubao-seed-2-1-pro-260628")
    assert labelled(at.selectbox, MODE).value == "off"
    at.button(key=f"settings-save-{sid}").click().run()
    assert stored(db_path, sid).cache_mode == "off"


def test_default_context_caching_without_an_endpoint_is_refused_and_the_text_kept(
    db_path, monkeypatch
):
    monkeypatch.setenv("ARK_MODEL", "doubao-seed-2-0-lite-260428")
    monkeypatch.setenv("ARK_CACHE", "context")  # the operator's defaults disagree
    at = app().run()
    at.chat_input(key="chat_input").set_value("hello there").run()
    assert not at.exception
    assert [e.value for e in at.error if "Choose an endpoint id in the chat's settings" in e.value]
    assert at.chat_input(key="chat_input").value == "hello there"
    assert stored(db_path, param(at)).is_used is False


def test_the_default_mode_for_new_chats_offers_the_context_api_for_an_endpoint_only():
    at = app().run().sidebar.button(key="open_preferences").click().run()
    context = "Context API cache (ep- endpoint)"
    assert not any("needs an endpoint id" in text for text in captions(at))
    assert context in at.selectbox(key="preference-mode").options  # ARK_MODEL=ep-test
    at.selectbox(key="preference-model").set_value("doubao-seed-2-1-pro-260628").run()
    assert context not in at.selectbox(key="preference-mode").options
    assert any("needs an endpoint id" in text for text in captions(at))


def test_thinking_offers_only_the_modes_the_model_takes_and_sends_one_of_them(
    db_path, emu, monkeypatch
):
    monkeypatch.setenv("ARK_THINKING", "auto")  # a default deepseek-v3.2 cannot take
    at = choose_model(app().run(), "deepseek-v3-2-251201")
    sid = param(at)
    thinking = labelled(at.selectbox, "Thinking")
    assert (thinking.options, thinking.value) == (["On", "Off"], "disabled")
    assert "Thinking “Auto”: this model does not offer it." in captions(at)
    at.button(key=f"settings-save-{sid}").click().run()
    assert stored(db_path, sid).thinking is None  # untouched: the default still applies
    emu.clear_requests()
    at.chat_input(key="chat_input").set_value("hello").run()
    assert not at.exception
    (sent,) = [r.body for r in emu.requests if r.method == "POST"]
    assert sent["thinking"] == {"type": "disabled"}
    at = choose_model(at, "doubao-1-5-pro-32k-250115")
    assert labelled(at.selectbox, "Thinking").options == ["Off"]
