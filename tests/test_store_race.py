"""new_session under contention: two processes of twenty threads each, one owner."""

import multiprocessing
import threading

from chat_core.store import Store

THREADS = 20


def _hammer(db_path: str, owner: str, results) -> None:
    barrier = threading.Barrier(THREADS)
    found, errors = [], []

    def call():
        try:
            barrier.wait()
            with Store(db_path, busy_timeout=30) as store:
                session, is_new = store.new_session(owner)
                found.append((session.id, is_new))
        except Exception as exc:  # the test asserts there are none
            errors.append(repr(exc))

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((found, errors))


def test_two_processes_of_twenty_threads_end_with_one_unused_session(db_path):
    Store(db_path).close()  # migrate once so the race is about new_session
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_hammer, args=(str(db_path), "alice", results)) for _ in range(2)
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
    with Store(db_path) as store:
        rows = store.db.execute("SELECT id, is_used FROM chat_session").fetchall()
    assert rows == [(found[0][0], 0)]


def test_concurrent_first_open_of_a_new_file_migrates_once(tmp_path):
    path = tmp_path / "fresh.db"
    barrier = threading.Barrier(8)
    errors = []

    def open_it():
        try:
            barrier.wait()
            Store(path, busy_timeout=30).close()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
