"""Schemas and migrations of both backends: exact columns, indexes, upgrades of old
files, and refusal of a database written by a newer version."""

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils

from chat_core.errors import DatabaseTooNewError
from chat_core.store import connect, is_postgres_url
from chat_core.store import usage as usage_queries
from chat_core.store.sqlite_schema import ensure_fts_triggers, migrations
from chat_core.store.sqlite_tokens import MIGRATION_NAMES, register_functions
from chat_core.store.usage import Bands, UsageFilter
from locales import describe, error_text
from tests.databases import database_before, run_sql

SESSION_COLUMNS = {
    "seq": int,
    "id": str,
    "owner": str,
    "title": str,
    "is_used": int,
    "created_at": str,
    "updated_at": str,
    "used_at": str,
    "pinned": int,
    "model": str,
    "system_prompt": str,
    "temperature": float,
    "thinking": str,
    "cache_mode": str,
    "ark_context_id": str,
    "ark_context_expires_at": float,
    "response_id": str,
    "current_leaf_id": int,
    "title_by_user": int,
    "archived": int,
    "reasoning_effort": str,
    "web_search": int,
    "model_alias": str,
    "ark_context_leaf_id": int,
}
MESSAGE_COLUMNS = {
    "id": int,
    "session_id": str,
    "role": str,
    "content": str,
    "reasoning_content": str,
    "status": str,
    "created_at": str,
    "model": str,
    "prompt_tokens": int,
    "completion_tokens": int,
    "cached_tokens": int,
    "reasoning_tokens": int,
    "latency_ms": int,
    "error": str,
    "error_code": str,
    "error_params": str,
    "heartbeat_at": str,
    "first_token_ms": int,
    "parent_id": int,
    "response_id": str,
    "finish_reason": str,
    "sources": str,
    "tier_prompt_tokens": int,
    "tier_completion_tokens": int,
    "model_alias": str,
}
POSTGRES_TYPES = {
    "is_used": "boolean",
    "pinned": "boolean",
    "created_at": "timestamp with time zone",
    "temperature": "double precision",
}
SQLITE_MIGRATIONS = [
    "m001_create_tables",
    "m002_one_unused_session_per_owner",
    "m003_full_text_search",
    "m004_short_term_search",
    "m005_message_ids_never_reused",
    "m006_index_final_text_only",
    "m007_error_codes",
    "m008_reply_heartbeat",
    "m009_message_tree",
    "m010_reply_details",
    "m011_attachments",
    "m012_preferences_and_shares",
    "m013_usage_index",
    "m014_price_tier_lengths",
    "m015_reply_model_alias",
]


@pytest.fixture
def db(db_path):
    connect(db_path).close()
    database = sqlite_utils.Database(db_path)
    register_functions(database.conn)
    yield database
    database.close()


# --- SQLite ------------------------------------------------------------------------------


def test_exact_columns(db):
    assert db.table("chat_session").columns_dict == SESSION_COLUMNS
    assert db.table("chat_message").columns_dict == MESSAGE_COLUMNS
    assert db.table("chat_session").pks == ["seq"]
    assert db.table("chat_message").pks == ["id"]
    assert "AUTOINCREMENT" in db.table("chat_message").schema


def test_message_foreign_key_cascades(db):
    (fk,) = db.table("chat_message").foreign_keys
    assert (fk.column, fk.other_table, fk.other_column) == ("session_id", "chat_session", "id")
    assert "ON DELETE CASCADE" in db.table("chat_message").schema


def test_wal_and_indexes(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {index.name: index for index in db.table("chat_session").indexes}
    assert "idx_chat_session_owner_list" in indexes
    unused = indexes["idx_chat_session_one_unused"]
    assert unused.unique and unused.columns == ["owner"]
    assert "idx_chat_message_session" in {i.name for i in db.table("chat_message").indexes}


def test_the_light_list_of_migrations_names_every_migration_in_order():
    assert list(MIGRATION_NAMES) == [
        m.name for m in migrations.pending(sqlite_utils.Database(memory=True))
    ]


def test_opening_an_up_to_date_file_loads_neither_sqlite_utils_nor_pandas(db_path):
    """They cost ~0.4 s at start, for nothing once the file is migrated."""
    import subprocess
    import sys

    connect(db_path).close()
    probe = (
        "import sys; from chat_core.store import connect; "
        f"connect({str(db_path)!r}).close(); "
        "print(sorted(m for m in ('sqlite_utils', 'pandas', 'numpy') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]", loaded.stderr


def test_applying_twice_is_a_no_op(db, db_path):
    connect(db_path).close()
    assert [m.name for m in migrations.applied(db)] == SQLITE_MIGRATIONS
    assert migrations.pending(db) == []


def test_legacy_duplicate_unused_sessions_are_collapsed(db_path):
    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m002_one_unused_session_per_owner")
    rows = [
        ("old", "alice", 0, "2024-01-01T00:00:00"),
        ("newer", "alice", 0, "2024-01-02T00:00:00"),
        ("holds-messages", "alice", 0, "2024-01-03T00:00:00"),
        ("bob-one", "bob", 0, "2024-01-01T00:00:00"),
    ]
    for sid, owner, used, when in rows:
        db.table("chat_session").insert(
            {"id": sid, "owner": owner, "is_used": used, "created_at": when, "updated_at": when}
        )
    db.table("chat_message").insert(
        {
            "session_id": "holds-messages",
            "role": "user",
            "content": "hi",
            "created_at": "2024-01-03T00:00:01",
        }
    )
    db.close()
    with connect(db_path) as store:
        flags = {s.id: s.is_used for s in store.list_sessions("alice")}
        assert flags == {"newer": False, "holds-messages": True}
        session, is_new = store.new_session("alice")
        assert (session.id, is_new) == ("newer", False)


def test_messages_written_before_the_search_triggers_changed_stay_searchable(db_path):
    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m005_message_ids_never_reused")
    db.table("chat_session").insert(
        {"id": "old", "owner": "alice", "title": "旧会话", "is_used": 1}
        | {"created_at": "2024-01-01", "updated_at": "2024-01-01"}
    )
    for content, status in (("上海天气", "complete"), ("half a repl", "streaming")):
        db.table("chat_message").insert(
            {"session_id": "old", "role": "user", "content": content, "status": status}
            | {"created_at": "2024-01-01"}
        )
    db.close()
    with connect(db_path) as store:
        assert [h.session_id for h in store.search("alice", "天气")] == ["old"]
        assert [h.session_id for h in store.search("alice", "旧")] == ["old"]
        assert store.search("alice", "repl") == []  # streaming rows are not indexed


def test_transform_then_ensure_fts_triggers_keeps_search_working(db_path):
    with connect(db_path) as store:
        session, _ = store.new_session("alice")
        store.start_turn(session, "before transform")
        with store.backend.database() as db:
            # What a future migration might do: rebuild the table (dropping its triggers).
            db.table("chat_message").transform(types={"latency_ms": float})
            assert not db.table("chat_message").triggers
            ensure_fts_triggers(db)
        later, _ = store.new_session("alice")
        store.start_turn(later, "written after the rebuild")
        assert [hit.session_id for hit in store.search("alice", "rebuild")] == [later.id]
        assert [hit.session_id for hit in store.search("alice", "transform")] == [session.id]


def test_a_file_from_a_newer_version_is_refused_untouched(db_path):
    connect(db_path).close()
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('chat_core', 'm999_from_the_future', '2030-01-01')"
        )
        conn.execute("PRAGMA journal_mode=DELETE")
    before = db_path.read_bytes()
    with pytest.raises(DatabaseTooNewError) as info:
        connect(db_path)
    assert "newer version" in describe("en", info.value)
    assert "m999_from_the_future" in describe("en", info.value)
    assert db_path.read_bytes() == before
    assert not db_path.with_name(db_path.name + "-wal").exists()


# --- error sentences of older versions become codes (both backends) ----------------------

ENDPOINT_EN = (
    "Context caching (ARK_CACHE=context) needs an endpoint id like ep-20250120174411-xxxxx, "
    "not the model id 'doubao-seed-1-6'. Set ARK_MODEL to an endpoint id, or switch the "
    'cache mode to "responses" or "off".'
)
OLD_ERRORS = [
    (
        "The model service is receiving too many requests. Wait a moment and try again. "
        "(request id: 2025abc)",
        "rate_limited",
        {"request_id": "2025abc"},
    ),
    (
        "请求过于频繁，已超出模型服务的限流。请稍后重试。 (请求 ID: 2025def)",
        "rate_limited",
        {"request_id": "2025def"},
    ),
    ("模型服务拒绝了该请求：max_tokens 太大", "request_rejected", {"detail": "max_tokens 太大"}),
    (
        "The model service rejected the request: bad value (request id: r-1)",
        "request_rejected",
        {"detail": "bad value", "request_id": "r-1"},
    ),
    (ENDPOINT_EN, "endpoint_required", {"model": "doubao-seed-1-6"}),
    ("回复因内容审核而被中止。", "reply_filtered", {}),
    ("The model service call failed.", "service_failed", {}),
    ("Unexpected failure: KeyError.", "unexpected_failure", {"kind": "KeyError"}),
]
UNMAPPED = "Rate limited (429). <b>**odd**</b>"


def database_before_error_codes(location: str) -> None:
    """A database as the version before error codes left it, on either backend."""
    database_before(location, "p003_error_codes", "m007_error_codes")


def test_old_error_sentences_become_codes_and_others_keep_their_text(db_location):
    database_before_error_codes(db_location)
    when = "2025-01-01T00:00:00+00:00"
    run_sql(
        db_location,
        "INSERT INTO chat_session (id, owner, title, is_used, created_at, updated_at) "
        "VALUES ('old', 'alice', 'old chat', TRUE, ?, ?)",
        (when, when),
    )
    texts = [text for text, _, _ in OLD_ERRORS] + [UNMAPPED, None]
    for text in texts:
        run_sql(
            db_location,
            "INSERT INTO chat_message (session_id, role, content, status, created_at, error) "
            "VALUES ('old', 'assistant', 'partial', 'error', ?, ?)",
            (when, text),
        )
    with connect(db_location) as store:
        messages = store.get_messages(store.get_session("alice", "old"))
    found = [(m.error_code, m.error_params, m.error) for m in messages]
    expected = [(code, params, None) for _, code, params in OLD_ERRORS]
    assert found == [*expected, (None, None, UNMAPPED), (None, None, None)]
    assert [m.content for m in messages] == ["partial"] * len(texts)  # nothing else changed
    chinese_then_english = error_text("en", messages[1].error_code, messages[1].error_params)
    assert chinese_then_english == (
        "The model service is receiving too many requests. Wait a moment and try again. "
        "(request id: 2025def)"
    )


# --- PostgreSQL --------------------------------------------------------------------------


def test_postgres_tables_have_the_same_columns_with_native_types(postgres_url):
    connect(postgres_url).close()
    rows = run_sql(
        postgres_url,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name IN ('chat_session', 'chat_message')",
    )
    columns = {(table, column): kind for table, column, kind in rows}
    assert {c for t, c in columns if t == "chat_session"} == set(SESSION_COLUMNS) - {"seq"}
    assert {c for t, c in columns if t == "chat_message"} == set(MESSAGE_COLUMNS)
    for column, kind in POSTGRES_TYPES.items():
        assert columns[("chat_session", column)] == kind
    assert columns[("chat_message", "id")] == "bigint"
    (identity,) = run_sql(
        postgres_url,
        "SELECT is_identity FROM information_schema.columns "
        "WHERE table_name = 'chat_message' AND column_name = 'id'",
    )
    assert identity == ("YES",)


def test_postgres_indexes(postgres_url):
    connect(postgres_url).close()
    indexes = dict(
        run_sql(
            postgres_url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        )
    )
    assert "UNIQUE" in indexes["chat_session_one_unused"]
    assert "WHERE (NOT is_used)" in indexes["chat_session_one_unused"]
    assert "gin_trgm_ops" in indexes["chat_message_content_trgm"]
    assert "streaming" in indexes["chat_message_content_trgm"]  # final replies only
    assert "chat_session_owner_list" in indexes
    options = dict(
        run_sql(
            postgres_url,
            "SELECT relname, array_to_string(reloptions, ',') FROM pg_class "
            "WHERE relname IN ('chat_session_title_trgm', 'chat_message_content_trgm')",
        )
    )
    # searches read a GIN index's whole pending list: none for titles, a short one else
    assert options == {
        "chat_session_title_trgm": "fastupdate=off",
        "chat_message_content_trgm": "gin_pending_list_limit=256",
    }


def test_postgres_migrations_apply_once(postgres_url):
    connect(postgres_url).close()
    connect(postgres_url).close()
    names = run_sql(postgres_url, "SELECT name FROM chat_schema_migrations ORDER BY name")
    assert names == [
        ("p001_create_tables",),
        ("p002_search_indexes",),
        ("p003_error_codes",),
        ("p004_reply_heartbeat",),
        ("p005_message_tree",),
        ("p006_reply_details",),
        ("p007_attachments",),
        ("p008_preferences_and_shares",),
        ("p009_usage_index",),
        ("p010_search_pending_lists",),
        ("p011_price_tier_lengths",),
        ("p012_reply_model_alias",),
    ]


def test_a_postgres_database_from_a_newer_version_is_refused_untouched(postgres_url):
    connect(postgres_url).close()
    run_sql(postgres_url, "INSERT INTO chat_schema_migrations (name) VALUES ('p999_future')")
    run_sql(postgres_url, "DROP INDEX chat_session_owner_list")  # a change we would redo
    with pytest.raises(DatabaseTooNewError, match="p999_future"):
        connect(postgres_url)
    indexes = run_sql(postgres_url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    assert ("chat_session_owner_list",) not in indexes


# --- a reply's alias: an older database gains it, its usage index still covers -----------


def database_before_reply_aliases(location: str) -> None:
    """A database as the version before replies kept their alias left it."""
    database_before(location, "p012_reply_model_alias", "m015_reply_model_alias")


def usage_index_columns(location: str) -> set[str]:
    if is_postgres_url(location):
        ((definition,),) = run_sql(
            location, "SELECT indexdef FROM pg_indexes WHERE indexname = 'chat_message_usage'"
        )
        return set(re.findall(r"\w+", definition))
    return {row[2] for row in run_sql(location, "PRAGMA index_info(idx_chat_message_usage)")}


def test_an_older_database_gains_the_reply_alias_and_its_usage_index_covers_it(db_location):
    database_before_reply_aliases(db_location)
    when = "2026-03-02T10:00:00+00:00"
    run_sql(
        db_location,
        "INSERT INTO chat_session (id, owner, title, is_used, created_at, updated_at, model, "
        "model_alias) VALUES ('old', 'alice', 'old chat', TRUE, ?, ?, 'ep-x', 'served-b')",
        (when, when),
    )
    run_sql(
        db_location,
        "INSERT INTO chat_message (session_id, role, content, status, created_at, model, "
        "prompt_tokens, completion_tokens) "
        "VALUES ('old', 'assistant', 'answer', 'complete', ?, 'ep-x', 10, 2)",
        (when,),
    )
    with connect(db_location) as store:
        (reply,) = store.get_messages(store.get_session("alice", "old"))
        (group,) = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=Bands())
    assert reply.model_alias is None
    assert group.alias == "served-b"  # an older reply: its chat's alias stands in
    # Every column of a reply the usage queries read is in the index (the id is every
    # SQLite index's; PostgreSQL's CSV export reads rows anyway), so they never read
    # the rows, which hold the text.
    read = set(re.findall(r"\bm\.(\w+)", Path(usage_queries.__file__).read_text())) - {"id"}
    assert "model_alias" in read
    assert read <= usage_index_columns(db_location)
