"""Several chats in one JSON file, on both backends: the bulk export holds the owner's
chats only, imports again whole, and a bad chat in it, or a failed write, writes nothing."""

import json

import pytest

from chat_core.bundles import FORMAT, export_bundle, import_file
from chat_core.errors import ImportFormatError, SessionExistsError
from chat_core.store import utc_now
from chat_core.transfer import MAX_IMPORT_MESSAGES, export_json, prepared


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


# --- all or nothing ----------------------------------------------------------------------


def test_the_message_limit_holds_for_the_whole_file_before_any_chat_is_checked(store):
    """Two chats each within the limit, together over it: refused as too many messages,
    not for the bad message that checking the first chat would find."""
    half = MAX_IMPORT_MESSAGES // 2 + 1
    messages = [{"role": "user", "content": "q"}] * half
    bad = [{"role": "system", "content": "q"}, *messages[1:]]
    chats = [{"format": "ark-chat-session", "messages": listed} for listed in (bad, messages)]
    with pytest.raises(ImportFormatError) as caught:
        import_file(store, "carol", json.dumps({"format": FORMAT, "chats": chats}))
    assert caught.value.code == "import_too_many_messages"
    assert caught.value.params == {"limit": MAX_IMPORT_MESSAGES}
    assert store.list_sessions("carol") == []


def bundle_document(store, sessions) -> dict:
    return json.loads(export_bundle(store, "alice", [s.id for s in sessions]))


def take_id(store, owner: str, session_id: str) -> None:
    """Give `owner` a chat with `session_id`, as if it were theirs all along."""
    message = {"role": "user", "content": "taken", "status": "complete", "created_at": utc_now()}
    store.import_session(owner, "taken", [message], session_id=session_id)


def test_a_bundle_whose_last_chat_cannot_be_written_writes_none(store, chats):
    """Every chat passes the checks, but writing the last one fails (its id is taken):
    the chats before it are not written either."""
    document = bundle_document(store, chats)
    take_id(store, "mallory", prepared(store, "carol", document["chats"][2]).session_id)
    with pytest.raises(SessionExistsError):
        import_file(store, "carol", json.dumps(document))
    assert store.list_sessions("carol") == []


def test_a_chat_imported_meanwhile_by_another_import_is_named_and_the_rest_written(
    store, chats, monkeypatch
):
    """This import looked before the other one wrote; its one write collides, writes
    nothing, and the next look finds the chat as imported before."""
    document = bundle_document(store, chats)
    [other] = import_file(store, "carol", json.dumps(document["chats"][1]))
    real_find, looked = store.find_session, []

    def nothing_in_the_first_look(owner, session_id):
        looked.append(session_id)
        return None if len(looked) <= len(chats) else real_find(owner, session_id)

    monkeypatch.setattr(store, "find_session", nothing_in_the_first_look)
    imported = import_file(store, "carol", json.dumps(document))
    assert [chat.duplicate for chat in imported] == [False, True, False]
    assert imported[1].session_id == other.session_id
    assert len(store.list_sessions("carol")) == 3


def test_a_chat_a_bundle_holds_twice_is_written_once(store, chats):
    document = bundle_document(store, chats)
    document["chats"].append(document["chats"][0])
    imported = import_file(store, "carol", json.dumps(document))
    assert [chat.duplicate for chat in imported] == [False, False, False, True]
    assert imported[3].session_id == imported[0].session_id
    assert len(store.list_sessions("carol")) == 3


def test_import_sessions_refuses_one_id_twice_and_writes_nothing(store):
    message = {"role": "user", "content": "q", "status": "complete", "created_at": utc_now()}
    chat = {"title": "t", "messages": [message], "session_id": "a" * 32}
    with pytest.raises(ValueError, match="twice"):
        store.import_sessions("carol", [chat, chat])
    assert store.list_sessions("carol") == [] and store.import_sessions("carol", []) == []


# --- text that cannot be stored ----------------------------------------------------------


ENDPOINT_SENTENCE = (
    "Context caching (ARK_CACHE=context) needs an endpoint id like ep-20250120174411-xxxxx, "
    "not the model id {}. Set ARK_MODEL to an endpoint id, or switch the cache mode to "
    '"responses" or "off".'
)


NOT_A_LITERAL = ENDPOINT_SENTENCE.format(r"'\N{nope}'")
SHORT_ESCAPE = ENDPOINT_SENTENCE.format(r"'\x'")


@pytest.mark.parametrize(
    "reply, stored",
    [
        ({"sources": [{"url": "https://x/\ud800"}]}, (None, None, None, None)),
        (
            {"error_code": "server_error", "error_params": {"a": "\udc00"}},
            (None, "server_error", {"a": "\ufffd"}, None),
        ),
        (
            {"error_code": "server_error", "error_params": {"\udc00": "a"}},
            (None, "server_error", {"\ufffd": "a"}, None),
        ),
        ({"error": NOT_A_LITERAL}, (None, None, None, NOT_A_LITERAL)),
        ({"error": SHORT_ESCAPE}, (None, None, None, SHORT_ESCAPE)),
        (
            {"error": ENDPOINT_SENTENCE.format(r"'\ud800'")},
            (None, "endpoint_required", {"model": "\ufffd"}, None),
        ),
    ],
    ids=["url", "param value", "param name", "unknown name", "short escape", "surrogate"],
)
def test_a_file_with_text_that_cannot_be_stored_imports_cleaned(store, reply, stored):
    """A lone surrogate (JSON's `\\ud800`) is dropped or replaced; an old error sentence
    whose model id is no Python literal keeps its text."""
    document = {
        "format": "ark-chat-session",
        "messages": [{"role": "assistant", "content": "x", **reply}],
    }
    [imported] = import_file(store, "alice", json.dumps(document))
    [message] = store.get_messages(store.get_session("alice", imported.session_id))
    assert (message.sources, message.error_code, message.error_params, message.error) == stored
