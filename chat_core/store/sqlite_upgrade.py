"""Bringing a SQLite file up to date: the migrations, and the in-place upgrade of a file
from the first version of the app (after a backup copy next to it).

Imported only when a file needs it: sqlite-utils, which runs the migrations, imports
pandas and numpy, which an app that merely opens its up-to-date file need not load.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from . import first_version
from .sqlite_schema import migrations

log = logging.getLogger(__name__)


def upgrade(conn: sqlite3.Connection, path: Path, write_session) -> None:
    """Migrate the file on `conn` in one write transaction; a first-version file is
    backed up first and its chats are written with `write_session(session, messages)`.
    """
    legacy = first_version.is_first_version(conn)
    backup = _backup(conn, path) if legacy else None
    try:
        _migrate(conn, path, legacy, backup, write_session)
    except BaseException:
        # The file is unchanged, and the next open tries again with a copy of its own:
        # keeping this one would add a full copy per failed try (a locked or read-only
        # file fails at every page run).
        if backup is not None:
            backup.unlink(missing_ok=True)
        raise


def _migrate(
    conn: sqlite3.Connection, path: Path, legacy: bool, backup: Path | None, write_session
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Checked again under the write lock: another process may have done it meanwhile.
        if legacy and first_version.is_first_version(conn):
            first_version.set_aside(conn)
            migrations.apply(sqlite_utils.Database(conn))
            for session, messages in first_version.read(conn, first_version.SET_ASIDE):
                write_session(session, messages)
            first_version.drop_set_aside(conn)
            log.warning(
                "Upgraded %s, a database of the first version of Ark Chat; the original "
                "is kept in %s.",
                path,
                backup,
            )
        else:
            if backup is not None:  # another process upgraded it first: a copy of no use
                backup.unlink(missing_ok=True)
            migrations.apply(sqlite_utils.Database(conn))
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")


def _backup(conn: sqlite3.Connection, path: Path) -> Path:
    """A consistent copy of the database next to it, before it is upgraded, in a file of
    its own: two processes upgrading in the same second never write to one file."""
    name = f"{path.name}.before-upgrade-{time.strftime('%Y%m%d-%H%M%S')}"
    target, number = path.with_name(f"{name}.bak"), 1
    while True:
        try:
            target.open("xb").close()  # claimed, or another process has it
            break
        except FileExistsError:
            number += 1
            target = path.with_name(f"{name}-{number}.bak")
    try:
        with contextlib.closing(sqlite3.connect(target)) as copy:
            conn.backup(copy)
    except BaseException:
        target.unlink(missing_ok=True)  # a partial copy, e.g. on a full disk
        raise
    return target
