import json

import pytest

from chat_core.errors import ImportFormatError
from chat_core.transfer import MAX_IMPORT_BYTES, export_json, export_markdown, import_json
from locales import describe


@pytest.fixture
def chat(store):
    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, system_prompt="Be brief", temperature=0.5)
    store.start_turn(session, "What is 2+2? <b>bold</b>")
    reply = store.begin_reply(session, model="doubao-seed-1-6")
    store.save_reply(
        session,
        reply.id,
        content="**4**",
        reasoning="add them",
        status="complete",
        usage={"prompt_tokens": 9, "completion_tokens": 3},
    )
    store.start_turn(session, "and 3+3?")
    cut = store.begin_reply(session)
    store.save_reply(session, cut.id, content="6 bec", status="interrupted")
    return store.get_session("alice", session.id)


def test_json_round_trip_creates_a_new_session(store, chat):
    exported = export_json(store, "alice", chat.id)
    imported = import_json(store, "alice", exported)
    assert imported.id != chat.id and imported.is_used
    assert imported.title == chat.title
    original = [
        (m.role, m.content, m.reasoning_content, m.status, m.prompt_tokens)
        for m in store.get_messages(chat)
    ]
    copied = [
        (m.role, m.content, m.reasoning_content, m.status, m.prompt_tokens)
        for m in store.get_messages(imported)
    ]
    assert copied == original
    assert len(store.list_sessions("alice")) == 2


def test_import_twice_and_by_another_owner_never_overwrites(store, chat):
    exported = export_json(store, "alice", chat.id)
    first = import_json(store, "alice", exported)
    second = import_json(store, "alice", exported.encode())
    for_bob = import_json(store, "bob", exported)
    assert len({chat.id, first.id, second.id, for_bob.id}) == 4
    assert [s.id for s in store.list_sessions("bob")] == [for_bob.id]
    assert store.count_messages(chat) == 4


def test_import_ignores_ids_that_already_exist(store, chat):
    document = json.loads(export_json(store, "alice", chat.id))
    document["session"]["id"] = chat.id
    for message in document["messages"]:
        message["id"] = 1
    imported = import_json(store, "alice", json.dumps(document))
    assert imported.id != chat.id
    assert store.count_messages(chat) == 4 and store.count_messages(imported) == 4


def test_markdown_export(store, chat):
    text = export_markdown(store, "alice", chat.id)
    assert text.startswith(f"# {chat.title}\n")
    assert "## User\n\nWhat is 2+2? <b>bold</b>" in text
    assert "## Assistant\n\n> **Reasoning**\n>\n> add them\n\n**4**" in text
    assert "## Assistant (interrupted)\n\n6 bec" in text


def test_export_of_a_foreign_session_is_refused(store, chat):
    from chat_core.errors import SessionNotFoundError

    with pytest.raises(SessionNotFoundError):
        export_json(store, "bob", chat.id)
    with pytest.raises(SessionNotFoundError):
        export_markdown(store, "bob", chat.id)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\xff\xfe not json", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[]", "not an Ark Chat session export"),
        ('{"format": "other"}', "not an Ark Chat session export"),
        ('{"format": "ark-chat-session", "messages": []}', "no messages"),
        ('{"format": "ark-chat-session", "messages": [1]}', "Message 1 is not an object"),
        (
            '{"format": "ark-chat-session", "messages": [{"role": "system", "content": "x"}]}',
            "unknown role",
        ),
        (
            '{"format": "ark-chat-session", "messages": [{"role": "user", "content": 5}]}',
            "has no text",
        ),
        (
            '{"format": "ark-chat-session", "session": [], "messages": '
            '[{"role": "user", "content": "x"}]}',
            "must be an object",
        ),
    ],
)
def test_malformed_imports_give_a_clear_error_and_write_nothing(store, data, reason):
    with pytest.raises(ImportFormatError) as info:
        import_json(store, "alice", data)
    assert reason in describe("en", info.value)
    assert describe("zh", info.value).startswith("无法导入")
    assert store.list_sessions("alice") == []


def test_huge_import_is_refused_before_parsing(store):
    with pytest.raises(ImportFormatError, match="import_too_large") as info:
        import_json(store, "alice", b" " * (MAX_IMPORT_BYTES + 1))
    assert "too large" in describe("en", info.value)


def test_import_cleans_odd_values(store):
    document = {
        "format": "ark-chat-session",
        "session": {"title": None},
        "messages": [
            {"role": "user", "content": "hi\x00 there", "prompt_tokens": "many"},
            {"role": "assistant", "content": "cut", "status": "streaming", "latency_ms": True},
        ],
    }
    imported = import_json(store, "alice", json.dumps(document))
    user, reply = store.get_messages(imported)
    assert imported.title == "hi there"
    assert (user.content, user.prompt_tokens) == ("hi there", None)
    assert (reply.status, reply.latency_ms) == ("interrupted", None)


def test_export_and_import_carry_the_error_code_and_params(store, chat):
    store.start_turn(chat, "and 4+4?")
    failed = store.begin_reply(chat)
    params = {"request_id": "r-1"}
    store.save_reply(
        chat, failed.id, content="", status="error", error_code="rate_limited", error_params=params
    )
    document = json.loads(export_json(store, "alice", chat.id))
    assert document["messages"][-1]["error_code"] == "rate_limited"
    assert document["messages"][-1]["error_params"] == params
    imported = import_json(store, "alice", json.dumps(document))
    last = store.get_messages(imported)[-1]
    assert (last.error_code, last.error_params, last.error) == ("rate_limited", params, None)


def test_an_old_export_with_error_text_still_imports(store):
    old_sentence = "请求过于频繁，已超出模型服务的限流。请稍后重试。 (请求 ID: 2025x)"
    document = {
        "format": "ark-chat-session",
        "version": 1,
        "session": {"title": "old"},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "status": "error", "error": old_sentence},
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "", "status": "error", "error": "**custom**"},
        ],
    }
    imported = import_json(store, "alice", json.dumps(document))
    _, mapped, _, kept = store.get_messages(imported)
    assert (mapped.error_code, mapped.error_params, mapped.error) == (
        "rate_limited",
        {"request_id": "2025x"},
        None,
    )
    assert (kept.error_code, kept.error) == (None, "**custom**")


def test_markdown_export_in_chinese(store, chat):
    text = export_markdown(store, "alice", chat.id, lang="zh")
    assert "## 用户\n\nWhat is 2+2?" in text
    assert "## 助手（已中断）\n\n6 bec" in text
