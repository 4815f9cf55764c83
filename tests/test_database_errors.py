"""A SQLite file that cannot be used gives a clear ChatError, and existing data is kept.
(PostgreSQL's failures are in test_postgres_faults.py.)"""

import sqlite3
import subprocess
import sys
import time

import pytest

from chat_core.errors import (
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    NotADatabaseError,
)
from chat_core.store import connect
from locales import describe


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(NotADatabaseError) as info:
        connect(path)
    assert "not a valid chat database" in describe("en", info.value)
    assert path.read_text().startswith("these are my notes")


def test_a_path_whose_folder_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatabaseUnavailableError):
        connect(blocker / "sub" / "chat.db")


def test_a_path_that_is_a_folder(tmp_path):
    with pytest.raises(DatabaseUnavailableError, match="folder"):
        connect(tmp_path)


def test_default_style_path_creates_its_folder(tmp_path):
    path = tmp_path / "data" / "nested" / "chat.db"
    connect(path).close()
    assert path.exists()


def test_a_read_only_database(tmp_path, monkeypatch):
    path = tmp_path / "chat.db"
    with connect(path) as store:
        session, _ = store.new_session("alice")
        store.start_turn(session, "keep me")
    real_connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3,
        "connect",
        lambda p, **kw: real_connect(f"file:{p}?mode=ro", uri=True, **kw),
    )
    with pytest.raises(DatabaseReadOnlyError) as info, connect(path) as store:
        store.new_session("bob")
    assert "read-only" in describe("en", info.value)
    monkeypatch.undo()
    with connect(path) as store:
        (only,) = store.list_sessions("alice")
        assert store.get_messages(only)[0].content == "keep me"


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_a_database_locked_longer_than_the_busy_timeout(tmp_path):
    path = tmp_path / "chat.db"
    with connect(path) as store:
        session, _ = store.new_session("alice")
        store.start_turn(session, "already saved")
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path), "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with connect(path, busy_timeout=0.3) as store, pytest.raises(DatabaseLockedError) as info:
            store.start_turn(session, "written while locked")
        assert time.monotonic() - started < 2.5
        assert "try again" in describe("en", info.value)
    finally:
        locker.wait(10)
        locker.stdout.close()
    with connect(path) as store:
        assert [m.content for m in store.get_messages(session)] == ["already saved"]
        store.start_turn(session, "after the lock")
        assert store.count_messages(session) == 2
