"""Conversations as trees in the store, on both backends: edit, regenerate, switch and
delete a branch; versions; paging along a branch; existing chats migrated into one
branch each; owner scoping of every tree call."""

import pytest

from chat_core.errors import MessageNotFoundError, SessionNotFoundError
from chat_core.store import connect
from tests.databases import database_before, run_sql


def answer(store, session, text, *, reply_to=None):
    reply = store.begin_reply(session, reply_to=reply_to)
    return store.save_reply(session, reply.id, content=text, status="complete")


def contents(store, session):
    return [m.content for m in store.get_messages(session)]


@pytest.fixture
def chat(store):
    """q1 → a1 → q2 → a2, all on one branch."""
    session, _ = store.new_session("alice")
    messages = {}
    for n in (1, 2):
        messages[f"q{n}"] = store.start_turn(session, f"question {n}")
        messages[f"a{n}"] = answer(store, session, f"answer {n}")
    return session, messages


def test_new_messages_each_name_the_one_before_as_parent(store, chat):
    session, m = chat
    stored = store.get_messages(session)
    assert [x.parent_id for x in stored] == [None, m["q1"].id, m["a1"].id, m["q2"].id]
    assert store.get_session("alice", session.id).current_leaf_id == m["a2"].id


def test_editing_a_message_starts_a_branch_and_keeps_the_old_one(store, chat):
    session, m = chat
    edited = store.edit_message(session, m["q1"].id, "question 1, better")
    assert edited.parent_id is None  # beside the message it edits
    assert contents(store, session) == ["question 1, better"]
    answer(store, session, "better answer")
    assert contents(store, session) == ["question 1, better", "better answer"]
    store.switch_branch(session, m["q1"].id)
    assert contents(store, session) == ["question 1", "answer 1", "question 2", "answer 2"]


def test_editing_a_later_message_keeps_everything_before_it(store, chat):
    session, m = chat
    store.edit_message(session, m["q2"].id, "question 2, again")
    assert contents(store, session) == ["question 1", "answer 1", "question 2, again"]


def test_regenerating_adds_a_version_beside_the_old_answer(store, chat):
    session, m = chat
    again = answer(store, session, "answer 2, take two", reply_to=m["q2"].id)
    assert again.parent_id == m["q2"].id
    assert contents(store, session)[-1] == "answer 2, take two"
    versions = store.versions(session, store.get_messages(session))
    assert versions == {again.id: [m["a2"].id, again.id]}


def test_switching_to_a_version_follows_its_newest_branch(store, chat):
    session, m = chat
    store.edit_message(session, m["q2"].id, "other question")
    answer(store, session, "other answer")
    store.switch_branch(session, m["a1"].id)  # newest branch below a1: the edit's
    assert contents(store, session)[-2:] == ["other question", "other answer"]
    store.switch_branch(session, m["q2"].id)
    assert contents(store, session)[-2:] == ["question 2", "answer 2"]
    # A new message continues the branch shown, not the newest one.
    store.start_turn(session, "question 3")
    assert contents(store, session)[-3:] == ["question 2", "answer 2", "question 3"]


def test_versions_of_first_messages_are_found_too(store, chat):
    session, m = chat
    edited = store.edit_message(session, m["q1"].id, "first, edited")
    assert store.versions(session, store.get_messages(session)) == {
        edited.id: [m["q1"].id, edited.id]
    }


def test_a_message_sent_after_the_last_one_a_page_showed_continues_that_branch(store, chat):
    session, m = chat
    store.edit_message(session, m["q2"].id, "other question")  # another tab's edit
    answer(store, session, "other answer")
    sent = store.start_turn(session, "question 3", after=m["a2"].id)
    assert sent.parent_id == m["a2"].id
    assert contents(store, session) == [
        "question 1",
        "answer 1",
        "question 2",
        "answer 2",
        "question 3",
    ]
    assert store.get_session("alice", session.id).current_leaf_id == sent.id


def test_a_message_sent_after_one_deleted_or_of_another_chat_is_refused(store, chat):
    session, m = chat
    other, _ = store.new_session("alice")
    elsewhere = store.start_turn(other, "elsewhere")
    store.delete_message(session, m["q2"].id)
    for gone in (m["a2"].id, elsewhere.id):
        with pytest.raises(MessageNotFoundError):
            store.start_turn(session, "question 3", after=gone)
    assert contents(store, session) == ["question 1", "answer 1"]
    bob = type(session)(**{**session.__dict__, "owner": "bob"})
    with pytest.raises(SessionNotFoundError):  # another owner's chat, whatever `after`
        store.start_turn(bob, "question 3", after=m["a1"].id)
    assert contents(store, session) == ["question 1", "answer 1"]


def test_deleting_a_message_deletes_the_branch_below_it(store, chat):
    session, m = chat
    after = store.delete_message(session, m["a1"].id)
    assert contents(store, session) == ["question 1"]
    assert after.current_leaf_id == m["q1"].id
    assert store.get_message(session, m["q2"].id) is None
    assert store.search("alice", "answer") == []
    # The chat goes on from what is left.
    store.start_turn(session, "question 2 again")
    assert contents(store, session) == ["question 1", "question 2 again"]


def test_deleting_the_shown_version_shows_the_newest_one_left(store, chat):
    session, m = chat
    second = answer(store, session, "answer 2, take two", reply_to=m["q2"].id)
    third = answer(store, session, "answer 2, take three", reply_to=m["q2"].id)
    store.switch_branch(session, second.id)
    store.delete_message(session, second.id)
    assert contents(store, session)[-1] == "answer 2, take three"
    assert store.versions(session, store.get_messages(session)) == {
        third.id: [m["a2"].id, third.id]
    }


def test_deleting_another_branch_leaves_the_shown_one_and_its_cache(store, chat):
    session, m = chat
    store.edit_message(session, m["q2"].id, "other question")
    store.switch_branch(session, m["q2"].id)
    store.set_cache_state(session, context_id="ctx-1", context_expires_at=9e9)
    others = [v for v in store.versions(session, store.get_messages(session))[m["q2"].id]]
    after = store.delete_message(session, others[-1])
    assert contents(store, session) == ["question 1", "answer 1", "question 2", "answer 2"]
    assert after.ark_context_id == "ctx-1"


def test_deleting_the_only_first_message_empties_the_chat(store, chat):
    session, m = chat
    emptied = store.delete_message(session, m["q1"].id)
    assert store.get_messages(session) == []
    assert store.count_messages(session) == 0
    # An empty chat is the owner's unused one again: New chat returns it, making none.
    assert (emptied.is_used, emptied.title) == (False, None)
    assert store.new_session("alice") == (emptied, False)


def test_an_emptied_chat_stays_started_when_the_owner_has_an_unused_one(store, chat):
    session, m = chat
    unused, _ = store.new_session("alice")
    emptied = store.delete_message(session, m["q1"].id)
    assert emptied.is_used and emptied.title == "question 1"
    assert store.new_session("alice") == (unused, False)


def test_an_emptied_chat_keeps_a_title_its_user_gave(store, chat):
    session, m = chat
    store.rename("alice", session.id, "My notes")
    emptied = store.delete_message(session, m["q1"].id)
    assert (emptied.is_used, emptied.title) == (False, "My notes")


def test_paging_back_along_a_branch(store, chat):
    session, m = chat
    store.edit_message(session, m["q2"].id, "branch b")
    answer(store, session, "answer b")
    latest = store.get_messages(session, limit=2)
    assert [x.content for x in latest] == ["branch b", "answer b"]
    earlier = store.get_messages(session, limit=5, before=latest[0].id)
    assert [x.content for x in earlier] == ["question 1", "answer 1"]
    assert store.count_messages(session) == 4
    assert store.messages_after(session, m["q1"].id) == 3
    assert store.messages_after(session, m["q2"].id) is None  # on the other branch


def test_a_streaming_reply_in_a_deleted_branch_stops_saving(store, chat):
    from chat_core.errors import ReplyReplacedError

    session, m = chat
    store.start_turn(session, "question 3")
    live = store.begin_reply(session)
    store.delete_message(session, m["q2"].id)
    with pytest.raises(ReplyReplacedError):
        store.save_reply(session, live.id, content="late", status="complete")


def test_tree_calls_of_another_owner_or_on_unknown_messages(store, chat):
    session, m = chat
    bob = type(session)(**{**session.__dict__, "owner": "bob"})
    for call in (
        lambda: store.edit_message(bob, m["q1"].id, "mine"),
        lambda: store.switch_branch(bob, m["q1"].id),
        lambda: store.delete_message(bob, m["q1"].id),
        lambda: store.begin_reply(bob, reply_to=m["q1"].id),
    ):
        with pytest.raises((SessionNotFoundError, MessageNotFoundError)):
            call()
    assert store.versions(bob, store.get_messages(session)) == {}
    assert store.messages_after(bob, m["q1"].id) is None
    other, _ = store.new_session("alice")
    store.start_turn(other, "elsewhere")
    for call in (
        lambda: store.edit_message(other, m["q1"].id, "moved"),
        lambda: store.switch_branch(other, m["q1"].id),
        lambda: store.delete_message(other, m["q1"].id),
        lambda: store.begin_reply(other, reply_to=m["q1"].id),
        lambda: store.switch_branch(session, 10**12),
    ):
        with pytest.raises(MessageNotFoundError):
            call()
    assert contents(store, session) == ["question 1", "answer 1", "question 2", "answer 2"]
    assert contents(store, other) == ["elsewhere"]


def test_only_the_users_messages_are_edited(store, chat):
    session, m = chat
    with pytest.raises(ValueError):
        store.edit_message(session, m["a1"].id, "rewrite the answer")


def test_an_edit_is_checked_like_a_new_message(store, chat):
    from chat_core.errors import InvalidInputError

    session, m = chat
    with pytest.raises(InvalidInputError):
        store.edit_message(session, m["q1"].id, "   ")
    assert store.versions(session, store.get_messages(session)) == {}


# --- titles ------------------------------------------------------------------------------


def test_editing_the_first_message_retitles_a_chat_its_user_did_not_name(store, chat):
    session, m = chat
    store.edit_message(session, m["q2"].id, "not the first")
    assert store.get_session("alice", session.id).title == "question 1"
    store.edit_message(session, m["q1"].id, "a better first question")
    assert store.get_session("alice", session.id).title == "a better first question"
    store.rename("alice", session.id, "My own name")
    store.edit_message(session, m["q1"].id, "yet another start")
    assert store.get_session("alice", session.id).title == "My own name"


def test_a_generated_title_never_replaces_a_users_title(store, chat):
    session, _ = chat
    assert store.set_generated_title(session, "Generated").title == "Generated"
    store.rename("alice", session.id, "Mine")
    assert store.set_generated_title(session, "Generated again") is None
    assert store.get_session("alice", session.id).title == "Mine"


# --- organisation ---------------------------------------------------------------------------


def test_archived_chats_leave_the_list_and_come_back(store, chat):
    session, _ = chat
    store.set_archived("alice", session.id, True)
    assert session.id not in [s.id for s in store.list_sessions("alice")]
    assert [s.id for s in store.list_sessions("alice", archived=True)] == [session.id]
    store.set_archived("alice", session.id, False)
    assert session.id in [s.id for s in store.list_sessions("alice")]
    with pytest.raises(SessionNotFoundError):
        store.set_archived("bob", session.id, True)


def test_an_unused_chat_is_not_archived(store):
    from chat_core.errors import InvalidInputError

    draft, _ = store.new_session("alice")
    with pytest.raises(InvalidInputError):
        store.set_archived("alice", draft.id, True)


def test_several_chats_are_deleted_at_once_and_only_the_owners(store, chat):
    session, _ = chat
    second, _ = store.new_session("alice")
    store.start_turn(second, "two")
    bobs, _ = store.new_session("bob")
    store.start_turn(bobs, "bob's")
    gone = store.delete_sessions("alice", [session.id, second.id, bobs.id, "../x", None])
    assert gone == 2
    assert store.list_sessions("alice") == []
    assert store.find_session("bob", bobs.id) is not None


# --- preferences --------------------------------------------------------------------------


def test_preferences_are_kept_per_owner_and_removed_with_none(store):
    store.set_preferences("alice", {"language": "zh", "model": "ep-1"})
    store.set_preferences("alice", {"model": "ep-2", "language": None})
    store.set_preferences("bob", {"language": "en"})
    assert store.preferences("alice") == {"model": "ep-2"}
    assert store.preferences("bob") == {"language": "en"}
    assert store.preferences("carol") == {}


def test_bad_preferences_write_nothing(store):
    from chat_core.errors import InvalidInputError

    store.set_preferences("alice", {"model": "ep-1"})
    with pytest.raises(InvalidInputError):
        store.set_preferences("alice", {"model": "ep-2", "system_prompt": "x" * 20_001})
    with pytest.raises(ValueError):
        store.set_preferences("alice", {"model": "ep-2", "Bad Name": "x"})
    with pytest.raises(InvalidInputError):
        store.set_preferences("alice", {"model": 3})
    assert store.preferences("alice") == {"model": "ep-1"}
    store.set_preferences("alice", {"system_prompt": "odd \x00 text \ud800"})
    assert store.preferences("alice")["system_prompt"] == "odd  text \ufffd"


def test_preferences_follow_a_renamed_owner_key(store):
    session, _ = store.new_session("old-key")
    store.start_turn(session, "hello")
    store.set_preferences("old-key", {"language": "zh", "model": "ep-old"})
    store.set_preferences("new-key", {"model": "ep-new"})
    store.reassign_owner("old-key", "new-key")
    assert store.preferences("new-key") == {"language": "zh", "model": "ep-new"}
    assert store.preferences("old-key") == {}


# --- existing chats become one branch each ------------------------------------------------


def database_before_the_tree(location: str) -> None:
    """A database as the version before message trees left it, on either backend."""
    database_before(location, "p005_message_tree", "m009_message_tree")


def test_existing_chats_migrate_into_one_branch_each_showing_the_same(db_location):
    database_before_the_tree(db_location)
    when = "2025-01-01T00:00:00+00:00"
    for sid in ("one", "two"):
        run_sql(
            db_location,
            "INSERT INTO chat_session (id, owner, title, is_used, created_at, updated_at) "
            "VALUES (?, 'alice', ?, TRUE, ?, ?)",
            (sid, sid, when, when),
        )
    written = {"one": [], "two": []}
    for n in range(6):  # the two chats' messages interleave by id
        sid = ("one", "two")[n % 2]
        role = ("user", "assistant")[(n // 2) % 2]
        run_sql(
            db_location,
            "INSERT INTO chat_message (session_id, role, content, status, created_at) "
            "VALUES (?, ?, ?, 'complete', ?)",
            (sid, role, f"{sid} {n}", when),
        )
        written[sid].append(f"{sid} {n}")
    with connect(db_location) as store:
        for sid, texts in written.items():
            session = store.get_session("alice", sid)
            messages = store.get_messages(session)
            assert [m.content for m in messages] == texts
            assert [m.parent_id for m in messages] == [None] + [m.id for m in messages[:-1]]
            assert store.versions(session, messages) == {}
            store.start_turn(session, "a new turn")
            assert contents(store, session) == [*texts, "a new turn"]
