"""Images, reasoning effort and web search in the Ark layer, through the real SDK against
the emulator: what each mode sends, and the events that come back."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image as Pillow

from chat_core.ark import (
    ContentDelta,
    SearchProgress,
    Sources,
    TurnRequest,
    make_client,
    stream_turn,
)
from chat_core.config import Settings
from chat_core.errors import ChatError
from chat_core.images import prepare_image
from tests.conftest import emulator_fixture

KEY = "test-key-media"
MODEL = "doubao-seed-2-1-pro-260628"
ENDPOINT = "ep-20260101000000-media"

emu = emulator_fixture(scope="function", api_key=KEY)


@pytest.fixture
def client(emu):
    settings = Settings(api_key=KEY, base_url=emu.base_url, max_retries=0, timeout=10)
    with make_client(settings, http_client=httpx.Client(trust_env=False)) as ark:
        yield ark


def image(color="red", size=(56, 28), name="p.png"):
    out = io.BytesIO()
    Pillow.new("RGB", size, color).save(out, "PNG")
    return prepare_image(name, out.getvalue())


def run(client, request):
    events = list(stream_turn(client, request))
    return events, "".join(e.text for e in events if isinstance(e, ContentDelta))


def last_body(emu):
    return [r for r in emu.requests if r.method == "POST"][-1].body


@pytest.mark.parametrize(
    ("mode", "model"), [("off", MODEL), ("responses", MODEL), ("context", ENDPOINT)]
)
def test_a_messages_images_reach_the_model_in_every_mode(client, emu, mode, model):
    request = TurnRequest(
        model=model,
        new_message="what is this?",
        cache_mode=mode,
        system_prompt="Be brief.",  # the Context API needs something to cache
        images=[image()],
    )
    _, text = run(client, request)
    assert text == "Echo: what is this? [image: 56×28 JPEG]"
    body = last_body(emu)
    sent = (body.get("messages") or body.get("input"))[-1]["content"]
    kinds = [part["type"] for part in sent]
    if mode == "responses":
        assert kinds == ["input_text", "input_image"]
        assert sent[1]["image_url"].startswith("data:image/jpeg;base64,")
    else:
        assert kinds == ["text", "image_url"]
        assert sent[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_earlier_images_are_sent_again_without_a_cache(client, emu):
    request = TurnRequest(
        model=MODEL,
        new_message="and now?",
        history=[("user", "first"), ("assistant", "Echo: first")],
        history_images=[[image("blue", (28, 28))], []],
    )
    run(client, request)
    first = last_body(emu)["messages"][0]
    assert [part["type"] for part in first["content"]] == ["text", "image_url"]
    assert last_body(emu)["messages"][1] == {"role": "assistant", "content": "Echo: first"}


def test_a_message_of_images_alone_sends_no_empty_text(client, emu):
    run(client, TurnRequest(model=MODEL, new_message="", images=[image()]))
    assert [p["type"] for p in last_body(emu)["messages"][-1]["content"]] == ["image_url"]


@pytest.mark.parametrize("mode", ["off", "responses"])
def test_reasoning_effort_is_sent_where_the_api_takes_it(client, emu, mode):
    request = TurnRequest(
        model=MODEL,
        new_message="think",
        cache_mode=mode,
        thinking="enabled",
        reasoning_effort="low",
    )
    run(client, request)
    body = last_body(emu)
    if mode == "off":
        assert body["reasoning_effort"] == "low"
    else:
        assert body["reasoning"] == {"effort": "low"}


def test_the_context_api_is_sent_no_reasoning_effort(client, emu):
    request = TurnRequest(
        model=ENDPOINT,
        new_message="think",
        cache_mode="context",
        system_prompt="Be brief.",
        reasoning_effort="low",
    )
    run(client, request)
    body = last_body(emu)
    assert "reasoning_effort" not in body and "reasoning" not in body


def test_web_search_streams_progress_and_sources_and_is_not_cached(client, emu):
    request = TurnRequest(
        model=MODEL, new_message="ark news", cache_mode="responses", web_search=True
    )
    events, text = run(client, request)
    assert text == "Echo: ark news"
    progress = [e for e in events if isinstance(e, SearchProgress)]
    assert progress[0].status == "searching" and progress[-1].status == "done"
    assert SearchProgress("done", "ark news") in progress
    sources = [e for e in events if isinstance(e, Sources)][-1].items
    assert [s["url"] for s in sources] == [
        f"https://search.example/{n}?q=ark%20news" for n in (1, 2, 3)
    ]
    assert sources[0] == {
        "url": "https://search.example/1?q=ark%20news",
        "title": "Result 1 for ark news",
        "site": "search.example",
    }
    body = last_body(emu)
    assert body["tools"] == [{"type": "web_search"}]
    assert body["caching"] == {"type": "disabled"}
    assert emu.requests[-1].headers.get("ark-beta-web-search") == "true"


def test_without_web_search_no_tool_is_sent_and_the_turn_is_cached(client, emu):
    run(client, TurnRequest(model=MODEL, new_message="hi", cache_mode="responses"))
    body = last_body(emu)
    assert body.get("tools") in (None, []) and body["caching"] == {"type": "enabled"}


def test_a_search_failing_mid_stream_has_given_its_sources_and_text(client, emu):
    emu.fail_next("stream_error", after_tokens=2)
    request = TurnRequest(
        model=MODEL, new_message="news today", cache_mode="responses", web_search=True
    )
    seen = []
    with pytest.raises(ChatError) as failed:
        for event in stream_turn(client, request):
            seen.append(event)
    assert failed.value.partial == "Echo: news "
    assert len([e for e in seen if isinstance(e, Sources)][-1].items) == 3
