"""Ark or any OpenAI-compatible server: the provider setting, the modes each server can
serve, requests without nulls or Ark-only parameters, error mapping by status, body and
path, and the history budget that follows the model's context window. Driven by the real
SDK against the emulator, in its strict generic (llama.cpp-like) mode where it matters."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from ark_emulator import ArkEmulator
from chat_core import errors, provider
from chat_core.ark import ContentDelta, Finish, TurnRequest, make_client, probe, stream_turn
from chat_core.ark.history import estimate_tokens
from chat_core.config import Settings, load_settings
from locales import describe
from tests.conftest import EMULATOR_KEY
from tests.http_stub import answering

MODEL = "local-model"
WORDS = "conversation " * 40  # 520 characters: about 130 tokens by the app's estimate


@pytest.fixture(autouse=True)
def fresh_probes():
    probe.forget()
    yield
    probe.forget()


def serve(**settings) -> ArkEmulator:
    settings.setdefault("api_key", EMULATOR_KEY)
    return ArkEmulator(**settings)


@pytest.fixture
def generic():
    with serve(generic=True) as emu:
        yield emu


@pytest.fixture
def chaining():
    with serve(generic=True, stores_responses=True) as emu:
        yield emu


@pytest.fixture
def ark():
    with serve() as emu:
        yield emu


def client_of(emu):
    settings = Settings(api_key=EMULATOR_KEY, base_url=emu.base_url, max_retries=0, timeout=10)
    return make_client(settings, http_client=httpx.Client(trust_env=False))


def turn(emu, **fields):
    fields.setdefault("model", MODEL)
    fields.setdefault("new_message", "hello there")
    fields.setdefault("provider", "generic" if emu.generic else "ark")
    with client_of(emu) as client:
        events = list(stream_turn(client, TurnRequest(**fields)))
    return events, "".join(e.text for e in events if isinstance(e, ContentDelta))


def refused(emu, **fields) -> errors.ChatError:
    with pytest.raises(errors.ChatError) as caught:
        turn(emu, **fields)
    return caught.value


def model_requests(emu):
    return [r for r in emu.requests if r.method == "POST"]


def nulls_in(value, path="") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in nulls_in(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in nulls_in(item, f"{path}[{index}]")]
    return []


# --- the provider setting --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://ark.cn-beijing.volces.com/api/v3", "ark"),
        ("https://ark.ap-southeast.bytepluses.com/api/v3/", "ark"),
        ("https://ark.cn-beijing.volces.com/api/coding/v3", "ark"),
        ("http://127.0.0.1:8000/api/v3", "ark"),  # the emulator, or a proxy in front of Ark
        ("http://127.0.0.1:8080/v1", "generic"),  # llama.cpp
        ("http://localhost:11434/v1", "generic"),  # Ollama
        ("http://gpu-box:8000/v1/", "generic"),  # vLLM
        ("https://api.example.com/openai/v3", "generic"),
    ],
)
def test_the_provider_is_detected_from_the_base_url(base_url, expected):
    assert load_settings({"ARK_BASE_URL": base_url}).provider_kind == expected


def test_an_explicit_provider_wins_over_detection():
    local = {"ARK_BASE_URL": "http://127.0.0.1:8080/v1"}
    assert load_settings({**local, "ARK_PROVIDER": "ark"}).provider_kind == "ark"
    ark_url = {"ARK_BASE_URL": "https://ark.cn-beijing.volces.com/api/v3"}
    assert load_settings({**ark_url, "ARK_PROVIDER": "Generic"}).provider_kind == "generic"
    assert load_settings({}).provider_kind == "ark"  # the default base URL is Ark's


@pytest.mark.parametrize(
    ("name", "value"),
    [("ARK_PROVIDER", "openai"), ("ARK_CONTEXT_WINDOW", "big"), ("ARK_CONTEXT_WINDOW", "100")],
)
def test_bad_provider_settings_are_refused_with_a_message(name, value):
    with pytest.raises(errors.ConfigError) as caught:
        load_settings({name: value})
    assert name in describe("en", caught.value) and name in describe("zh", caught.value)


def test_modes_offered_per_server():
    unknown, chains = provider.ServerFacts(), provider.ServerFacts(chains_responses=True)
    assert provider.modes_offered("ark", unknown) == ("off", "context", "responses")
    assert provider.modes_offered("generic", unknown) == ("off",)
    assert provider.modes_offered("generic", chains) == ("off", "responses")
    # A server that could not be asked is not refused: the request itself will tell.
    provider.check_mode("generic", "responses", unknown)
    with pytest.raises(errors.ModeUnavailableError):
        provider.check_mode("generic", "responses", provider.ServerFacts(chains_responses=False))


# --- no nulls, no Ark-only parameters --------------------------------------------------------


@pytest.mark.parametrize("thinking", ["auto", "enabled"])
def test_a_stateless_turn_passes_the_strict_server(generic, thinking):
    events, text = turn(generic, system_prompt="Be brief.", thinking=thinking, temperature=0.5)
    assert text == "Echo: hello there" and events[-1] == Finish("stop")
    [sent] = [r for r in model_requests(generic) if r.path == "/chat/completions"]
    assert nulls_in(sent.body) == []
    assert "thinking" not in sent.body and "tools" not in sent.body
    assert sent.body["temperature"] == 0.5 and sent.body["stream"] is True


def test_ark_still_gets_its_own_parameters_and_no_nulls(ark):
    turn(ark, model="doubao-seed-1-6-250615", thinking="disabled", cache_mode="responses")
    turn(ark, model="doubao-seed-1-6-250615", thinking="enabled")
    responses, chat = model_requests(ark)
    assert responses.body["thinking"] == {"type": "disabled"}
    assert responses.body["caching"] == {"type": "enabled"} and responses.body["tools"] == []
    assert chat.body["thinking"] == {"type": "enabled"}
    assert nulls_in(responses.body) == [] and nulls_in(chat.body) == []


def test_ark_context_calls_send_no_nulls(ark):
    fields = {"model": "ep-20250120174411-9h98m", "cache_mode": "context"}
    history = [("user", "hi"), ("assistant", "Echo: hi")]
    turn(ark, **fields, history=history, system_prompt="S")
    created, chatted = model_requests(ark)
    assert created.path == "/context/create" and chatted.path == "/context/chat/completions"
    assert nulls_in(created.body) == [] and nulls_in(chatted.body) == []


# --- modes a generic server cannot serve -----------------------------------------------------


def test_context_mode_is_refused_before_sending_naming_the_limit(generic):
    error = refused(generic, model="ep-smollm2", cache_mode="context")
    assert isinstance(error, errors.ModeUnavailableError)
    assert error.code == "server_has_no_context_api"
    assert "Context API" in describe("en", error) and "Context API" in describe("zh", error)
    assert "not found" not in describe("en", error).lower()
    assert model_requests(generic) == []  # nothing was sent


def test_responses_mode_is_refused_when_the_probe_shows_no_chaining(generic):
    error = refused(generic, cache_mode="responses")
    assert error.code == "server_cannot_chain_responses"
    assert "previous_response_id" in describe("en", error)
    probes = model_requests(generic)
    assert [r.path for r in probes] == ["/responses", "/responses"]
    assert probes[1].body["previous_response_id"] and nulls_in(probes[1].body) == []
    again = refused(generic, cache_mode="responses")  # the answer is remembered
    assert again.code == "server_cannot_chain_responses" and len(model_requests(generic)) == 2


def test_responses_chain_on_a_server_shown_to_chain(chaining):
    with client_of(chaining) as client:
        facts = probe.server_facts(client, MODEL, chaining=True, context_size=False)
    assert provider.modes_offered("generic", facts) == ("off", "responses")
    chaining.clear_requests()
    history = [("user", "first"), ("assistant", "Echo: first")]
    events, text = turn(chaining, cache_mode="responses", history=history)
    assert text == "Echo: hello there"
    replay = model_requests(chaining)[-1]
    said = replay.body["input"][1]
    assert said == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Echo: first"}],
    }
    assert "caching" not in replay.body and "thinking" not in replay.body
    response_id = events[-1].response_id
    _, text = turn(chaining, cache_mode="responses", previous_response_id=response_id)
    assert text == "Echo: hello there"
    assert model_requests(chaining)[-1].body["previous_response_id"] == response_id


def test_a_probe_the_server_could_not_answer_is_asked_again():
    with serve(generic=True) as emu:
        base_url = emu.base_url
    settings = Settings(api_key=EMULATOR_KEY, base_url=base_url, max_retries=0, timeout=5)
    with make_client(settings, http_client=httpx.Client(trust_env=False)) as client:
        facts = probe.server_facts(client, MODEL, chaining=True, context_size=True)
        assert facts == provider.ServerFacts()
    port = int(base_url.rsplit(":", 1)[1].split("/")[0])
    with serve(generic=True, port=port, n_ctx=4096) as emu, client_of(emu) as client:
        facts = probe.server_facts(client, MODEL, chaining=True, context_size=True)
    assert facts == provider.ServerFacts(chains_responses=False, context_size=4096)


def test_a_probe_refused_for_a_wrong_key_is_asked_again_with_the_right_one(chaining):
    settings = Settings(api_key="a-wrong-key", base_url=chaining.base_url, max_retries=0)
    with make_client(settings, http_client=httpx.Client(trust_env=False)) as client:
        facts = probe.server_facts(client, MODEL, chaining=True, context_size=False, models=True)
    assert facts == provider.ServerFacts()  # a 401 says nothing of the server
    with client_of(chaining) as client:
        facts = probe.server_facts(client, MODEL, chaining=True, context_size=False, models=True)
    assert facts.chains_responses is True and MODEL in facts.models


def test_a_probe_with_a_key_no_request_can_carry_logs_one_line(generic, caplog):
    settings = Settings(api_key=EMULATOR_KEY, base_url=generic.base_url, max_retries=0)
    probe.ask_in_background(settings, "key\u200bwith a zero-width space", MODEL)
    for thread in [t for t in threading.enumerate() if t.name == "probe-server"]:
        thread.join(10)
    (record,) = [r for r in caplog.records if "could not ask the server" in r.getMessage()]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "api_key_malformed" in record.getMessage()


def test_a_props_route_a_gateway_refuses_leaves_the_context_size_to_the_model_list():
    with serve(generic=True, like="vllm", n_ctx=8192) as emu:
        emu.props_refused = 403  # only the API's own routes pass the gateway
        with client_of(emu) as client:
            facts = probe.server_facts(client, MODEL, chaining=False, context_size=True)
    assert facts.context_size == 8192


# --- error mapping by status, body and path --------------------------------------------------


def test_a_404_on_a_route_the_server_lacks_names_the_path_not_the_model(generic):
    # Ark's Context API, called on llama.cpp: 404 "File Not Found".
    fields = {"model": "ep-smollm2", "cache_mode": "context", "system_prompt": "S"}
    error = refused(generic, **fields, provider="ark")
    assert type(error) is errors.RouteNotFoundError
    assert error.params["path"] == "/v1/context/create"
    assert "/v1/context/create" in describe("en", error)
    assert "model" not in describe("en", error).lower()


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": 'model "qwen9" not found, try pulling it first'}},
        {"object": "error", "message": "The model `qwen9` does not exist.", "code": 404},
    ],
)
def test_a_404_whose_body_names_the_model_is_model_not_found(body):
    # Ollama's and vLLM's words for an unknown model, from a plain HTTP server.
    with answering(404, json.dumps(body).encode()) as address:
        settings = Settings(api_key="k", base_url=f"{address}/v1", max_retries=0, timeout=5)
        with make_client(settings, http_client=httpx.Client(trust_env=False)) as client:
            request = TurnRequest(model="qwen9", new_message="hi", provider="generic")
            with pytest.raises(errors.ChatError) as caught:
                list(stream_turn(client, request))
    assert type(caught.value) is errors.ModelNotFoundError


def test_a_refusal_of_the_strict_server_keeps_its_reason(generic):
    generic.n_ctx = 1
    error = refused(generic, context_window=100_000)  # the app was told a wrong window
    assert type(error) is errors.BadRequestError
    assert "exceeds the available context size" in error.params["detail"]


# --- the history budget follows the model ----------------------------------------------------


def long_history(turns: int) -> list[tuple[str, str]]:
    history = []
    for index in range(turns):
        history += [("user", f"{index} {WORDS}"), ("assistant", f"Echo: {index} {WORDS}")]
    return history


def test_history_is_trimmed_to_the_servers_n_ctx(generic):
    generic.n_ctx = 2048
    history = long_history(30)  # about 8,000 tokens: the server would refuse it all
    _, text = turn(generic, history=history, max_tokens=256)
    assert text == "Echo: hello there"
    chat = [r for r in model_requests(generic) if r.path == "/chat/completions"][-1]
    sent = chat.body["messages"]
    assert 2 < len(sent) < len(history)
    assert sent[-1] == {"role": "user", "content": "hello there"}
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) <= 2048 - 256
    assert [r.path for r in generic.requests if r.method == "GET"] == ["/props"]


def test_history_is_trimmed_to_vllms_max_model_len(generic):
    with serve(generic=True, like="vllm", n_ctx=2048) as vllm:
        _, text = turn(vllm, history=long_history(30), max_tokens=256)
        sent = model_requests(vllm)[-1].body["messages"]
        assert text == "Echo: hello there" and 2 < len(sent) < 60
        assert sum(estimate_tokens(m["content"]) + 4 for m in sent) <= 2048 - 256
        assert [r.path for r in vllm.requests if r.method == "GET"] == ["/props", "/models"]


def test_a_model_the_server_does_not_list_has_no_known_window():
    with serve(generic=True, like="vllm", n_ctx=2048) as vllm:
        turn(vllm, model="another-model", history=long_history(30), history_tokens=6000)
        sent = model_requests(vllm)[-1].body["messages"]
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) > 2048


def test_llama_cpps_training_context_is_not_taken_for_its_window(generic):
    with client_of(generic) as client:
        facts = probe.server_facts(client, MODEL, chaining=False, context_size=True)
    assert facts.context_size == 8192  # /props n_ctx; /v1/models says n_ctx_train 32768


def test_the_models_the_server_lists_are_learnt(generic):
    with client_of(generic) as client:
        facts = probe.server_facts(client, MODEL, chaining=False, context_size=False, models=True)
    assert facts.models == (MODEL,)
    assert probe.known_facts(generic.base_url, MODEL).models == (MODEL,)


@pytest.mark.parametrize("like", ["llama.cpp", "vllm"])
def test_vllm_alone_is_asked_to_continue_a_final_assistant_message(like):
    with serve(generic=True, like=like) as server:
        _, rest = turn(server, new_message="#tokens=4", continue_from="w1 w2 ")
        turn(server)  # a turn that continues nothing
        sent = [r.body for r in model_requests(server)]
    assert rest == "w3 w4"
    asked = [body.get("continue_final_message") for body in sent]
    assert asked == ([True, None] if like == "vllm" else [None, None])
    assert ("add_generation_prompt" in sent[0]) == (like == "vllm")


def test_without_max_tokens_a_quarter_of_the_window_is_kept_for_the_reply(generic):
    generic.n_ctx = 2048
    turn(generic, history=long_history(30))
    sent = model_requests(generic)[-1].body["messages"]
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) <= 2048 - 512


def test_a_known_context_window_is_used_without_asking_the_server(generic):
    turn(generic, history=long_history(30), context_window=1024, max_tokens=100)
    sent = model_requests(generic)[-1].body["messages"]
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) <= 1024 - 100
    assert [r for r in generic.requests if r.method == "GET"] == []


def test_the_history_setting_still_caps_the_budget(generic):
    turn(generic, history=long_history(30), history_tokens=600)
    sent = model_requests(generic)[-1].body["messages"]
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) <= 600


@pytest.mark.parametrize("mode", ["off", "responses"])
def test_an_over_long_message_is_refused_before_it_is_sent(chaining, mode):
    chaining.n_ctx = 1024
    long_message = "word " * 1000  # about 1,250 tokens
    error = refused(chaining, new_message=long_message, cache_mode=mode, max_tokens=200)
    assert type(error) is errors.RequestTooLongError
    assert error.params == {"tokens": 1254, "limit": 824, "window": 1024}
    for lang in ("en", "zh"):
        assert "1,024" in describe(lang, error) and "824" in describe(lang, error)
    sent = [r for r in model_requests(chaining) if r.body.get("input") != probe.PROBE_INPUT]
    assert sent == []


def test_an_over_long_message_on_ark_is_refused_by_the_known_window(ark):
    error = refused(ark, new_message="字" * 5000, context_window=4096, max_tokens=1000)
    assert type(error) is errors.RequestTooLongError and model_requests(ark) == []


def test_the_context_window_comes_from_the_setting_else_the_catalogue_on_ark():
    from chat_core.catalogue import find_model
    from chat_core.conversation import context_window
    from chat_core.store import Session

    session = Session(id="s", owner="o", title=None, is_used=True, created_at="", updated_at="")
    ark = load_settings({})
    known = find_model("doubao-seed-1-6-250615").context_window
    assert known and context_window(ark, session, "doubao-seed-1-6-250615") == known
    assert context_window(ark, session, "ep-20250120174411-9h98m") is None  # says nothing
    served = Session(**{**session.__dict__, "model_alias": "doubao-seed-1-6-250615"})
    assert context_window(ark, served, "ep-20250120174411-9h98m") == known
    assert context_window(load_settings({"ARK_CONTEXT_WINDOW": "4096"}), session, "x") == 4096
    local = load_settings({"ARK_BASE_URL": "http://127.0.0.1:8080/v1"})
    assert context_window(local, session, "doubao-seed-1-6-250615") is None  # asks the server


# --- other requests than a turn ---------------------------------------------------------------


def test_a_generated_title_is_asked_without_nulls_or_ark_parameters(generic, tmp_path):
    from chat_core import chat
    from chat_core.store import connect

    settings = load_settings(
        env={
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": generic.base_url,
            "ARK_MODEL": MODEL,
            "CHAT_DB": str(tmp_path / "chat.db"),
            "CHAT_TITLES": "on",
        }
    )
    with connect(settings.db) as store, client_of(generic) as client:
        session, _ = store.new_session("alice")
        with chat.send(store, settings, session, client, "hello there") as reply:
            assert "".join(e.text for e in reply if isinstance(e, ContentDelta))
        assert store.get_session("alice", session.id).title == "Echo: User: hello there"
    (title_request,) = [r for r in model_requests(generic) if r.body.get("max_tokens") == 24]
    assert nulls_in(title_request.body) == [] and "thinking" not in title_request.body


def test_the_pages_load_without_the_sdk():
    """The SDK takes a noticeable part of a second to import: the pages' modules leave
    it for the first request (an import of a constant from a module that needs it put
    half a second on every first page)."""
    import subprocess
    import sys

    probe = (
        "import sys, ui.shell, ui.app, ui.usage_view, ui.share_view, ui.temporary_view; "
        "print([m for m in sys.modules if m.startswith('volcenginesdkarkruntime')])"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]", loaded.stderr
