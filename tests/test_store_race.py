"""new_session under contention on both backends: two processes of twenty threads each,
one owner, each process sharing one store as the app does."""

import multiprocessing
import threading

from chat_core.store import connect
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
