"""The PostgreSQL backend: one psycopg connection pool per process, shared by its threads.

Chosen when `CHAT_DB` is a `postgresql://` URL, so history survives app restarts and
several app processes can share it. Every connection is checked when it is taken from
the pool, so after a server restart the next action reconnects instead of failing.
Prepared statements are off, which transaction-mode poolers (Supabase's port 6543,
PgBouncer) require. Errors never show the URL, which may hold a password.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from urllib.parse import unquote

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..config import check_postgres_url
from ..errors import (
    DatabaseAuthError,
    DatabaseError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseSetupError,
    DatabaseTooNewError,
    DatabaseUnavailableError,
)
from .postgres_schema import LOCK_KEY, MIGRATIONS, MIGRATIONS_TABLE, known_names
from .records import SearchHit
from .rules import like_pattern, merged, snippet
from .sql import SqlBackend, T

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 10  # seconds; a Neon compute waking from suspend takes a few hundred ms
POOL_SIZE = 10
TRIGRAM = 3  # the shortest term the trigram indexes serve
ONE_UNUSED_INDEX = "chat_session_one_unused"  # see postgres_schema
_UTF8_CTYPE = re.compile(r"utf-?8", re.IGNORECASE)


class PostgresBackend(SqlBackend):
    """Sessions and messages in a PostgreSQL database."""

    UNUSED = "NOT is_used"
    # The UTC day (YYYY-MM-DD) of a timestamptz column.
    UTC_DAY = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    SUM = "sum({})"  # of bigint: a numeric, which does not overflow
    # Not FOR UPDATE: a message inserted under the chat (a foreign key check) is not
    # held up by it.
    ROW_LOCK = " FOR NO KEY UPDATE"

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        check_postgres_url(url)
        self.location = _describe(url)
        self._refused: psycopg.Error | None = None  # why the last new connection failed
        options = {"autocommit": True, "prepare_threshold": None}
        with self._translated():
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, **options) as conn:
                _migrate(conn, self.location)
                _warn_about_ctype(conn)
            wait = max(timeout, 1.0)
            self.pool = ConnectionPool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                kwargs={"connect_timeout": CONNECT_TIMEOUT, **options},
                connection_class=_remembering(self),
                configure=partial(_configure, seconds=wait),
                check=self._check,
                timeout=wait,
                # psycopg_pool retries a failed connection in the background with a
                # backoff growing to minutes, and while its retry waits no store call may
                # open another: after an outage of a few seconds, calls kept failing for
                # seconds with the server back up. Giving up within half a call's wait
                # lets the next call connect at once.
                reconnect_timeout=wait / 2,
                name="ark-chat",
                open=True,
            )

    # --- the SqlBackend seam -------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[_Tx]:
        with self._translated(), self.pool.connection() as conn:
            yield _Tx(conn)

    @contextlib.contextmanager
    def writing(self) -> Iterator[_Tx]:
        with self._translated(), self.pool.connection() as conn, conn.transaction():
            yield _Tx(conn)

    def search(self, owner: str, terms: list[str], limit: int) -> list[SearchHit]:
        with self.reading() as tx:
            titles = [
                SearchHit(row["id"], row["title"], snippet(row["title"], terms))
                for row in tx.query(*_title_query(owner, terms, limit))
            ]
            messages = [
                SearchHit(
                    row["session_id"], row["title"], snippet(row["content"], terms), row["id"]
                )
                for row in tx.query(*_message_query(owner, terms, limit))
            ]
        return merged(titles, messages, limit)

    def close(self) -> None:
        self.pool.close()

    def _check(self, conn: psycopg.Connection) -> None:
        """The pool's check on checkout; a dead connection also clears out the others."""
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            # One dead connection means the server went away (a restart, a failover), so
            # the others idle in the pool are dead too. The pool would find them one per
            # attempt, sleeping 1, 2, 4 s in between, and the first call after a restart
            # timed out with the server up. Drop them all now instead.
            self.pool.check()
            raise

    def _unless_taken(self, tx: _Tx, write: Callable[[], T]) -> T | None:
        # Read committed: the write's check cannot see an unused chat that another
        # transaction has written and not committed; the index makes the write wait for
        # it, then refuses it. The savepoint undoes that write alone, not the transaction.
        tx.execute("SAVEPOINT one_unused")
        try:
            result = write()
        except pg_errors.UniqueViolation as exc:
            if exc.diag.constraint_name != ONE_UNUSED_INDEX:
                raise
            tx.execute("ROLLBACK TO SAVEPOINT one_unused")
            return None
        tx.execute("RELEASE SAVEPOINT one_unused")
        return result

    def _ids_inserted(self, tx: _Tx) -> None:
        # Rows copied with their ids leave the identity behind; move it past them, never
        # back, so no id is handed out twice.
        tx.execute(
            "SELECT setval('chat_message_id_seq', GREATEST((SELECT max(id) FROM chat_message), "
            "(SELECT last_value FROM chat_message_id_seq)))"
        )

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except DatabaseError:
            raise
        except PoolTimeout as exc:
            # The pool says only that no connection came; why the last one failed (a
            # password changed, a database dropped) is what the operator must read.
            refused = self._refused
            raise (
                _database_error(refused, self.location) if refused else _unreachable(self.location)
            ) from exc
        except psycopg.Error as exc:
            raise _database_error(exc, self.location) from exc


class _Tx:
    """`sql.Tx` on a psycopg connection: `?` placeholders, timestamps as ISO text."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(_placeholders(sql), params)
            rows = cursor.fetchall() if cursor.description else []
        return [_plain(row) for row in rows]

    def execute(self, sql: str, params: Sequence = ()) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute(_placeholders(sql), params)
            return cursor.rowcount

    def execute_many(self, sql: str, rows: Iterable[Sequence]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_placeholders(sql), list(rows))


def _title_query(owner: str, terms: list[str], limit: int) -> tuple[str, list]:
    chosen = (
        "SELECT s.id, s.title, s.pinned, s.updated_at FROM chat_session s "
        f"WHERE s.owner = ? AND {_matching('s.title', terms)}"
    )
    matched = _matching_params(terms)
    if any(len(term) >= TRIGRAM for term in terms):
        # The trigram index gives every title holding the long terms, then they are
        # sorted: 1 ms for a rare word, 6 ms for a common one at 100,000 chats. Left to
        # itself, the planner often walked the owner's chats newest first, expecting
        # `limit` matches soon from its guess at how common the terms are: 1 ms when
        # right, but for `matrix garden` or `latency g`, which no title holds, it read
        # all 100,000 (40 to 70 ms).
        chosen = f"WITH hits AS MATERIALIZED ({chosen}) SELECT * FROM hits s"
    return (
        f"{chosen} ORDER BY s.pinned DESC, s.updated_at DESC LIMIT ?",
        [owner, *matched, limit],
    )


def _message_query(owner: str, terms: list[str], limit: int) -> tuple[str, list]:
    # The status condition matches the partial trigram index's, so it can serve this.
    return (
        "SELECT m.id, m.session_id, m.content, s.title FROM chat_message m "
        "JOIN chat_session s ON s.id = m.session_id "
        f"WHERE s.owner = ? AND m.status <> 'streaming' AND {_matching('m.content', terms)} "
        "ORDER BY m.id DESC LIMIT ?",
        [owner, *_matching_params(terms), limit],
    )


def _matching(column: str, terms: list[str]) -> str:
    """`column` holds every term, ignoring case. A term without cased letters (Chinese,
    digits) matches with LIKE: the same rows, three times faster to scan than ILIKE,
    which lowers every text first. A term with a sigma is a case-insensitive regular
    expression that takes Σ, σ and ς for one another (ILIKE lowers Σ to σ and leaves
    ς: a word-final ς would not match Σ or σ); the trigram index serves it as it does
    ILIKE."""
    return " AND ".join(_condition(column, term) for term in terms)


def _condition(column: str, term: str) -> str:
    if _SIGMAS.search(term):
        return f"{column} ~* ?"
    return f"{column} {'ILIKE' if _cased(term) else 'LIKE'} ? ESCAPE '\\'"


def _matching_params(terms: list[str]) -> list[str]:
    """The parameters of `_matching(column, terms)`."""
    return [_sigma_pattern(term) if _SIGMAS.search(term) else like_pattern(term) for term in terms]


def _sigma_pattern(term: str) -> str:
    """A regular expression matching `term` literally, any sigma as any other (a
    backslash before a character that is no letter or digit makes it literal)."""
    return "".join("[σςΣ]" if char in "Σσς" else re.escape(char) for char in term)


_SIGMAS = re.compile("[Σσς]")


def _cased(term: str) -> bool:
    return term.lower() != term or term.upper() != term


def _configure(conn: psycopg.Connection, seconds: float) -> None:
    """A statement waiting longer than the store's timeout for a lock (a row another
    process holds in an open transaction) fails as `database_busy`, as a locked SQLite
    file does, instead of hanging the page. Times come back in UTC, whatever the
    server's or client's zone: a time near year 1 or 9999 would not fit in another."""
    conn.execute(f"SET lock_timeout = {round(seconds * 1000)}")  # in ms
    conn.execute("SET TIME ZONE 'UTC'")


def _migrate(conn: psycopg.Connection, location: str) -> None:
    """Apply pending migrations in one transaction; refuse a newer app's database."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        applied = _applied(conn)
        unknown = [name for name in applied if name not in known_names()]
        if unknown:
            raise DatabaseTooNewError("database_too_new", location=location, changes=unknown)
        pending = [(name, step) for name, step in MIGRATIONS if name not in applied]
        if pending:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        for name, step in pending:
            _apply(conn, name, step)


def _applied(conn: psycopg.Connection) -> list[str]:
    exists = conn.execute("SELECT to_regclass(%s)", [MIGRATIONS_TABLE]).fetchone()[0]
    if exists is None:
        return []
    rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY applied_at, name")
    return [name for (name,) in rows]


def _apply(conn: psycopg.Connection, name: str, step) -> None:
    try:
        if callable(step):
            step(conn)
        else:
            conn.execute(step)
    except (pg_errors.UndefinedFile, pg_errors.InsufficientPrivilege) as exc:
        if callable(step) or "pg_trgm" not in step:
            raise
        raise DatabaseSetupError("database_extension_missing", extension="pg_trgm") from exc
    conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (%s)", [name])


def _warn_about_ctype(conn: psycopg.Connection) -> None:
    ctype = conn.execute(
        "SELECT datctype FROM pg_database WHERE datname = current_database()"
    ).fetchone()[0]
    if not _UTF8_CTYPE.search(ctype):
        log.warning(
            "The chat database's LC_CTYPE is %r, not a UTF-8 locale: pg_trgm cannot index "
            "Chinese, Japanese or Korean text there, so searching it is correct but slow. "
            "Create the database with LC_CTYPE 'C.UTF-8' (see the README).",
            ctype,
        )


@lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _plain(row: dict) -> dict:
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = value.astimezone(UTC).isoformat(timespec="microseconds")
    return row


def _remembering(backend: PostgresBackend) -> type[psycopg.Connection]:
    """A connection class that keeps on `backend` why its last new connection failed
    (None once one opens)."""

    class Remembering(psycopg.Connection):
        @classmethod
        def connect(cls, *args, **kwargs):
            try:
                conn = super().connect(*args, **kwargs)
            except psycopg.Error as exc:
                backend._refused = exc
                raise
            backend._refused = None
            return conn

    return Remembering


def _describe(url: str) -> str:
    """`host:port/dbname` of a URL: enough to recognise it, never the password. All up
    to the last "@" goes first: a password typed with "@", "/" or "?" unencoded would
    otherwise be read as the host or the database."""
    rest = url.partition("://")[2].rpartition("@")[2]
    address, _, database = re.split(r"[?#]", rest, maxsplit=1)[0].partition("/")
    return f"{unquote(address) or 'localhost'}/{unquote(database)}"


def _unreachable(location: str) -> DatabaseUnavailableError:
    return DatabaseUnavailableError("database_unreachable", location=location)


def _database_error(exc: psycopg.Error, location: str) -> DatabaseError:
    text = str(exc).lower()
    if isinstance(exc, pg_errors.InvalidPassword) or "password authentication failed" in text:
        return DatabaseAuthError("database_auth_failed", location=location)
    if isinstance(exc, pg_errors.InvalidCatalogName) or (
        "database" in text and "does not exist" in text
    ):
        return DatabaseUnavailableError("database_missing", location=location)
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        # Since PostgreSQL 15 a user may not create tables in schema public unless
        # granted, so this is a setup problem; the server's reason names the right.
        reason = exc.diag.message_primary or type(exc).__name__
        return DatabaseSetupError("database_permission", location=location, reason=reason)
    if isinstance(
        exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled | pg_errors.DeadlockDetected
    ):
        return DatabaseLockedError("database_busy")
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return DatabaseReadOnlyError("database_read_only", location=location)
    if isinstance(exc, psycopg.OperationalError):
        return _unreachable(location)
    return DatabaseError("database_failed", reason=type(exc).__name__)
