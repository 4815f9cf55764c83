"""The SQLite backend: one file, opened through sqlite-utils, shared by the threads of one
process through a small pool of connections.

Opening the file migrates it (see `sqlite_schema`); a file from the first version of
the app is upgraded in place after a backup copy, and a file from a newer version, or
another program's SQLite file (one with tables, none of them ours), is refused
untouched. WAL lets readers and one writer work at once; a background thread runs the
WAL checkpoints, so no request pays for copying the log back into the file.

The path must keep naming the file opened at start: every borrowed connection first
checks it (one `stat`), so a file deleted, moved away or replaced while the app runs
is refused with a clear error, instead of being re-created empty or having the pool
write on into a file nobody can see.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..errors import (
    DatabaseError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseTooNewError,
    DatabaseUnavailableError,
    NotADatabaseError,
)
from . import first_version, sqlite_search
from .records import SearchHit
from .sql import SqlBackend, link_unparented
from .sqlite_tokens import (
    MIGRATION_NAMES,
    MIGRATION_SET,
    MIGRATIONS_TABLE,
    register_functions,
)

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 1.0
IDLE_CONNECTIONS = 8
# Less free space than this is a full disk: the -shm file alone grows by 32 KiB at a time.
FULL_DISK_BYTES = 1024 * 1024


class SQLiteBackend(SqlBackend):
    """Sessions and messages in one SQLite file."""

    UNUSED = "is_used = 0"
    # The UTC day (YYYY-MM-DD) of a timestamp column: stored as ISO 8601 UTC text.
    UTC_DAY = "substr({}, 1, 10)"
    SUM = "total({})"  # sum() fails past 2**63; total() adds as floats, exact below 2**53
    ROW_LOCK = ""  # BEGIN IMMEDIATE: one writer at a time

    def __init__(self, path: Path | str, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_timeout = busy_timeout
        self._uri = self.path.absolute().as_uri()
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writes = 0
        self._wal_released = False
        with _translated(self.path):
            _ensure_folder(self.path)
            conn = self._connect(create=True)
            try:
                self._opened = _identity(self.path)
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
        self._idle.append(conn)
        self._checkpointer = _Checkpointer(self)

    # --- the SqlBackend seam -------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[_Tx]:
        with _translated(self.path), self._borrowed() as conn:
            yield _Tx(conn)

    @contextlib.contextmanager
    def writing(self) -> Iterator[_Tx]:
        # BEGIN IMMEDIATE takes the write lock up front: a read-then-write transaction
        # that starts deferred fails with SQLITE_BUSY_SNAPSHOT when another writer
        # commits in between.
        with _translated(self.path), self._borrowed() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.execute("COMMIT")
            self._writes += 1

    def search(self, owner: str, terms: list[str], limit: int) -> list[SearchHit]:
        with self.reading() as tx:
            return sqlite_search.search(tx, owner, terms, limit)

    def close(self) -> None:
        self._checkpointer.stop()
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # --- maintenance (not part of the store contract) --------------------------------------

    @contextlib.contextmanager
    def database(self):
        """A sqlite-utils `Database` on a pooled connection, for tools and tests."""
        import sqlite_utils

        with _translated(self.path), self._borrowed() as conn:
            yield sqlite_utils.Database(conn)

    def rebuild_search_index(self) -> None:
        """Fill both search indexes from scratch, e.g. after rows were bulk-loaded."""
        import sqlite_utils

        from .sqlite_schema import rebuild_search_indexes

        with self.writing() as tx:
            rebuild_search_indexes(sqlite_utils.Database(tx.conn))

    def checkpoint(self) -> None:
        """Copy the write-ahead log back into the database file now."""
        with _translated(self.path), self._borrowed() as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def check_file(self) -> None:
        """Raise `DatabaseUnavailableError` if the path no longer names the file opened at
        start (deleted, moved away or replaced): a new connection would re-create it
        empty or open the other file, and pooled ones would write into a file nobody
        sees. Works again if the same file comes back."""
        with _translated(self.path):
            problem = self._file_problem()
        if problem is None:
            self._wal_released = False  # the file is (back) in place
            return
        self._release_wal()
        raise problem

    # --- connections -----------------------------------------------------------------------

    def _connect(self, *, create: bool = False) -> sqlite3.Connection:
        # Only the first connection may create the file: a later one that finds it gone
        # must fail, not start an empty database. Autocommit mode: transactions are
        # begun and ended explicitly, never implicitly.
        conn = sqlite3.connect(
            f"{self._uri}?mode={'rwc' if create else 'rw'}",
            uri=True,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute("PRAGMA foreign_keys=ON")
        register_functions(conn)
        return conn

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[sqlite3.Connection]:
        # A connection is used by one thread at a time; sqlite3 serialises calls anyway.
        self.check_file()
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._configured(self._connect())
        try:
            yield conn
        finally:
            with self._lock:
                keep = len(self._idle) < IDLE_CONNECTIONS
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def _file_problem(self) -> DatabaseUnavailableError | None:
        try:
            identity = _identity(self.path)
        except FileNotFoundError:
            return DatabaseUnavailableError("database_file_deleted", location=self.location)
        if identity != self._opened:
            return DatabaseUnavailableError("database_file_replaced", location=self.location)
        return None

    def _release_wal(self) -> None:
        """Copy the write-ahead log into the file the pool has open, wherever it is now,
        and empty the log. The log keeps its name next to the path, where SQLite would
        replay our pages over the next file opened there."""
        with self._lock:
            if self._wal_released or not self._idle:
                return  # done, or every connection is in use: the next check tries again
            conn = self._idle.pop()
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self._wal_released = not busy
        except sqlite3.Error as exc:
            log.warning("Could not empty the write-ahead log of %s: %s", self.path, exc)
        finally:
            with self._lock:
                self._idle.append(conn)

    @staticmethod
    def _configured(conn: sqlite3.Connection) -> sqlite3.Connection:
        # NORMAL sync is durable across app crashes (only a power loss can drop the last
        # commits). Checkpoints are left to the background thread.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    # --- opening the file --------------------------------------------------------------------

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Refuse, upgrade or migrate the file; switch it to WAL only once it is ours."""
        applied = _applied_migrations(conn)
        unknown = [name for name in applied if name not in MIGRATION_NAMES]
        if unknown:
            raise DatabaseTooNewError("database_too_new", location=str(self.path), changes=unknown)
        legacy = first_version.is_first_version(conn)
        if not (applied or legacy or _is_empty(conn)):
            # Another program's SQLite file: migrating it would add our tables to it.
            raise NotADatabaseError("database_not_sqlite", location=str(self.path))
        if legacy or set(MIGRATION_NAMES) - set(applied):
            from . import sqlite_upgrade  # sqlite-utils, only when there is work for it

            sqlite_upgrade.upgrade(conn, self.path, self._write_session_with(conn))
        self._switch_to_wal(conn)
        self._configured(conn)

    def _write_session_with(self, conn: sqlite3.Connection):
        tx = _Tx(conn)

        def write(session: dict, messages: list[dict]) -> None:
            self._insert_session(tx, session)
            self._insert_messages(tx, messages)
            link_unparented(tx, session["id"])  # a first version's chat is one branch

        return write

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        # Changing the journal mode needs the file to itself and fails at once when
        # another connection is opening it (the busy timeout does not apply): retry
        # within that timeout.
        deadline = time.monotonic() + self.busy_timeout
        while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)


class _Tx:
    """`sql.Tx` on a sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        cursor = self.conn.execute(sql, params)
        columns = [d[0] for d in cursor.description or ()]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def execute_many(self, sql: str, rows: Iterable[Sequence]) -> None:
        self.conn.executemany(sql, rows)


class _Checkpointer:
    """Runs WAL checkpoints in the background after writes, off every request's path."""

    def __init__(self, backend: SQLiteBackend) -> None:
        self._backend = backend
        self._stopped = threading.Event()
        self._done_at = 0
        self._last_failure = ""
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        self._checkpoint()

    def _run(self) -> None:
        while not self._stopped.wait(CHECKPOINT_SECONDS):
            self._checkpoint()

    def _checkpoint(self) -> None:
        writes = self._backend._writes
        try:
            # Checked on idle ticks too, so a deleted or replaced file is let go of
            # (see `_release_wal`) before the next app opens the path.
            self._backend.check_file()
            if writes != self._done_at:
                self._backend.checkpoint()
                self._done_at = writes
            self._last_failure = ""
        except (sqlite3.Error, DatabaseError) as exc:  # try again at the next tick; say so once
            if str(exc) != self._last_failure:
                log.warning("WAL checkpoint of %s failed: %s", self._backend.path, exc)
            self._last_failure = str(exc)


def _applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations the file has, read without sqlite-utils."""
    known = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]
    ).fetchone()
    if known is None:
        return []
    rows = conn.execute(
        f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?", [MIGRATION_SET]
    )
    return [name for (name,) in rows]


@contextlib.contextmanager
def _translated(path: Path) -> Iterator[None]:
    """Re-raise sqlite3 and file-system errors as `DatabaseError`s with clear messages."""
    try:
        yield
    except DatabaseError:
        raise
    except sqlite3.DatabaseError as exc:
        raise _database_error(exc, path) from exc
    except OSError as exc:
        raise DatabaseUnavailableError(
            "database_cannot_open", location=str(path), reason=str(exc.strerror or exc)
        ) from exc


def _database_error(exc: sqlite3.DatabaseError, path: Path) -> DatabaseError:
    """The `DatabaseError` for SQLite's primary result code."""
    location = str(path)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return DatabaseLockedError("database_locked")
    if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return NotADatabaseError("database_not_sqlite", location=location)
    if primary == sqlite3.SQLITE_FULL:
        return DatabaseUnavailableError("database_disk_full", location=location)
    if primary not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR):
        return DatabaseError("database_failed", reason=str(exc))
    # SQLite creates and writes NAME-wal and NAME-shm next to the file, even to read.
    folder = path.absolute().parent
    if not _can_create_files_in(folder):
        return DatabaseReadOnlyError(
            "database_folder_read_only", location=location, folder=str(folder)
        )
    if primary == sqlite3.SQLITE_READONLY:
        return DatabaseReadOnlyError("database_file_read_only", location=location)
    if primary == sqlite3.SQLITE_IOERR:
        # A full disk is not always SQLITE_FULL: growing the -shm file fails with
        # SQLITE_IOERR_SHMSIZE, for one.
        if _is_full(folder):
            return DatabaseUnavailableError("database_disk_full", location=location)
        return DatabaseUnavailableError("database_io_error", location=location)
    return DatabaseUnavailableError("database_unavailable", location=location)


def _is_empty(conn: sqlite3.Connection) -> bool:
    """Whether the file has no tables, indexes, views or triggers (a new file has none)."""
    return conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None


def _is_full(folder: Path) -> bool:
    """Whether the disk under `folder` has no room left for SQLite's next file or page."""
    try:
        return shutil.disk_usage(folder).free < FULL_DISK_BYTES
    except OSError:
        return False


def _can_create_files_in(folder: Path) -> bool:
    # Trying is the only sure test: permission bits say nothing to root, nor about an
    # immutable folder or a file system that turned read-only after an error.
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _identity(path: Path) -> tuple[int, int]:
    """Which file `path` names now: its device and inode."""
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _ensure_folder(path: Path) -> None:
    if path.exists() and path.is_dir():
        raise DatabaseUnavailableError("database_is_folder", location=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
