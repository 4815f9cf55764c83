"""Writes under contention: new_session from two processes of twenty threads each, one
owner, each process sharing one store as the app does (both backends); on PostgreSQL,
where transactions interleave, a reply and the deletion of the message it answers, a
reply's final save and its deletion, an edit and the deletion of the message edited,
a deadlock reported as a busy database, and a chat emptied or an owner renamed while
another transaction makes the owner's New chat; and one reply at a time per chat,
whichever process writes it."""

import multiprocessing
import threading
import time
import uuid

import psycopg
import pytest

from chat_core.errors import InvalidInputError
from chat_core.store import Session, connect
from chat_core.store.rules import WRITER_SILENT_SECONDS, utc_ago
from tests.databases import run_sql

THREADS = 20


def _hammer(location: str, owner: str, results) -> None:
    barrier = threading.Barrier(THREADS)
    found, errors = [], []
    store = connect(location, busy_timeout=30)

    def call():
        try:
            barrier.wait()
            session, is_new = store.new_session(owner)
            found.append((session.id, is_new))
        except Exception as exc:  # the test asserts there are none
            errors.append(repr(exc))

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    results.put((found, errors))


def test_two_processes_of_twenty_threads_end_with_one_unused_session(db_location):
    connect(db_location).close()  # migrate once so the race is about new_session
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_hammer, args=(db_location, "alice", results)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    found = [item for items, _ in outcomes for item in items]
    errors = [error for _, errors in outcomes for error in errors]
    assert errors == []
    assert len(found) == 2 * THREADS
    assert len({sid for sid, _ in found}) == 1
    assert sum(is_new for _, is_new in found) == 1
    rows = run_sql(db_location, "SELECT id, is_used FROM chat_session")
    assert [(sid, bool(used)) for sid, used in rows] == [(found[0][0], False)]


def test_concurrent_first_open_of_a_new_database_migrates_once(db_location):
    barrier = threading.Barrier(8)
    errors = []

    def open_it():
        try:
            barrier.wait()
            connect(db_location, busy_timeout=30).close()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with connect(db_location) as store:
        session, _ = store.new_session("alice")
        store.start_turn(session, "works after the race")
        assert [h.session_id for h in store.search("alice", "race")] == [session.id]


def _orphans(location: str) -> list:
    return run_sql(
        location,
        "SELECT m.id FROM chat_message m WHERE m.parent_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM chat_message p WHERE p.id = m.parent_id)",
    )


def _wait_for_a_lock_wait(location: str, waiting: int = 1) -> None:
    """Until `waiting` connections wait for a lock another holds."""
    deadline = time.monotonic() + 30
    count = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    while run_sql(location, count)[0][0] < waiting:
        assert time.monotonic() < deadline, "not enough wait for a lock"
        time.sleep(0.02)


@pytest.fixture
def asked(postgres_url):
    """A store on PostgreSQL, and a chat of its with one question: (store, chat,
    question)."""
    store = connect(postgres_url)
    session, _ = store.new_session("alice")
    yield store, session, store.start_turn(session, "a question")
    store.close()


class _Meanwhile:
    """A store call on a thread of its own, started while the test holds a transaction
    open on another connection; `outcome` is what it returned or raised."""

    def __init__(self, call, head_start: float) -> None:
        self.outcome: list = []
        self.thread = threading.Thread(target=self._run, args=(call,))
        self.thread.start()
        self.thread.join(head_start)  # long enough to get in first if it can

    def _run(self, call) -> None:
        try:
            self.outcome.append(call())
        except Exception as exc:  # the test looks at which
            self.outcome.append(exc)

    def result(self):
        self.thread.join(30)
        assert len(self.outcome) == 1
        return self.outcome[0]


def test_a_reply_never_lands_under_a_message_another_transaction_deletes(postgres_url, asked):
    """PostgreSQL reads committed rows per statement: a reply added while another
    connection deletes the question it answers must wait for that delete, then find
    the question gone, instead of being written under it."""
    store, session, question = asked
    with psycopg.connect(postgres_url) as other:
        # Another process deletes the question, as deleting a message does, and has not
        # committed yet when the reply is added.
        other.execute("DELETE FROM chat_message WHERE id = %s", [question.id])
        other.execute("UPDATE chat_session SET updated_at = now() WHERE id = %s", [session.id])
        reply = _Meanwhile(lambda: store.begin_reply(session, reply_to=question.id), 1.0)
        other.commit()
    refused = reply.result()  # its question is gone
    assert _orphans(postgres_url) == []
    assert isinstance(refused, Exception)


def test_deleting_a_message_takes_the_reply_another_transaction_is_adding(postgres_url, asked):
    """The other way round: a message deleted while another connection adds a reply
    under it waits for that reply, and deletes it with the message."""
    store, session, question = asked
    with psycopg.connect(postgres_url) as other:
        # Another process adds a reply under the question, as the app does, and has not
        # committed yet when the question is deleted.
        other.execute(
            "INSERT INTO chat_message (session_id, role, content, status, created_at, "
            "parent_id) VALUES (%s, 'assistant', '', 'streaming', now(), %s)",
            [session.id, question.id],
        )
        other.execute("UPDATE chat_session SET updated_at = now() WHERE id = %s", [session.id])
        deletion = _Meanwhile(lambda: store.delete_message(session, question.id), 1.0)
        other.commit()
    assert isinstance(deletion.result(), Session)
    assert _orphans(postgres_url) == []
    assert run_sql(postgres_url, "SELECT count(*) FROM chat_message") == [(0,)]


def test_a_final_save_and_a_deletion_of_its_reply_take_turns(postgres_url, asked):
    """A reply's final save and the deletion of that reply touch the same chat and
    message: both take the chat first, so one waits for the other (taken the other way
    round, PostgreSQL found a deadlock and failed one of them)."""
    store, session, _ = asked
    reply = store.begin_reply(session, "model")
    with psycopg.connect(postgres_url) as other:
        # Another process deletes the reply as deleting a message does: the chat's row
        # first, then the message, committed a moment later.
        other.execute("SELECT 1 FROM chat_session WHERE id = %s FOR NO KEY UPDATE", [session.id])
        save = _Meanwhile(
            lambda: store.save_reply(session, reply.id, content="x", status="complete"), 0.5
        )
        other.execute("DELETE FROM chat_message WHERE id = %s", [reply.id])
        other.commit()
    assert type(save.result()).__name__ == "ReplyReplacedError"  # the reply is gone
    assert run_sql(postgres_url, "SELECT count(*) FROM chat_message") == [(1,)]


def test_a_deadlock_is_reported_as_a_busy_database(postgres_url, asked):
    """A deadlock PostgreSQL breaks by failing the store's transaction is "busy, try
    again", not an unreachable server."""
    store, session, question = asked
    for _ in range(5):  # the server picks which transaction fails: the store's, here
        with psycopg.connect(postgres_url) as other:
            # Another writer that takes the message before the chat (no version of the
            # app does): a deletion of the message, which takes the chat first,
            # deadlocks with it.
            other.execute("UPDATE chat_message SET content = 'x' WHERE id = %s", [question.id])
            deletion = _Meanwhile(lambda q=question: store.delete_message(session, q.id), 0)
            _wait_for_a_lock_wait(postgres_url)  # the deletion holds the chat, waits
            try:
                other.execute("UPDATE chat_session SET title = 'x' WHERE id = %s", [session.id])
                other.commit()
            except psycopg.errors.DeadlockDetected:
                other.rollback()  # the other transaction was picked (on a slow machine)
        error = deletion.result()
        if isinstance(error, Exception):
            break
        question = store.start_turn(session, "asked again")
    assert type(error).__name__ == "DatabaseLockedError" and error.code == "database_busy"


def test_an_edit_of_a_message_another_transaction_deletes_is_refused(postgres_url, asked):
    """An edit reads the message it makes a version of, then writes the version with
    that message's images: a deletion in between refuses the edit, rather than storing
    a version without its images."""
    store, session, question = asked
    with psycopg.connect(postgres_url) as other:
        # Another tab deletes the message as the app does: the chat first, then the row.
        other.execute("SELECT 1 FROM chat_session WHERE id = %s FOR NO KEY UPDATE", [session.id])
        other.execute("DELETE FROM chat_message WHERE id = %s", [question.id])
        edit = _Meanwhile(lambda: store.edit_message(session, question.id, "edited"), 0)
        _wait_for_a_lock_wait(postgres_url)  # the edit has read the message, and waits
        other.commit()
    assert type(edit.result()).__name__ == "MessageNotFoundError"
    assert run_sql(postgres_url, "SELECT count(*) FROM chat_message") == [(0,)]


def test_a_continue_and_a_preference_change_take_turns(postgres_url, asked):
    """Both write a chat and its messages: each takes the chat first, so a Continue
    queued for the chat before a new default model does not deadlock with it; the
    default then waits for the Continue's reply, which the chat follows it in."""
    store, session, _ = asked
    cut = store.begin_reply(session)
    store.save_reply(
        session, cut.id, content="cut", status="complete", finish_reason="length", response_id="r1"
    )
    store.set_cache_state(session, response_id="r1")
    with psycopg.connect(postgres_url) as other:
        other.execute("SELECT 1 FROM chat_session WHERE id = %s FOR NO KEY UPDATE", [session.id])
        reopened = _Meanwhile(lambda: store.reopen_reply(session, cut.id), 0)
        _wait_for_a_lock_wait(postgres_url)
        changed = _Meanwhile(lambda: store.set_preferences("alice", {"model": "ep-other"}), 0)
        _wait_for_a_lock_wait(postgres_url, waiting=2)
        other.commit()
    assert reopened.result().status == "streaming"
    refused = changed.result()
    assert isinstance(refused, InvalidInputError), refused
    assert refused.code == "preferences_while_streaming"
    assert store.preferences("alice") == {}


def test_a_chat_takes_one_reply_at_a_time_whichever_process_writes_it(db_location):
    """Another app process (a store of its own) adds nothing to a chat while a reply of
    it is being written, on any branch; a reply whose writer went silent frees it."""
    with connect(db_location) as writer, connect(db_location) as other:
        session, _ = writer.new_session("alice")
        first = writer.start_turn(session, "first question")
        cut = writer.begin_reply(session)
        writer.save_reply(
            session, cut.id, content="cut answer", status="complete", finish_reason="length"
        )
        writer.edit_message(session, first.id, "second version")
        live = writer.begin_reply(session)  # streaming on the second version
        elsewhere, _ = writer.new_session("alice")
        attempts = {
            "a message after the first version's answer": lambda: other.start_turn(
                session, "hello", after=cut.id
            ),
            "a message on the live branch": lambda: other.start_turn(session, "hello"),
            "a new answer to the first version": lambda: other.begin_reply(
                session, reply_to=first.id
            ),
            "a Continue of the cut answer": lambda: other.reopen_reply(session, cut.id),
            "another version of the question": lambda: other.edit_message(
                session, first.id, "third version"
            ),
        }
        stored = run_sql(db_location, "SELECT id, status FROM chat_message ORDER BY id")
        for name, attempt in attempts.items():
            with pytest.raises(InvalidInputError) as refused:
                attempt()
            assert refused.value.code == "reply_in_progress", name
        assert run_sql(db_location, "SELECT id, status FROM chat_message ORDER BY id") == stored
        other.start_turn(elsewhere, "another chat is free")

        silent = utc_ago(WRITER_SILENT_SECONDS + 1)
        run_sql(
            db_location, "UPDATE chat_message SET heartbeat_at = ? WHERE id = ?", (silent, live.id)
        )
        resumed = other.start_turn(session, "after the writer went silent", after=cut.id)
        assert resumed.parent_id == cut.id


def _insert_unused_chat(conn: psycopg.Connection, owner: str) -> None:
    """What another process's New chat writes (`new_session`), left uncommitted."""
    conn.execute(
        "INSERT INTO chat_session (id, owner, is_used, created_at, updated_at, pinned) "
        "VALUES (%s, %s, FALSE, now(), now(), FALSE) "
        "ON CONFLICT (owner) WHERE NOT is_used DO NOTHING",
        [uuid.uuid4().hex, owner],
    )


def _unused_chats(location: str, owner: str) -> list:
    return run_sql(
        location, "SELECT id FROM chat_session WHERE owner = ? AND NOT is_used", (owner,)
    )


def test_emptying_a_chat_while_another_transaction_makes_a_new_one_keeps_it_used(
    postgres_url, asked
):
    """Deleting a chat's last message makes it the owner's unused chat unless the owner
    has one. A New chat that another process is committing is not visible to that
    check: the chat then stays used, rather than the deletion failing on the
    one-unused-chat index."""
    store, session, question = asked
    with psycopg.connect(postgres_url) as other:
        _insert_unused_chat(other, "alice")
        deletion = _Meanwhile(lambda: store.delete_message(session, question.id), 0)
        _wait_for_a_lock_wait(postgres_url)  # on the other's unused chat in the index
        other.commit()
    emptied = deletion.result()
    assert isinstance(emptied, Session), emptied
    assert emptied.is_used and store.get_messages(emptied) == []
    assert len(_unused_chats(postgres_url, "alice")) == 1


def test_reassigning_an_owner_while_the_new_one_makes_a_new_chat_drops_the_old_unused(
    postgres_url,
):
    """A renamed owner's chats move to the new key, whose New chat another process is
    committing: the old key's unused chat is dropped, as when the new key already had
    one, instead of the move failing on the one-unused-chat index."""
    with connect(postgres_url) as store:
        used, _ = store.new_session("old")
        store.start_turn(used, "kept")
        store.new_session("old")  # old's unused chat
        with psycopg.connect(postgres_url) as other:
            _insert_unused_chat(other, "new")
            moving = _Meanwhile(lambda: store.reassign_owner("old", "new"), 0)
            _wait_for_a_lock_wait(postgres_url)
            other.commit()
        assert moving.result() == 1
        chats = {s.id: s.is_used for s in store.list_sessions("new")}
    assert len(chats) == 2 and chats[used.id] is True
    assert len(_unused_chats(postgres_url, "new")) == 1
    assert run_sql(postgres_url, "SELECT count(*) FROM chat_session WHERE owner = 'old'") == [(0,)]
