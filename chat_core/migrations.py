"""Schema migrations, applied in order on every open and recorded in `_sqlite_migrations`.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from .search import CHAR_INDEXES, rebuild_char_indexes

migrations = Migrations("chat_core")

# Trigram lets FTS5 find words inside CJK sentences (which have no spaces) and substrings
# in general; it cannot match queries shorter than three characters (see search.py).
FTS_TOKENIZER = "trigram"
FTS_COLUMNS = {"chat_message": ["content"], "chat_session": ["title"]}
CHAR_TOKENIZER = "unicode61 remove_diacritics 2"


@migrations()
def m001_create_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE chat_session (
            -- seq is the stable rowid the title search index points at; a text primary
            -- key would leave rowids free to change on VACUUM.
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            owner TEXT NOT NULL,
            title TEXT,
            is_used INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            used_at TEXT,
            pinned INTEGER NOT NULL DEFAULT 0,
            model TEXT,
            system_prompt TEXT,
            temperature REAL,
            thinking TEXT,
            cache_mode TEXT,
            ark_context_id TEXT,
            ark_context_expires_at REAL,
            response_id TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE chat_message (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES chat_session(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            reasoning_content TEXT,
            status TEXT NOT NULL DEFAULT 'complete',
            created_at TEXT NOT NULL,
            model TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            cached_tokens INTEGER,
            reasoning_tokens INTEGER,
            latency_ms INTEGER,
            error TEXT
        )
        """
    )
    # Serves get_messages (latest N of a session) and the cascade delete.
    db.execute("CREATE INDEX idx_chat_message_session ON chat_message(session_id, id)")
    # Serves list_sessions: pinned first, newest activity first, keyset pagination.
    db.execute(
        "CREATE INDEX idx_chat_session_owner_list "
        "ON chat_session(owner, pinned DESC, updated_at DESC, id DESC)"
    )


@migrations()
def m002_one_unused_session_per_owner(db: sqlite_utils.Database) -> None:
    """Collapse duplicate unused sessions left by older versions, then forbid them."""
    # An "unused" row that already holds messages is really used.
    db.execute(
        """
        UPDATE chat_session SET is_used = 1, used_at = COALESCE(used_at, updated_at)
        WHERE is_used = 0 AND EXISTS (SELECT 1 FROM chat_message WHERE session_id = chat_session.id)
        """
    )
    # Keep each owner's latest empty session; the older empty ones hold nothing.
    db.execute(
        """
        DELETE FROM chat_session WHERE is_used = 0 AND id NOT IN (
            SELECT id FROM (
                SELECT id, ROW_NUMBER() OVER (
                    PARTITION BY owner ORDER BY created_at DESC, id DESC
                ) AS rank FROM chat_session WHERE is_used = 0
            ) WHERE rank = 1
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_chat_session_one_unused ON chat_session(owner) WHERE is_used = 0"
    )


@migrations()
def m003_full_text_search(db: sqlite_utils.Database) -> None:
    for table, columns in FTS_COLUMNS.items():
        db.table(table).enable_fts(columns, tokenize=FTS_TOKENIZER)
    _create_fts_triggers(db)


@migrations()
def m004_short_term_search(db: sqlite_utils.Database) -> None:
    """Indexes for queries shorter than a trigram (see search.py)."""
    for index, column, _ in CHAR_INDEXES.values():
        db.execute(
            f"CREATE VIRTUAL TABLE {index} USING fts5({column}, tokenize='{CHAR_TOKENIZER}')"
        )
    _create_char_triggers(db)
    rebuild_char_indexes(db)


def ensure_fts_triggers(db: sqlite_utils.Database) -> None:
    """Re-create the FTS triggers and re-index after a `table.transform()`.

    `transform()` rebuilds a table and silently drops its triggers (sqlite-utils issue
    849), after which new rows stop being searchable. Every migration that transforms an
    indexed table must call this at its end.
    """
    with db.atomic():
        _create_fts_triggers(db)
        _create_char_triggers(db)
        for table in FTS_COLUMNS:
            db.table(table).rebuild_fts()
        rebuild_char_indexes(db)


def _create_char_triggers(db: sqlite_utils.Database) -> None:
    # The store writes these indexes itself (the text needs splitting in Python); a
    # delete, including a cascade from a deleted session, removes the entry here.
    for table, (index, _, key) in CHAR_INDEXES.items():
        db.executescript(
            f"""
            DROP TRIGGER IF EXISTS {index}_ad;
            CREATE TRIGGER {index}_ad AFTER DELETE ON {table} BEGIN
              DELETE FROM {index} WHERE rowid = old.{key};
            END;
            """
        )


def _create_fts_triggers(db: sqlite_utils.Database) -> None:
    # Like sqlite-utils' own triggers, but the update trigger fires only when the indexed
    # column changes: sessions are touched on every turn and replies on every save.
    for table, columns in FTS_COLUMNS.items():
        (column,) = columns
        fts = f"{table}_fts"
        db.executescript(
            f"""
            DROP TRIGGER IF EXISTS {table}_ai;
            DROP TRIGGER IF EXISTS {table}_ad;
            DROP TRIGGER IF EXISTS {table}_au;
            CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN
              INSERT INTO {fts} (rowid, {column}) VALUES (new.rowid, new.{column});
            END;
            CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN
              INSERT INTO {fts} ({fts}, rowid, {column}) VALUES ('delete', old.rowid, old.{column});
            END;
            CREATE TRIGGER {table}_au AFTER UPDATE OF {column} ON {table} BEGIN
              INSERT INTO {fts} ({fts}, rowid, {column}) VALUES ('delete', old.rowid, old.{column});
              INSERT INTO {fts} (rowid, {column}) VALUES (new.rowid, new.{column});
            END;
            """
        )
