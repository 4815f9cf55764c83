"""The Ark emulator, driven by the real SDK over loopback (no mocks)."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import (
    ArkAPIConnectionError,
    ArkAPIError,
    ArkAPIStatusError,
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkInternalServerError,
    ArkNotFoundError,
    ArkPermissionDeniedError,
    ArkRateLimitError,
)
from volcenginesdkarkruntime.types.completion_usage import CompletionUsage
from volcenginesdkarkruntime.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseIncompleteEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseTextDeltaEvent,
)

from ark_emulator import ArkEmulator, Fault
from ark_emulator.__main__ import build_parser, plan_faults
from tests.conftest import EMULATOR_KEY, emulator_fixture

ROOT = Path(__file__).resolve().parent.parent
MODEL = "doubao-seed-1-6-250615"
ENDPOINT = "ep-20250120174411-9h98m"
USER = [{"role": "user", "content": "hello there"}]

emu = emulator_fixture(scope="function")  # tests change settings, faults and the clock


@pytest.fixture
def client(sdk_client) -> Ark:
    return sdk_client()


def stream_chat(client: Ark, messages=USER, **kwargs) -> tuple[str, str, list]:
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=messages, stream=True, **kwargs)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    return text, reasoning, chunks


# --- chat completions ----------------------------------------------------------------------


def test_chat_stream_and_non_stream_give_the_deterministic_reply(client):
    text, reasoning, chunks = stream_chat(client)
    assert text == "Echo: hello there"
    assert reasoning == ""
    assert [c.choices[0].delta.content for c in chunks] == ["Echo: ", "hello ", "there"]
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, "stop"]
    assert all(c.usage is None for c in chunks)

    completion = client.chat.completions.create(model=MODEL, messages=USER)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Echo: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert isinstance(completion.usage, CompletionUsage)
    assert completion.usage.prompt_tokens == 2
    assert completion.usage.completion_tokens == 3
    assert completion.usage.prompt_tokens_details.cached_tokens == 0


def test_thinking_streams_reasoning_first_and_counts_it(client):
    text, reasoning, chunks = stream_chat(
        client, thinking={"type": "enabled"}, stream_options={"include_usage": True}
    )
    assert (text, reasoning) == ("Echo: hello there", "Thinking about: hello there")
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert all(d.reasoning_content for d in deltas[:first_content])
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert isinstance(usage, CompletionUsage)
    assert usage.completion_tokens_details.reasoning_tokens == 4
    assert usage.completion_tokens == 3 + 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.parametrize(
    ("thinking", "prompt", "reasons"),
    [
        ("auto", "short", False),
        ("auto", "a question longer than twenty characters", True),
        ("disabled", "a question longer than twenty characters", False),
    ],
)
def test_thinking_modes(client, thinking, prompt, reasons):
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], thinking={"type": thinking}
    )
    assert bool(completion.choices[0].message.reasoning_content) is reasons


def test_forced_reply_length_and_max_tokens(emu, client):
    text, _, chunks = stream_chat(client, [{"role": "user", "content": "go #tokens=5"}])
    assert text == "w1 w2 w3 w4 w5"
    emu.reply_tokens = 50
    text, _, chunks = stream_chat(client, stream_options={"include_usage": True})
    assert len([c for c in chunks if c.choices]) == 50
    assert chunks[-1].usage.completion_tokens == 50
    completion = client.chat.completions.create(model=MODEL, messages=USER, max_tokens=7)
    assert completion.choices[0].message.content == "w1 w2 w3 w4 w5 w6 w7 "
    assert completion.choices[0].finish_reason == "length"


def test_request_ids_and_recorded_requests(emu, client):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=USER)
    assert raw.headers["x-client-request-id"] == raw.request_id != ""
    assert raw.headers["x-request-id"].startswith("021")
    recorded = emu.requests[-1]
    assert (recorded.method, recorded.path) == ("POST", "/chat/completions")
    assert recorded.headers["authorization"] == "Bearer test-key"
    assert recorded.body["messages"] == USER and recorded.body["stream"] is None
    emu.clear_requests()
    assert emu.requests == []


def test_wrong_key_gets_the_real_401_body(sdk_client):
    with pytest.raises(ArkAuthenticationError) as caught:
        sdk_client("wrong").chat.completions.create(model=MODEL, messages=USER)
    error = caught.value
    assert error.code == "AuthenticationError" and error.type == "Unauthorized"
    assert error.param == ""
    assert error.body["message"].startswith(
        "The API key or AK/SK in the request is missing or invalid. Request id: 021"
    )


def test_unknown_route_and_malformed_json(emu):
    headers = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
    with httpx.Client(trust_env=False) as http:
        missing = http.post(emu.base_url + "/nothing/here", headers=headers, content=b"{}")
        broken = http.post(emu.base_url + "/chat/completions", headers=headers, content=b"{oops")
    assert missing.status_code == 404 and "error" in missing.json()
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "InvalidParameter"


# --- faults --------------------------------------------------------------------------------

STATUS_FAULTS = [
    ("401", ArkAuthenticationError, "AuthenticationError"),
    ("404", ArkNotFoundError, "InvalidEndpointOrModel.NotFound"),
    ("model_not_open", ArkNotFoundError, "ModelNotOpen"),
    ("429", ArkRateLimitError, "RateLimitExceeded.EndpointRPMExceeded"),
    ("quota", ArkRateLimitError, "QuotaExceeded"),
    ("500", ArkInternalServerError, "InternalServiceError"),
    ("sensitive", ArkBadRequestError, "SensitiveContentDetected"),
    ("invalid_state", ArkPermissionDeniedError, "OperationDenied.InvalidState"),
]


@pytest.mark.parametrize(("kind", "exception", "code"), STATUS_FAULTS)
@pytest.mark.parametrize("stream", [False, True])
def test_status_faults_raise_the_sdk_exception(emu, client, kind, exception, code, stream):
    emu.fail_next(kind)
    with pytest.raises(exception) as caught:
        client.chat.completions.create(model=MODEL, messages=USER, stream=stream)
    assert caught.value.code == code
    assert " Request id: 021" in caught.value.body["message"]
    assert emu.faults_injected == 1
    assert stream_chat(client)[0] == "Echo: hello there"  # only the next request failed


def test_stream_error_after_k_tokens(emu, client):
    emu.reply_tokens = 10
    emu.fail_next(Fault.STREAM_ERROR, after_tokens=3)
    received = []
    with pytest.raises(ArkAPIError) as caught:
        for chunk in client.chat.completions.create(model=MODEL, messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert not isinstance(caught.value, ArkAPIStatusError)
    assert caught.value.code == "InternalServiceError"
    assert received == ["w1 ", "w2 ", "w3 "]
    emu.fail_next("stream_error")
    with pytest.raises(ArkInternalServerError):
        client.chat.completions.create(model=MODEL, messages=USER)


def test_drop_cuts_the_connection_after_k_tokens(emu, client):
    emu.reply_tokens = 10
    emu.fail_next("drop", after_tokens=2)
    received = []
    with pytest.raises(httpx.TransportError):
        for chunk in client.chat.completions.create(model=MODEL, messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["w1 ", "w2 "]
    emu.fail_next("drop")
    with pytest.raises(ArkAPIConnectionError):
        client.chat.completions.create(model=MODEL, messages=USER)
    assert stream_chat(client)[0].startswith("w1 w2")


def test_drop_raises_remote_protocol_error(emu, client):
    emu.fail_next("drop", after_tokens=1)
    with pytest.raises(httpx.RemoteProtocolError):
        stream_chat(client)


def test_content_filter_ends_the_reply(emu, client):
    emu.fail_next("content_filter", after_tokens=2)
    text, _, chunks = stream_chat(client)
    assert text == "Echo: hello "
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_random_faults(emu, client):
    emu.random_faults(rate=1.0, kinds=("429",), seed=3)
    for _ in range(3):
        with pytest.raises(ArkRateLimitError):
            client.chat.completions.create(model=MODEL, messages=USER)
    emu.random_faults(rate=0)
    assert client.chat.completions.create(model=MODEL, messages=USER).choices
    assert emu.faults_injected == 3


def test_a_crashing_route_answers_500_and_the_server_lives_on(emu, client, capsys):
    def broken_clock() -> float:
        raise RuntimeError("clock exploded")

    emu.clock = broken_clock
    for stream in (False, True):
        with pytest.raises(ArkInternalServerError):
            client.chat.completions.create(model=MODEL, messages=USER, stream=stream)
    assert "clock exploded" in capsys.readouterr().err
    emu.clock = time.time
    assert client.chat.completions.create(model=MODEL, messages=USER).choices


def test_client_leaving_mid_stream_is_quiet(emu, client, capsys):
    emu.reply_tokens = 5000
    stream = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    next(iter(stream))
    stream.response.close()
    assert emu.wait_idle(timeout=5)  # the abandoned reply has met the closed socket
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    emu.reply_tokens = None
    assert stream_chat(client)[0] == "Echo: hello there"


# --- Context API ---------------------------------------------------------------------------


def test_session_context_grows_and_reports_cached_tokens(emu, client):
    system = [{"role": "system", "content": "You are terse"}]
    context = client.context.create(model=ENDPOINT, messages=system, ttl=3600)
    assert context.id.startswith("ctx-") and len(context.id) == len("ctx-20250120174458-6c94p")
    assert context.usage["prompt_tokens"] == 3
    cached = []
    for turn in ("one", "two", "three"):
        message = [{"role": "user", "content": f"turn {turn}"}]
        text, _, chunks = stream_chat_context(client, context.id, message)
        assert text == f"Echo: turn {turn}"
        assert emu.requests[-1].body["messages"] == message
        cached.append(chunks[-1].usage.prompt_tokens_details.cached_tokens)
    assert cached == [3, 3 + 2 + 3, 3 + 2 * (2 + 3)]
    assert len(emu.contexts[context.id].messages) == 1 + 3 * 2


def stream_chat_context(client, context_id, messages):
    chunks = list(
        client.context.completions.create(
            context_id=context_id,
            model=ENDPOINT,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    return "".join(c.choices[0].delta.content for c in chunks if c.choices), None, chunks


def test_common_prefix_context_never_changes(emu, client):
    context = client.context.create(
        model=ENDPOINT, messages=[{"role": "system", "content": "prefix"}], mode="common_prefix"
    )
    for _ in range(2):
        completion = client.context.completions.create(
            context_id=context.id, model=ENDPOINT, messages=USER
        )
        assert completion.usage.prompt_tokens_details.cached_tokens == 1
    assert emu.contexts[context.id]["messages"] == [{"role": "system", "content": "prefix"}]


def test_context_expiry_by_clock_and_by_expire_contexts(emu, client):
    now = [1_000_000.0]
    emu.clock = lambda: now[0]
    first = client.context.create(model=ENDPOINT, messages=USER, ttl=3600)
    now[0] += 3000
    client.context.completions.create(context_id=first.id, model=ENDPOINT, messages=USER)
    now[0] += 3000  # sliding expiry: 3000 s after the last use is still fine
    client.context.completions.create(context_id=first.id, model=ENDPOINT, messages=USER)
    now[0] += 3601
    with pytest.raises(ArkNotFoundError) as caught:
        client.context.completions.create(context_id=first.id, model=ENDPOINT, messages=USER)
    assert (caught.value.code, caught.value.param) == ("NotFound.ContextId", "context_id")
    assert f"The specified context {first.id} is not found." in caught.value.body["message"]

    second = client.context.create(model=ENDPOINT, messages=USER)
    emu.expire_contexts()
    with pytest.raises(ArkNotFoundError) as caught:
        client.context.completions.create(context_id=second.id, model=ENDPOINT, messages=USER)
    assert caught.value.param == "context_id"


def test_context_create_rejects_bad_ttl_and_model_ids(client):
    with pytest.raises(ArkBadRequestError) as caught:
        client.context.create(model=ENDPOINT, messages=USER, ttl=60)
    assert (caught.value.code, caught.value.param) == ("InvalidParameter", "ttl")
    with pytest.raises(ArkNotFoundError) as caught:
        client.context.create(model=MODEL, messages=USER)
    assert caught.value.code == "InvalidEndpointOrModel.NotFound"


def test_thinking_through_extra_body_on_context_chat(client):
    context = client.context.create(model=ENDPOINT, messages=USER)
    completion = client.context.completions.create(
        context_id=context.id,
        model=ENDPOINT,
        messages=USER,
        extra_body={"thinking": {"type": "enabled"}},
    )
    assert completion.choices[0].message.reasoning_content == "Thinking about: hello there"


def test_reply_faults_wait_for_a_route_that_replies(emu, client):
    emu.fail_next("content_filter")
    context = client.context.create(model=ENDPOINT, messages=USER)  # not a reply: unaffected
    completion = client.context.completions.create(
        context_id=context.id, model=ENDPOINT, messages=USER
    )
    assert completion.choices[0].finish_reason == "content_filter"


def test_concurrent_use_of_a_session_context_can_be_refused(emu, sdk_client):
    emu.reject_concurrent_context_use = True
    emu.token_delay = 0.02
    first, second = sdk_client(), sdk_client()
    context = first.context.create(model=ENDPOINT, messages=USER)
    long_reply = [{"role": "user", "content": "busy #tokens=150"}]  # streams for 3 s
    busy = first.context.completions.create(
        context_id=context.id, model=ENDPOINT, messages=long_reply, stream=True
    )
    next(iter(busy))
    with pytest.raises(ArkPermissionDeniedError) as caught:
        second.context.completions.create(context_id=context.id, model=ENDPOINT, messages=USER)
    assert caught.value.code == "OperationDenied.InvalidState"
    list(busy)
    assert second.context.completions.create(
        context_id=context.id, model=ENDPOINT, messages=USER
    ).choices


# --- Responses API -------------------------------------------------------------------------


def test_responses_chain_with_previous_response_id_and_caching(emu, client):
    first = client.responses.create(model=MODEL, input="hello there", caching={"type": "enabled"})
    assert isinstance(first, Response)
    assert first.status == "completed" and first.output[0].content[0].text == "Echo: hello there"
    assert first.usage.input_tokens == 2 and first.usage.input_tokens_details.cached_tokens == 0
    second = client.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "and again"}]}],
        previous_response_id=first.id,
        caching={"type": "enabled"},
    )
    assert second.output[0].content[0].text == "Echo: and again"
    assert second.usage.input_tokens_details.cached_tokens == 2 + 3
    assert second.usage.input_tokens == 2 + 3 + 2
    assert emu.responses[second.id].previous_response_id == first.id
    third = client.responses.create(model=MODEL, input="no cache", previous_response_id=first.id)
    assert third.usage.input_tokens_details.cached_tokens == 5  # first had caching on
    fourth = client.responses.create(model=MODEL, input="x", previous_response_id=third.id)
    assert fourth.usage.input_tokens_details.cached_tokens == 0


def test_responses_stream_events_parse_into_sdk_types(client):
    events = list(
        client.responses.create(
            model=MODEL, input="hello there", stream=True, thinking={"type": "enabled"}
        )
    )
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    reasoning = [e for e in events if isinstance(e, ResponseReasoningSummaryTextDeltaEvent)]
    text = [e for e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert "".join(e.delta for e in reasoning) == "Thinking about: hello there"
    assert "".join(e.delta for e in text) == "Echo: hello there"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    done = events[-1]
    assert isinstance(done, ResponseCompletedEvent)
    assert done.response.usage.output_tokens_details.reasoning_tokens == 4


def test_responses_content_filter_is_incomplete(emu, client):
    emu.fail_next("content_filter", after_tokens=1)
    events = list(client.responses.create(model=MODEL, input="hello there", stream=True))
    assert isinstance(events[-1], ResponseIncompleteEvent)
    assert events[-1].response.incomplete_details.reason == "content_filter"
    capped = client.responses.create(model=MODEL, input="hello there", max_output_tokens=1)
    assert capped.status == "incomplete" and capped.output[0].content[0].text == "Echo: "


def test_instructions_with_caching_is_rejected(client):
    with pytest.raises(ArkBadRequestError) as caught:
        client.responses.create(
            model=MODEL, input="hi", instructions="be brief", caching={"type": "enabled"}
        )
    assert caught.value.param == "instructions"
    assert caught.value.body["message"].startswith(
        "The parameter instructions specified in the request are not valid: "
        "caching is not supported for instructions. Request id: "
    )


def test_expired_previous_response_is_not_found(emu, client):
    first = client.responses.create(model=MODEL, input="hi")
    emu.expire_responses()
    with pytest.raises(ArkNotFoundError) as caught:
        client.responses.create(model=MODEL, input="again", previous_response_id=first.id)
    assert caught.value.param == "previous_response_id"
    assert caught.value.code == "InvalidParameter.PreviousResponseNotFound"


def test_get_and_delete_a_response(client):
    created = client.responses.create(model=MODEL, input="keep me")
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output[0].content[0].text == "Echo: keep me"
    assert client.responses.delete(created.id) is None
    with pytest.raises(ArkNotFoundError):
        client.responses.retrieve(created.id)


# --- timing, concurrency and the command line ----------------------------------------------


def test_ttft_and_token_delay_are_observable(emu, client):
    emu.ttft, emu.token_delay = 0.2, 0.01
    started = time.monotonic()
    stream = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    first = next(iter(stream))
    assert first.choices[0].delta.content == "Echo: "
    assert time.monotonic() - started >= 0.2
    list(stream)
    assert time.monotonic() - started >= 0.2 + 2 * 0.01


def test_eight_concurrent_streams(emu, sdk_client):
    emu.token_delay = 0.002
    results: dict[int, str] = {}

    def user(i: int) -> None:
        messages = [{"role": "user", "content": f"user {i} #tokens=20"}]
        results[i] = stream_chat(sdk_client(), messages)[0]

    threads = [threading.Thread(target=user, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == {i: " ".join(f"w{n}" for n in range(1, 21)) for i in range(8)}


@pytest.fixture
def served():
    """Run `python -m ark_emulator ARGS` on a free port; yields its base URL."""
    processes = []

    def serve(*args: str) -> str:
        command = [sys.executable, "-m", "ark_emulator", "--port", "0", *args]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        processes.append(process)
        return process.stdout.readline().rsplit(" ", 1)[-1].strip()

    yield serve
    for process in processes:
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()


def test_command_line_serves_the_api_with_the_chosen_faults_and_reasoning(served):
    base_url = served("--key", "cli-key", "--faults", "429,content_filter", "--fault-count", "2")
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v3")
    with httpx.Client(trust_env=False) as http:
        client = Ark(api_key="cli-key", base_url=base_url, max_retries=0, http_client=http)
        with pytest.raises(ArkRateLimitError):
            client.chat.completions.create(model=MODEL, messages=USER)
        filtered = client.chat.completions.create(model=MODEL, messages=USER)
        assert filtered.choices[0].finish_reason == "content_filter"
        reply = client.chat.completions.create(model=MODEL, messages=USER)
        assert reply.choices[0].message.content == "Echo: hello there"
        assert reply.choices[0].message.reasoning_content is None


def test_command_line_help_lists_every_switch():
    shown = subprocess.run(
        [sys.executable, "-m", "ark_emulator", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "100", "PATH": ""},
    ).stdout
    switches = [
        *("--host", "--port", "--key", "--generic", "--n-ctx", "--stores-responses"),
        "--like {llama.cpp,vllm}",
        "--verbose",
        *("--reject-concurrent-context-use", "--ttft", "--token-delay", "--reply-tokens"),
        "--output-limit",
        *("--reasoning {request,on,off}", "--faults", "--fault-rate", "--fault-count"),
        *("--fault-after-tokens", "--seed"),
    ]
    assert [switch for switch in switches if switch not in shown] == []
    assert [kind.value for kind in Fault if f"\n  {kind.value} " not in shown] == []
    every_option = set(vars(build_parser().parse_args([])))
    assert every_option == {switch.split()[0][2:].replace("-", "_") for switch in switches}


@pytest.mark.parametrize(
    ("reasoning", "thinking", "reasons"),
    [("on", "disabled", True), ("off", "enabled", False), ("request", "enabled", True)],
)
def test_reasoning_switch_overrides_the_request(emu, client, reasoning, thinking, reasons):
    emu.reasoning = {"on": True, "off": False, "request": None}[reasoning]
    completion = client.chat.completions.create(
        model=MODEL, messages=USER, thinking={"type": thinking}
    )
    assert bool(completion.choices[0].message.reasoning_content) is reasons
    assert build_parser().parse_args(["--reasoning", reasoning]).reasoning == reasoning


def test_fault_rate_from_the_command_line(emu, client):
    args = build_parser().parse_args(["--faults", "500", "--fault-rate", "1", "--seed", "4"])
    plan_faults(emu, args)
    for _ in range(2):
        with pytest.raises(ArkInternalServerError):
            client.chat.completions.create(model=MODEL, messages=USER)
    assert emu.faults_injected == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--faults", "429"],  # neither a rate nor a count
        ["--faults", "nonsense", "--fault-count", "1"],
        ["--fault-rate", "0.5", "--fault-count", "1"],
        ["--fault-rate", "2"],
        ["--reasoning", "maybe"],
    ],
)
def test_command_line_refuses_bad_switches(argv):
    shown = subprocess.run(
        [sys.executable, "-m", "ark_emulator", "--port", "0", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert shown.returncode == 2 and "error:" in shown.stderr


# --- the public API -----------------------------------------------------------------------


def test_state_is_read_through_copies(emu, client):
    context = client.context.create(model=ENDPOINT, messages=USER)
    snapshot = emu.contexts[context.id]
    snapshot.messages = []
    snapshot.expired = True
    assert emu.contexts[context.id].messages == USER  # the server's record is untouched
    requests = emu.requests
    requests.clear()
    assert len(emu.requests) == 1


def test_random_faults_can_strike_after_a_fixed_number_of_tokens(emu, client):
    emu.reply_tokens = 10
    emu.random_faults(rate=1.0, kinds=("content_filter",), after_tokens=4)
    text, _, chunks = stream_chat(client)
    assert text == "w1 w2 w3 w4 " and chunks[-1].choices[0].finish_reason == "content_filter"
    emu.clear_faults()
    assert stream_chat(client)[0].endswith("w10")


def test_settings_are_constructor_arguments_too():
    emulator = ArkEmulator(api_key=EMULATOR_KEY, reply_tokens=3, reasoning=True)
    with emulator, httpx.Client(trust_env=False) as http:
        client = Ark(
            api_key=EMULATOR_KEY, base_url=emulator.base_url, max_retries=0, http_client=http
        )
        completion = client.chat.completions.create(model=MODEL, messages=USER)
    assert completion.choices[0].message.content == "w1 w2 w3"
    assert completion.choices[0].message.reasoning_content == "Thinking about: hello there"
    assert emulator.port > 0 and not emulator.generic


def test_the_app_never_imports_the_emulator_and_the_emulator_needs_only_the_standard_library():
    def imports(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        return names

    app_files = [*ROOT.glob("chat_core/**/*.py"), *ROOT.glob("ui/**/*.py")]
    app_files.append(ROOT / "streamlit_app.py")
    assert [p for p in app_files if "ark_emulator" in imports(p)] == []
    third_party = {
        p.name: imports(p) - sys.stdlib_module_names - {"__future__"}
        for p in ROOT.glob("ark_emulator/*.py")
    }
    assert {name: found for name, found in third_party.items() if found} == {}
