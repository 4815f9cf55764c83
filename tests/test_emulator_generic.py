"""Generic mode: the emulator as a strict OpenAI-compatible server worded like llama.cpp's
`llama-server`, driven by the real Ark SDK, and by plain HTTP where the SDK cannot go."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from volcenginesdkarkruntime._exceptions import ArkBadRequestError, ArkNotFoundError

from ark_emulator import ArkEmulator
from tests.conftest import EMULATOR_KEY, emulator_fixture

ROOT = Path(__file__).resolve().parent.parent
MODEL = "local-model"
USER = [{"role": "user", "content": "hello there"}]

emu = emulator_fixture(scope="function", generic=True)


@pytest.fixture
def client(sdk_client):
    return sdk_client()


def llama_error(status: int, message: str) -> dict:
    """llama.cpp's error body (server-common.cpp, format_error_response)."""
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}
    return {"error": {"code": status, "message": message, "type": kinds[status]}}


def request(emu, method: str, path: str, body: dict | None = None, key: str | None = None):
    """A plain HTTP request to `path` on the emulator's host (not under its base URL)."""
    root = emu.base_url.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {key or emu.api_key}"}
    with httpx.Client(trust_env=False, timeout=10) as http:
        return http.request(method, root + path, json=body, headers=headers)


def test_the_base_url_is_v1(emu):
    assert emu.generic and emu.base_url.endswith("/v1")


# --- explicit nulls --------------------------------------------------------------------------


def test_the_sdks_null_parameters_are_refused(emu, client):
    with pytest.raises(ArkBadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.status_code == 400
    expected = llama_error(400, "'tools' must be an array of objects")
    assert caught.value.body == expected["error"]
    assert emu.requests[-1].body["tools"] is None  # the SDK did send an explicit null


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"temperature": None}, "'temperature' must not be null"),
        (
            {"stream_options": {"include_usage": None}},
            "'stream_options.include_usage' must not be null",
        ),
    ],
)
def test_any_explicit_null_is_refused(emu, extra, message):
    answer = request(
        emu, "POST", "/v1/chat/completions", {"model": MODEL, "messages": USER, **extra}
    )
    assert (answer.status_code, answer.json()) == (400, llama_error(400, message))


def test_a_body_without_nulls_is_answered_with_or_without_v1(emu):
    body = {"model": MODEL, "messages": USER}
    for path in ("/v1/chat/completions", "/chat/completions"):
        answer = request(emu, "POST", path, body)
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"] == "Echo: hello there"
    streamed = request(emu, "POST", "/v1/chat/completions", {**body, "stream": True})
    assert streamed.text.endswith("data: [DONE]\n\n")


# --- routes it does not have -----------------------------------------------------------------


def test_there_is_no_context_api(emu, client):
    with pytest.raises(ArkNotFoundError) as caught:
        client.context.create(model=MODEL, messages=USER)
    assert caught.value.body == llama_error(404, "File Not Found")["error"]
    for path in ("/v1/context/chat/completions", "/api/v3/chat/completions"):
        answer = request(emu, "POST", path, {"model": MODEL, "messages": USER})
        assert (answer.status_code, answer.json()) == (404, llama_error(404, "File Not Found"))


def test_nothing_is_stored(emu):
    created = request(emu, "POST", "/v1/responses", {"model": MODEL, "input": "keep me"})
    assert created.status_code == 200 and created.json()["store"] is False
    fetched = request(emu, "GET", f"/v1/responses/{created.json()['id']}")
    assert fetched.status_code == 404 and emu.responses == {}


def test_a_wrong_key_is_refused_in_llama_cpp_words(emu):
    answer = request(emu, "GET", "/props", key="wrong")
    assert (answer.status_code, answer.json()) == (401, llama_error(401, "Invalid API Key"))


# --- Responses input ---------------------------------------------------------------------------


def test_previous_response_id_is_refused(client):
    with pytest.raises(ArkBadRequestError) as caught:
        client.responses.create(model=MODEL, input="again", previous_response_id="resp_1")
    message = "llama.cpp does not support 'previous_response_id'."
    assert caught.value.body == llama_error(400, message)["error"]


def test_an_assistant_item_as_a_plain_string_is_refused(client):
    history = [*USER, {"role": "assistant", "content": "Echo: hello there"}, *USER]
    with pytest.raises(ArkBadRequestError) as caught:
        client.responses.create(model=MODEL, input=history)
    assert caught.value.body == llama_error(400, "Cannot determine type of 'item'")["error"]


def test_an_assistant_message_needs_output_text_parts(emu):
    said = {"type": "message", "role": "assistant", "content": "Echo: hello there"}
    refused = request(emu, "POST", "/v1/responses", {"model": MODEL, "input": [*USER, said]})
    assert refused.json() == llama_error(400, "'type' must be 'output_text'")
    said["content"] = [{"type": "output_text", "text": "Echo: hello there"}]
    again = [*USER, said, {"role": "user", "content": "and again"}]
    answer = request(emu, "POST", "/v1/responses", {"model": MODEL, "input": again})
    assert answer.status_code == 200
    assert answer.json()["output"][0]["content"][0]["text"] == "Echo: and again"


def test_responses_also_refuse_nulls(client):
    with pytest.raises(ArkBadRequestError) as caught:
        client.responses.create(model=MODEL, input="hi")
    assert caught.value.body == llama_error(400, "'tools' must be an array of objects")["error"]


# --- /props --------------------------------------------------------------------------------


def test_props_reports_the_context_size(emu):
    answer = request(emu, "GET", "/props")
    assert answer.status_code == 200
    assert answer.json()["default_generation_settings"]["n_ctx"] == 8192
    emu.n_ctx = 4096
    assert request(emu, "GET", "/props").json()["default_generation_settings"]["n_ctx"] == 4096


def test_the_command_line_serves_generic_mode_with_its_context_size():
    command = [sys.executable, "-m", "ark_emulator", "--port", "0", "--key", EMULATOR_KEY]
    command += ["--generic", "--n-ctx", "2048"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        assert base_url.endswith("/v1")
        headers = {"Authorization": f"Bearer {EMULATOR_KEY}"}
        with httpx.Client(trust_env=False, timeout=10) as http:
            props = http.get(base_url.removesuffix("/v1") + "/props", headers=headers)
        assert json.loads(props.text)["default_generation_settings"]["n_ctx"] == 2048
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()


# --- /v1/models ------------------------------------------------------------------------------


def test_models_lists_the_model_with_llama_cpps_training_context(emu, client):
    (card,) = client.get("/models", cast_to=object)["data"]
    assert card["id"] == MODEL and card["owned_by"] == "llamacpp"
    assert card["meta"]["n_ctx_train"] == 4 * 8192 and "max_model_len" not in card


def test_as_vllm_there_is_no_props_and_models_gives_max_model_len():
    with ArkEmulator(api_key=EMULATOR_KEY, generic=True, like="vllm", n_ctx=4096) as vllm:
        assert request(vllm, "GET", "/props").status_code == 404
        (card,) = request(vllm, "GET", "/v1/models").json()["data"]
    assert (card["id"], card["owned_by"], card["max_model_len"]) == (MODEL, "vllm", 4096)


def test_an_unknown_server_likeness_is_refused():
    with pytest.raises(ValueError):
        ArkEmulator(generic=True, like="ollama")


def test_as_vllm_a_final_assistant_message_is_continued_only_when_asked():
    said = [*USER, {"role": "assistant", "content": "Echo:"}]
    continuing = {"continue_final_message": True, "add_generation_prompt": False}
    with ArkEmulator(api_key=EMULATOR_KEY, generic=True, like="vllm") as vllm:
        answers = [
            request(
                vllm, "POST", "/v1/chat/completions", {"model": MODEL, "messages": said, **extra}
            )
            for extra in ({}, continuing, {"continue_final_message": True})
        ]
    fresh, continued, refused = answers
    assert fresh.json()["choices"][0]["message"]["content"] == "Echo: hello there"
    assert continued.json()["choices"][0]["message"]["content"] == "hello there"
    assert refused.status_code == 400 and "add_generation_prompt" in refused.text
