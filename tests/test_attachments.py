"""Images kept with their message, on both backends: written in the message's own
transaction, read for the messages drawn, scoped to the owner, gone with the message."""

from __future__ import annotations

import io

import pytest
from PIL import Image as Pillow

from chat_core.errors import DatabaseError, InvalidInputError
from chat_core.images import Image, prepare_image
from tests.databases import run_sql


def picture(color="red", size=(30, 20), name="photo.png") -> Image:
    out = io.BytesIO()
    Pillow.new("RGB", size, color).save(out, "PNG")
    return prepare_image(name, out.getvalue())


def count_attachments(location) -> int:
    return run_sql(location, "SELECT count(*) FROM chat_attachment")[0][0]


def test_images_are_kept_with_their_message_in_order(store):
    session, _ = store.new_session("alice")
    images = [picture("red"), picture("blue", (10, 40), "b.jpg")]
    message = store.start_turn(session, "what are these?", images=images)
    found = store.attachments(session, [message.id])
    assert found == {message.id: images}
    assert found[message.id][1].data == images[1].data  # the bytes, unchanged


def test_a_message_of_images_alone_needs_no_text_and_takes_the_image_name_as_title(store):
    session, _ = store.new_session("alice")
    message = store.start_turn(session, "  ", images=[picture(name="receipt.png")])
    assert message.content == ""
    assert store.get_session("alice", session.id).title == "receipt.png"
    with pytest.raises(InvalidInputError):
        store.start_turn(session, "  ")  # no text and no image: nothing to send


def test_messages_without_images_have_none(store):
    session, _ = store.new_session("alice")
    plain = store.start_turn(session, "just text")
    assert store.attachments(session, [plain.id]) == {}
    assert store.attachments(session, []) == {}


def test_another_owners_images_are_not_found(store):
    session, _ = store.new_session("alice")
    message = store.start_turn(session, "mine", images=[picture()])
    mallory, _ = store.new_session("mallory")
    assert store.attachments(mallory, [message.id]) == {}
    foreign = type(session)(**{**session.__dict__, "owner": "mallory"})
    assert store.attachments(foreign, [message.id]) == {}


def test_a_failed_image_write_leaves_no_message(store, db_location):
    session, _ = store.new_session("alice")
    broken = Image(None, 1, 1, b"x", "broken")  # no type: the row is refused
    with pytest.raises(DatabaseError):
        store.start_turn(session, "with a broken image", images=[broken])
    assert store.get_messages(session) == []
    assert not store.get_session("alice", session.id).is_used
    assert count_attachments(db_location) == 0


def test_images_go_with_their_message_and_their_chat(store, db_location):
    session, _ = store.new_session("alice")
    first = store.start_turn(session, "one", images=[picture()])
    store.start_turn(session, "two", images=[picture("blue")])
    assert count_attachments(db_location) == 2
    store.delete_message(session, first.id)  # and the branch below it
    assert count_attachments(db_location) == 0
    store.start_turn(session, "three", images=[picture()])
    store.delete_session("alice", session.id)
    assert count_attachments(db_location) == 0


def test_an_edited_message_keeps_its_images(store):
    session, _ = store.new_session("alice")
    original = store.start_turn(session, "what is it?", images=[picture()])
    edited = store.edit_message(session, original.id, "what colour is it?")
    assert store.attachments(session, [edited.id])[edited.id] == [picture()]
    assert store.attachments(session, [original.id])[original.id] == [picture()]


def test_an_import_keeps_each_messages_images(store):
    images = [picture("green")]
    session = store.import_session(
        "alice",
        "imported",
        [
            {
                "role": "user",
                "content": "look",
                "created_at": "2026-01-01T00:00:00+00:00",
                "status": "complete",
                "attachments": images,
            },
            {
                "role": "assistant",
                "content": "green",
                "created_at": "2026-01-01T00:00:01+00:00",
                "status": "complete",
                "sources": [{"url": "https://search.example/1", "title": "One"}],
            },
        ],
    )
    user, answer = store.get_messages(session)
    assert store.attachments(session, [user.id, answer.id]) == {user.id: images}
    assert answer.sources == [{"url": "https://search.example/1", "title": "One"}]


def test_a_replys_sources_are_saved_with_it(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "news?")
    reply = store.begin_reply(session)
    sources = [{"url": "https://search.example/1?q=news", "title": "Result 1", "site": "x"}]
    store.save_reply(session, reply.id, content="Here", status="complete", sources=sources)
    assert store.get_message(session, reply.id).sources == sources


def test_the_copy_command_brings_images_and_sources_along(tmp_path, db_location):
    from chat_core.store import connect
    from chat_core.store.copy import copy_history

    source = tmp_path / "source.db"
    with connect(source) as store:
        session, _ = store.new_session("alice")
        first = store.start_turn(session, "one", images=[picture("red")])
        reply = store.begin_reply(session)
        sources = [{"url": "https://search.example/1", "title": "One"}]
        store.save_reply(session, reply.id, content="ok", status="complete", sources=sources)
        second = store.start_turn(session, "two", images=[picture("blue"), picture("green")])
    with connect(db_location) as store:  # TARGET already uses message id 1: renumbered
        own, _ = store.new_session("zoe")
        store.start_turn(own, "my own chat")
    assert copy_history(str(source), db_location).missing == {}
    with connect(db_location) as store:
        copied = store.get_session("alice", session.id)
        user1, answer, user2 = store.get_messages(copied)
        images = store.attachments(copied, [user1.id, user2.id])
    assert user1.id != first.id and user2.id != second.id  # numbered anew, in order
    assert images == {user1.id: [picture("red")], user2.id: [picture("blue"), picture("green")]}
    assert answer.sources == sources
