"""Opening the SQLite file, transactions, and turning sqlite3 errors into `ChatError`s."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from .errors import (
    DatabaseError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    NotADatabaseError,
)
from .migrations import migrations


def open_database(path: Path | str, busy_timeout: float = 5.0) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the chat database at `path`.

    One connection per script run or per thread: sqlite3 connections must not be shared
    across Streamlit's script threads.
    """
    path = Path(path)
    with translate_errors(path):
        _ensure_folder(path)
        conn = sqlite3.connect(path, timeout=busy_timeout)
        try:
            db = sqlite_utils.Database(conn)
            _configure(db)
            if migrations.pending(db):
                with immediate(db):
                    migrations.apply(db)
        except BaseException:
            conn.close()
            raise
        return db


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`).

    Read-then-write transactions need it: a deferred `BEGIN` that reads first can fail
    with SQLITE_BUSY_SNAPSHOT when another writer commits in between.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    else:
        db.conn.execute("COMMIT")


@contextlib.contextmanager
def translate_errors(path: Path | str | None = None) -> Iterator[None]:
    """Re-raise sqlite3 and file-system errors as `DatabaseError`s with clear messages."""
    try:
        yield
    except DatabaseError:
        raise
    except sqlite3.DatabaseError as exc:
        raise _database_error(exc, path) from exc
    except OSError as exc:
        raise DatabaseUnavailableError(
            f"The chat database at {path} cannot be created or opened: {exc.strerror or exc}.",
            f"无法创建或打开聊天数据库 {path}：{exc.strerror or exc}。",
        ) from exc


def translating_errors(method):
    """Decorator form of `translate_errors` for `Store` methods."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with translate_errors(self.path):
            return method(self, *args, **kwargs)

    return wrapper


def _database_error(exc: sqlite3.DatabaseError, path) -> DatabaseError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return DatabaseLockedError(
            "The chat database is busy: another process has held it locked for too long. "
            "Nothing was saved; please try again.",
            "聊天数据库正被其他进程长时间占用，本次操作未保存，请稍后重试。",
        )
    if "not a database" in text or "malformed" in text:
        return NotADatabaseError(
            f"The file {path} is not a valid chat database (it is not SQLite or is damaged). "
            "Point CHAT_DB to another file; the existing file is left untouched.",
            f"文件 {path} 不是有效的聊天数据库（不是 SQLite 文件或已损坏）。"
            "请将 CHAT_DB 指向其他文件；现有文件不会被改动。",
        )
    if "readonly" in text or "read-only" in text:
        return DatabaseReadOnlyError(
            f"The chat database at {path} is read-only, so nothing can be saved. "
            "Check the permissions of the file and its folder.",
            f"聊天数据库 {path} 是只读的，无法保存任何内容。请检查该文件及其所在文件夹的权限。",
        )
    if "unable to open" in text or "disk i/o" in text or "cannot open" in text:
        return DatabaseUnavailableError(
            f"The chat database at {path} cannot be opened or written.",
            f"无法打开或写入聊天数据库 {path}。",
        )
    return DatabaseError(
        f"The chat database failed: {exc}.",
        f"聊天数据库出错：{exc}。",
    )


def _ensure_folder(path: Path) -> None:
    if path.exists() and path.is_dir():
        raise DatabaseUnavailableError(
            f"CHAT_DB points to a folder ({path}), not a file.",
            f"CHAT_DB 指向的是文件夹（{path}），而不是文件。",
        )
    path.parent.mkdir(parents=True, exist_ok=True)


def _configure(db: sqlite_utils.Database) -> None:
    # WAL lets readers and one writer work at once; NORMAL sync is durable across app
    # crashes (only a power loss can drop the last commits).
    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":
        with db.ensure_autocommit_on():
            db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
