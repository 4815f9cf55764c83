"""Seeded chat databases for browser benchmarks, on SQLite or on PostgreSQL.

    databases = open_databases("postgres", work, stack)   # or "sqlite"
    seeded = databases.seed(10_000, (200, 1000))           # once
    location = databases.copy("ttft")                      # a fresh copy per app server

A SQLite copy goes through the backup API; a PostgreSQL copy is `CREATE DATABASE ...
TEMPLATE seeded` on a throwaway server started with bench_store.py's durable settings
(fsync and synchronous commit on, on disk), so it pays what a real server would.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from chat_core.store import Store, connect

OWNER = "local"  # the app's owner when no login is configured
BACKENDS = ("sqlite", "postgres")
SEEDED = "seeded"
_WORD_TEXT = (
    "python sqlite stream token model reply cache context session search index query "
    "weather travel recipe budget deploy cluster latency vector matrix garden music "
    "今天 天气 北京 上海 模型 缓存 会话 搜索"
)
WORDS = _WORD_TEXT.split()


@dataclass
class SeededChat:
    """A long chat seeded through the store, and the same history for the peer."""

    session_id: str
    history: list[dict]  # [{"role", "content"}], oldest first
    last_text: str  # a word only the newest message contains


@dataclass
class SeededDb:
    location: str  # a SQLite path or a postgresql:// URL
    chats: dict[int, SeededChat] = field(default_factory=dict)  # by message count


# --- seeding ------------------------------------------------------------------------------


def seed_database(location: str, small_sessions: int, long_chats: tuple[int, ...]) -> SeededDb:
    """`small_sessions` used two-message sessions (bulk, old), then one long chat per size
    in `long_chats` through `start_turn`/`begin_reply`/`save_reply`, so the long chats are
    the newest and show at the top of the sidebar."""
    rng = random.Random(7)
    seeded = SeededDb(location)
    with connect(location, busy_timeout=30) as store:
        _bulk_small_sessions(store, small_sessions, rng)
        for size in long_chats:
            seeded.chats[size] = _seed_long_chat(store, size, rng)
    return seeded


def write_histories(seeded: SeededDb, folder: Path) -> None:
    """`h<size>.json` per long chat, for the peer's `?history=h<size>`."""
    folder.mkdir(parents=True, exist_ok=True)
    for size, chat in seeded.chats.items():
        (folder / f"h{size}.json").write_text(json.dumps(chat.history, ensure_ascii=False))


def reset_chat(store: Store, session_id: str, keep: int) -> None:
    """Delete everything after the first `keep` messages (undo a measured turn)."""
    session = store.get_session(OWNER, session_id)
    messages = store.get_messages(session)
    if len(messages) > keep:
        store.delete_message(session, messages[keep].id)


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _bulk_small_sessions(store: Store, count: int, rng: random.Random) -> None:
    # Store calls one by one would take minutes: one transaction of plain inserts, in
    # SQL both backends accept (the search triggers and indexes still see every row).
    sessions, messages = [], []
    for i in range(count):
        sid, stamp = uuid.uuid4().hex, f"2025-01-01T00:00:00.{i:06d}+00:00"
        sessions.append((sid, OWNER, f"chat {i} {rng.choice(WORDS)}", True, stamp, stamp, stamp))
        messages.append((sid, "user", sentence(rng, 12), "complete", stamp))
        messages.append((sid, "assistant", sentence(rng, 40), "complete", stamp))
    with store.backend.writing() as tx:
        tx.execute_many(
            "INSERT INTO chat_session (id, owner, title, is_used, created_at, updated_at, "
            "used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            sessions,
        )
        tx.execute_many(
            "INSERT INTO chat_message (session_id, role, content, status, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            messages,
        )


def _seed_long_chat(store: Store, size: int, rng: random.Random) -> SeededChat:
    session, _ = store.new_session(OWNER)
    history, last_text = [], f"lastof{size}x{session.id[:6]}"
    for turn in range(size // 2):
        question = f"Question {turn}: {sentence(rng, 16)}"
        answer = f"Answer {turn}: {sentence(rng, 60)}"
        if turn == size // 2 - 1:
            answer += f" {last_text}"
        store.start_turn(session, question)
        reply = store.begin_reply(session, "ep-bench-model")
        store.save_reply(session, reply.id, content=answer, status="complete")
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return SeededChat(session.id, history, last_text)


# --- one seeded database, many copies -------------------------------------------------------


class SqliteDatabases:
    """SQLite files in `folder`: `seeded.db` and one file per copy."""

    backend = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seeded_path = folder / f"{SEEDED}.db"

    def describe(self) -> str:
        return f"sqlite {sqlite3.sqlite_version}, files in {self.folder}"

    def seed(self, small_sessions: int, long_chats: tuple[int, ...]) -> SeededDb:
        return seed_database(str(self.seeded_path), small_sessions, long_chats)

    def copy(self, name: str) -> str:
        """A consistent copy (WAL included) through SQLite's backup API."""
        target = self.folder / f"{name}.db"
        with (
            contextlib.closing(sqlite3.connect(self.seeded_path)) as source,
            contextlib.closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)
        return str(target)


class PostgresDatabases:
    """Databases on one throwaway PostgreSQL server: `seeded` and one per copy."""

    backend = "postgres"

    def __init__(self, server) -> None:
        self.server = server

    def describe(self) -> str:
        with self.server.admin_connection() as admin:
            version = admin.execute("SHOW server_version").fetchone()[0]
        settings = ", ".join(f"{k}={v}" for k, v in self.server.settings.items())
        return f"postgresql {version} in {self.server.data_dir} ({settings})"

    def seed(self, small_sessions: int, long_chats: tuple[int, ...]) -> SeededDb:
        seeded = seed_database(self.server.create_database(SEEDED), small_sessions, long_chats)
        # A live server's autovacuum would have done this long before anyone chats; the
        # copies inherit the statistics and the visibility map.
        with self.server.admin_connection(SEEDED) as conn:
            conn.execute("VACUUM ANALYZE")
        return seeded

    def copy(self, name: str) -> str:
        """A new database cloned from `seeded` (nobody may be connected to it)."""
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(SEEDED)
        )
        with self.server.admin_connection() as admin:
            admin.execute(statement)
        return self.server.url(name)


Databases = SqliteDatabases | PostgresDatabases


def open_databases(backend: str, work: Path, stack: ExitStack) -> Databases:
    """Where the seeded database and its copies live; cleaned up with `stack`."""
    if backend == "sqlite":
        return SqliteDatabases(work)
    return PostgresDatabases(_start_postgres(work, stack))


def _start_postgres(work: Path, stack: ExitStack):
    from bench_store import DURABLE_POSTGRES  # one definition of a "real" server

    from tests.postgres_server import PostgresServer

    # On disk like the SQLite files (tmpfs would make fsync free); the server runs as
    # the postgres user, which must be able to enter the folder.
    parent = Path(stack.enter_context(tempfile.TemporaryDirectory(dir="/var/tmp")))
    parent.chmod(0o711)
    server = stack.enter_context(PostgresServer(parent_dir=parent, settings=DURABLE_POSTGRES))
    stack.callback(_keep_log, server, work / "postgres.log")  # runs before the server stops
    return server


def _keep_log(server, target: Path) -> None:
    # The cluster folder is removed on exit; --workdir keeps its log for a post-mortem.
    target.write_text(server.read_log(), encoding="utf-8")
