"""`Store.reassign_owner`: moving a renamed owner's chats, on SQLite and PostgreSQL alike
(the `store` fixture runs each test on both)."""

from __future__ import annotations

import contextlib

import pytest

from chat_core.errors import ShareLinkError
from tests.databases import run_sql

OLD, NEW = "alice@example.com", "oidc:https://accounts.example.com#42"


def chat(store, owner: str, text: str):
    """A used chat of `owner` holding `text`, with a reply."""
    session, _ = store.new_session(owner)
    store.start_turn(session, text)
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content="Echo: " + text, status="complete")
    return session


def test_every_chat_moves_with_its_messages_and_search(store):
    first, second = chat(store, OLD, "first question"), chat(store, OLD, "second question")
    store.set_pinned(OLD, first.id, True)
    draft, _ = store.new_session(OLD)
    assert store.reassign_owner(OLD, NEW) == 3
    assert store.list_sessions(OLD) == []
    moved = store.list_sessions(NEW)
    assert [s.id for s in moved] == [first.id, draft.id, second.id]  # pinned first, kept
    assert moved[0].pinned and moved[0].title == "first question"
    assert [m.content for m in store.get_messages(moved[0])] == [
        "first question",
        "Echo: first question",
    ]
    assert {hit.session_id for hit in store.search(NEW, "second question")} == {second.id}
    assert store.search(OLD, "question") == []
    assert store.new_session(NEW) == (store.get_session(NEW, draft.id), False)


def test_the_old_unused_chat_is_dropped_when_the_new_owner_has_one(store, db_location):
    used = chat(store, OLD, "kept")
    store.new_session(OLD)
    theirs, _ = store.new_session(NEW)
    assert store.reassign_owner(OLD, NEW) == 1
    assert {s.id: s.is_used for s in store.list_sessions(NEW)} == {used.id: True, theirs.id: False}
    rows = run_sql(db_location, "SELECT owner, count(*) FROM chat_session GROUP BY owner")
    assert rows == [(NEW, 2)]


def test_share_links_move_with_their_chats(store, db_location):
    shared = chat(store, OLD, "shared")
    link = store.create_share(OLD, shared.id, "anyone")
    draft = chat(store, OLD, "soon deleted")
    store.create_share(OLD, draft.id, "anyone")  # goes with the unused chat dropped
    store.delete_message(draft, store.get_messages(draft)[0].id)  # emptied: unused again
    store.new_session(NEW)
    store.reassign_owner(OLD, NEW)
    assert [found.token for found in store.share_links(NEW)] == [link.token]
    assert run_sql(db_location, "SELECT owner, count(*) FROM share_link GROUP BY owner") == [
        (NEW, 1)
    ]
    store.delete_session(NEW, shared.id)  # its snapshot goes with it
    with pytest.raises(ShareLinkError):
        store.open_share(link.token, None)


def test_links_an_older_version_left_behind_move_too(store, db_location):
    shared = chat(store, NEW, "moved before links followed")
    link = store.create_share(NEW, shared.id, "owner")
    run_sql(db_location, "UPDATE share_link SET owner = ?", (OLD,))
    assert store.reassign_owner(OLD, NEW) == 0
    assert [found.token for found in store.share_links(NEW)] == [link.token]


def test_other_owners_are_untouched(store):
    bystander = chat(store, "bob@example.com", "bob's chat")
    local = chat(store, "local", "the single-user chat")
    chat(store, OLD, "alice's chat")
    store.reassign_owner(OLD, NEW)
    assert [s.id for s in store.list_sessions("bob@example.com")] == [bystander.id]
    assert [s.id for s in store.list_sessions("local")] == [local.id]


def test_moving_again_or_from_nobody_moves_nothing(store):
    chat(store, OLD, "once")
    assert store.reassign_owner(OLD, NEW) == 1
    assert store.reassign_owner(OLD, NEW) == 0
    assert store.reassign_owner("nobody", NEW) == 0
    assert len(store.list_sessions(NEW)) == 1


def test_an_owner_is_matched_exactly(store):
    chat(store, OLD, "exact")
    assert store.reassign_owner(OLD.upper(), NEW) == 0
    assert store.reassign_owner("alice@example.co%", NEW) == 0  # no LIKE patterns
    assert store.reassign_owner(OLD[:5], NEW) == 0
    assert len(store.list_sessions(OLD)) == 1


@pytest.mark.parametrize(
    ("old", "new"),
    [("local", NEW), (OLD, "local"), (OLD, OLD), ("", NEW), (OLD, ""), (None, NEW)],
)
def test_local_is_never_moved_and_odd_owners_are_refused(store, old, new):
    chat(store, "local", "mine alone")
    chat(store, OLD, "alice's")
    with pytest.raises(ValueError):
        store.reassign_owner(old, new)
    assert len(store.list_sessions("local")) == 1
    assert len(store.list_sessions(OLD)) == 1


class Broken(RuntimeError):
    pass


class FailingMove:
    """A transaction whose owner UPDATE fails, after the DELETE of the unused chat ran."""

    def __init__(self, tx) -> None:
        self.tx = tx

    def query(self, sql, params=()):
        return self.tx.query(sql, params)

    def execute(self, sql, params=()):
        if sql.startswith("UPDATE chat_session SET owner"):
            raise Broken("injected")
        return self.tx.execute(sql, params)


def test_a_failed_move_is_rolled_back_whole(store, monkeypatch):
    chat(store, OLD, "stays")
    store.new_session(OLD)
    store.new_session(NEW)
    real_writing = store.backend.writing

    @contextlib.contextmanager
    def writing():
        with real_writing() as tx:
            yield FailingMove(tx)

    monkeypatch.setattr(store.backend, "writing", writing)
    with pytest.raises(Broken):
        store.reassign_owner(OLD, NEW)
    monkeypatch.undo()
    assert sorted(s.is_used for s in store.list_sessions(OLD)) == [False, True]
    assert [s.is_used for s in store.list_sessions(NEW)] == [False]
