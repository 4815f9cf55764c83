"""The store contract, run against SQLite and PostgreSQL alike (see `db_location`)."""

import json

import pytest

from chat_core.errors import InvalidInputError, ReplyReplacedError, SessionNotFoundError
from locales import describe
from tests.databases import run_sql


def used_flags(store, owner="alice"):
    return {session.id: session.is_used for session in store.list_sessions(owner)}


# --- the seed's verification scenarios -------------------------------------------------


def test_new_session_twice_without_a_message_reuses_it(store):
    first, first_is_new = store.new_session("alice")
    second, second_is_new = store.new_session("alice")
    assert first_is_new is True
    assert second_is_new is False
    assert second.id == first.id


def test_after_a_first_message_new_session_creates_another(store):
    first, _ = store.new_session("alice")
    store.start_turn(first, "hello")
    second, is_new = store.new_session("alice")
    assert is_new is True
    assert second.id != first.id


def test_is_used_column_shows_false_for_untouched_and_true_for_used(store, db_location):
    used, _ = store.new_session("alice")
    store.start_turn(used, "hello")
    untouched, _ = store.new_session("alice")
    # The same query works on both backends (0/1 in SQLite, false/true in PostgreSQL).
    rows = run_sql(db_location, "SELECT id, is_used FROM chat_session")
    assert {sid: bool(flag) for sid, flag in rows} == {used.id: True, untouched.id: False}


# --- new_session -----------------------------------------------------------------------


def test_new_session_returns_latest_unused_even_when_not_current(store):
    draft, _ = store.new_session("alice")
    again, is_new = store.new_session("alice")
    other_owner, _ = store.new_session("bob")
    assert (again.id, is_new) == (draft.id, False)
    assert other_owner.id != draft.id


def test_database_forbids_a_second_unused_session(store, db_location):
    store.new_session("alice")
    with pytest.raises(Exception, match=r"(?i)unique") as info:
        run_sql(
            db_location,
            "INSERT INTO chat_session (id, owner, is_used, created_at, updated_at) "
            "VALUES ('x', 'alice', FALSE, ?, ?)",
            ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        )
    assert type(info.value).__name__ in ("IntegrityError", "UniqueViolation")


# --- start_turn ------------------------------------------------------------------------


def test_start_turn_marks_used_and_titles_in_one_go(store):
    session, _ = store.new_session("alice")
    message = store.start_turn(session, "  Plan   a\ttrip\nto Kyoto ")
    after = store.get_session("alice", session.id)
    assert after.is_used and after.used_at == message.created_at
    assert after.title == "Plan a trip to Kyoto"
    assert [m.content for m in store.get_messages(after)] == [message.content]


def test_title_is_cut_at_a_word_boundary(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "word " * 40)
    title = store.get_session("alice", session.id).title
    assert title.endswith("…") and len(title) <= 60
    assert title[:-1].split(" ") == ["word"] * len(title[:-1].split(" "))


def test_title_is_kept_after_later_turns(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "first question")
    store.start_turn(session, "second question")
    assert store.get_session("alice", session.id).title == "first question"


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t ", "\x00", " \u200b ", "\u200d\u2060\u200e", None, 42]
)
def test_start_turn_rejects_empty_text_and_writes_nothing(store, text):
    session, _ = store.new_session("alice")
    with pytest.raises(InvalidInputError):
        store.start_turn(session, text)
    assert store.count_messages(session) == 0
    assert used_flags(store) == {session.id: False}


def test_start_turn_rejects_text_over_the_limit(open_store):
    store = open_store(max_message_chars=100)
    session, _ = store.new_session("alice")
    store.start_turn(session, "x" * 100)
    with pytest.raises(InvalidInputError, match="message_too_long") as info:
        store.start_turn(session, "x" * 101)
    assert info.value.params == {"length": 101, "limit": 100}
    assert store.count_messages(session) == 1


def test_ten_megabyte_message_is_rejected_by_default(store):
    session, _ = store.new_session("alice")
    with pytest.raises(InvalidInputError) as info:
        store.start_turn(session, "x" * 10_000_000)
    assert "100,000" in describe("en", info.value) and "100,000" in describe("zh", info.value)
    assert store.count_messages(session) == 0


@pytest.mark.parametrize(
    "text, stored",
    [
        ("a\x00b", "ab"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("pair \ud83d\ude00", "pair 😀"),
        ("مرحبا \u200f\u200b zero-width", "مرحبا \u200f\u200b zero-width"),
        ("中文 😀 emoji", "中文 😀 emoji"),
    ],
)
def test_odd_unicode_is_stored_safely(store, text, stored):
    session, _ = store.new_session("alice")
    store.start_turn(session, text)
    assert store.get_messages(session)[0].content == stored


# --- replies ---------------------------------------------------------------------------


def test_reply_is_saved_while_streaming_and_finished_with_usage(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "hi")
    reply = store.begin_reply(session, model="doubao")
    assert reply.status == "streaming" and reply.content == ""
    store.save_reply(session, reply.id, content="Hel", reasoning="think")
    assert store.get_messages(session)[-1].content == "Hel"
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "cached_tokens": 2, "reasoning_tokens": 1}
    store.save_reply(
        session,
        reply.id,
        content="Hello",
        reasoning="think",
        status="complete",
        usage=usage,
        latency_ms=120,
    )
    final = store.get_messages(session)[-1]
    assert (final.content, final.status, final.reasoning_content) == ("Hello", "complete", "think")
    assert (
        final.prompt_tokens,
        final.completion_tokens,
        final.cached_tokens,
        final.reasoning_tokens,
        final.latency_ms,
    ) == (5, 7, 2, 1, 120)


def test_failed_reply_keeps_partial_text_and_its_error_as_code_and_params(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "hi")
    reply = store.begin_reply(session)
    params = {"request_id": "2026-x", "detail": "max_tokens 太大"}
    store.save_reply(
        session,
        reply.id,
        content="partial",
        status="error",
        error_code="request_rejected",
        error_params=params,
    )
    final = store.get_messages(session)[-1]
    assert (final.content, final.status, final.error) == ("partial", "error", None)
    assert (final.error_code, final.error_params) == ("request_rejected", params)


def test_a_stored_error_holds_its_code_and_params_never_text(store):
    from chat_core.errors import RateLimitError

    session, _ = store.new_session("alice")
    store.start_turn(session, "hi")
    reply = store.begin_reply(session)
    error = RateLimitError("rate_limited", request_id="req-1")
    store.save_reply(session, reply.id, content="", status="error", **stored(error))
    with store.backend.reading() as tx:
        (row,) = tx.query(
            "SELECT error, error_code, error_params FROM chat_message WHERE id = ?", [reply.id]
        )
    assert row["error"] is None and row["error_code"] == "rate_limited"
    assert json.loads(row["error_params"]) == {"request_id": "req-1"}
    assert not any(word in str(row) for word in ("requests", "请求"))  # no rendered text


def stored(error):
    record = error.as_dict()
    return {"error_code": record["code"], "error_params": record["params"]}


def test_an_error_code_must_be_snake_case(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "hi")
    reply = store.begin_reply(session)
    with pytest.raises(ValueError):
        store.save_reply(session, reply.id, content="", status="error", error_code="Boom!")


def test_unknown_status_is_refused(store):
    session, _ = store.new_session("alice")
    reply = store.begin_reply(session)
    with pytest.raises(ValueError):
        store.save_reply(session, reply.id, content="x", status="done")


def test_get_messages_limit_returns_latest_in_order(store):
    session, _ = store.new_session("alice")
    for i in range(5):
        store.start_turn(session, f"m{i}")
    assert [m.content for m in store.get_messages(session, limit=2)] == ["m3", "m4"]
    assert store.count_messages(session) == 5


def test_deleting_a_message_removes_its_turn_and_the_cache_state(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "one")
    second = store.start_turn(session, "two")
    store.set_cache_state(session, context_id="ctx-1", context_expires_at=1.0)
    after = store.delete_message(session, second.id)
    assert [m.content for m in store.get_messages(after)] == ["one"]
    assert after.ark_context_id is None and after.response_id is None


# --- listing ---------------------------------------------------------------------------


def test_list_sessions_pinned_first_then_newest_with_keyset_pages(store):
    ids = []
    for i in range(7):
        session, _ = store.new_session("alice")
        store.start_turn(session, f"chat {i}")
        ids.append(session.id)
    store.set_pinned("alice", ids[2], True)
    expected = [ids[2]] + [sid for sid in reversed(ids) if sid != ids[2]]
    pages, after = [], None
    while page := store.list_sessions("alice", limit=3, after=after):
        pages.append([s.id for s in page])
        after = page[-1]
    assert [sid for page in pages for sid in page] == expected
    assert [len(page) for page in pages] == [3, 3, 1]


@pytest.mark.parametrize("title", ["", "   ", "\u200b", "\u200b\u2060 \ufeff"])
def test_a_title_that_shows_as_nothing_is_refused(store, title):
    session, _ = store.new_session("alice")
    store.start_turn(session, "a question")
    with pytest.raises(InvalidInputError) as refused:
        store.rename("alice", session.id, title)
    assert refused.value.code == "title_empty"
    assert store.get_session("alice", session.id).title == "a question"


def test_rename_and_pin_do_not_reorder_by_activity(store):
    first, _ = store.new_session("alice")
    store.start_turn(first, "first")
    second, _ = store.new_session("alice")
    store.start_turn(second, "second")
    store.rename("alice", first.id, "  Renamed\n title ")
    assert [s.id for s in store.list_sessions("alice")] == [second.id, first.id]
    assert store.get_session("alice", first.id).title == "Renamed title"
    with pytest.raises(InvalidInputError):
        store.rename("alice", first.id, "   ")


def test_delete_cascades_to_messages_and_search(store, db_location):
    session, _ = store.new_session("alice")
    store.start_turn(session, "delete me please")
    store.delete_session("alice", session.id)
    assert run_sql(db_location, "SELECT count(*) FROM chat_message") == [(0,)]
    assert store.search("alice", "delete") == []
    assert store.find_session("alice", session.id) is None
    with pytest.raises(SessionNotFoundError):
        store.delete_session("alice", session.id)


def test_settings_are_stored_and_reset_the_cache(store):
    session, _ = store.new_session("alice")
    store.set_cache_state(session, response_id="resp_1")
    updated = store.update_settings(
        "alice",
        session.id,
        model="ep-1",
        system_prompt="Be brief",
        temperature=0.3,
        thinking="disabled",
        cache_mode="responses",
    )
    assert (
        updated.model,
        updated.system_prompt,
        updated.temperature,
        updated.thinking,
        updated.cache_mode,
    ) == ("ep-1", "Be brief", 0.3, "disabled", "responses")
    assert updated.response_id is None
    assert not updated.is_used
    with pytest.raises(ValueError):
        store.update_settings("alice", session.id, is_used=1)


def test_settings_the_cache_depends_on_wait_for_the_reply_being_written(store):
    # Its final save would store the cache of what it was asked before the change.
    session, _ = store.new_session("alice")
    store.start_turn(session, "question")
    reply = store.begin_reply(session)
    with pytest.raises(InvalidInputError) as refused:
        store.update_settings("alice", session.id, system_prompt="Answer in French.")
    assert refused.value.code == "settings_while_streaming"
    assert store.get_session("alice", session.id).system_prompt is None
    assert store.update_settings("alice", session.id, temperature=0.2).temperature == 0.2
    store.save_reply(session, reply.id, content="answer", status="complete")
    changed = store.update_settings("alice", session.id, system_prompt="Answer in French.")
    assert changed.system_prompt == "Answer in French."


# --- owner isolation ------------------------------------------------------------------


def test_another_owner_cannot_touch_a_session_even_with_its_id(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "secret plans")
    as_bob = store.find_session("alice", session.id)
    bob_view = type(as_bob)(**{**as_bob.__dict__, "owner": "bob"})
    assert store.find_session("bob", session.id) is None
    assert store.search("bob", "secret") == []
    assert store.list_sessions("bob") == []
    calls = [
        lambda: store.get_session("bob", session.id),
        lambda: store.rename("bob", session.id, "mine"),
        lambda: store.set_pinned("bob", session.id, True),
        lambda: store.delete_session("bob", session.id),
        lambda: store.update_settings("bob", session.id, model="x"),
        lambda: store.start_turn(bob_view, "hi"),
        lambda: store.begin_reply(bob_view),
        lambda: store.delete_message(bob_view, 1),
        lambda: store.set_cache_state(bob_view, response_id="x"),
    ]
    for call in calls:
        with pytest.raises(SessionNotFoundError):
            call()
    assert store.get_messages(bob_view) == []
    assert store.count_messages(bob_view) == 0
    assert [m.content for m in store.get_messages(session)] == ["secret plans"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "nope",
        "ctx-20250120174458-6c94p",  # the shape of a real id, but unknown
        "1 OR 1=1",
        "' OR ''='",
        "../../etc/passwd",
        "x" * 10_000,
        None,
        5,
        "é",
        "١٢٣",  # digits of another script: str.isalnum() would accept them
        "-leading-hyphen",
        "a\x00b",
    ],
)
def test_unknown_or_malformed_ids_are_just_not_found(store, bad_id):
    session, _ = store.new_session("alice")
    assert store.find_session("alice", bad_id) is None
    calls = [
        lambda: store.get_session("alice", bad_id),
        lambda: store.rename("alice", bad_id, "x"),
        lambda: store.set_pinned("alice", bad_id, True),
        lambda: store.update_settings("alice", bad_id, model="x"),
        lambda: store.delete_session("alice", bad_id),
    ]
    for call in calls:
        with pytest.raises(SessionNotFoundError):
            call()
    assert store.find_session("alice", session.id) == session


# --- replies that lost their row (deleted elsewhere) ------------------------------------


def test_message_ids_are_never_handed_out_twice(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "question")
    reply = store.begin_reply(session)
    store.delete_message(session, reply.id)  # e.g. Delete in another tab
    again = store.begin_reply(session)
    assert again.id > reply.id


def test_a_reply_whose_turn_was_replaced_stops_saving(store):
    session, _ = store.new_session("alice")
    question = store.start_turn(session, "old question")
    orphan = store.begin_reply(session)
    store.save_reply(session, orphan.id, content="answer to the old")
    store.delete_message(session, question.id)  # Delete in another tab
    store.start_turn(session, "new question")
    fresh = store.begin_reply(session)
    with pytest.raises(ReplyReplacedError):
        store.save_reply(session, orphan.id, content="answer to the old, longer")
    with pytest.raises(ReplyReplacedError):
        store.save_reply(session, orphan.id, content="answer to the old!", status="complete")
    store.save_reply(session, fresh.id, content="answer to the new", status="complete")
    assert [(m.content, m.status) for m in store.get_messages(session)] == [
        ("new question", "complete"),
        ("answer to the new", "complete"),
    ]


def test_a_finished_reply_cannot_be_overwritten(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "q")
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content="done", status="complete")
    with pytest.raises(ReplyReplacedError):
        store.save_reply(session, reply.id, content="late", status="interrupted")
    assert store.get_messages(session)[-1].content == "done"


def test_an_orphaned_reply_never_touches_another_owners_message(store):
    alice, _ = store.new_session("alice")
    store.start_turn(alice, "alice asks")
    orphan = store.begin_reply(alice)
    store.delete_session("alice", alice.id)
    bob, _ = store.new_session("bob")
    store.start_turn(bob, "bob asks")
    bobs_reply = store.begin_reply(bob)
    # alice's stream keeps saving by its own id, and could not even name bob's row.
    for message_id in (orphan.id, bobs_reply.id):
        with pytest.raises((ReplyReplacedError, SessionNotFoundError)):
            store.save_reply(alice, message_id, content="alice's secret answer")
    assert [m.content for m in store.get_messages(bob)] == ["bob asks", ""]
    assert store.search("bob", "secret") == []


def test_a_title_the_user_typed_keeps_think_tags_and_a_generated_one_drops_them(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "<think> tags: how do I parse them?")
    assert store.get_session("alice", session.id).title == "<think> tags: how do I parse them?"
    renamed = store.rename("alice", session.id, "Parsing <think> tags in Python")
    assert renamed.title == "Parsing <think> tags in Python"
    other, _ = store.new_session("alice")
    store.start_turn(other, "plan a trip")
    titled = store.set_generated_title(other, "<think>the user wants…</think> Kyoto trip")
    assert titled.title == "Kyoto trip"


# --- archiving several chats ------------------------------------------------------------


def started(store, owner: str, text: str):
    session, _ = store.new_session(owner)
    store.start_turn(session, text)
    return session


def test_several_chats_are_archived_and_restored_at_once_and_only_the_owners(store):
    first, second = started(store, "alice", "one"), started(store, "alice", "two")
    kept = started(store, "alice", "three")
    bobs = started(store, "bob", "bob's")
    draft, _ = store.new_session("alice")  # no message: nothing to archive
    chosen = [first.id, second.id, second.id, bobs.id, draft.id, "../x", None, 5]
    assert store.set_sessions_archived("alice", chosen, True) == 2
    archived = {s.id for s in store.list_sessions("alice", archived=True)}
    assert archived == {first.id, second.id}
    assert {s.id for s in store.list_sessions("alice")} == {kept.id, draft.id}
    assert not store.get_session("bob", bobs.id).archived
    assert store.set_sessions_archived("bob", [first.id], False) == 0  # not bob's
    assert store.set_sessions_archived("alice", [first.id, bobs.id, "nope"], False) == 1
    assert {s.id for s in store.list_sessions("alice", archived=True)} == {second.id}
    assert store.set_sessions_archived("alice", [], True) == 0


def test_archiving_several_chats_keeps_their_place_in_the_list(store):
    first, second = started(store, "alice", "one"), started(store, "alice", "two")
    before = {s.id: s.updated_at for s in store.list_sessions("alice")}
    store.set_sessions_archived("alice", [first.id, second.id], True)
    store.set_sessions_archived("alice", [first.id, second.id], False)
    assert {s.id: s.updated_at for s in store.list_sessions("alice")} == before


def test_an_archived_chat_emptied_comes_back_as_the_new_chat_out_of_the_archive(store):
    session, _ = store.new_session("alice")
    first = store.start_turn(session, "soon deleted")
    store.set_pinned("alice", session.id, True)
    store.set_archived("alice", session.id, True)
    store.delete_message(session, first.id)  # the owner has no other unused chat
    again, created = store.new_session("alice")
    assert (again.id, created) == (session.id, False)
    assert not again.archived and not again.pinned
    store.start_turn(again, "a new topic")
    assert [s.title for s in store.list_sessions("alice")] == ["a new topic"]
