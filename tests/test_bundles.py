"""Several chats in one JSON file, on both backends: the bulk export holds the owner's
chats only, imports again whole, and a bad chat in it writes nothing."""

import json

import pytest

from chat_core.bundles import FORMAT, export_bundle, import_file
from chat_core.errors import ImportFormatError
from chat_core.transfer import export_json


def chat(store, owner: str, question: str):
    session, _ = store.new_session(owner)
    store.start_turn(session, question)
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content=f"answer to {question}", status="complete")
    return session


def shown(store, owner: str, session_id: str) -> list[tuple[str, str]]:
    session = store.get_session(owner, session_id)
    return [(m.role, m.content) for m in store.get_messages(session)]


@pytest.fixture
def chats(store):
    return [chat(store, "alice", text) for text in ("first 🌍", "second\nline", "third")]


def test_a_bundle_holds_the_chosen_chats_of_the_owner_only(store, chats):
    bobs = chat(store, "bob", "bob's secret")
    chosen = [chats[2].id, chats[0].id, bobs.id, "no-such-id", chats[0].id]
    document = json.loads(export_bundle(store, "alice", chosen))
    assert document["format"] == FORMAT
    questions = [c["messages"][0]["content"] for c in document["chats"]]
    assert questions == ["third", "first 🌍"]  # in the order chosen, once each
    assert "bob's secret" not in json.dumps(document)


def test_a_bundle_imports_every_chat_as_it_was(store, chats):
    bundle = export_bundle(store, "alice", [s.id for s in chats])
    imported = import_file(store, "carol", bundle)
    assert [chat.duplicate for chat in imported] == [False, False, False]
    assert [shown(store, "carol", chat.session_id) for chat in imported] == [
        shown(store, "alice", s.id) for s in chats
    ]
    assert {s.id for s in store.list_sessions("carol")} == {c.session_id for c in imported}


def test_importing_a_bundle_again_names_every_chat_as_imported_before(store, chats):
    bundle = export_bundle(store, "alice", [s.id for s in chats])
    first = import_file(store, "carol", bundle)
    again = import_file(store, "carol", bundle)
    assert all(chat.duplicate for chat in again)
    assert [c.session_id for c in again] == [c.session_id for c in first]
    assert len(store.list_sessions("carol")) == 3


def test_a_single_chat_export_still_imports(store, chats):
    [imported] = import_file(store, "carol", export_json(store, "alice", chats[1].id))
    assert not imported.duplicate
    assert shown(store, "carol", imported.session_id) == shown(store, "alice", chats[1].id)


def test_one_bad_chat_in_a_bundle_writes_nothing(store, chats):
    document = json.loads(export_bundle(store, "alice", [s.id for s in chats]))
    document["chats"][2]["messages"][0]["role"] = "system-override"
    with pytest.raises(ImportFormatError) as caught:
        import_file(store, "carol", json.dumps(document))
    assert caught.value.code == "import_message_bad_role"
    assert store.list_sessions("carol") == []


@pytest.mark.parametrize(
    "chats_value",
    [[], None, "chats", {"a": 1}, [1, 2]],
    ids=["empty", "null", "text", "object", "numbers"],
)
def test_a_malformed_bundle_gets_a_clear_error_and_writes_nothing(store, chats_value):
    document = {"format": FORMAT, "version": 1, "chats": chats_value}
    with pytest.raises(ImportFormatError) as caught:
        import_file(store, "carol", json.dumps(document))
    assert caught.value.code in {"import_no_messages", "import_not_export"}
    assert store.list_sessions("carol") == []


def test_an_empty_choice_makes_an_empty_bundle(store):
    assert json.loads(export_bundle(store, "alice", []))["chats"] == []
