import json

import pytest
from markdown_it import MarkdownIt

import locales
from chat_core.conversation import is_cut
from chat_core.errors import ImportDuplicateError, ImportFormatError
from chat_core.markdown import escape
from chat_core.transfer import (
    MAX_DEPTH,
    MAX_IMPORT_BYTES,
    export_json,
    export_markdown,
    import_json,
    prepared,
)
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
        finish_reason="length",  # cut by the token limit: it can be continued
        # continued once: two calls, the larger of 5 tokens in and 2 out
        usage={
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "tier_prompt_tokens": 5,
            "tier_completion_tokens": 2,
        },
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

    def kept(m):
        tier = (m.tier_prompt_tokens, m.tier_completion_tokens)
        cut = (m.finish_reason, is_cut(m))
        return (m.role, m.content, m.reasoning_content, m.status, m.prompt_tokens, tier, cut)

    original = [kept(m) for m in store.get_messages(chat)]
    assert original[1][-2:] == ((5, 2), ("length", True))
    assert [kept(m) for m in store.get_messages(imported)] == original
    assert len(store.list_sessions("alice")) == 2


def test_an_export_of_an_older_version_keeps_its_import_id(store):
    """The id a file imports as is made from its content: fields that exports gained
    later (the tier lengths, the finish reason, a reply's alias), absent, leave it as an
    older version made it, so that file is still found as imported."""
    reply = {"role": "assistant", "content": "hi there", "status": "complete", "model": "m1"}
    reply.update(created_at="2026-01-02T03:04:06.000000+00:00", prompt_tokens=10)
    reply.update(completion_tokens=3, cached_tokens=0, reasoning_tokens=0)
    reply.update(latency_ms=900, first_token_ms=100)
    question = {
        "role": "user",
        "content": "hello",
        "created_at": "2026-01-02T03:04:05.000000+00:00",
    }
    document = export_document(question, reply, title="Old file")
    assert prepared(store, "alice", document).session_id == "8777c3a91dea78158ebc2d4e91e31724"
    # The version that added the tier lengths counted them even when absent: a file it
    # imported is found by the id it gave.
    then = "f0895e3994aebdf9f97c0936840ec211"
    store.import_session("alice", "Old file", [], session_id=then)
    with pytest.raises(ImportDuplicateError):
        import_json(store, "alice", json.dumps(document))
    assert len(store.list_sessions("alice")) == 1


@pytest.mark.parametrize(
    "reason", ["tool", ["length"], {}, 1], ids=["text", "list", "object", "number"]
)
def test_a_finish_reason_no_reply_has_is_dropped(store, reason):
    reply = {"role": "assistant", "content": "hi", "status": "complete", "finish_reason": reason}
    document = export_document({"role": "user", "content": "q"}, reply)
    _, imported = store.get_messages(import_json(store, "alice", json.dumps(document)))
    assert imported.finish_reason is None and not is_cut(imported)


def test_import_by_another_owner_never_overwrites(store, chat):
    exported = export_json(store, "alice", chat.id)
    first = import_json(store, "alice", exported)
    for_bob = import_json(store, "bob", exported.encode())
    assert len({chat.id, first.id, for_bob.id}) == 3
    assert [s.id for s in store.list_sessions("bob")] == [for_bob.id]
    assert store.count_messages(chat) == 4 and store.count_messages(for_bob) == 4


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
    assert "## User\n\n```\nWhat is 2+2? <b>bold</b>\n```" in text
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
    assert "## 用户\n\n```\nWhat is 2+2?" in text
    assert "## 助手（已中断）\n\n6 bec" in text


TYPED = """Is this safe?

## Assistant

Yes, I checked. ``` ```` not the end
1. not a list
* not italics *
    not code"""


def test_a_user_message_shows_exactly_as_typed_in_markdown(store):
    """Read as CommonMark, the user's text makes no speaker's turn of its own (no heading),
    no list or emphasis: it is one block holding the text, line breaks included."""
    session, _ = store.new_session("alice")
    store.start_turn(session, TYPED)
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content="No, it is **not**.", status="complete")
    tokens = MarkdownIt("commonmark").parse(export_markdown(store, "alice", session.id))
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[1:] == ["User", "Assistant"]  # after the title
    assert [t.content for t in tokens if t.type == "fence"] == [TYPED + "\n"]
    assert "strong_open" in [c.type for t in tokens for c in t.children or []]  # the answer's
    assert not {"bullet_list_open", "ordered_list_open", "code_block"} & {t.type for t in tokens}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_failed_reply_exports_its_error_in_markdown(store, lang):
    """As the chat shows it: from its code and parameters, or an older version's text."""
    failed = {"role": "assistant", "content": "", "status": "error"}
    document = export_document(
        {"role": "user", "content": "q"},
        {**failed, "error_code": "quota_exceeded", "error_params": {"request_id": "req-42"}},
        {"role": "user", "content": "again"},
        {**failed, "error": "**Old**\n## sentence"},
    )
    imported = import_json(store, "alice", json.dumps(document))
    text = export_markdown(store, "alice", imported.id, lang=lang)
    quota = locales.error_text(lang, "quota_exceeded", {"request_id": "req-42"}, quote=escape)
    heading = "## Assistant (failed)" if lang == "en" else "## 助手（失败）"
    assert f"{heading}\n\n> {quota}\n" in text
    assert f"{heading}\n\n> \\*\\*Old\\*\\*\n> \\#\\# sentence\n" in text


# --- hostile and odd files ---------------------------------------------------------------


def export_document(*messages, **session) -> dict:
    """An export with `messages` (a user and a reply by default) and `session` fields."""
    messages = messages or (
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi", "status": "complete"},
    )
    return {
        "format": "ark-chat-session",
        "version": 1,
        "session": {"title": "A chat", **session},
        "messages": list(messages),
    }


def refused(store, data, owner="alice") -> ImportFormatError:
    """The error importing `data` raises; nothing may have been written."""
    with pytest.raises(ImportFormatError) as info:
        import_json(store, owner, data if isinstance(data, str | bytes) else json.dumps(data))
    assert describe("zh", info.value).startswith("无法导入")
    assert store.list_sessions(owner) == []
    return info.value


@pytest.mark.parametrize(
    "data",
    [
        "[" * 1_000 + "]" * 1_000,
        "[" * 100_000,
        '{"a":' * 1_000 + "1" + "}" * 1_000,
        '{"format": "ark-chat-session", "messages": [{"role": "user", "content": "x", '
        '"extra": ' + "[" * 40 + "]" * 40 + "}]}",
    ],
    ids=["1,000 brackets", "100,000 brackets", "deep object", "deep inside an export"],
)
def test_deeply_nested_json_is_refused_without_recursion(store, data):
    error = refused(store, data)
    assert error.code == "import_too_deep" and error.params == {"limit": MAX_DEPTH}
    assert "nested more than 32 levels" in describe("en", error)


def test_brackets_inside_text_are_not_nesting(store):
    text = '[{"quoted \\" [' * 2_000
    imported = import_json(
        store, "alice", json.dumps(export_document({"role": "user", "content": text}))
    )
    assert store.get_messages(imported)[0].content == text


def test_json_nested_to_the_limit_still_imports(store):
    nested = 1
    for _ in range(MAX_DEPTH - 3):  # the document, its message list and the message
        nested = [nested]
    document = export_document({"role": "user", "content": "x", "extra": nested})
    assert import_json(store, "alice", json.dumps(document)).is_used


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"model": 5}, "model"),
        ({"model": "m" * 201}, "model"),
        ({"system_prompt": ["be", "brief"]}, "system_prompt"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"thinking": "sometimes"}, "thinking"),
        ({"thinking": 1}, "thinking"),
        ({"cache_mode": "forever"}, "cache_mode"),
        ({"cache_mode": {"mode": "off"}}, "cache_mode"),
    ],
)
def test_a_setting_of_the_wrong_type_or_range_is_refused(store, settings, name):
    error = refused(store, export_document(**settings))
    assert (error.code, error.params) == ("import_bad_setting", {"name": name})
    assert f"the setting “{name}”" in describe("en", error)


def test_a_temperature_that_is_not_a_number_is_refused(store):
    text = json.dumps(export_document()).replace('"title"', '"temperature": NaN, "title"')
    assert refused(store, text).params == {"name": "temperature"}


def test_a_system_prompt_is_as_long_as_the_settings_form_lets_it_be(open_store):
    store = open_store(max_message_chars=50)  # the form takes 20,000 whatever this is
    document = export_document(system_prompt="x" * 20_000)
    assert store.get_session("alice", import_json(store, "alice", json.dumps(document)).id)
    too_long = export_document(system_prompt="x" * 20_001)
    assert refused(store, too_long, owner="bob").code == "import_bad_setting"
    longer = open_store(max_message_chars=30_000)  # or the message limit, if longer
    document = export_document(system_prompt="x" * 30_000)
    assert import_json(longer, "alice", json.dumps(document)).id
    too_long = export_document(system_prompt="x" * 30_001)
    assert refused(longer, too_long, owner="bob").code == "import_bad_setting"


@pytest.mark.parametrize(
    "message, code, params",
    [
        ({"role": "assistant", "content": "x", "status": "done"}, "import_message_bad_status", {}),
        ({"role": "assistant", "content": "x", "status": 3}, "import_message_bad_status", {}),
        (
            {"role": "assistant", "content": "x", "reasoning_content": 5},
            "import_message_bad_field",
            {"field": "reasoning_content"},
        ),
        (
            {"role": "assistant", "content": "x", "error": {"text": "no"}},
            "import_message_bad_field",
            {"field": "error"},
        ),
    ],
)
def test_a_message_of_the_wrong_shape_is_refused_by_number(store, message, code, params):
    document = export_document({"role": "user", "content": "hi"}, message)
    error = refused(store, document)
    assert (error.code, error.params) == (code, {"number": 2, **params})
    assert "Message 2" in describe("en", error)


def test_a_title_that_is_not_text_is_refused(store):
    error = refused(store, export_document(title=["a", "list"]))
    assert error.code == "import_bad_title"
    assert describe("en", error) == "Cannot import: the title must be text."


def test_a_huge_title_is_cut(store):
    imported = import_json(store, "alice", json.dumps(export_document(title="word " * 400_000)))
    assert len(imported.title) <= 200 and imported.title.endswith("…")


@pytest.mark.parametrize("field", ["content", "reasoning_content", "error"])
def test_a_user_text_over_the_store_limit_is_refused_naming_the_message(open_store, field):
    store = open_store(max_message_chars=50)
    question = {"role": "user", "content": "x" * 50, field: "x" * 51}
    error = refused(store, export_document({"role": "user", "content": "hi"}, question))
    assert error.code == "import_message_too_long"
    assert error.params == {"number": 2, "length": 51, "limit": 50}
    assert describe("en", error) == (
        "Cannot import: Message 2 is too long (51 characters; the limit is 50)."
    )


def test_a_reply_longer_than_a_message_may_be_still_imports(open_store):
    """Replies are not cut while they stream, so a backup holding a long one must import."""
    store = open_store(max_message_chars=50)
    reply = {"role": "assistant", "content": "y" * 5_000, "reasoning_content": "z" * 5_000}
    imported = import_json(store, "alice", json.dumps(export_document(reply)))
    assert store.get_messages(imported)[-1].content == "y" * 5_000


def test_a_15_mb_message_is_refused_before_any_costly_work(store, monkeypatch):
    """The limit is checked by length alone: nothing is cleaned, titled, hashed or
    written before the file is refused (an order of events, not a stopwatch)."""
    import chat_core.transfer as transfer

    events = []
    for name in ("clean_text", "make_title", "_session_id"):
        monkeypatch.setattr(transfer, name, lambda *a, name=name, **k: events.append(name))
    monkeypatch.setattr(store.backend, "insert_session", lambda *a: events.append("insert"))
    huge = {"role": "user", "content": "x" * (15 * 1024 * 1024)}
    error = refused(store, export_document({"role": "user", "content": "first"}, huge))
    assert error.code == "import_message_too_long"
    assert error.params["number"] == 2 and error.params["limit"] == store.max_message_chars
    assert events == []


def test_token_counts_and_latency_outside_0_to_a_billion_are_dropped(store):
    reply = {
        "role": "assistant",
        "content": "ok",
        "model": "doubao-seed-1-6-250615",
        "prompt_tokens": 2**63 + 1,
        "completion_tokens": -5,
        "cached_tokens": 10**9 + 1,
        "reasoning_tokens": 1.5,
        "latency_ms": "fast",
    }
    fine = {**reply, "prompt_tokens": 10**9, "completion_tokens": 0, "cached_tokens": 7}
    fine.update(reasoning_tokens=None, latency_ms=12)
    document = export_document({"role": "user", "content": "q"}, reply, fine)
    _, odd, kept = store.get_messages(import_json(store, "alice", json.dumps(document)))
    counts = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")
    assert [getattr(odd, key) for key in (*counts, "latency_ms")] == [None] * 5
    assert [getattr(kept, key) for key in (*counts, "latency_ms")] == [10**9, 0, 7, None, 12]


def test_timestamps_that_are_not_iso_8601_or_no_chats_become_the_import_time(store):
    from chat_core.store import utc_now

    stamps = ["yesterday", 5, "2025-13-45T00:00:00", "0001-01-01T00:00:00+01:00", "x" * 100]
    stamps += ["9999-12-31T23:00:00Z", "1899-12-31T23:59:59Z"]  # times no chat has
    given = {"2025-01-02T03:04:05+08:00": "2025-01-01T19:04:05.000000+00:00"}
    given["2025-01-02T03:04:05"] = "2025-01-02T03:04:05.000000+00:00"  # naive: taken as UTC
    messages = [{"role": "user", "content": "t", "created_at": stamp} for stamp in stamps]
    messages += [{"role": "user", "content": "t", "created_at": stamp} for stamp in given]
    before = utc_now()
    imported = import_json(store, "alice", json.dumps(export_document(*messages)))
    after = utc_now()
    stored = [m.created_at for m in store.get_messages(imported)]
    assert all(before <= stamp <= after for stamp in stored[: len(stamps)])
    assert stored[len(stamps) :] == list(given.values())


def test_error_parameters_that_are_not_a_small_object_are_dropped(store):
    failed = {"role": "assistant", "content": "", "status": "error", "error_code": "rate_limited"}
    document = export_document(
        {"role": "user", "content": "q"},
        {**failed, "error_params": ["not", "an", "object"]},
        {**failed, "error_params": {"request_id": "r" * 10_000}},
        {**failed, "error_params": {"request_id": "r-1"}},
        {**failed, "error_code": "a" * 101, "error_params": {}},
    )
    _, listed, huge, kept, long_code = store.get_messages(
        import_json(store, "alice", json.dumps(document))
    )
    assert listed.error_params == {} and huge.error_params == {}
    assert kept.error_params == {"request_id": "r-1"}
    assert long_code.error_code is None


def strict_json(text: str):
    """`text` parsed as strict JSON: NaN and Infinity are refused, as other parsers do."""

    def refuse(constant):
        raise ValueError(f"{constant} is no JSON")

    return json.loads(text, parse_constant=refuse)


def test_error_parameters_holding_numbers_that_are_not_finite_are_dropped(store):
    failed = {"role": "assistant", "content": "", "status": "error", "error_code": "rate_limited"}
    params = {"request_id": "r-1", "limit": float("nan"), "size": [float("-inf")]}
    document = export_document({"role": "user", "content": "q"}, {**failed, "error_params": params})
    imported = import_json(store, "alice", json.dumps(document))  # as NaN and -Infinity
    assert store.get_messages(imported)[-1].error_params == {}
    exported = strict_json(export_json(store, "alice", imported.id))
    assert exported["messages"][-1]["error_params"] == {}


def test_a_stored_error_parameter_that_is_not_finite_still_exports_as_json(store, chat):
    store.start_turn(chat, "and 4+4?")
    failed = store.begin_reply(chat)
    error = {"error_code": "rate_limited", "error_params": {"limit": float("inf")}}
    store.save_reply(chat, failed.id, content="", status="error", **error)
    exported = strict_json(export_json(store, "alice", chat.id))
    assert exported["messages"][-1]["error_params"] == {}


ODD_VALUES = [["length"], {"request_id": float("nan")}, float("inf"), "\ud800"]


def test_an_odd_value_in_any_field_is_cleaned_or_refused(store, chat):
    """Whatever a field of the chat or of a message holds, the file either imports, and
    exports again as JSON, or is refused with an `ImportFormatError`: nothing else
    escapes to the page."""
    document = json.loads(export_json(store, "alice", chat.id))
    places = [("session", None, name) for name in document["session"]]
    for number, message in enumerate(document["messages"][:2]):
        places += [("messages", number, name) for name in (*message, "attachments", "sources")]
    for owner, (part, number, name) in enumerate(places * len(ODD_VALUES)):
        odd = json.loads(json.dumps(document))
        fields = odd[part] if number is None else odd[part][number]
        fields[name] = ODD_VALUES[owner // len(places)]
        try:
            imported = import_json(store, str(owner), json.dumps(odd))
        except ImportFormatError:
            continue
        strict_json(export_json(store, str(owner), imported.id))
        export_markdown(store, str(owner), imported.id)


# --- settings ----------------------------------------------------------------------------


SETTINGS = {
    "model": "ep-20250101-abcde",
    "system_prompt": "Answer in French.",
    "temperature": 0.3,
    "thinking": "disabled",
    "cache_mode": "responses",
    "reasoning_effort": "low",
    "web_search": True,
    "model_alias": "doubao-seed-2-1-pro-260628",
}


def test_every_setting_survives_the_json_round_trip(store, chat):
    from chat_core.store import SESSION_SETTINGS

    assert set(SETTINGS) == set(SESSION_SETTINGS)
    store.update_settings("alice", chat.id, **SETTINGS)
    store.set_cache_state(chat, response_id="resp-1")
    imported = import_json(store, "bob", export_json(store, "alice", chat.id))
    assert {name: getattr(imported, name) for name in SETTINGS} == SETTINGS
    assert imported.response_id is None  # the model's cache never travels


def test_a_chat_without_settings_keeps_the_defaults(store):
    imported = import_json(store, "alice", json.dumps(export_document(model=None)))
    assert all(getattr(imported, name) is None for name in SETTINGS)


def test_an_integer_temperature_is_restored_as_a_number(store):
    imported = import_json(store, "alice", json.dumps(export_document(temperature=2)))
    assert imported.temperature == 2.0


# --- importing the same file again -------------------------------------------------------


def test_importing_the_same_file_again_is_detected(store, chat):
    from chat_core.errors import ImportDuplicateError
    from chat_core.store import is_session_id

    exported = export_json(store, "alice", chat.id)
    first = import_json(store, "alice", exported)
    assert is_session_id(first.id) and len(first.id) == 32
    with pytest.raises(ImportDuplicateError) as info:
        import_json(store, "alice", exported.encode())
    assert info.value.params == {"session_id": first.id, "title": first.title}
    assert describe("en", info.value) == (
        f"This file was imported before, as the chat “{first.title}”."
    )
    assert describe("zh", info.value).startswith("此文件之前已导入")
    assert len(store.list_sessions("alice")) == 2


def test_a_later_export_of_the_same_chat_is_the_same_chat(store, chat):
    from chat_core.errors import ImportDuplicateError

    first = import_json(store, "alice", export_json(store, "alice", chat.id))
    again = json.loads(export_json(store, "alice", chat.id))
    again["exported_at"] = "2030-01-01T00:00:00+00:00"
    with pytest.raises(ImportDuplicateError):
        import_json(store, "alice", json.dumps(again, indent=None))
    store.start_turn(chat, "one more question")  # the chat went on: a new chat to import
    grown = import_json(store, "alice", export_json(store, "alice", chat.id))
    assert grown.id != first.id


def test_after_the_imported_chat_is_deleted_the_file_imports_again(store, chat):
    exported = export_json(store, "alice", chat.id)
    first = import_json(store, "alice", exported)
    store.delete_session("alice", first.id)
    again = import_json(store, "alice", exported)
    assert store.count_messages(again) == 4


def test_two_owners_importing_one_file_get_a_chat_each(store, chat):
    exported = export_json(store, "alice", chat.id)
    for_alice = import_json(store, "alice", exported)
    for_bob = import_json(store, "bob", exported)
    assert for_alice.id != for_bob.id
    assert [s.id for s in store.list_sessions("bob")] == [for_bob.id]


def test_an_import_racing_the_same_import_reports_a_duplicate(store, chat, monkeypatch):
    """Both imports looked before either wrote; the second write collides on the id."""
    from chat_core.errors import ImportDuplicateError

    exported = export_json(store, "alice", chat.id)
    first = import_json(store, "alice", exported)
    looked = []
    real_find = store.find_session

    def find_nothing_the_first_time(owner, session_id):
        looked.append(session_id)
        if session_id == first.id and looked.count(first.id) == 1:
            return None
        return real_find(owner, session_id)

    monkeypatch.setattr(store, "find_session", find_nothing_the_first_time)
    with pytest.raises(ImportDuplicateError) as info:
        import_json(store, "alice", exported)
    assert info.value.params["session_id"] == first.id and first.id in looked
    assert store.count_messages(first) == 4


# --- text that cannot be stored ----------------------------------------------------------


def failed_reply(**fields) -> dict:
    return {"role": "assistant", "content": "", "status": "error", **fields}


def test_a_source_url_with_a_lone_surrogate_is_dropped_and_the_rest_imports(store):
    """JSON's `\\ud800` escape makes a lone surrogate, which UTF-8 cannot write."""
    sources = [
        {"url": "https://example.com/\ud800", "title": "broken"},
        {"url": "https://example.com/\x00", "title": "nul"},
        {"url": "https://example.com/ok", "title": "fine \udc00", "site": "\ud800site"},
    ]
    reply = {"role": "assistant", "content": "see", "sources": sources}
    document = export_document({"role": "user", "content": "q"}, reply)
    imported = import_json(store, "alice", json.dumps(document))
    [source] = store.get_messages(imported)[-1].sources
    assert source == {"url": "https://example.com/ok", "title": "fine \ufffd", "site": "\ufffdsite"}


def test_error_parameters_with_lone_surrogates_are_cleaned(store):
    params = {"request_id": "r-\ud800", "\udc00key": "v", "nested": [{"a\ud800": "\udc00"}]}
    document = export_document(
        {"role": "user", "content": "q"},
        failed_reply(error_code="rate_limited", error_params=params),
    )
    imported = import_json(store, "alice", json.dumps(document))
    last = store.get_messages(imported)[-1]
    assert last.error_code == "rate_limited"
    assert last.error_params == {
        "request_id": "r-\ufffd",
        "\ufffdkey": "v",
        "nested": [{"a\ufffd": "\ufffd"}],
    }


ENDPOINT_SENTENCE = (
    "Context caching (ARK_CACHE=context) needs an endpoint id like ep-20250120174411-xxxxx, "
    'not the model id {}. Set ARK_MODEL to an endpoint id, or switch the cache mode to "responses" '
    'or "off".'
)


@pytest.mark.parametrize("model", [r"'\N{nope}'", r"'\x'", "'a\nb'"])
def test_an_old_error_sentence_whose_model_is_no_literal_keeps_its_text(store, model):
    sentence = ENDPOINT_SENTENCE.format(model)
    document = export_document({"role": "user", "content": "q"}, failed_reply(error=sentence))
    last = store.get_messages(import_json(store, "alice", json.dumps(document)))[-1]
    assert (last.error_code, last.error_params, last.error) == (None, None, sentence)


def test_an_old_error_sentence_with_a_surrogate_escape_keeps_a_clean_model(store):
    sentence = ENDPOINT_SENTENCE.format(r"'doubao-\ud800'")
    document = export_document({"role": "user", "content": "q"}, failed_reply(error=sentence))
    last = store.get_messages(import_json(store, "alice", json.dumps(document)))[-1]
    assert (last.error_code, last.error_params, last.error) == (
        "endpoint_required",
        {"model": "doubao-\ufffd"},
        None,
    )


# --- a title the user chose --------------------------------------------------------------


def test_a_title_chosen_by_renaming_survives_export_and_import(store, chat):
    store.rename("alice", chat.id, "My own title")
    document = json.loads(export_json(store, "alice", chat.id))
    assert document["session"]["title_by_user"] is True
    imported = import_json(store, "bob", json.dumps(document))
    assert (imported.title, imported.title_by_user) == ("My own title", True)
    first = store.get_messages(imported)[0]
    store.edit_message(imported, first.id, "a new first question")
    assert store.get_session("bob", imported.id).title == "My own title"


def test_a_generated_title_still_follows_an_edit_after_import(store, chat):
    document = json.loads(export_json(store, "alice", chat.id))
    assert document["session"]["title_by_user"] is False
    imported = import_json(store, "bob", json.dumps(document))
    assert not imported.title_by_user
    store.edit_message(imported, store.get_messages(imported)[0].id, "a new first question")
    assert store.get_session("bob", imported.id).title == "a new first question"


@pytest.mark.parametrize("value", ["yes", 1, None, []], ids=["text", "one", "null", "list"])
def test_a_title_flag_that_is_not_true_or_false_is_refused(store, value):
    error = refused(store, export_document(title_by_user=value))
    assert (error.code, error.params) == ("import_bad_setting", {"name": "title_by_user"})


def test_a_title_flag_without_a_title_is_not_kept(store):
    """The title then comes from the first message, which no user chose."""
    imported = import_json(
        store, "alice", json.dumps(export_document(title=None, title_by_user=True))
    )
    assert (imported.title, imported.title_by_user) == ("hello", False)


def test_a_file_of_an_older_version_finds_the_chat_its_new_export_made(store, chat):
    """Older exports do not say whether the title was chosen: unchosen is the same chat."""
    from chat_core.errors import ImportDuplicateError

    document = json.loads(export_json(store, "alice", chat.id))
    first = import_json(store, "alice", json.dumps(document))
    del document["session"]["title_by_user"]
    with pytest.raises(ImportDuplicateError) as info:
        import_json(store, "alice", json.dumps(document))
    assert info.value.params["session_id"] == first.id
