"""Every failure reaches the caller as the right ChatError, with partial text kept."""

from __future__ import annotations

import httpx
import pytest
from volcenginesdkarkruntime._exceptions import (
    ArkAPIError,
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkInternalServerError,
)

from chat_core import errors
from chat_core.ark import (
    CacheUpdate,
    ContentDelta,
    Finish,
    TurnRequest,
    make_client,
    stream_turn,
    to_chat_error,
)
from chat_core.config import Settings
from locales import describe
from tests.conftest import emulator_fixture
from tests.http_stub import answering

KEY = "3f6c2b1e-8d4a-4b7e-9c1d-2a5e6f7b8c9d"
MODEL = "doubao-seed-1-6-250615"
ENDPOINT = "ep-20250120174411-9h98m"


emu = emulator_fixture(scope="function", api_key=KEY)


def client_for(base_url, key=KEY, timeout=10.0, retries=0):
    settings = Settings(api_key=key, base_url=base_url, max_retries=retries, timeout=timeout)
    return make_client(settings, http_client=httpx.Client(trust_env=False))


@pytest.fixture
def client(emu):
    with client_for(emu.base_url) as ark:
        yield ark


def test_the_sdk_retries_as_many_times_as_configured(emu):
    request = TurnRequest(model=MODEL, new_message="try again", thinking="disabled")
    with client_for(emu.base_url, retries=2) as ark:
        emu.fail_next("429")
        emu.fail_next("500")
        events = list(stream_turn(ark, request))
        assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "Echo: try again"
        emu.fail_next("500", n=3)
        emu.clear_requests()
        assert isinstance(fail(ark, request), errors.ServerError)
    assert len(emu.requests) == 3  # the request and two retries


def fail(client, request):
    with pytest.raises(errors.ChatError) as caught:
        list(stream_turn(client, request))
    return caught.value


def assert_user_fit(error):
    for lang in ("en", "zh"):
        text = describe(lang, error)
        assert text and KEY not in text
    assert describe("zh", error) != describe("en", error)
    assert KEY not in str(error) and KEY not in repr(error.as_dict())


STATUS_CASES = [
    ("401", errors.AuthenticationError),
    ("404", errors.ModelNotFoundError),
    ("model_not_open", errors.ModelNotOpenError),
    ("429", errors.RateLimitError),
    ("quota", errors.QuotaError),
    ("500", errors.ServerError),
    ("sensitive", errors.ContentFilterError),
]


@pytest.mark.parametrize("mode", ["off", "responses"])
@pytest.mark.parametrize(("kind", "expected"), STATUS_CASES)
def test_status_errors_map_to_chat_errors(emu, client, mode, kind, expected):
    emu.fail_next(kind)
    error = fail(client, TurnRequest(model=MODEL, new_message="hi", cache_mode=mode))
    assert type(error) is expected
    assert error.request_id
    assert error.partial == ""
    assert_user_fit(error)


CONTEXT_CASES = [*STATUS_CASES, ("invalid_state", errors.ContextBusyError)]


@pytest.mark.parametrize(("kind", "expected"), CONTEXT_CASES)
def test_context_mode_errors_map_to_chat_errors(emu, client, kind, expected):
    first = TurnRequest(model=ENDPOINT, new_message="hi", system_prompt="S", cache_mode="context")
    update = list(stream_turn(client, first))[-1]
    assert isinstance(update, CacheUpdate) and update.context_id
    emu.fail_next(kind)
    second = TurnRequest(
        model=ENDPOINT,
        new_message="again",
        history=[("user", "hi"), ("assistant", "Echo: hi")],
        system_prompt="S",
        cache_mode="context",
        context_id=update.context_id,
        context_expires_at=update.context_expires_at,
    )
    error = fail(client, second)
    assert emu.requests[-1].path.endswith("/context/chat/completions")
    assert type(error) is expected
    assert_user_fit(error)


def test_wrong_key_is_an_authentication_error_without_the_key(emu):
    wrong = "ffffffff-1111-2222-3333-444444444444"
    with client_for(emu.base_url, key=wrong) as ark:
        error = fail(ark, TurnRequest(model=MODEL, new_message="hi"))
    assert isinstance(error, errors.AuthenticationError)
    assert wrong not in describe("en", error) and wrong not in describe("zh", error)


@pytest.mark.parametrize("mode", ["off", "context", "responses"])
@pytest.mark.parametrize("kind", ["stream_error", "drop"])
def test_stream_breaking_after_tokens_keeps_the_partial_text(emu, client, mode, kind):
    emu.fail_next(kind, after_tokens=3)
    model = ENDPOINT if mode == "context" else MODEL
    request = TurnRequest(
        model=model, new_message="#tokens=10", cache_mode=mode, thinking="disabled"
    )
    received = []
    with pytest.raises(errors.StreamInterruptedError) as caught:
        for event in stream_turn(client, request):
            received.append(event)
    error = caught.value
    assert error.partial == "w1 w2 w3 "
    assert "".join(e.text for e in received if isinstance(e, ContentDelta)) == error.partial
    assert_user_fit(error)


@pytest.mark.parametrize("mode", ["off", "context", "responses"])
def test_content_filter_finish_is_not_an_exception(emu, client, mode):
    emu.fail_next("content_filter", after_tokens=2)
    model = ENDPOINT if mode == "context" else MODEL
    request = TurnRequest(
        model=model, new_message="#tokens=10", cache_mode=mode, thinking="disabled"
    )
    events = list(stream_turn(client, request))
    finish = next(e for e in events if isinstance(e, Finish))
    assert finish.reason == "content_filter"
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "w1 w2 "


def test_token_limit_finishes_with_length(emu, client):
    request = TurnRequest(model=MODEL, new_message="#tokens=10", max_tokens=4)
    events = list(stream_turn(client, request))
    assert events[-1] == Finish("length")


def test_missing_key_is_reported_before_building_the_sdk_client():
    for key in (None, "", "   "):
        with pytest.raises(errors.MissingKeyError) as caught:
            make_client(Settings(api_key=key))
        assert "ARK_API_KEY" in describe("en", caught.value)
        assert "ARK_API_KEY" in describe("zh", caught.value)


@pytest.mark.parametrize("pasted", ["sk-12\u200b34", "sk-12ë34", "sk-12\n34", "sk 1234"])
def test_a_key_with_characters_no_key_has_is_reported_without_it(pasted):
    with pytest.raises(errors.MissingKeyError) as caught:
        make_client(Settings(api_key=pasted))
    assert caught.value.code == "api_key_malformed"
    for lang in ("en", "zh"):
        assert "sk-12" not in describe(lang, caught.value)


def test_explicit_key_wins_over_settings(emu):
    settings = Settings(api_key=None, base_url=emu.base_url, max_retries=0)
    with make_client(settings, KEY, http_client=httpx.Client(trust_env=False)) as ark:
        assert ark.api_key == KEY
        assert ark.max_retries == 0


def test_slow_service_is_a_timeout(emu):
    emu.ttft = 2.0
    with client_for(emu.base_url, timeout=0.3) as ark:
        error = fail(ark, TurnRequest(model=MODEL, new_message="hi"))
    assert isinstance(error, errors.ServiceTimeoutError)


def test_unreachable_service_is_a_connection_error():
    with client_for("http://127.0.0.1:9/api/v3") as ark:
        error = fail(ark, TurnRequest(model=MODEL, new_message="hi"))
    assert isinstance(error, errors.ServiceConnectionError)
    assert_user_fit(error)


# --- mapping without a server ------------------------------------------------------------


def status_error(cls, status, body):
    request = httpx.Request("POST", "https://ark.example/api/v3/chat/completions")
    response = httpx.Response(status, request=request)
    message = f"Error code: {status} - {{'error': {body}}}"
    return cls(message, response=response, body=body, request_id="20261124000000abcdefghij")


def test_the_key_never_appears_in_messages_even_when_the_service_echoes_it():
    leaky = [
        status_error(
            ArkBadRequestError,
            400,
            {"code": "InvalidParameter", "message": f"bad header Bearer {KEY} Request id: 1"},
        ),
        status_error(ArkBadRequestError, 400, {"code": KEY, "message": None}),
        status_error(ArkBadRequestError, 400, {"code": "X", "message": f"key={KEY} is bad"}),
        status_error(ArkAuthenticationError, 401, {"code": "AuthenticationError", "message": KEY}),
        status_error(ArkInternalServerError, 500, {"code": "Boom", "message": KEY}),
        ArkAPIError(KEY, body={"code": "InternalServiceError", "message": KEY}),
        httpx.RemoteProtocolError(f"peer closed; Authorization: Bearer {KEY}"),
    ]
    for exc in leaky:
        error = to_chat_error(exc, partial="so far")
        assert KEY not in describe("en", error) and KEY not in describe("zh", error)
        assert KEY not in str(error)
        assert error.partial == "so far"


def test_bad_request_shows_the_service_reason_without_its_request_id():
    exc = status_error(
        ArkBadRequestError,
        400,
        {"code": "InvalidParameter", "message": "max_tokens is too large. Request id: 0217abc"},
    )
    error = to_chat_error(exc)
    assert isinstance(error, errors.BadRequestError)
    assert "max_tokens is too large" in describe("en", error)
    assert "0217abc" not in describe("en", error)
    assert error.request_id == "20261124000000abcdefghij"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.RemoteProtocolError("peer closed"), errors.StreamInterruptedError),
        (httpx.ReadError("reset"), errors.StreamInterruptedError),
        (httpx.ReadTimeout("slow"), errors.ServiceTimeoutError),
        (
            ArkAPIError("x", body={"code": "OutputTextSensitiveContentDetected"}),
            errors.ContentFilterError,
        ),
        (ArkAPIError("x", body={"code": "OutputTextRiskDetection"}), errors.ContentFilterError),
        (ArkAPIError("x", body={"code": "InternalServiceError"}), errors.StreamInterruptedError),
        (
            status_error(ArkBadRequestError, 403, {"code": "AccountOverdueError", "message": "m"}),
            errors.QuotaError,
        ),
        (
            status_error(ArkBadRequestError, 403, {"code": "AccessDenied", "message": "m"}),
            errors.PermissionDeniedError,
        ),
        (
            status_error(ArkBadRequestError, 429, {"code": "SetLimitExceeded", "message": "m"}),
            errors.QuotaError,
        ),
    ],
)
def test_mapping_of_transport_and_in_stream_errors(exc, expected):
    assert type(to_chat_error(exc)) is expected


def test_an_error_message_holding_half_a_character_is_saved_with_its_reply(store):
    # A server that cuts its message by UTF-16 length may end it with a lone surrogate.
    import json

    from chat_core import chat
    from chat_core.config import load_settings

    data = b'{"error": {"code": "InvalidParameter", "param": "messages", '
    data += b'"message": "The parameter messages is not valid: \\ud83d"}}'
    session, _ = store.new_session("alice")
    with answering(400, data) as address:
        base_url = f"{address}/api/v3"
        settings = load_settings(
            env={"ARK_API_KEY": KEY, "ARK_BASE_URL": base_url, "ARK_MODEL": ENDPOINT}
        )
        with client_for(base_url) as ark:
            reply = chat.send(store, settings, session, ark, "hello")
            with pytest.raises(errors.ChatError) as caught, reply:
                list(reply)
    _, answer = store.get_messages(session)
    assert (answer.status, answer.error_code) == ("error", caught.value.code)
    assert "\ufffd" in json.dumps(answer.error_params, ensure_ascii=False)
    assert "\ufffd" in describe("en", caught.value)  # shown, as it will be stored
