"""SQLite schema migrations, applied in order on every open and recorded in
`_sqlite_migrations`.

Never change what a shipped migration does: add a new one, and name it in
`sqlite_tokens.MIGRATION_NAMES`. A migration uses only what this module defines,
`legacy_errors` (frozen the same way) and the CJK tokenizer of `sqlite_tokens`, which
the search triggers share with the indexes and which must not change without a
migration that rebuilds them.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from . import legacy_errors
from .sqlite_tokens import CHAR_INDEXES, CHAR_TOKENS_FUNCTION, MIGRATION_SET, char_tokens

migrations = Migrations(MIGRATION_SET)

# Trigram lets FTS5 find words inside CJK sentences (which have no spaces) and substrings
# in general; it cannot match queries shorter than three characters (see sqlite_search).
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
    # What sqlite-utils' enable_fts() creates, without its executescript(), which would
    # commit the transaction the migrations run in.
    for table, (column,) in FTS_COLUMNS.items():
        db.execute(
            f"CREATE VIRTUAL TABLE [{table}_fts] USING FTS5 ([{column}], "
            f"tokenize='{FTS_TOKENIZER}', content=[{table}])"
        )
        db.execute(
            f"INSERT INTO [{table}_fts] (rowid, [{column}]) SELECT rowid, [{column}] FROM [{table}]"
        )
    _create_fts_triggers(db)


@migrations()
def m004_short_term_search(db: sqlite_utils.Database) -> None:
    """Indexes for queries shorter than a trigram (see sqlite_search)."""
    for index, column, _ in CHAR_INDEXES.values():
        db.execute(
            f"CREATE VIRTUAL TABLE {index} USING fts5({column}, tokenize='{CHAR_TOKENIZER}')"
        )
    _create_char_triggers(db)
    for table, (index, column, key) in CHAR_INDEXES.items():
        rows = db.execute(f"SELECT {key}, {column} FROM {table}")
        db.conn.executemany(
            f"INSERT INTO {index} (rowid, {column}) VALUES (?, ?)",
            ((rowid, char_tokens(text)) for rowid, text in rows),
        )


@migrations()
def m005_message_ids_never_reused(db: sqlite_utils.Database) -> None:
    """`AUTOINCREMENT`: a deleted message's id is never handed out again, so a reply
    still streaming into a deleted row cannot land in a newer message."""
    db.execute(
        """
        CREATE TABLE chat_message_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    db.execute("INSERT INTO chat_message_new SELECT * FROM chat_message")
    db.execute("DROP TABLE chat_message")
    db.execute("ALTER TABLE chat_message_new RENAME TO chat_message")
    db.execute("CREATE INDEX idx_chat_message_session ON chat_message(session_id, id)")


@migrations()
def m006_index_final_text_only(db: sqlite_utils.Database) -> None:
    """One mechanism keeps both search indexes: triggers that index a message once it
    is final (not while a reply streams, which re-indexed it on every save)."""
    for table in FTS_COLUMNS:
        for suffix in ("ai", "ad", "au"):
            db.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
    for index, _, _ in CHAR_INDEXES.values():
        db.execute(f"DROP TRIGGER IF EXISTS {index}_ad")
    # Fewer, larger merges of index segments keep commits short (FTS5's default is 4).
    for table in FTS_COLUMNS:
        db.execute(f"INSERT INTO {table}_fts ({table}_fts, rank) VALUES ('automerge', 8)")
    create_search_triggers(db)
    rebuild_search_indexes(db)


@migrations()
def m007_error_codes(db: sqlite_utils.Database) -> None:
    """A failed reply keeps its error as a code and JSON parameters, rendered in the
    reader's language; old rows' sentences become codes where they are ones the app
    wrote, and the others keep their text in `error`."""
    db.execute("ALTER TABLE chat_message ADD COLUMN error_code TEXT")
    db.execute("ALTER TABLE chat_message ADD COLUMN error_params TEXT")
    rows = db.execute("SELECT id, error FROM chat_message WHERE error IS NOT NULL").fetchall()
    # The search triggers watch content and status only, so these updates skip them.
    db.conn.executemany(
        "UPDATE chat_message SET error_code = ?, error_params = ?, error = NULL WHERE id = ?",
        legacy_errors.coded_rows(rows),
    )


@migrations()
def m008_reply_heartbeat(db: sqlite_utils.Database) -> None:
    """Replies are written by worker threads: `heartbeat_at` says a writer is alive, so a
    reply whose writer died is found and finished; `first_token_ms` is the wait for the
    reply's first text."""
    db.execute("ALTER TABLE chat_message ADD COLUMN heartbeat_at TEXT")
    db.execute("ALTER TABLE chat_message ADD COLUMN first_token_ms INTEGER")
    db.execute(
        "CREATE INDEX idx_chat_message_streaming ON chat_message(heartbeat_at) "
        "WHERE status = 'streaming'"
    )


@migrations()
def m009_message_tree(db: sqlite_utils.Database) -> None:
    """Conversations as trees: each message names its parent (the one before it in its
    branch) and a chat names the leaf of its current branch (NULL: its newest message).
    Existing chats become one branch each, so they show exactly as before. A chat also
    remembers whether its user named it, and whether it is archived."""
    db.execute("ALTER TABLE chat_message ADD COLUMN parent_id INTEGER")
    db.execute(
        """
        UPDATE chat_message SET parent_id = (
            SELECT max(earlier.id) FROM chat_message earlier
            WHERE earlier.session_id = chat_message.session_id AND earlier.id < chat_message.id
        )
        """
    )
    db.execute("CREATE INDEX idx_chat_message_parent ON chat_message(session_id, parent_id)")
    db.execute("ALTER TABLE chat_session ADD COLUMN current_leaf_id INTEGER")
    db.execute("ALTER TABLE chat_session ADD COLUMN title_by_user INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE chat_session ADD COLUMN archived INTEGER NOT NULL DEFAULT 0")


@migrations()
def m010_reply_details(db: sqlite_utils.Database) -> None:
    """What a reply needs beyond its text: the Responses API id of its turn (a chain
    continues from the response on the current branch), why it finished (a reply cut
    by the token limit says so), and the web sources it used; and per-chat choices of
    reasoning effort, web search and the catalogue model an endpoint serves, with the
    leaf a cached context was built for."""
    for column, kind in (("response_id", "TEXT"), ("finish_reason", "TEXT"), ("sources", "TEXT")):
        db.execute(f"ALTER TABLE chat_message ADD COLUMN {column} {kind}")
    for column, kind in (
        ("reasoning_effort", "TEXT"),
        ("web_search", "INTEGER"),
        ("model_alias", "TEXT"),
        ("ark_context_leaf_id", "INTEGER"),
    ):
        db.execute(f"ALTER TABLE chat_session ADD COLUMN {column} {kind}")


@migrations()
def m011_attachments(db: sqlite_utils.Database) -> None:
    """Images sent with a message, kept in the database with it (and gone with it)."""
    db.execute(
        """
        CREATE TABLE chat_attachment (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id INTEGER NOT NULL REFERENCES chat_message(id) ON DELETE CASCADE,
            mime TEXT NOT NULL,
            width INTEGER,
            height INTEGER,
            name TEXT,
            data BLOB NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_chat_attachment_message ON chat_attachment(message_id)")


@migrations()
def m012_preferences_and_shares(db: sqlite_utils.Database) -> None:
    """Preferences that follow a user (UI language, defaults for new chats), and
    read-only share links to a snapshot of a chat."""
    db.execute(
        """
        CREATE TABLE owner_preference (
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (owner, name)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE share_link (
            token TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            session_id TEXT NOT NULL,
            title TEXT,
            snapshot TEXT NOT NULL,
            audience TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX idx_share_link_owner ON share_link(owner, created_at)")


@migrations()
def m013_usage_index(db: sqlite_utils.Database) -> None:
    """The Usage page reads each chat's replies from this index alone (never the rows,
    which hold the text): an owner's figures over a million messages stay fast."""
    db.execute(
        "CREATE INDEX idx_chat_message_usage ON chat_message(session_id, role, created_at, "
        "status, model, error_code, prompt_tokens, cached_tokens, completion_tokens, "
        "reasoning_tokens, first_token_ms, latency_ms)"
    )


@migrations()
def m014_price_tier_lengths(db: sqlite_utils.Database) -> None:
    """A continued answer's largest prompt and reply among its calls, which set its
    price tier (its counts are the calls' sums); the usage index carries them, so the
    Usage page still reads that index alone."""
    _run_each(
        db,
        "ALTER TABLE chat_message ADD COLUMN tier_prompt_tokens INTEGER",
        "ALTER TABLE chat_message ADD COLUMN tier_completion_tokens INTEGER",
        "DROP INDEX idx_chat_message_usage",
        "CREATE INDEX idx_chat_message_usage ON chat_message(session_id, role, created_at, "
        "status, model, error_code, prompt_tokens, cached_tokens, completion_tokens, "
        "reasoning_tokens, first_token_ms, latency_ms, tier_prompt_tokens, "
        "tier_completion_tokens)",
    )


@migrations()
def m015_reply_model_alias(db: sqlite_utils.Database) -> None:
    """The catalogue model a reply's endpoint served when it was asked (a chat's alias
    may change later, or come from its owner's preferences); the usage index carries
    it, so the Usage page still reads that index alone."""
    _run_each(
        db,
        "ALTER TABLE chat_message ADD COLUMN model_alias TEXT",
        "DROP INDEX idx_chat_message_usage",
        "CREATE INDEX idx_chat_message_usage ON chat_message(session_id, role, created_at, "
        "status, model, error_code, prompt_tokens, cached_tokens, completion_tokens, "
        "reasoning_tokens, first_token_ms, latency_ms, tier_prompt_tokens, "
        "tier_completion_tokens, model_alias)",
    )


# What each searchable table indexes: (text column, rowid column, condition on a row).
SEARCHABLE = {
    "chat_message": ("content", "id", "{row}.status <> 'streaming'"),
    "chat_session": ("title", "seq", "{row}.title IS NOT NULL"),
}


def create_search_triggers(db: sqlite_utils.Database) -> None:
    """Triggers that keep the trigram and the short-term index of each searchable table.

    A row is in both indexes while its condition holds. An update removes the old entry
    and then adds the new one, in one trigger so the order is fixed.
    """
    for table, (column, _, condition) in SEARCHABLE.items():
        old, new = condition.format(row="old"), condition.format(row="new")
        watched = "content, status" if table == "chat_message" else column
        remove, add = _removal(table, old), _addition(table, new)
        _run_each(
            db,
            f"DROP TRIGGER IF EXISTS {table}_index_ai",
            f"DROP TRIGGER IF EXISTS {table}_index_ad",
            f"DROP TRIGGER IF EXISTS {table}_index_au",
            f"CREATE TRIGGER {table}_index_ai AFTER INSERT ON {table} BEGIN {add} END",
            f"CREATE TRIGGER {table}_index_ad AFTER DELETE ON {table} BEGIN {remove} END",
            f"CREATE TRIGGER {table}_index_au AFTER UPDATE OF {watched} ON {table} "
            f"WHEN {old} OR {new} BEGIN {remove} {add} END",
        )


def rebuild_search_indexes(db: sqlite_utils.Database) -> None:
    """Fill both indexes of every searchable table from scratch."""
    for table, (column, key, condition) in SEARCHABLE.items():
        chars = CHAR_INDEXES[table][0]
        where = condition.format(row=table)
        db.execute(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('delete-all')")
        db.execute(f"DELETE FROM {chars}")
        db.execute(
            f"INSERT INTO {table}_fts (rowid, {column}) SELECT {key}, {column} FROM {table} "
            f"WHERE {where}"
        )
        db.execute(
            f"INSERT INTO {chars} (rowid, {column}) "
            f"SELECT {key}, {CHAR_TOKENS_FUNCTION}({column}) FROM {table} WHERE {where}"
        )


def ensure_fts_triggers(db: sqlite_utils.Database) -> None:
    """Re-create the search triggers and re-index after a `table.transform()`.

    `transform()` rebuilds a table and silently drops its triggers (sqlite-utils issue
    849), after which new rows stop being searchable. Every migration that transforms an
    indexed table must call this at its end.
    """
    with db.atomic():
        create_search_triggers(db)
        rebuild_search_indexes(db)


def _addition(table: str, when: str) -> str:
    column, key, _ = SEARCHABLE[table]
    chars = CHAR_INDEXES[table][0]
    return (
        f"INSERT INTO {table}_fts (rowid, {column}) SELECT new.{key}, new.{column} "
        f"WHERE {when}; "
        f"INSERT INTO {chars} (rowid, {column}) "
        f"SELECT new.{key}, {CHAR_TOKENS_FUNCTION}(new.{column}) WHERE {when};"
    )


def _removal(table: str, when: str) -> str:
    column, key, _ = SEARCHABLE[table]
    chars = CHAR_INDEXES[table][0]
    return (
        f"INSERT INTO {table}_fts ({table}_fts, rowid, {column}) "
        f"SELECT 'delete', old.{key}, old.{column} WHERE {when}; "
        f"DELETE FROM {chars} WHERE rowid = old.{key} AND {when};"
    )


def _run_each(db: sqlite_utils.Database, *statements: str) -> None:
    # Not executescript(): it commits the transaction the migrations run in.
    for statement in statements:
        db.execute(statement)


def _create_char_triggers(db: sqlite_utils.Database) -> None:
    # The store writes these indexes itself (the text needs splitting in Python); a
    # delete, including a cascade from a deleted session, removes the entry here.
    for table, (index, _, key) in CHAR_INDEXES.items():
        _run_each(
            db,
            f"DROP TRIGGER IF EXISTS {index}_ad",
            f"CREATE TRIGGER {index}_ad AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM {index} WHERE rowid = old.{key}; END",
        )


def _create_fts_triggers(db: sqlite_utils.Database) -> None:
    # Like sqlite-utils' own triggers, but the update trigger fires only when the indexed
    # column changes: sessions are touched on every turn and replies on every save.
    for table, columns in FTS_COLUMNS.items():
        (column,) = columns
        fts = f"{table}_fts"
        insert = f"INSERT INTO {fts} (rowid, {column}) VALUES (new.rowid, new.{column});"
        delete = (
            f"INSERT INTO {fts} ({fts}, rowid, {column}) "
            f"VALUES ('delete', old.rowid, old.{column});"
        )
        _run_each(
            db,
            f"DROP TRIGGER IF EXISTS {table}_ai",
            f"DROP TRIGGER IF EXISTS {table}_ad",
            f"DROP TRIGGER IF EXISTS {table}_au",
            f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN {insert} END",
            f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN {delete} END",
            f"CREATE TRIGGER {table}_au AFTER UPDATE OF {column} ON {table} "
            f"BEGIN {delete} {insert} END",
        )
