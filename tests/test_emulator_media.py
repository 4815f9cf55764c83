"""The emulator's images, reasoning effort, web search and long inputs, through the real
Ark SDK: the shapes the SDK sends are understood, and what it gets back parses into its
own types."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from volcenginesdkarkruntime._exceptions import ArkBadRequestError
from volcenginesdkarkruntime.types.responses.response_output_text_annotation_added_event import (
    ResponseOutputTextAnnotationAddedEvent,
)
from volcenginesdkarkruntime.types.responses.response_web_search_call_searching_event import (
    ResponseWebSearchCallSearchingEvent,
)

from tests.conftest import emulator_fixture

MODEL = "doubao-seed-2-1-pro-260628"
emu = emulator_fixture(scope="function")


def png(width=56, height=28) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "green").save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def chat_parts(text: str, *urls: str) -> list[dict]:
    return [{"type": "text", "text": text}] + [
        {"type": "image_url", "image_url": {"url": url}} for url in urls
    ]


def input_parts(text: str, *urls: str) -> list[dict]:
    return [{"type": "input_text", "text": text}] + [
        {"type": "input_image", "image_url": url, "detail": "auto"} for url in urls
    ]


def test_chat_completions_take_image_parts_and_count_their_tokens(sdk_client):
    client = sdk_client()
    plain = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "what is this?"}]
    )
    with_image = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": chat_parts("what is this?", png(56, 56))}],
    )
    assert with_image.choices[0].message.content == "Echo: what is this? [image: 56×56 PNG]"
    # 56 × 56 pixels are four 28 × 28 patches.
    assert with_image.usage.prompt_tokens == plain.usage.prompt_tokens + 4


def test_a_streamed_chat_with_two_images_names_both(sdk_client):
    stream = sdk_client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": chat_parts("compare", png(28, 28), png(280, 28))}],
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Echo: compare [image: 28×28 PNG] [image: 280×28 PNG]"


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,%%%not-base64",
        "data:image/png;base64," + base64.b64encode(b"plain text").decode(),
        "file:///etc/passwd",
        "",
    ],
    ids=["bad-base64", "not-an-image", "file-url", "empty"],
)
def test_a_bad_image_is_refused_with_invalid_parameter(sdk_client, url):
    with pytest.raises(ArkBadRequestError) as refused:
        sdk_client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": chat_parts("x", url)}]
        )
    assert refused.value.code == "InvalidParameter"


def test_a_text_only_model_refuses_images(sdk_client):
    with pytest.raises(ArkBadRequestError) as refused:
        sdk_client().chat.completions.create(
            model="glm-5-2-260617",
            messages=[{"role": "user", "content": chat_parts("x", png())}],
        )
    assert "does not support image input" in refused.value.message


def test_responses_take_input_image_parts(sdk_client, emu):
    response = sdk_client().responses.create(
        model=MODEL,
        input=[{"role": "user", "content": input_parts("describe", png(28, 56))}],
    )
    assert response.output[-1].content[0].text == "Echo: describe [image: 28×56 PNG]"
    (record,) = emu.responses.values()
    assert record.input_messages[0]["content"][1]["type"] == "input_image"


@pytest.mark.parametrize(("effort", "reasoning"), [("minimal", 0), ("low", 3), ("high", 7)])
def test_reasoning_effort_shapes_the_reasoning(sdk_client, effort, reasoning):
    client = sdk_client()
    prompt = "explain this carefully"  # "Thinking about: explain this carefully": 5 tokens+
    chat = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": prompt + " please now"}],
        thinking={"type": "enabled"},
        reasoning_effort=effort,
    )
    assert chat.usage.completion_tokens_details.reasoning_tokens == reasoning
    response = client.responses.create(
        model=MODEL,
        input=prompt + " please now",
        thinking={"type": "enabled"},
        reasoning={"effort": effort},
    )
    assert response.usage.output_tokens_details.reasoning_tokens == reasoning


def test_an_unknown_reasoning_effort_is_refused(sdk_client):
    with pytest.raises(ArkBadRequestError) as refused:
        sdk_client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], reasoning_effort="max"
        )
    assert refused.value.param == "reasoning_effort"


def test_web_search_streams_its_progress_and_sources(sdk_client):
    stream = sdk_client().responses.create(
        model=MODEL,
        input="latest ark news",
        tools=[{"type": "web_search", "limit": 2}],
        stream=True,
    )
    events = list(stream)
    kinds = [event.type for event in events]
    searching = kinds.index("response.web_search_call.searching")
    first_text = kinds.index("response.output_text.delta")
    assert kinds.index("response.web_search_call.in_progress") < searching < first_text
    assert isinstance(events[searching], ResponseWebSearchCallSearchingEvent)
    annotations = [e for e in events if isinstance(e, ResponseOutputTextAnnotationAddedEvent)]
    assert [a.annotation.url for a in annotations] == [
        "https://search.example/1?q=latest%20ark%20news",
        "https://search.example/2?q=latest%20ark%20news",
    ]
    final = events[-1].response
    search, message = final.output
    assert (search.type, search.action.query) == ("web_search_call", "latest ark news")
    assert [a.title for a in message.content[0].annotations] == [
        "Result 1 for latest ark news",
        "Result 2 for latest ark news",
    ]


def test_web_search_cannot_be_combined_with_caching(sdk_client):
    with pytest.raises(ArkBadRequestError) as refused:
        sdk_client().responses.create(
            model=MODEL,
            input="x",
            tools=[{"type": "web_search"}],
            caching={"type": "enabled"},
        )
    assert refused.value.param == "tools"


def test_a_search_failing_mid_stream_ends_with_an_error_after_its_sources(sdk_client, emu):
    emu.fail_next("stream_error", after_tokens=2)
    stream = sdk_client().responses.create(
        model=MODEL, input="news today", tools=[{"type": "web_search"}], stream=True
    )
    kinds = []
    with pytest.raises(Exception) as failed:  # the SDK raises on the in-stream error
        for event in stream:
            kinds.append(event.type)
    assert kinds.count("response.output_text.annotation.added") == 3
    assert kinds.count("response.output_text.delta") == 2
    assert "response.completed" not in kinds
    assert type(failed.value).__name__ == "ArkAPIError"


def test_a_long_input_can_be_stated_to_reach_a_price_tier(sdk_client):
    response = sdk_client().responses.create(model=MODEL, input="#input_tokens=40000 long one")
    assert response.usage.input_tokens == 40_000
    chat = sdk_client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "#input_tokens=130000"}]
    )
    assert chat.usage.prompt_tokens == 130_000
