"""Which SQLite files the app takes as its database, and what it leaves behind when it
cannot use one: another program's file is never changed, a first-version file that
cannot be upgraded yet keeps no backup copies, and a full disk is named as such."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from chat_core.errors import (
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    NotADatabaseError,
)
from chat_core.store import connect
from locales import describe
from tests.test_database_errors import chat, contents, fill, read_only, small_disk  # noqa: F401
from tests.test_first_version import dump, write_first_version_database


def write_notes(path: Path) -> None:
    """Another program's SQLite file: one table, the default (delete) journal mode."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('my precious notes')")


def write_other_migrated_app(path: Path) -> None:
    """A file of another app that also tracks its migrations with sqlite-utils."""
    write_notes(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE _sqlite_migrations (migration_set TEXT, name TEXT, applied_at TEXT)"
        )
        conn.execute("INSERT INTO _sqlite_migrations VALUES ('notes_app', 'm001_notes', '')")


@pytest.mark.parametrize("write", [write_notes, write_other_migrated_app])
def test_another_programs_sqlite_file_is_refused_untouched(tmp_path, write):
    path = tmp_path / "notes.sqlite"
    write(path)
    before = path.read_bytes()
    with pytest.raises(NotADatabaseError) as info:
        connect(path)
    assert "left untouched" in describe("en", info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


@pytest.mark.parametrize("empty_file", ["no bytes", "no tables"])
def test_an_empty_sqlite_file_becomes_the_chat_database(tmp_path, empty_file):
    path = tmp_path / "chat.db"
    if empty_file == "no bytes":
        path.touch()
    else:
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA user_version = 7")  # a header page, no schema
    with connect(path) as store:
        chat(store, "alice", "kept")
    assert contents(path, "alice") == ["kept"]


def test_a_locked_first_version_database_keeps_no_backup_per_try(tmp_path):
    path = tmp_path / "chat.db"
    write_first_version_database(path)
    original = dump(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as other_writer:
        other_writer.execute("BEGIN IMMEDIATE")  # the old app, still running
        for _ in range(3):
            with pytest.raises(DatabaseLockedError):
                connect(path, busy_timeout=0.1)
        assert not list(tmp_path.glob("*.bak"))
        other_writer.execute("ROLLBACK")
    assert dump(path) == original
    assert len(contents(path, "local")) == 3  # upgraded once the lock is gone
    (backup,) = tmp_path.glob("chat.db.before-upgrade-*.bak")
    assert dump(backup) == original


def test_a_read_only_first_version_database_keeps_no_backup_per_try(tmp_path):
    path = tmp_path / "chat.db"
    write_first_version_database(path)
    original = dump(path)
    with read_only(path):
        for _ in range(2):
            with pytest.raises(DatabaseReadOnlyError):
                connect(path)
    assert not list(tmp_path.glob("*.bak"))
    assert dump(path) == original


def test_opening_a_database_on_a_full_disk(small_disk):  # noqa: F811 (the fixture)
    path = small_disk / "chat.db"
    with connect(path) as store:
        chat(store, "alice", "saved before")
    filler = fill(small_disk)
    with pytest.raises(DatabaseUnavailableError) as info:
        connect(path)  # SQLite cannot create the -shm file
    assert info.value.code == "database_disk_full"
    assert "full" in describe("en", info.value)
    filler.unlink()
    assert contents(path, "alice") == ["saved before"]


def test_a_first_version_database_on_a_full_disk_keeps_no_partial_backup(small_disk):  # noqa: F811
    path = small_disk / "chat.db"
    write_first_version_database(path)
    original = dump(path)
    filler = fill(small_disk)
    with pytest.raises(DatabaseUnavailableError) as info:
        connect(path)
    assert info.value.code == "database_disk_full"
    assert not list(small_disk.glob("*.bak"))
    filler.unlink()
    assert dump(path) == original
