"""How long PostgreSQL failures take to reach the user, and recovery to happen.

    python bench/bench_postgres_faults.py [--runs 5]

Starts a throwaway PostgreSQL server (tests/postgres_server.py) and times, through the
store as the app opens it: connecting when nothing listens, connecting with a wrong
password, the first call after a server restart (with pooled connections that the
restart killed), and a write while the server is down, with a 1 s `CHAT_BUSY_TIMEOUT`.
Prints the median and the worst of `--runs` runs with each target; the tests check
what happens, this checks how fast.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import time

from chat_core.errors import DatabaseError
from chat_core.store import connect
from tests.postgres_server import PostgresServer, free_port

BUSY_TIMEOUT = 1.0
# (case, target in seconds): a refusal is at once; a restart costs one fresh connection,
# never one of the pool's reconnection backoffs (1 s, then 2 s...); a write while the
# server is down gives up within the busy timeout, plus a fresh connection's attempt.
TARGETS = {
    "nothing listening": 2.0,
    "wrong password": 2.0,
    "first call after a restart": 0.5,
    "a write while the server is down": BUSY_TIMEOUT + 1.0,
}


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def refused(url: str) -> None:
    with contextlib.suppress(DatabaseError):
        connect(url).close()
        raise AssertionError(f"{url} was accepted")


def after_restart(server: PostgresServer, url: str) -> float:
    with connect(url, busy_timeout=BUSY_TIMEOUT) as store:
        session, _ = store.new_session("alice")
        with contextlib.ExitStack() as held:  # four idle pooled connections
            for _ in range(4):
                held.enter_context(store.backend.pool.connection())
        server.restart()
        return timed(lambda: store.get_messages(session))


def while_down(server: PostgresServer, url: str) -> float:
    with connect(url, busy_timeout=BUSY_TIMEOUT) as store:
        session, _ = store.new_session("alice")
        server.stop()
        try:
            return timed(lambda: refused_write(store, session))
        finally:
            server.start()


def refused_write(store, session) -> None:
    with contextlib.suppress(DatabaseError):
        store.start_turn(session, "written while the server is down")
        raise AssertionError("a write succeeded with the server down")


def measure(server: PostgresServer, runs: int) -> dict[str, list[float]]:
    url = server.create_database()
    wrong = server.url(password="wrong-" + server.password[::-1])
    nowhere = f"postgresql://chat:secret@127.0.0.1:{free_port()}/chat"
    seconds: dict[str, list[float]] = {case: [] for case in TARGETS}
    for _ in range(runs):
        seconds["nothing listening"].append(timed(lambda: refused(nowhere)))
        seconds["wrong password"].append(timed(lambda: refused(wrong)))
        seconds["first call after a restart"].append(after_restart(server, url))
        seconds["a write while the server is down"].append(while_down(server, url))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("psycopg").setLevel(logging.CRITICAL)  # the refusals timed here
    with PostgresServer() as server:
        seconds = measure(server, args.runs)
    print(f"{'case':36} {'median':>8} {'worst':>8} {'target':>8}  met?")
    for case, values in seconds.items():
        median, worst, target = statistics.median(values), max(values), TARGETS[case]
        met = "yes" if worst <= target else "NO"
        print(f"{case:36} {median:8.3f} {worst:8.3f} {target:8.1f}  {met}")


if __name__ == "__main__":
    main()
