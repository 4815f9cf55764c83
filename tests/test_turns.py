"""Alternating roles after a failed turn, and Continue for a reply the token limit cut,
in every mode, on Ark and on a strict generic server: real store, real SDK, emulator."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

import pytest
from PIL import Image as Pillow

from ark_emulator import ArkEmulator
from chat_core import chat, continuation
from chat_core.ark import probe
from chat_core.catalogue import parse_price
from chat_core.config import load_settings
from chat_core.conversation import is_cut, left_out, model_view
from chat_core.errors import (
    ChatError,
    InvalidInputError,
    RequestTooLongError,
    ServerError,
    SessionNotFoundError,
    StreamInterruptedError,
)
from chat_core.images import prepare_image
from chat_core.pricing import PriceTable
from chat_core.runner import ReplyRunner
from chat_core.store import Message, connect
from tests.conftest import EMULATOR_KEY

# (server, mode): Ark in its three modes; llama.cpp-like (stateless only); a generic
# server that stores and chains responses (as vLLM can); vLLM-like, which continues a
# final assistant message only when asked to.
CASES = [
    ("ark", "off"),
    ("ark", "context"),
    ("ark", "responses"),
    ("generic", "off"),
    ("chaining", "off"),
    ("chaining", "responses"),
    ("vllm", "off"),
]


@pytest.fixture(params=CASES, ids=lambda case: "-".join(case))
def case(request):
    return request.param


@pytest.fixture
def emu(case):
    server, _ = case
    settings = {
        "generic": server != "ark",
        "stores_responses": server == "chaining",
        "like": "vllm" if server == "vllm" else "llama.cpp",
    }
    probe.forget()
    with ArkEmulator(api_key=EMULATOR_KEY, **settings) as running:
        yield running


@pytest.fixture
def env(case, emu, db_path):
    _, mode = case
    return {
        "ARK_API_KEY": EMULATOR_KEY,
        "ARK_BASE_URL": emu.base_url,
        "ARK_MODEL": "ep-test-model" if not emu.generic else "local-model",
        "ARK_MAX_RETRIES": "0",
        "ARK_CACHE": mode,
        "ARK_THINKING": "disabled",
        "CHAT_DB": str(db_path),
        "CHAT_TITLES": "off",
    }


@pytest.fixture
def sqlite_store(db_path):
    """Most tests here are about turns, not storage: one backend is enough for them."""
    with connect(str(db_path)) as opened:
        yield opened


@pytest.fixture
def settings(env):
    return load_settings(env=env)


def run(reply) -> str:
    with reply:
        return "".join(event.text for event in reply if type(event).__name__ == "ContentDelta")


def seen(emu) -> list[tuple[str, str]]:
    """The conversation the model was sent in the requests since the log was cleared:
    created context, then messages or Responses input (probes left out)."""
    said = []
    for request in emu.requests:
        body = request.body or {}
        if request.method != "POST" or body.get("input") == probe.PROBE_INPUT:
            continue
        for item in body.get("messages") or body.get("input") or []:
            content = item["content"]
            text = content if isinstance(content, str) else content[0]["text"]
            said.append((item["role"], text))
    return [(role, text) for role, text in said if role != "system"]


def alternates(said: list[tuple[str, str]]) -> bool:
    roles = [role for role, _ in said]
    return all(a != b for a, b in itertools.pairwise(roles)) and roles[0] == "user"


# --- alternating roles ------------------------------------------------------------------------


def test_a_failed_turn_leaves_no_two_user_messages_in_a_row(sqlite_store, settings, client, emu):
    session, _ = sqlite_store.new_session("alice")
    assert run(chat.send(sqlite_store, settings, session, client, "one")) == "Echo: one"
    emu.fail_next("500")
    with pytest.raises(ServerError):
        run(chat.send(sqlite_store, settings, session, client, "two"))
    emu.clear_requests()
    assert run(chat.send(sqlite_store, settings, session, client, "three")) == "Echo: three"
    said = seen(emu)
    assert said[-1] == ("user", "three") and ("user", "two") not in said
    assert ("user", "one") in said and ("assistant", "Echo: one") in said
    assert alternates(said)


def test_a_reply_stopped_before_any_text_is_left_out_too(sqlite_store, settings, client, emu):
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "one"))
    sqlite_store.start_turn(session, "two")  # Stop before the first token saves this:
    waiting = sqlite_store.begin_reply(session)
    sqlite_store.save_reply(session, waiting.id, content="", status="interrupted")
    stopped = sqlite_store.get_messages(session)[-1]
    assert (stopped.status, stopped.content) == ("interrupted", "")
    emu.wait_idle()
    emu.clear_requests()
    run(chat.send(sqlite_store, settings, session, client, "three"))
    said = seen(emu)
    assert ("user", "two") not in said and alternates(said)


def test_a_reply_with_some_text_counts_as_an_answer(sqlite_store, settings, client, emu):
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "zero"))
    emu.fail_next("stream_error", after_tokens=1)
    with pytest.raises(StreamInterruptedError):
        run(chat.send(sqlite_store, settings, session, client, "one two"))
    emu.clear_requests()
    run(chat.send(sqlite_store, settings, session, client, "three"))
    assert seen(emu) == [
        ("user", "zero"),
        ("assistant", "Echo: zero"),
        ("user", "one two"),
        ("assistant", "Echo: "),
        ("user", "three"),
    ]


def message(role, content, status="complete", id=1):
    return Message(id=id, session_id="s", role=role, content=content, created_at="", status=status)


def test_the_model_view_rule():
    path = [
        message("user", "a"),
        message("assistant", "A"),
        message("user", "b"),
        message("assistant", "", "error"),
        message("user", "c"),  # crashed before a reply row was written
        message("user", "d"),
        message("assistant", "D part", "interrupted"),
        message("assistant", "orphan"),  # an imported chat may hold one
    ]
    assert model_view(path) == [
        ("user", "a"),
        ("assistant", "A"),
        ("user", "d"),
        ("assistant", "D part"),
    ]
    assert [left_out(m) for m in path] == [False, False, False, True, False, False, False, False]


# --- cut replies and Continue -------------------------------------------------------------------


def cut_settings(env, tokens=5):
    return load_settings(env={**env, "ARK_MAX_TOKENS": str(tokens)})


def test_a_cut_reply_is_stored_with_its_finish_reason(sqlite_store, env, client):
    settings = cut_settings(env)
    session, _ = sqlite_store.new_session("alice")
    assert run(chat.send(sqlite_store, settings, session, client, "#tokens=8")) == "w1 w2 w3 w4 w5 "
    answer = sqlite_store.get_messages(session)[-1]
    assert (answer.status, answer.finish_reason) == ("complete", "length")
    run(chat.send(sqlite_store, settings, session, client, "#tokens=3"))
    assert sqlite_store.get_messages(session)[-1].finish_reason == "stop"


def test_continue_appends_the_rest_to_the_same_answer(store, env, client, emu, case):
    settings = cut_settings(env)
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "#tokens=8"))
    cut = store.get_messages(session)[-1]
    emu.clear_requests()
    assert run(continuation.continue_reply(store, settings, session, client)) == "w6 w7 w8"
    _, answer = store.get_messages(session)
    assert answer.id == cut.id and answer.content == "w1 w2 w3 w4 w5 w6 w7 w8"
    assert (answer.status, answer.finish_reason) == ("complete", "stop")
    assert answer.completion_tokens == cut.completion_tokens + 3
    assert answer.prompt_tokens > cut.prompt_tokens
    [sent] = [r for r in emu.requests if r.method == "POST"]
    assert sent.path == "/chat/completions"
    assert sent.body["messages"][-2:] == [
        {"role": "user", "content": "#tokens=8"},
        {"role": "assistant", "content": "w1 w2 w3 w4 w5 "},
    ]
    if emu.generic:
        assert "thinking" not in sent.body and None not in sent.body.values()
    # A caching mode replays the whole answer next turn: its cache held the cut one.
    emu.clear_requests()
    run(chat.send(store, settings, session, client, "#tokens=2"))
    assert ("assistant", "w1 w2 w3 w4 w5 w6 w7 w8") in seen(emu)


def test_continue_as_often_as_the_answer_is_cut(sqlite_store, env, client):
    settings = cut_settings(env, tokens=4)
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "#tokens=10"))
    for expected in ("w5 w6 w7 w8 ", "w9 w10"):
        assert run(continuation.continue_reply(sqlite_store, settings, session, client)) == expected
    answer = sqlite_store.get_messages(session)[-1]
    assert answer.content == "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10" and answer.finish_reason == "stop"


def test_a_continued_answer_keeps_the_lengths_of_its_largest_call(sqlite_store, env, client):
    settings = cut_settings(env)
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "#input_tokens=4000 #tokens=8"))
    cut = sqlite_store.get_messages(session)[-1]
    assert (cut.tier_prompt_tokens, cut.tier_completion_tokens) == (None, None)  # one call
    run(continuation.continue_reply(sqlite_store, settings, session, client))
    answer = sqlite_store.get_messages(session)[-1]
    later_prompt = answer.prompt_tokens - cut.prompt_tokens
    assert later_prompt > cut.prompt_tokens >= 4_000  # the later call holds the cut text
    assert answer.tier_prompt_tokens == later_prompt
    assert answer.tier_completion_tokens == max(
        cut.completion_tokens, answer.completion_tokens - cut.completion_tokens
    )
    # Priced at the tier of that call (up to 6,000 tokens in), not of the sums (8,000).
    price = parse_price(
        {
            "tiers": [
                {"input_up_to": 6_000, "input": 1, "output": 4},
                {"input_up_to": 100_000, "input": 3, "output": 12},
            ]
        }
    )
    prices = PriceTable(MappingProxyType({"m": price}))
    tokens_in, tokens_out = answer.prompt_tokens, answer.completion_tokens
    assert price.rates(tokens_in, tokens_out).input == 3  # what the sums would cost
    expected = Decimal(tokens_in * 1 + tokens_out * 4) / 1_000_000
    assert chat.message_cost(replace(answer, model="m"), prices) == expected


def test_only_a_cut_answer_continues(sqlite_store, env, client, emu):
    settings = cut_settings(env)
    session, _ = sqlite_store.new_session("alice")
    with pytest.raises(InvalidInputError) as caught:
        continuation.continue_reply(sqlite_store, settings, session, client)  # an empty chat
    assert caught.value.code == "nothing_to_continue"
    run(chat.send(sqlite_store, settings, session, client, "#tokens=2"))  # complete, not cut
    with pytest.raises(InvalidInputError):
        continuation.continue_reply(sqlite_store, settings, session, client)
    emu.fail_next("stream_error", after_tokens=1)
    with pytest.raises(StreamInterruptedError):
        run(chat.send(sqlite_store, settings, session, client, "#tokens=8"))
    with pytest.raises(InvalidInputError):  # failed, not cut: it is answered again
        continuation.continue_reply(sqlite_store, settings, session, client)


def test_a_cut_answer_continues_once_when_two_tabs_ask(store, env, client):
    settings = cut_settings(env)
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "#tokens=8"))
    first = continuation.continue_reply(store, settings, session, client)
    with pytest.raises(InvalidInputError):  # the answer streams again already
        continuation.continue_reply(store, settings, session, client)
    assert run(first) == "w6 w7 w8"
    answer = store.get_messages(session)[-1]
    assert answer.content == "w1 w2 w3 w4 w5 w6 w7 w8" and answer.status == "complete"


def test_another_owners_answer_cannot_be_continued(store, env, client):
    settings = cut_settings(env)
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "#tokens=8"))
    cut = store.get_messages(session)[-1]
    mallory, _ = store.new_session("mallory")
    foreign = type(session)(**{**session.__dict__, "owner": "mallory"})
    with pytest.raises(SessionNotFoundError):
        continuation.continue_reply(store, settings, foreign, client)
    with pytest.raises(InvalidInputError):
        continuation.continue_reply(store, settings, mallory, client, cut.id)
    assert store.get_messages(session)[-1].content == "w1 w2 w3 w4 w5 "


def test_a_stopped_continuation_keeps_both_parts(sqlite_store, env, client):
    settings = cut_settings(env)
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "#tokens=8"))
    with continuation.continue_reply(sqlite_store, settings, session, client) as reply:
        next(iter(reply))
    answer = sqlite_store.get_messages(session)[-1]
    assert answer.status == "interrupted" and answer.content == "w1 w2 w3 w4 w5 w6 "


def test_the_emulators_own_output_limit_cuts_and_continue_completes(
    sqlite_store, settings, client, emu
):
    # Like a model's own limit: no ARK_MAX_TOKENS is set, the server cuts the answer.
    emu.output_limit = 4
    session, _ = sqlite_store.new_session("alice")
    assert run(chat.send(sqlite_store, settings, session, client, "#tokens=6")) == "w1 w2 w3 w4 "
    assert sqlite_store.get_messages(session)[-1].finish_reason == "length"
    assert run(continuation.continue_reply(sqlite_store, settings, session, client)) == "w5 w6"
    answer = sqlite_store.get_messages(session)[-1]
    assert (answer.content, answer.finish_reason) == ("w1 w2 w3 w4 w5 w6", "stop")


def picture(color: str, size: tuple[int, int]):
    out = io.BytesIO()
    Pillow.new("RGB", size, color).save(out, "PNG")
    return prepare_image(f"{color}.png", out.getvalue())


def image_kinds(content) -> list[str]:
    return [] if isinstance(content, str) else [part["type"] for part in content]


def test_continue_sends_the_images_the_cut_answer_was_asked_about(sqlite_store, env, client, emu):
    settings = cut_settings(env, tokens=3)
    session, _ = sqlite_store.new_session("alice")
    earlier, photo = picture("blue", (28, 28)), picture("red", (56, 28))
    run(chat.send(sqlite_store, settings, session, client, "#tokens=2", images=[earlier]))
    # A question of an image alone, whose answer ("Echo:  [image: 56×28 JPEG]") is cut.
    assert run(chat.send(sqlite_store, settings, session, client, "", images=[photo])) == (
        "Echo:  [image: 56×28 "
    )
    assert sqlite_store.get_messages(session)[-1].finish_reason == "length"
    emu.clear_requests()
    assert run(continuation.continue_reply(sqlite_store, settings, session, client)) == "JPEG]"
    [sent] = [r for r in emu.requests if r.method == "POST" and r.path == "/chat/completions"]
    first, *_, question, start = [m for m in sent.body["messages"] if m["role"] != "system"]
    # The question is its image (no empty text), the earlier question keeps its own.
    assert image_kinds(question["content"]) == ["image_url"]
    assert image_kinds(first["content"]) == ["text", "image_url"]
    assert start == {"role": "assistant", "content": "Echo:  [image: 56×28 "}
    answer = sqlite_store.get_messages(session)[-1]
    assert (answer.content, answer.finish_reason) == ("Echo:  [image: 56×28 JPEG]", "stop")


# --- the history budget, through the chat service --------------------------------------------


def test_the_chat_follows_the_context_window_and_refuses_what_cannot_fit(
    sqlite_store, env, client, emu
):
    settings = load_settings(env={**env, "ARK_CONTEXT_WINDOW": "1024", "ARK_MAX_TOKENS": "200"})
    session, _ = sqlite_store.new_session("alice")
    for index in range(12):  # about 1,600 tokens of history
        run(chat.send(sqlite_store, settings, session, client, f"{index} " + "words " * 30))
    emu.clear_requests()
    run(chat.send(sqlite_store, settings, session, client, "last one"))
    said = seen(emu)
    assert said[-1] == ("user", "last one") and len(said) < 25 and alternates(said)
    assert sum(len(text) // 4 + 5 for _, text in said) <= 1024 - 200
    emu.clear_requests()
    with pytest.raises(RequestTooLongError):
        run(chat.send(sqlite_store, settings, session, client, "word " * 1000))
    refused = sqlite_store.get_messages(session)[-1]
    assert (refused.status, refused.error_code) == ("error", "request_too_long")
    assert [r for r in emu.requests if r.method == "POST"] == []  # nothing was sent


def test_the_history_budget_counts_the_images_of_earlier_messages(sqlite_store, env, client, emu):
    settings = load_settings(env={**env, "ARK_CONTEXT_WINDOW": "4000", "ARK_MAX_TOKENS": "200"})
    session, _ = sqlite_store.new_session("alice")
    photos = [picture(color, (1024, 1024)) for color in ("red", "blue", "green", "white")]
    assert sum(photo.tokens for photo in photos[:2]) > 2500  # two fit, four do not
    run(chat.send(sqlite_store, settings, session, client, "what is this?", images=photos[:2]))
    emu.clear_requests()
    run(chat.send(sqlite_store, settings, session, client, "and this?", images=photos[2:]))
    [sent] = [r for r in emu.requests if r.method == "POST"][-1:]
    text = json.dumps(sent.body)
    # The earlier turn, its images with it, no longer fits beside the new one's.
    assert text.count("data:image/") == 2 and "what is this?" not in text


def test_a_continuation_that_fails_before_new_text_leaves_the_answer_to_continue(
    sqlite_store, env, client, emu
):
    settings = cut_settings(env)
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "#tokens=8"))
    cut = sqlite_store.get_messages(session)[-1]
    emu.fail_next("500")
    with pytest.raises(ChatError):
        run(continuation.continue_reply(sqlite_store, settings, session, client))
    answer = sqlite_store.get_messages(session)[-1]
    assert (answer.content, answer.status, answer.finish_reason) == (
        cut.content,
        "complete",
        "length",
    )
    assert answer.error_code is None and answer.prompt_tokens == cut.prompt_tokens
    assert run(continuation.continue_reply(sqlite_store, settings, session, client)) == "w6 w7 w8"


def test_a_continuation_stopped_before_new_text_leaves_the_answer_to_continue(
    sqlite_store, env, client, emu
):
    settings = cut_settings(env)
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "#tokens=8"))
    emu.ttft = 3.0  # Stop comes while the continuation waits for its first token
    replies = ReplyRunner(sqlite_store)
    try:
        live = replies.start(
            continuation.continue_reply(sqlite_store, settings, session, client), "alice"
        )
        live.begun()
        final = live.stop()
    finally:
        replies.shutdown()
    emu.ttft = 0
    assert (final.status, final.finish_reason) == ("complete", "length")
    assert run(continuation.continue_reply(sqlite_store, settings, session, client)) == "w6 w7 w8"


def test_continue_carries_on_only_the_answer_it_was_asked_for(store, env, client):
    settings = cut_settings(env)
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "#tokens=8"))
    shown = store.get_messages(session)[-1]  # cut: the page offers Continue under it
    run(chat.send(store, settings, session, client, "#tokens=8 again"))  # another tab
    with pytest.raises(InvalidInputError) as refused:
        continuation.continue_reply(store, settings, session, client, shown.id)
    assert refused.value.code == "continue_not_last"
    later = store.get_messages(session)[-1]
    assert later.content == "w1 w2 w3 w4 w5 " and is_cut(later)  # left as it was
    assert run(continuation.continue_reply(store, settings, session, client, later.id))
