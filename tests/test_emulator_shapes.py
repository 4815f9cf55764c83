"""The emulator's wire shapes against real Ark responses recorded in the Ark reference
(tests/ark_recorded.py): field names, types, nesting, SSE framing, usage, errors and status
codes. Read over plain HTTP, because the SDK hides a missing field by reading it as None."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests import ark_recorded as recorded
from tests.conftest import emulator_fixture

MODEL = "doubao-seed-1-6-251015"
ENDPOINT = "ep-20250120174411-9h98m"
USER = [{"role": "user", "content": "hello there"}]
# "02", 13 digits of milliseconds, 38 hex digits: the form of every recorded id.
REQUEST_ID = r"02\d{13}[0-9a-f]{38}"
CONTEXT_ID = r"ctx-\d{14}-[a-z0-9]{5}"

emu = emulator_fixture(scope="function")


def shape(value):
    """A JSON value's field names, types and nesting, without its data."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def without(obj: dict, *keys: str) -> dict:
    return {key: value for key, value in obj.items() if key not in keys}


def post(emu, path: str, body: dict, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or emu.api_key}"}
    with httpx.Client(trust_env=False, timeout=10) as http:
        return http.post(emu.base_url + path, json=body, headers=headers)


def sse_data(response: httpx.Response) -> list[str]:
    """The data of each SSE event, checking the framing: every event one `data: ` line
    followed by a blank line, nothing else."""
    assert response.headers["content-type"] == "text/event-stream"
    body = response.text
    assert body.endswith("\n\n")
    frames = body[:-2].split("\n\n")
    assert all(frame.startswith("data: ") and "\n" not in frame for frame in frames), frames
    return [frame.removeprefix("data: ") for frame in frames]


def stream_chunks(emu, path: str = "/chat/completions", **body) -> list[dict]:
    """A streamed reply's chunks, after checking it ends with `data: [DONE]`."""
    data = sse_data(post(emu, path, {"model": MODEL, "messages": USER, "stream": True, **body}))
    assert data[-1] == "[DONE]" and "[DONE]" not in data[:-1]
    return [json.loads(item) for item in data[:-1]]


def test_every_recorded_id_has_the_form_the_emulator_uses():
    error_id = recorded.ERROR_404["error"]["message"].rsplit("Request id: ", 1)[1]
    ids = [recorded.CHAT_COMPLETION["id"], recorded.CHAT_CHUNK["id"], error_id]
    ids.append(recorded.RESPONSE["id"].removeprefix("resp_"))
    assert [i for i in ids if not re.fullmatch(REQUEST_ID, i)] == []
    assert re.fullmatch(CONTEXT_ID, recorded.CONTEXT_CREATED["id"])


# --- chat completions ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/chat/completions", "/context/chat/completions"])
def test_completion_matches_the_recorded_one(emu, path):
    emu.reasoning = True  # the recorded reply reasoned
    body = {"model": MODEL, "messages": USER}
    if path.startswith("/context"):
        body["context_id"] = post(emu, "/context/create", {**body, "model": ENDPOINT}).json()["id"]
    response = post(emu, path, body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    completion = response.json()
    assert shape(completion) == shape(recorded.CHAT_COMPLETION)
    assert re.fullmatch(REQUEST_ID, completion["id"])
    assert re.fullmatch(REQUEST_ID, response.headers["x-request-id"])
    assert completion["object"] == recorded.CHAT_COMPLETION["object"]
    assert completion["service_tier"] == recorded.CHAT_COMPLETION["service_tier"]


def test_stream_chunks_match_the_recorded_chunk(emu):
    emu.reasoning = True
    chunks = stream_chunks(emu)
    reasoning = [c for c in chunks if c["choices"][0]["delta"].get("reasoning_content")]
    answer = chunks[len(reasoning) :]
    assert reasoning and answer
    for chunk in reasoning:
        assert shape(chunk["choices"][0]["delta"]) == shape(recorded.REASONING_CHOICE["delta"])
    for chunk in answer[:-1]:
        assert shape(chunk) == shape(recorded.CHAT_CHUNK)  # no finish_reason until the end
    last_choice = answer[-1]["choices"][0]
    assert without(last_choice, "finish_reason") == {"delta": last_choice["delta"], "index": 0}
    assert last_choice["finish_reason"] == "stop"
    assert all(re.fullmatch(REQUEST_ID, chunk["id"]) for chunk in chunks)


def test_stream_usage_comes_last_with_no_choices_and_only_when_asked(emu):
    *_, usage_chunk = stream_chunks(emu, stream_options={"include_usage": True})
    assert usage_chunk["choices"] == []
    assert shape(usage_chunk["usage"]) == shape(recorded.CHAT_COMPLETION["usage"])
    envelope = without(recorded.CHAT_CHUNK, "usage", "choices")
    assert shape(without(usage_chunk, "usage", "choices")) == shape(envelope)
    assert all(chunk["usage"] is None for chunk in stream_chunks(emu))


def test_usage_counts_add_up(emu):
    emu.reasoning = True
    usage = post(emu, "/chat/completions", {"model": MODEL, "messages": USER}).json()["usage"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert 0 < reasoning < usage["completion_tokens"]  # completion tokens include reasoning
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


# --- Context API ---------------------------------------------------------------------------


def test_context_create_matches_the_recorded_one(emu):
    created = post(emu, "/context/create", {"model": ENDPOINT, "messages": USER, "ttl": 3600})
    assert created.status_code == 200
    assert shape(created.json()) == shape(recorded.CONTEXT_CREATED)
    assert re.fullmatch(CONTEXT_ID, created.json()["id"])
    assert created.json()["truncation_strategy"] == recorded.CONTEXT_CREATED["truncation_strategy"]


# --- Responses API -------------------------------------------------------------------------


def test_response_matches_the_recorded_one(emu):
    emu.reasoning = True
    response = post(emu, "/responses", {"model": MODEL, "input": "hello there"}).json()
    # `tools` is the one key the SDK's type requires that the recorded example lacks.
    assert response["tools"] == []
    assert shape(without(response, "tools")) == shape(recorded.RESPONSE)
    assert re.fullmatch(REQUEST_ID, response["id"].removeprefix("resp_"))
    assert [item["id"][:3] for item in response["output"]] == ["rs_", "msg"]
    for key in ("max_output_tokens", "caching", "store", "service_tier", "status"):
        assert response[key] == recorded.RESPONSE[key], key
    expiry = recorded.RESPONSE["expire_at"] - recorded.RESPONSE["created_at"]
    assert response["expire_at"] - response["created_at"] == expiry


def test_response_stream_follows_the_verified_event_order(emu):
    emu.reasoning = True
    data = sse_data(post(emu, "/responses", {"model": MODEL, "input": "hi", "stream": True}))
    assert data[-1] == "[DONE]"
    events = [json.loads(item) for item in data[:-1]]
    types = iter(event["type"] for event in events)
    assert all(expected in types for expected in recorded.RESPONSE_EVENT_ORDER)  # in order
    assert shape(without(events[-1]["response"], "tools")) == shape(recorded.RESPONSE)


# --- errors --------------------------------------------------------------------------------

FAULT_FOR_CODE = {
    "AuthenticationError": "401",
    "InvalidEndpointOrModel.NotFound": "404",
    "ModelNotOpen": "model_not_open",
    "RateLimitExceeded.EndpointRPMExceeded": "429",
    "OperationDenied.InvalidState": "invalid_state",
    "InternalServiceError": "500",
    "SensitiveContentDetected": "sensitive",
}


def test_the_error_body_matches_the_recorded_404(emu):
    emu.fail_next("404")
    answer = post(emu, "/chat/completions", {"model": MODEL, "messages": USER})
    assert answer.status_code == 404
    assert shape(answer.json()) == shape(recorded.ERROR_404)
    assert answer.json()["error"]["type"] == recorded.ERROR_404["error"]["type"]
    assert re.fullmatch(rf".+ Request id: {REQUEST_ID}", answer.json()["error"]["message"])


def test_a_wrong_key_gets_the_recorded_401(emu):
    answer = post(emu, "/chat/completions", {"model": MODEL, "messages": USER}, key="wrong")
    assert answer.status_code == 401
    expected = recorded.ERROR_401["error"]
    error = answer.json()["error"]
    assert without(error, "message") == without(expected, "message")
    assert error["message"].startswith(expected["message"].removesuffix("<id>"))


@pytest.mark.parametrize("code", sorted(recorded.ERROR_ROWS))
def test_error_status_type_code_and_message_follow_the_table(emu, code):
    status, kind, message = recorded.ERROR_ROWS[code]
    body = {"model": MODEL, "messages": USER}
    if code in FAULT_FOR_CODE:
        emu.fail_next(FAULT_FOR_CODE[code])
    else:
        body.pop("messages")  # MissingParameter
    answer = post(emu, "/chat/completions", body)
    error = answer.json()["error"]
    assert (answer.status_code, error["type"], error["code"]) == (status, kind, code)
    pattern = re.escape(message).replace("%s", ".+?") if message else ".+"
    assert re.fullmatch(rf"{pattern} Request id: {REQUEST_ID}", error["message"])


def test_caching_with_instructions_is_worded_as_documented(emu):
    body = {"model": MODEL, "input": "hi", "instructions": "x", "caching": {"type": "enabled"}}
    answer = post(emu, "/responses", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(recorded.CACHING_WITH_INSTRUCTIONS)


def test_a_mid_stream_error_is_an_error_event_of_the_same_shape(emu):
    emu.fail_next("stream_error", after_tokens=1)
    body = {"model": MODEL, "messages": USER, "stream": True}
    data = sse_data(post(emu, "/chat/completions", body))
    assert "[DONE]" not in data
    assert shape(json.loads(data[-1])) == shape(recorded.ERROR_404)
