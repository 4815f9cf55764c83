"""Temporary chats: replies through the real SDK and emulator, nothing in the database."""

import pytest

from chat_core import temporary
from chat_core.errors import InvalidInputError, StreamInterruptedError
from chat_core.temporary import TemporaryChat
from tests import test_chat
from tests.test_attachments import picture
from tests.test_model_rules import TEXT_ONLY

settings, run = test_chat.settings, test_chat.run  # fixtures (client: conftest)

TABLES = ("chat_session", "chat_message", "chat_attachment", "share_link", "owner_preference")


def rows_everywhere(store) -> dict[str, int]:
    with store.backend.reading() as tx:
        return {table: tx.query(f"SELECT count(*) AS n FROM {table}")[0]["n"] for table in TABLES}


EMPTY = dict.fromkeys(TABLES, 0)


def test_a_temporary_turn_streams_and_writes_nothing(store, settings, client):
    chat = TemporaryChat("alice")
    text = run(chat.send(settings, client, "hello there", max_chars=1000))
    assert text == "Echo: hello there"
    question, answer = chat.messages
    assert (question.role, question.content) == ("user", "hello there")
    assert (answer.role, answer.content, answer.status) == ("assistant", text, "complete")
    assert answer.prompt_tokens > 0 and answer.latency_ms is not None and answer.model
    assert answer.parent_id == question.id
    assert rows_everywhere(store) == EMPTY


def test_the_second_turn_sends_the_history_statelessly(store, settings, client, emu):
    chat = TemporaryChat("alice")
    run(chat.send(settings, client, "first", max_chars=1000))
    run(chat.send(settings, client, "second", max_chars=1000))
    sent = emu.requests[-1].body["messages"]
    assert [m["content"] for m in sent] == ["first", "Echo: first", "second"]
    assert emu.requests[-1].path.endswith("/chat/completions")
    assert rows_everywhere(store) == EMPTY


def test_even_a_chat_in_a_caching_mode_runs_stateless(store, client, emu, settings):
    import dataclasses

    cached = dataclasses.replace(settings, cache="responses")
    chat = TemporaryChat("alice")
    run(chat.send(cached, client, "hi", max_chars=1000))
    assert emu.requests[-1].path.endswith("/chat/completions")


def test_a_failed_reply_keeps_its_partial_text_and_error_in_memory(store, settings, client, emu):
    chat = TemporaryChat("alice")
    emu.fail_next("stream_error", after_tokens=2)
    reply = chat.send(settings, client, "alpha beta gamma delta", max_chars=1000)
    with pytest.raises(StreamInterruptedError), reply:
        list(reply)
    answer = chat.messages[-1]
    assert (answer.status, answer.content, answer.error_code) == (
        "error",
        "Echo: alpha ",
        "stream_interrupted",
    )
    assert rows_everywhere(store) == EMPTY


def test_an_abandoned_reply_is_kept_as_interrupted(store, settings, client):
    chat = TemporaryChat("alice")
    reply = chat.send(settings, client, "one two three four five six", max_chars=1000)
    with reply:
        events = iter(reply)
        first = [next(events).text for _ in range(3)]
    assert (chat.messages[-1].status, chat.messages[-1].content) == ("interrupted", "".join(first))
    assert not chat.busy


def test_bad_text_adds_nothing(settings, client):
    chat = TemporaryChat("alice")
    for bad in ("", "   ", None, "x" * 1001):
        with pytest.raises(InvalidInputError):
            chat.send(settings, client, bad, max_chars=1000)
    assert chat.messages == []


def test_saving_makes_a_normal_chat_of_its_owner(store, settings, client):
    chat = TemporaryChat("alice", model="ep-chosen-model")
    run(chat.send(settings, client, "keep this one", max_chars=1000))
    saved = chat.save(store)
    assert (saved.owner, saved.title, saved.model, saved.is_used) == (
        "alice",
        "keep this one",
        "ep-chosen-model",
        True,
    )
    stored = store.get_messages(saved)
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "keep this one", "complete"),
        ("assistant", "Echo: keep this one", "complete"),
    ]
    assert stored[1].prompt_tokens == chat.messages[1].prompt_tokens
    assert store.find_session("bob", saved.id) is None
    assert {hit.session_id for hit in store.search("alice", "keep")} == {saved.id}


def test_an_empty_chat_cannot_be_saved(store):
    with pytest.raises(InvalidInputError):
        TemporaryChat("alice").save(store)
    assert rows_everywhere(store) == EMPTY


def image_urls(message: dict) -> list[str]:
    content = message["content"]
    parts = content if isinstance(content, list) else []
    return [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]


def test_images_go_with_their_message_and_are_saved_with_the_chat(store, settings, client, emu):
    chat = TemporaryChat("alice")
    red = picture("red", name="red.png")
    run(chat.send(settings, client, "what colour?", max_chars=1000, images=[red]))
    [question] = emu.requests[-1].body["messages"]
    assert len(image_urls(question)) == 1
    run(chat.send(settings, client, "and now?", max_chars=1000))
    first, _, _ = emu.requests[-1].body["messages"]
    assert len(image_urls(first)) == 1  # the earlier question's image goes with it
    assert chat.images == {chat.messages[0].id: [red]}
    assert rows_everywhere(store) == EMPTY

    saved = chat.save(store)
    stored = store.get_messages(saved)
    assert store.attachments(saved, [m.id for m in stored]) == {stored[0].id: [red]}


def test_a_message_of_images_alone_is_sent_and_titles_the_saved_chat(store, settings, client):
    chat = TemporaryChat("alice")
    run(chat.send(settings, client, "  ", max_chars=1000, images=[picture(name="receipt.png")]))
    assert chat.messages[0].content == ""
    assert chat.save(store).title == "receipt.png"


def test_images_for_a_model_that_reads_text_only_add_nothing(store, settings, client, emu):
    chat = TemporaryChat("alice", model=TEXT_ONLY)
    emu.clear_requests()
    with pytest.raises(InvalidInputError) as refused:
        chat.send(settings, client, "what is this?", max_chars=1000, images=[picture()])
    assert refused.value.code == "images_not_supported"
    assert (chat.messages, chat.images, emu.requests) == ([], {}, [])


def test_images_past_the_memory_limit_are_refused_and_add_nothing(
    store, settings, client, emu, monkeypatch
):
    red, blue = picture("red", name="red.png"), picture("blue", name="blue.png")
    monkeypatch.setattr(temporary, "MAX_TEMPORARY_IMAGE_BYTES", len(red.data) + len(blue.data))
    chat = TemporaryChat("alice")
    run(chat.send(settings, client, "one", max_chars=1000, images=[red]))
    before, requests = list(chat.messages), len(emu.requests)
    with pytest.raises(InvalidInputError) as refused:
        chat.send(settings, client, "two", max_chars=1000, images=[blue, red])
    assert refused.value.code == "temporary_images_full"
    assert (chat.messages, len(emu.requests)) == (before, requests)
    run(chat.send(settings, client, "two", max_chars=1000, images=[blue]))  # up to the limit
    run(chat.send(settings, client, "three", max_chars=1000))  # text still goes
    assert [len(images) for images in chat.images.values()] == [1, 1]
