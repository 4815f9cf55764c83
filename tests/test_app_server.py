"""AppTest against a generic OpenAI-compatible server (the emulator's strict generic
mode): the settings offer only the modes the server can serve and say why the others
are not there, and a chat works in stateless mode with nothing configured but the URL."""

from __future__ import annotations

import threading

import pytest

from ark_emulator import ArkEmulator
from chat_core.ark import probe
from tests import test_app as page
from tests.conftest import EMULATOR_KEY
from tests.test_app import app, env, labelled, texts  # noqa: F401 (env: a fixture)

MODE = "Conversation mode"
STATELESS, RESPONSES = "Stateless (full history)", "Responses API cache"
close_clients = page.close_clients


@pytest.fixture(params=[False, True], ids=["llama-cpp", "chaining"])
def server(request, monkeypatch, db_path):
    probe.forget()
    with ArkEmulator(api_key=EMULATOR_KEY, generic=True, stores_responses=request.param) as emu:
        for name, value in {
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": "smollm2",
            "ARK_MAX_RETRIES": "0",
            "CHAT_DB": str(db_path),
            "NO_PROXY": "127.0.0.1",
            "CHAT_TITLES": "off",
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("ARK_CACHE", "CHAT_LANG", "ARK_PROVIDER", "ARK_THINKING"):
            monkeypatch.delenv(name, raising=False)
        yield emu
    probe.forget()


def learnt(emu, fact: str) -> bool:
    """Wait (without a deadline in the assertion) for the background probe to learn
    `fact` of the server (a field of `ServerFacts`)."""
    done = threading.Event()
    for _ in range(200):
        if getattr(probe.known_facts(emu.base_url, "smollm2"), fact) is not None:
            return True
        done.wait(0.05)
    return False


def probed(emu) -> bool:
    return learnt(emu, "chains_responses")


def listed(emu) -> bool:
    return learnt(emu, "models")


def captions(at) -> list[str]:
    return [caption.value for caption in at.caption]


def test_the_settings_offer_only_what_the_server_serves(server):
    at = app().run()
    assert not at.exception
    mode = labelled(at.selectbox, MODE)
    assert mode.options == [STATELESS]  # nothing is known yet
    assert any("only Ark has the Context API" in text for text in captions(at))
    assert probed(server)
    at = at.run()
    expected = [STATELESS, RESPONSES] if server.stores_responses else [STATELESS]
    assert labelled(at.selectbox, MODE).options == expected
    if not server.stores_responses:
        assert any("does not keep responses" in text for text in captions(at))


THINKING_NOTE = "the thinking switch is not sent"


def test_the_thinking_choice_says_it_is_not_sent_to_this_server(server):
    at = app().run()
    assert any(THINKING_NOTE in text for text in captions(at))
    at.button(key="open_preferences").click().run()
    assert sum(THINKING_NOTE in text for text in captions(at)) == 2  # settings, preferences


@pytest.mark.usefixtures("env")
def test_on_ark_the_thinking_choice_has_no_such_note():
    at = app().run()
    assert not at.exception and captions(at)
    assert not any(THINKING_NOTE in text for text in captions(at))


def test_a_chat_on_the_generic_server_works_statelessly(server):
    at = app().run()
    at.chat_input(key="chat_input").set_value("hello there").run()
    assert not at.exception
    assert texts(at) == [("user", ["hello there"]), ("assistant", ["Echo: hello there"])]
    sent = [r for r in server.requests if r.path == "/chat/completions"][-1]
    assert "thinking" not in sent.body and None not in sent.body.values()


def test_a_mode_the_server_cannot_serve_is_refused_naming_its_limit(server, monkeypatch):
    monkeypatch.setenv("ARK_CACHE", "context")  # the operator chose it anyway
    at = app().run()
    at.chat_input(key="chat_input").set_value("hello there").run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("no Context API" in text for text in errors)
    assert not any("not found" in text.lower() for text in errors)
    turns = [r for r in server.requests if r.method == "POST"]
    assert [r for r in turns if r.body.get("input") != probe.PROBE_INPUT] == []  # none sent


def test_the_preferences_offer_only_what_the_server_serves(server):
    at = app().run()
    assert probed(server)
    at.button(key="open_preferences").click().run()
    assert not at.exception
    expected = [STATELESS, RESPONSES] if server.stores_responses else [STATELESS]
    assert at.selectbox(key="preference-mode").options == expected


MODEL_LABEL, ALIAS_LABEL = "Model", "Model this endpoint serves"


def test_the_model_picker_offers_the_servers_models_not_arks(server):
    at = app().run()
    assert listed(server)
    at = at.run()
    picker = labelled(at.selectbox, MODEL_LABEL)
    assert picker.options == ["smollm2", "local-model"]  # the chat's, then the server's
    assert [box for box in at.selectbox if box.label == ALIAS_LABEL] == []
    at.button(key="open_preferences").click().run()
    assert at.selectbox(key="preference-model").options == ["smollm2", "local-model"]
    assert not at.exception


def test_a_model_the_server_lists_is_chosen_and_used(server):
    at = app().run()
    assert listed(server)
    at = at.run()
    labelled(at.selectbox, MODEL_LABEL).select("local-model").run()
    save = [b for b in at.button if b.label == "Save" and b.key.startswith("settings-save")]
    save[0].click().run()
    at.chat_input(key="chat_input").set_value("hello there").run()
    assert not at.exception
    sent = [r for r in server.requests if r.path == "/chat/completions"][-1]
    assert sent.body["model"] == "local-model"
