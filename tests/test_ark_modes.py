"""The Ark layer's three cache modes, through the real SDK against the emulator."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
from volcenginesdkarkruntime import Ark

from chat_core.ark import (
    CacheUpdate,
    ContentDelta,
    Finish,
    ReasoningDelta,
    TurnRequest,
    Usage,
    make_client,
    stream_turn,
)
from chat_core.ark.context_mode import is_stale_context
from chat_core.config import Settings
from chat_core.errors import EndpointRequiredError
from chat_core.pricing import cost
from locales import describe
from tests.conftest import emulator_fixture

KEY = "test-key-0f3c9a7e-5b1d-4c2a-9e8f-1a2b3c4d5e6f"
MODEL = "doubao-seed-1-6-250615"
ENDPOINT = "ep-20250120174411-9h98m"
SYSTEM = "You are terse."


emu = emulator_fixture(scope="function", api_key=KEY)


@pytest.fixture
def client(emu):
    settings = Settings(api_key=KEY, base_url=emu.base_url, max_retries=0, timeout=10)
    with make_client(settings, http_client=httpx.Client(trust_env=False)) as ark:
        yield ark


def run(client, request):
    events = list(stream_turn(client, request))
    text = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return events, text


def of_type(events, kind):
    return [e for e in events if isinstance(e, kind)]


def converse(client, prompts, **fields):
    """Send `prompts` as consecutive turns, carrying history and cache state along."""
    history, state, results = [], {}, []
    for prompt in prompts:
        request = TurnRequest(new_message=prompt, history=list(history), **fields, **state)
        events, text = run(client, request)
        results.append((events, text))
        history += [("user", prompt), ("assistant", text)]
        for update in of_type(events, CacheUpdate):
            state = {
                "context_id": update.context_id,
                "context_expires_at": update.context_expires_at,
                "previous_response_id": update.response_id,
            }
    return results, history, state


def chat_requests(emu, suffix):
    return [r for r in emu.requests if r.path.endswith(suffix)]


# --- off ---------------------------------------------------------------------------------


def test_off_mode_sends_the_full_history_each_turn(emu, client):
    results, history, _ = converse(
        client, ["one", "two", "three"], model=MODEL, system_prompt=SYSTEM, thinking="disabled"
    )
    assert [text for _, text in results] == ["Echo: one", "Echo: two", "Echo: three"]
    sent = chat_requests(emu, "/chat/completions")
    assert len(sent) == 3
    last = sent[-1].body
    assert last["messages"] == [{"role": "system", "content": SYSTEM}] + [
        {"role": role, "content": content} for role, content in history[:-1]
    ]
    assert last["stream"] is True
    assert last["stream_options"] == {"include_usage": True}
    assert last["thinking"] == {"type": "disabled"}
    assert sent[-1].headers["authorization"] == f"Bearer {KEY}"
    events = results[-1][0]
    assert not of_type(events, CacheUpdate)
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"
    assert isinstance(events[-2], Usage)


def test_off_mode_trims_oldest_turns_but_keeps_system_prompt(emu, client):
    old = [("user", "old question " * 50), ("assistant", "old answer " * 50)]
    recent = [("user", "recent"), ("assistant", "Echo: recent")]
    request = TurnRequest(
        model=MODEL,
        new_message="now",
        history=old + recent,
        system_prompt=SYSTEM,
        history_tokens=100,
    )
    _, text = run(client, request)
    assert text == "Echo: now"
    messages = emu.requests[-1].body["messages"]
    assert messages[0] == {"role": "system", "content": SYSTEM}
    assert [m["content"] for m in messages[1:]] == ["recent", "Echo: recent", "now"]


def test_off_mode_keeps_system_and_new_message_even_over_budget(emu, client):
    big_system = "rules " * 400
    request = TurnRequest(
        model=MODEL,
        new_message="question " * 400,
        history=[("user", "a"), ("assistant", "b")],
        system_prompt=big_system,
        history_tokens=256,
    )
    run(client, request)
    messages = emu.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == big_system


def test_thinking_deltas_are_separate_from_content(emu, client):
    request = TurnRequest(model=MODEL, new_message="why", thinking="enabled")
    events, text = run(client, request)
    reasoning = "".join(e.text for e in of_type(events, ReasoningDelta))
    assert reasoning == "Thinking about: why"
    assert text == "Echo: why"
    first_content = next(i for i, e in enumerate(events) if isinstance(e, ContentDelta))
    assert all(isinstance(e, ReasoningDelta) for e in events[:first_content])
    usage = of_type(events, Usage)[0]
    assert usage.reasoning_tokens == len(of_type(events, ReasoningDelta))
    assert usage.completion_tokens == usage.reasoning_tokens + len(of_type(events, ContentDelta))


def test_usage_is_reported_and_priced(emu, client):
    events, _ = run(client, TurnRequest(model=MODEL, new_message="price me", thinking="disabled"))
    usage = of_type(events, Usage)[0]
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens == 3  # "Echo: ", "price ", "me"
    assert usage.cached_tokens == 0
    assert usage.model == MODEL and cost(usage, MODEL) > 0  # the figures: test_ark_pricing
    assert cost(replace(usage, model=None), "unpriced-model-250101") is None


@pytest.mark.timeout(60)  # a drained stream would run for hours
def test_closing_the_iterator_early_releases_the_stream(emu, client):
    emu.token_delay = 0.01  # a million tokens: hours, if the stream were drained
    request = TurnRequest(model=MODEL, new_message="#tokens=1000000", thinking="disabled")
    turn = stream_turn(client, request)
    assert isinstance(next(turn), ContentDelta)
    turn.close()
    assert emu.wait_idle(timeout=30)  # the emulator saw the client go
    emu.token_delay = 0
    _, text = run(client, TurnRequest(model=MODEL, new_message="after", thinking="disabled"))
    assert text == "Echo: after"


# --- context -----------------------------------------------------------------------------


def test_context_mode_sends_only_the_new_message_after_the_first_turn(emu, client):
    before = time.time()
    results, _, state = converse(
        client,
        ["one", "two", "three"],
        model=ENDPOINT,
        system_prompt=SYSTEM,
        cache_mode="context",
        thinking="enabled",
        context_ttl=3600,
    )
    assert [text for _, text in results] == ["Echo: one", "Echo: two", "Echo: three"]
    creates = chat_requests(emu, "/context/create")
    assert len(creates) == 1
    assert creates[0].body["messages"] == [{"role": "system", "content": SYSTEM}]
    assert creates[0].body["mode"] == "session"
    assert creates[0].body["ttl"] == 3600
    chats = chat_requests(emu, "/context/chat/completions")
    assert len(chats) == 3
    for chat, prompt in zip(chats, ["one", "two", "three"], strict=True):
        assert chat.body["messages"] == [{"role": "user", "content": prompt}]
        assert chat.body["context_id"] == state["context_id"]
        assert chat.body.get("thinking") is None  # the Context API has no thinking parameter
    assert not chat_requests(emu, "/api/v3/chat/completions")
    assert before + 3600 <= state["context_expires_at"] <= time.time() + 3600
    update = of_type(results[-1][0], CacheUpdate)
    assert len(update) == 1 and update[0].response_id is None
    assert isinstance(results[-1][0][-1], CacheUpdate)


def test_context_mode_without_system_prompt_creates_the_context_at_turn_two(emu, client):
    results, _, state = converse(
        client, ["one", "two", "three"], model=ENDPOINT, cache_mode="context"
    )
    assert [text for _, text in results] == ["Echo: one", "Echo: two", "Echo: three"]
    assert of_type(results[0][0], CacheUpdate) == [CacheUpdate(None, None, None)]
    paths = [r.path.split("/api/v3")[-1] for r in emu.requests]
    assert paths == [
        "/chat/completions",  # nothing to cache yet: the API rejects an empty context
        "/context/create",
        "/context/chat/completions",
        "/context/chat/completions",
    ]
    assert emu.requests[0].body.get("thinking") is None
    assert emu.requests[1].body["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "Echo: one"},
    ]
    assert emu.requests[3].body["messages"] == [{"role": "user", "content": "three"}]
    assert state["context_id"]


def test_context_mode_needs_an_endpoint_id(emu, client):
    request = TurnRequest(model=MODEL, new_message="hi", cache_mode="context")
    with pytest.raises(EndpointRequiredError) as caught:
        list(stream_turn(client, request))
    assert "ep-" in describe("en", caught.value) and "ep-" in describe("zh", caught.value)
    assert emu.requests == []


def test_context_expired_on_the_server_is_recreated_with_history(emu, client):
    _, history, state = converse(
        client, ["one", "two"], model=ENDPOINT, system_prompt=SYSTEM, cache_mode="context"
    )
    emu.expire_contexts()
    emu.clear_requests()
    request = TurnRequest(
        model=ENDPOINT,
        new_message="three",
        history=history,
        system_prompt=SYSTEM,
        cache_mode="context",
        **{k: v for k, v in state.items() if k != "previous_response_id"},
    )
    events, text = run(client, request)
    assert text == "Echo: three"
    assert [r.path.split("/api/v3")[-1] for r in emu.requests] == [
        "/context/chat/completions",
        "/context/create",
        "/context/chat/completions",
    ]
    assert emu.requests[1].body["messages"] == [{"role": "system", "content": SYSTEM}] + [
        {"role": role, "content": content} for role, content in history
    ]
    assert emu.requests[2].body["messages"] == [{"role": "user", "content": "three"}]
    new_id = of_type(events, CacheUpdate)[0].context_id
    assert new_id and new_id != state["context_id"]


def status_error(status: int, message: str, param: str | None = None):
    """The exception the SDK raises for an error response with this body."""
    request = httpx.Request("POST", "https://ark.example/api/v3/context/chat/completions")
    body = {"error": {"code": "InvalidParameter", "message": message, "param": param}}
    response = httpx.Response(status, json=body, request=request)
    return Ark(api_key="k")._make_status_error_from_response(response, "request-id")


@pytest.mark.parametrize(
    ("message", "param", "stale"),
    [
        ("The specified context ctx-1 is not found.", "context_id", True),
        ("The context has expired.", None, True),
        ("The request exceeds the model's context length.", "messages", False),
        ("Total tokens exceed the context window.", None, False),
        ("The parameter temperature is invalid.", "temperature", False),
    ],
)
def test_only_a_gone_context_is_recreated(message, param, stale):
    assert is_stale_context(status_error(400, message, param)) is stale


def test_context_expired_locally_is_recreated_before_the_call(emu, client):
    _, history, state = converse(client, ["one"], model=ENDPOINT, cache_mode="context")
    emu.clear_requests()
    request = TurnRequest(
        model=ENDPOINT,
        new_message="two",
        history=history,
        cache_mode="context",
        context_id=state["context_id"],
        context_expires_at=time.time() - 1,
    )
    _, text = run(client, request)
    assert text == "Echo: two"
    assert [r.path.split("/api/v3")[-1] for r in emu.requests] == [
        "/context/create",
        "/context/chat/completions",
    ]
    assert len(emu.requests[0].body["messages"]) == 2


# --- responses ---------------------------------------------------------------------------


def test_responses_mode_chains_by_previous_response_id(emu, client):
    results, _, state = converse(
        client,
        ["one", "two", "three"],
        model=MODEL,
        system_prompt=SYSTEM,
        cache_mode="responses",
        thinking="disabled",
        max_tokens=500,
    )
    assert [text for _, text in results] == ["Echo: one", "Echo: two", "Echo: three"]
    sent = chat_requests(emu, "/responses")
    assert len(sent) == 3
    first = sent[0].body
    assert first["input"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "one"},
    ]
    assert first.get("previous_response_id") is None
    assert first.get("instructions") is None
    assert first["caching"] == {"type": "enabled"}
    assert first["store"] is True and first["stream"] is True
    assert first["thinking"] == {"type": "disabled"}
    assert first["max_output_tokens"] == 500
    ids = [of_type(events, CacheUpdate)[0].response_id for events, _ in results]
    assert all(ids) and len(set(ids)) == 3
    for body, previous, prompt in zip(
        [s.body for s in sent[1:]], ids[:2], ["two", "three"], strict=True
    ):
        assert body["previous_response_id"] == previous
        assert body["input"] == [{"role": "user", "content": prompt}]
    assert state["previous_response_id"] == ids[-1]
    usage = of_type(results[-1][0], Usage)[0]
    assert usage.prompt_tokens > 0 and usage.completion_tokens == 2


def test_responses_expired_previous_response_replays_history(emu, client):
    _, history, state = converse(
        client, ["one", "two"], model=MODEL, system_prompt=SYSTEM, cache_mode="responses"
    )
    emu.expire_responses()
    emu.clear_requests()
    request = TurnRequest(
        model=MODEL,
        new_message="three",
        history=history,
        system_prompt=SYSTEM,
        cache_mode="responses",
        previous_response_id=state["previous_response_id"],
    )
    events, text = run(client, request)
    assert text == "Echo: three"
    first, retry = (r.body for r in emu.requests)
    assert first["previous_response_id"] == state["previous_response_id"]
    assert retry.get("previous_response_id") is None
    assert retry["input"] == (
        [{"role": "system", "content": SYSTEM}]
        + [{"role": role, "content": content} for role, content in history]
        + [{"role": "user", "content": "three"}]
    )
    assert of_type(events, CacheUpdate)[0].response_id not in (None, state["previous_response_id"])


def test_responses_reasoning_is_separate_from_content(emu, client):
    request = TurnRequest(
        model=MODEL, new_message="why", thinking="enabled", cache_mode="responses"
    )
    events, text = run(client, request)
    assert "".join(e.text for e in of_type(events, ReasoningDelta)) == "Thinking about: why"
    assert text == "Echo: why"
    assert of_type(events, Usage)[0].reasoning_tokens > 0
