"""Copy every chat of every owner from one chat database to another.

    python -m chat_core.store.copy SOURCE TARGET [--owner NAME]

SOURCE and TARGET are `CHAT_DB` values: a SQLite path or a `postgresql://` URL, in
either direction (SQLite to PostgreSQL when one machine is not enough any more,
PostgreSQL to SQLite for a local copy). A database of this app is opened as the app
opens it (so one written by an older version is migrated first); one without chat
tables is refused untouched. SOURCE may also be a SQLite file of the first (Flask)
version of the app: it is opened read-only and never upgraded, and its chats, which
have no owner, go to `--owner` (default `local`).

What is copied: sessions with their ids, owners, titles, timestamps, pin and per-chat
settings; messages with their statuses, usage (and the catalogue model a reply's
endpoint served), latency, errors, reasoning, web sources and images; share links with
their tokens, audiences, snapshots and revocations (so a published link keeps working);
every owner's preferences. Message ids are kept when none of a chat's ids is taken in
TARGET (else that chat's messages are numbered anew, in order). The model cache state
(Ark context id and expiry, last response id) is not copied: a copied chat starts a
fresh cache, rebuilt from its history at its next turn.

Running it again copies only what is new: a chat already in TARGET gets the messages
newer than its newest one there (and then SOURCE's title, pin and settings, with its
cache dropped); other chats in TARGET are left alone. An unused (empty) chat is
skipped when its owner already has one in TARGET, which allows one per owner. Chats
are written in batches, each in one transaction, so an interrupted copy can simply be
run again. A share link already in TARGET is kept (revoked if it is revoked in
SOURCE), and skipped when its token belongs to another owner there; a preference
already set in TARGET keeps its value. At the end, TARGET must hold at least as many
sessions and messages as SOURCE for every owner of SOURCE, or the command fails.

Exit status: 0 when verified, 1 on any error or a failed verification, 2 on bad usage.
Everything it prints comes from the `locales` catalogue, in English.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import locales

from ..config import database_location, redacted
from ..errors import ChatError
from ..identity import LOCAL_OWNER
from . import attachments, connect, first_version, is_postgres_url
from .base import Store
from .records import SESSION_SETTINGS
from .rules import CACHE_KEYS
from .sql import MESSAGE_COLUMNS, SESSION_COLUMNS, SqlBackend, Tx, link_unparented

PROG = "python -m chat_core.store.copy"
PAGE_SESSIONS = 500  # sessions read from SOURCE per query
PAGE_LINKS = 100  # share links (each with a chat's snapshot) read and written at once
PAGE_PREFERENCES = 1_000  # preferences read and written at once
BATCH_MESSAGES = 5_000  # messages held in memory and written per transaction
MAX_PARAMS = 500  # ids per IN (...) list, far below every engine's limit
PROGRESS_SECONDS = 1.0
CONNECT_TIMEOUT = 10

COPIED_SESSION_COLUMNS = tuple(c for c in SESSION_COLUMNS if c not in CACHE_KEYS)
COPIED_MESSAGE_COLUMNS = ("id", *MESSAGE_COLUMNS)
SHARE_LINK_COLUMNS = (
    "token",
    "owner",
    "session_id",
    "title",
    "snapshot",
    "audience",
    "created_at",
    "revoked_at",
)
PREFERENCE_COLUMNS = ("owner", "name", "value")
# What a chat brought up to date takes from SOURCE (its id and owner never change).
REFRESHED_COLUMNS = (
    "title",
    "is_used",
    "used_at",
    "updated_at",
    "pinned",
    "current_leaf_id",
    "title_by_user",
    "archived",
    *SESSION_SETTINGS,
)
LOOPBACK_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
LANG = "en"  # what the command prints in


class CopyError(ChatError):
    """The copy cannot start or go on; its code says why, and no parameter holds a
    password."""


# --- what is copied ------------------------------------------------------------------------


@dataclass
class SourceSession:
    """A session row of SOURCE (without cache state), with what its messages look like."""

    row: dict
    message_count: int
    newest: str | None  # created_at of its newest message
    messages: list[dict] | None = None  # loaded per batch, or up front for a first version

    @property
    def id(self) -> str:
        return self.row["id"]

    @property
    def owner(self) -> str:
        return self.row["owner"]

    @property
    def is_unused(self) -> bool:
        return not self.row["is_used"] and self.message_count == 0


@dataclass
class TargetSession:
    """What TARGET already holds of a session."""

    owner: str
    is_used: bool
    newest: str | None
    last_id: int | None


# A session to write: what TARGET holds of it (None: nothing) and the messages it lacks.
Plan = tuple[SourceSession, TargetSession | None, list[dict]]


@dataclass
class Counts:
    sessions: int = 0
    messages: int = 0


@dataclass
class Report:
    """What a copy did, and what the verification found."""

    source: str
    target: str
    owners: int = 0
    sessions_copied: int = 0
    sessions_updated: int = 0  # already in TARGET, given their newer messages
    sessions_present: int = 0  # already in TARGET with every message
    sessions_unused_skipped: int = 0
    sessions_foreign: int = 0  # their id belongs to another owner in TARGET
    messages_copied: int = 0
    messages_present: int = 0
    links_copied: int = 0
    links_present: int = 0  # already in TARGET (a revocation in SOURCE is brought over)
    links_foreign: int = 0  # their token belongs to another owner in TARGET
    preferences_copied: int = 0
    preferences_present: int = 0  # already set in TARGET, which keeps its value
    missing: dict[str, tuple[Counts, Counts]] = field(default_factory=dict)

    @property
    def sessions_skipped(self) -> int:
        return self.sessions_present + self.sessions_unused_skipped + self.sessions_foreign

    def summary(self) -> str:
        lines = [
            _say("summary", source=self.source, target=self.target),
            _say("owners", count=self.owners),
            self._sessions_line(),
            _say("messages", copied=self.messages_copied, present=self.messages_present),
            _say(
                "links",
                copied=self.links_copied,
                present=self.links_present,
                foreign=self.links_foreign,
            ),
            _say("preferences", copied=self.preferences_copied, present=self.preferences_present),
        ]
        if not self.missing:
            verified = "verified_one" if self.owners == 1 else "verified"
            lines.append(_say(verified, count=self.owners))
        return "\n".join(lines)

    def mismatch(self) -> str:
        lines = [_say("mismatch")]
        for owner, (source, target) in sorted(self.missing.items()):
            lines.append(
                _say(
                    "mismatch_owner",
                    owner=owner,
                    sessions=target.sessions,
                    source_sessions=source.sessions,
                    messages=target.messages,
                    source_messages=source.messages,
                )
            )
        if self.sessions_foreign:
            lines.append(_say("mismatch_foreign", count=self.sessions_foreign))
        return "\n".join(lines)

    def _sessions_line(self) -> str:
        line = _say(
            "sessions",
            copied=self.sessions_copied,
            updated=self.sessions_updated,
            skipped=self.sessions_skipped,
        )
        reasons = [
            _say(key, count=count)
            for key, count in (
                ("present", self.sessions_present),
                ("unused", self.sessions_unused_skipped),
                ("foreign", self.sessions_foreign),
            )
            if count
        ]
        if not reasons:
            return line
        return _say("sessions_why", line=line, reasons=_say("reason_separator").join(reasons))


# --- reading SOURCE ------------------------------------------------------------------------


class Source(Protocol):
    """Where the chats come from: a current database, or a first-version file."""

    def counts(self) -> dict[str, Counts]:
        """Sessions and messages of each owner, counted before copying."""

    def pages(self) -> Iterator[list[SourceSession]]:
        """Every session, a page at a time, messages not necessarily loaded."""

    def load_messages(self, sessions: list[SourceSession]) -> None:
        """Fill in `messages` of the sessions that lack them."""

    def share_links(self) -> Iterator[list[dict]]:
        """Every share link (`SHARE_LINK_COLUMNS`), a page at a time."""

    def preferences(self) -> Iterator[list[dict]]:
        """Every preference of every owner (`PREFERENCE_COLUMNS`), a page at a time."""

    def close(self) -> None: ...


class StoreSource:
    """A database of the current app, read through its store in pages."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.backend: SqlBackend = store.backend

    def counts(self) -> dict[str, Counts]:
        with self.backend.reading() as tx:
            return owner_counts(tx)

    def pages(self) -> Iterator[list[SourceSession]]:
        """All sessions in id order, `PAGE_SESSIONS` per query (keyset paging)."""
        columns = ", ".join(f"s.{column}" for column in COPIED_SESSION_COLUMNS)
        sql = (
            f"SELECT {columns}, "
            "(SELECT count(*) FROM chat_message m WHERE m.session_id = s.id) AS message_count, "
            "(SELECT max(m.created_at) FROM chat_message m WHERE m.session_id = s.id) AS newest "
            "FROM chat_session s WHERE s.id > ? ORDER BY s.id LIMIT ?"
        )
        after = ""
        while True:
            with self.backend.reading() as tx:
                rows = tx.query(sql, [after, PAGE_SESSIONS])
            if not rows:
                return
            yield [_source_session(row) for row in rows]
            after = rows[-1]["id"]

    def load_messages(self, sessions: list[SourceSession]) -> None:
        """Fill in the messages of `sessions`, in id order, a few queries per batch."""
        wanted = [s for s in sessions if s.messages is None]
        by_session: dict[str, list[dict]] = {s.id: [] for s in wanted}
        columns = ", ".join(COPIED_MESSAGE_COLUMNS)
        with self.backend.reading() as tx:
            for ids in _chunks([s.id for s in wanted if s.message_count]):
                rows = tx.query(
                    f"SELECT {columns} FROM chat_message WHERE session_id IN ({_marks(ids)}) "
                    "ORDER BY session_id, id",
                    ids,
                )
                for row in rows:
                    by_session[row["session_id"]].append(row)
                _with_images(tx, rows)
        for session in wanted:
            session.messages = by_session[session.id]

    def share_links(self) -> Iterator[list[dict]]:
        return self._rows("share_link", SHARE_LINK_COLUMNS, ("token",), PAGE_LINKS)

    def preferences(self) -> Iterator[list[dict]]:
        return self._rows(
            "owner_preference", PREFERENCE_COLUMNS, ("owner", "name"), PAGE_PREFERENCES
        )

    def close(self) -> None:
        self.store.close()

    def _rows(
        self, table: str, columns: tuple[str, ...], key: tuple[str, ...], size: int
    ) -> Iterator[list[dict]]:
        """All rows of `table` in `key` order, `size` per query (keyset paging)."""
        order, after = ", ".join(key), []
        while True:
            where = f"WHERE ({order}) > ({_marks(key)}) " if after else ""
            with self.backend.reading() as tx:
                rows = tx.query(
                    f"SELECT {', '.join(columns)} FROM {table} {where}ORDER BY {order} LIMIT ?",
                    [*after, size],
                )
            if not rows:
                return
            yield rows
            after = [rows[-1][column] for column in key]


class FirstVersionSource:
    """A first-version (Flask) SQLite file, opened read-only and read by `first_version`."""

    def __init__(self, conn: sqlite3.Connection, location: str, owner: str) -> None:
        self.conn = conn
        self.location = location
        self.owner = owner

    def counts(self) -> dict[str, Counts]:
        total = Counts()
        for session in self._sessions():
            total.sessions += 1
            total.messages += session.message_count
        return {self.owner: total} if total.sessions else {}

    def pages(self) -> Iterator[list[SourceSession]]:
        page: list[SourceSession] = []
        for session in self._sessions():
            page.append(session)
            if len(page) == PAGE_SESSIONS:
                yield page
                page = []
        if page:
            yield page

    def load_messages(self, sessions: list[SourceSession]) -> None:
        """Nothing to do: `first_version.read` hands out each chat with its messages."""

    def share_links(self) -> Iterator[list[dict]]:
        return iter(())  # the first version had neither links nor preferences

    def preferences(self) -> Iterator[list[dict]]:
        return iter(())

    def close(self) -> None:
        self.conn.close()

    def _sessions(self) -> Iterator[SourceSession]:
        try:
            for row, messages in first_version.read(self.conn, first_version.TABLES, self.owner):
                newest = max((m["created_at"] for m in messages), default=None)
                yield SourceSession(row, len(messages), newest, messages)
        except sqlite3.Error as error:
            raise _unreadable(self.location, error) from None


def _source_session(row: dict) -> SourceSession:
    count, newest = row.pop("message_count"), row.pop("newest")
    return SourceSession(row, count, newest)


def owner_counts(tx: Tx) -> dict[str, Counts]:
    """Sessions and messages of every owner of a current database."""
    counts: dict[str, Counts] = {}
    for row in tx.query("SELECT owner, count(*) AS n FROM chat_session GROUP BY owner"):
        counts.setdefault(row["owner"], Counts()).sessions = row["n"]
    for row in tx.query(
        "SELECT s.owner, count(*) AS n FROM chat_message m "
        "JOIN chat_session s ON s.id = m.session_id GROUP BY s.owner"
    ):
        counts.setdefault(row["owner"], Counts()).messages = row["n"]
    return counts


# --- writing TARGET ------------------------------------------------------------------------


class Copier:
    """Writes pages of SOURCE sessions into TARGET, skipping what is already there."""

    def __init__(self, target: Store, report: Report) -> None:
        self.backend: SqlBackend = target.backend
        self.report = report
        # Sessions of SOURCE that are unused: copied at the end, once it is known which
        # owners still lack an unused chat in TARGET (this copy may use some up).
        self.deferred_unused: list[SourceSession] = []
        with self.backend.reading() as tx:
            rows = tx.query(f"SELECT owner FROM chat_session WHERE {self.backend.UNUSED}")
        self.owners_with_unused = {row["owner"] for row in rows}

    def copy_page(self, page: list[SourceSession], source: Source) -> None:
        present = self._present([s.id for s in page])
        new, updates = [], []
        for session in page:
            there = present.get(session.id)
            if there is None:
                (self.deferred_unused if session.is_unused else new).append(session)
            elif there.owner != session.owner:
                self.report.sessions_foreign += 1
            elif session.newest is not None and (
                there.newest is None or _later(session.newest, there.newest)
            ):
                updates.append((session, there))
            else:
                self.report.sessions_present += 1
                self.report.messages_present += session.message_count
        for batch in _batches(new, updates):
            source.load_messages([s for s, _ in batch])
            self._write(batch)

    def finish(self) -> None:
        """Copy the deferred unused sessions of owners that have none in TARGET."""
        wanted = []
        for session in self.deferred_unused:
            if session.owner in self.owners_with_unused:
                self.report.sessions_unused_skipped += 1
            else:
                self.owners_with_unused.add(session.owner)
                session.messages = []
                wanted.append(session)
        for batch in _batches(wanted, []):
            self._write(batch)

    def copy_links(self, links: list[dict]) -> None:
        """One transaction: the links TARGET lacks, keeping their tokens; a link there
        already is revoked when SOURCE's is, one of another owner left alone, and so is
        a link whose chat TARGET does not hold as the link owner's (another owner's
        chat, or one the copy skipped: deleting it could never take the link along)."""
        with self.backend.writing() as tx:
            owners = _owners(tx, "share_link", "token", [link["token"] for link in links])
            chats = _owners(tx, "chat_session", "id", [link["session_id"] for link in links])
            new = [
                link
                for link in links
                if link["token"] not in owners and chats.get(link["session_id"]) == link["owner"]
            ]
            present = [link for link in links if owners.get(link["token"]) == link["owner"]]
            _insert_links(tx, new)
            tx.execute_many(
                "UPDATE share_link SET revoked_at = ? WHERE token = ? AND revoked_at IS NULL",
                [[link["revoked_at"], link["token"]] for link in present if link["revoked_at"]],
            )
        self.report.links_copied += len(new)
        self.report.links_present += len(present)
        self.report.links_foreign += len(links) - len(new) - len(present)

    def copy_preferences(self, preferences: list[dict]) -> None:
        """One transaction: the preferences TARGET lacks (one it has keeps its value)."""
        with self.backend.writing() as tx:
            copied = sum(
                tx.execute(
                    f"INSERT INTO owner_preference ({', '.join(PREFERENCE_COLUMNS)}) "
                    f"VALUES ({_marks(PREFERENCE_COLUMNS)}) ON CONFLICT (owner, name) DO NOTHING",
                    [row[column] for column in PREFERENCE_COLUMNS],
                )
                for row in preferences
            )
        self.report.preferences_copied += copied
        self.report.preferences_present += len(preferences) - copied

    def _present(self, ids: list[str]) -> dict[str, TargetSession]:
        sql = (
            "SELECT s.id, s.owner, s.is_used, "
            "(SELECT max(m.created_at) FROM chat_message m WHERE m.session_id = s.id) AS newest, "
            "(SELECT max(m.id) FROM chat_message m WHERE m.session_id = s.id) AS last_id "
            "FROM chat_session s WHERE s.id IN ({})"
        )
        present = {}
        with self.backend.reading() as tx:
            for chunk in _chunks(ids):
                for row in tx.query(sql.format(_marks(chunk)), chunk):
                    present[row["id"]] = TargetSession(
                        row["owner"], bool(row["is_used"]), row["newest"], row["last_id"]
                    )
        return present

    def _write(self, batch: list[tuple[SourceSession, TargetSession | None]]) -> None:
        """One transaction: new sessions, refreshed sessions, then their messages."""
        plans = []
        for session, there in batch:
            rows = _missing_messages(session, there)
            if there is None or rows:
                plans.append((session, there, rows))
            else:  # its newest message only looked newer (timestamps written differently)
                self.report.sessions_present += 1
                self.report.messages_present += session.message_count
        with self.backend.writing() as tx:
            keep, renumber = _by_id_fate(plans, _taken_ids(tx, plans))
            _insert_sessions(tx, [session for session, there, _ in plans if there is None])
            for session, there, _ in plans:
                if there is not None:
                    self._refresh(tx, session, there)
            # The backend's own writer keeps the ids rows carry and, on PostgreSQL, moves
            # the id sequence past them; the renumbered rows come after, in order.
            self.backend._insert_messages(tx, keep)
            self.backend._insert_messages(tx, renumber)
            _insert_images(tx, keep, renumber)
            for session_id in {m["session_id"] for m in renumber}:
                link_unparented(tx, session_id)
                # Its leaf was named by an old id: the newest message is the leaf.
                tx.execute(
                    "UPDATE chat_session SET current_leaf_id = NULL WHERE id = ?", [session_id]
                )
        self._count(plans)

    def _refresh(self, tx: Tx, session: SourceSession, there: TargetSession) -> None:
        """Bring a session's row up to date with SOURCE and drop its cache, which does
        not hold the messages added now."""
        values = _session_values(session)
        assignments = [f"{column} = ?" for column in REFRESHED_COLUMNS]
        assignments += [f"{column} = NULL" for column in CACHE_KEYS]
        tx.execute(
            f"UPDATE chat_session SET {', '.join(assignments)} WHERE id = ? AND owner = ?",
            [*(values[column] for column in REFRESHED_COLUMNS), session.id, session.owner],
        )
        if not there.is_used:  # the owner's unused chat in TARGET is used now
            self.owners_with_unused.discard(session.owner)

    def _count(self, plans: list[Plan]) -> None:
        for session, there, rows in plans:
            if there is None:
                self.report.sessions_copied += 1
            else:
                self.report.sessions_updated += 1
            self.report.messages_copied += len(rows)
            self.report.messages_present += session.message_count - len(rows)


def _with_images(tx: Tx, rows: list[dict]) -> None:
    """Give each message row of `rows` that has images its `attachments`."""
    images = attachments.images_by_message(tx, [row["id"] for row in rows])
    for row in rows:
        if row["id"] in images:
            row["attachments"] = images[row["id"]]


def _insert_images(tx: Tx, keep: list[dict], renumber: list[dict]) -> None:
    """The images of the messages just written: by the ids kept, or, for a chat
    numbered anew, by the ids its messages were given (its newest, in order)."""
    for message in keep:
        images = message.get("attachments") or ()
        attachments.insert_images(tx, message["id"], images, message["created_at"])
    for session_id in dict.fromkeys(m["session_id"] for m in renumber):
        rows = [m for m in renumber if m["session_id"] == session_id]
        if not any(m.get("attachments") for m in rows):
            continue
        ids = attachments.inserted_ids(tx, session_id)[-len(rows) :]
        for message_id, message in zip(ids, rows, strict=True):
            images = message.get("attachments") or ()
            attachments.insert_images(tx, message_id, images, message["created_at"])


def _taken_ids(tx: Tx, plans: list[Plan]) -> set[int]:
    """The ids of the planned messages that TARGET already uses (checked inside the
    writing transaction, so they cannot be taken before the rows land)."""
    ids = [m["id"] for _, _, rows in plans for m in rows if m.get("id") is not None]
    taken: set[int] = set()
    for chunk in _chunks(ids):
        rows = tx.query(f"SELECT id FROM chat_message WHERE id IN ({_marks(chunk)})", chunk)
        taken.update(row["id"] for row in rows)
    return taken


def _by_id_fate(plans: list[Plan], taken: set[int]) -> tuple[list[dict], list[dict]]:
    """The messages that keep their ids, and those (whole sessions) numbered anew."""
    keep, renumber = [], []
    for _, there, rows in plans:
        if _ids_fit(rows, there, taken):
            keep.extend(rows)
        else:
            # New ids leave the parents unknown: such a chat becomes one branch, in order.
            renumber.extend(
                {**{k: v for k, v in m.items() if k != "id"}, "parent_id": None} for m in rows
            )
    return keep, renumber


def _owners(tx: Tx, table: str, key: str, values: list[str]) -> dict[str, str]:
    """The owner in TARGET of each of `values` (of `table`'s column `key`) it holds."""
    owners = {}
    for chunk in _chunks(sorted(set(values))):
        rows = tx.query(f"SELECT {key}, owner FROM {table} WHERE {key} IN ({_marks(chunk)})", chunk)
        owners.update((row[key], row["owner"]) for row in rows)
    return owners


def _insert_links(tx: Tx, links: list[dict]) -> None:
    tx.execute_many(
        f"INSERT INTO share_link ({', '.join(SHARE_LINK_COLUMNS)}) "
        f"VALUES ({_marks(SHARE_LINK_COLUMNS)})",
        [[link[column] for column in SHARE_LINK_COLUMNS] for link in links],
    )


def _insert_sessions(tx: Tx, sessions: list[SourceSession]) -> None:
    """All new session rows in one statement run per row (pipelined on PostgreSQL)."""
    if sessions:
        tx.execute_many(
            f"INSERT INTO chat_session ({', '.join(COPIED_SESSION_COLUMNS)}) "
            f"VALUES ({_marks(COPIED_SESSION_COLUMNS)})",
            [list(_session_values(session).values()) for session in sessions],
        )


def _missing_messages(session: SourceSession, there: TargetSession | None) -> list[dict]:
    """SOURCE's messages TARGET lacks: all of a new session's, else the newer ones."""
    messages = session.messages or []
    if there is None or there.newest is None:
        return messages
    return [m for m in messages if _later(m["created_at"], there.newest)]


def _ids_fit(rows: list[dict], there: TargetSession | None, taken: set[int]) -> bool:
    """Whether a session's messages can keep their ids: all are free in TARGET and
    come after the session's messages there (messages are ordered by id)."""
    ids = [m.get("id") for m in rows]
    if not ids or None in ids or taken.intersection(ids):
        return False
    return there is None or there.last_id is None or min(ids) > there.last_id


def _session_values(session: SourceSession) -> dict:
    values = {column: session.row.get(column) for column in COPIED_SESSION_COLUMNS}
    # SQLite stores booleans as 0/1; PostgreSQL wants real booleans. A session with
    # messages is used, whatever an old row says (TARGET allows one unused per owner).
    values["is_used"] = bool(values["is_used"]) or session.message_count > 0
    for flag in ("pinned", "title_by_user", "archived"):
        values[flag] = bool(values.get(flag))
    if values.get("web_search") is not None:
        values["web_search"] = bool(values["web_search"])
    return values


def _batches(
    new: list[SourceSession], updates: list[tuple[SourceSession, TargetSession]]
) -> Iterator[list[tuple[SourceSession, TargetSession | None]]]:
    """Groups of sessions holding about `BATCH_MESSAGES` messages (a bigger session
    goes alone), so memory stays bounded and each group is one transaction."""
    batch: list[tuple[SourceSession, TargetSession | None]] = []
    size = 0
    for session, there in [*((s, None) for s in new), *updates]:
        if batch and size + session.message_count > BATCH_MESSAGES:
            yield batch
            batch, size = [], 0
        batch.append((session, there))
        size += session.message_count
    if batch:
        yield batch


# --- the whole copy --------------------------------------------------------------------------


def copy_history(source: str, target: str, *, owner: str | None = None) -> Report:
    """Copy SOURCE into TARGET and verify the counts; raises `ChatError` when it cannot."""
    for location in (source, target):
        if is_postgres_url(location):
            _server_and_database(location)  # refuses a malformed URL clearly
    if same_database(source, target):
        raise CopyError("copy_same_database", location=redacted(target))
    report = Report(redacted(source), redacted(target))
    with contextlib.ExitStack() as stack:
        reader = open_source(source, owner)
        stack.callback(reader.close)
        store = _open_store("TARGET", target)
        stack.callback(store.close)
        source_counts = reader.counts()
        report.owners = len(source_counts)
        try:
            _copy_all(reader, Copier(store, report), source_counts)
        except ChatError as error:
            raise CopyError("copy_stopped", cause=error.as_dict()) from None
        with store.backend.reading() as tx:
            target_counts = owner_counts(tx)
    report.missing = _shortfalls(source_counts, target_counts)
    return report


def _copy_all(source: Source, copier: Copier, counts: dict[str, Counts]) -> None:
    progress = Progress(sum(c.sessions for c in counts.values()))
    for page in source.pages():
        copier.copy_page(page, source)
        progress.advance(len(page))
    copier.finish()
    for links in source.share_links():
        copier.copy_links(links)
    for preferences in source.preferences():
        copier.copy_preferences(preferences)


def _shortfalls(
    source: dict[str, Counts], target: dict[str, Counts]
) -> dict[str, tuple[Counts, Counts]]:
    """Owners for whom TARGET holds fewer sessions or messages than SOURCE."""
    missing = {}
    for owner, wanted in source.items():
        held = target.get(owner, Counts())
        if held.sessions < wanted.sessions or held.messages < wanted.messages:
            missing[owner] = (wanted, held)
    return missing


def open_source(location: str, owner: str | None) -> Source:
    """SOURCE, checked before anything opens it for writing: a PostgreSQL database or
    SQLite file of this app, or a first-version file (kept read-only)."""
    if is_postgres_url(location):
        _require_chat_tables(location)
    else:
        conn = _read_only(Path(location).expanduser())
        if _is_first_version(conn, location):
            return FirstVersionSource(conn, location, owner or LOCAL_OWNER)
    if owner is not None:
        print(_say("owner_ignored"), file=sys.stderr)
    return StoreSource(_open_store("SOURCE", location))


def _is_first_version(conn: sqlite3.Connection, location: str) -> bool:
    """Whether the file is a first-version database; refuses one without chats. The
    connection is closed unless the answer is yes (it is then read from)."""
    try:
        if first_version.is_first_version(conn):
            return True
        has_chats = bool(conn.execute("PRAGMA table_info(chat_session)").fetchall())
    except sqlite3.DatabaseError as error:
        conn.close()
        raise _unreadable(location, error) from None
    conn.close()
    if not has_chats:
        raise CopyError("copy_source_without_chats", location=location)
    return False


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection: the file is never changed, not even its journal mode."""
    if not path.exists():
        raise CopyError("copy_source_missing", location=str(path))
    if path.is_dir():
        raise CopyError("copy_source_is_folder", location=str(path))
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise _unreadable(str(path), error) from None


def _unreadable(location: str, error: sqlite3.Error) -> CopyError:
    if "not a database" in str(error) or "malformed" in str(error):
        return CopyError("copy_source_not_sqlite", location=location)
    return CopyError("copy_source_unreadable", location=location, reason=str(error))


def _require_chat_tables(url: str) -> None:
    """Refuse a PostgreSQL SOURCE without chat tables, which opening it would create."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass('chat_session') IS NOT NULL").fetchone()[0]
    except psycopg.Error:
        return  # opening it through the store will say clearly what is wrong
    if not found:
        raise CopyError("copy_source_without_tables", location=redacted(url))


def _open_store(role: str, location: str) -> Store:
    """The app's store on `location` (migrated, created when missing)."""
    try:
        return connect(location)
    except ChatError as error:
        raise CopyError(
            "copy_cannot_open", role=role, location=redacted(location), cause=error.as_dict()
        ) from None


def same_database(source: str, target: str) -> bool:
    """Whether two locations name the same database (same file, or same server and
    database name as far as the URLs tell)."""
    if is_postgres_url(source) != is_postgres_url(target):
        return False
    if is_postgres_url(source):
        return _server_and_database(source) == _server_and_database(target)
    first, second = Path(source).expanduser(), Path(target).expanduser()
    if first.exists() and second.exists():
        return first.samefile(second)
    return first.resolve() == second.resolve()


def _server_and_database(url: str) -> tuple[str, str, str]:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except ProgrammingError:
        # psycopg's message may quote the URL, password included: leave it out.
        raise CopyError("copy_invalid_url", location=redacted(url)) from None
    host = str(parts.get("host") or "").lower()
    host = "localhost" if host in LOOPBACK_HOSTS else host
    return host, str(parts.get("port") or "5432"), str(parts.get("dbname") or parts.get("user"))


# --- small helpers ---------------------------------------------------------------------------


class Progress:
    """A line on stderr at most every `PROGRESS_SECONDS`, for large databases."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.shown_at = time.monotonic()

    def advance(self, sessions: int) -> None:
        self.done += sessions
        now = time.monotonic()
        if now - self.shown_at >= PROGRESS_SECONDS:
            self.shown_at = now
            share = self.done * 100 // max(self.total, 1)
            print(
                _say("progress", done=self.done, total=self.total, share=share),
                file=sys.stderr,
                flush=True,
            )


def _later(first: str, second: str) -> bool:
    """Whether timestamp `first` is after `second` (ISO 8601, naive means UTC); text
    order for a value that is not a timestamp."""
    try:
        return _instant(first) > _instant(second)
    except ValueError:
        return str(first) > str(second)


def _instant(value: str) -> datetime:
    when = datetime.fromisoformat(str(value).strip())
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _chunks(values: list, size: int = MAX_PARAMS) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(values: list | tuple) -> str:
    return ", ".join("?" for _ in values)


def _say(key: str, **params: object) -> str:
    """The command's text `key` from the catalogue."""
    return locales.text(LANG, f"copy.{key}", **params)


def _without_passwords(text: str, locations: Iterable[str]) -> str:
    """`text` with every password of the URLs among `locations` masked, as written in
    the URL and decoded."""
    for location in locations:
        for secret in _passwords(location):
            text = text.replace(secret, "***")
    return text


def _passwords(location: str) -> set[str]:
    try:
        parts = urlsplit(location)
    except ValueError:
        return set()
    found = {parts.password or "", *parse_qs(parts.query).get("password", [])}
    return {form for secret in found for form in (secret, unquote(secret)) if form}


# --- command line ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with passwords masked in its error messages (an unrecognised argument
    may be a URL)."""

    def __init__(self, argv: list[str], **options) -> None:
        super().__init__(**options)
        self.argv = argv

    def error(self, message: str):
        super().error(_without_passwords(message, self.argv))


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = _Parser(
        argv,
        prog=PROG,
        description=_say("description"),
        epilog=_say("epilog"),
    )
    parser.add_argument("source", metavar="SOURCE", help=_say("help_source"))
    parser.add_argument("target", metavar="TARGET", help=_say("help_target"))
    parser.add_argument("--owner", metavar="NAME", help=_say("help_owner", owner=LOCAL_OWNER))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; the exit status is returned, never a traceback shown."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    if args.owner is not None and not args.owner.strip():
        print(f"{PROG}: {_say('owner_empty')}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    locations = (args.source, args.target)
    try:
        # Read as CHAT_DB is: a URL with a slash missing is refused, not made a file.
        source = database_location("SOURCE", args.source)
        target = database_location("TARGET", args.target)
        report = copy_history(source, target, owner=args.owner)
    except ChatError as error:
        message = locales.describe(LANG, error)
        print(f"{PROG}: {_without_passwords(message, locations)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: {_say('interrupted')}", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: say what, but never show a URL's password
        what = _without_passwords(f"{type(error).__name__}: {error}", locations)
        print(f"{PROG}: {_say('unexpected', error=what)}", file=sys.stderr)
        return 1
    print(report.summary())
    if report.missing:
        print(report.mismatch(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
