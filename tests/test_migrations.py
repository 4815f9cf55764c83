import pytest
import sqlite_utils

from chat_core.db import open_database
from chat_core.migrations import ensure_fts_triggers, migrations
from chat_core.store import Store

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
}


@pytest.fixture
def db(db_path):
    database = open_database(db_path)
    yield database
    database.close()


def test_exact_columns(db):
    assert db.table("chat_session").columns_dict == SESSION_COLUMNS
    assert db.table("chat_message").columns_dict == MESSAGE_COLUMNS
    assert db.table("chat_session").pks == ["seq"]
    assert db.table("chat_message").pks == ["id"]


def test_message_foreign_key_cascades(db):
    (fk,) = db.table("chat_message").foreign_keys
    assert (fk.column, fk.other_table, fk.other_column) == ("session_id", "chat_session", "id")
    sql = db.table("chat_message").schema
    assert "ON DELETE CASCADE" in sql
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_wal_and_indexes(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = {index.name for index in db.table("chat_session").indexes}
    assert {"idx_chat_session_owner_list", "idx_chat_session_one_unused"} <= names
    indexes = {index.name: index for index in db.table("chat_session").indexes}
    unused = indexes["idx_chat_session_one_unused"]
    assert unused.unique and unused.columns == ["owner"]
    assert "idx_chat_message_session" in {i.name for i in db.table("chat_message").indexes}


def test_applying_twice_is_a_no_op(db, db_path):
    open_database(db_path).close()
    applied = [m.name for m in migrations.applied(db)]
    assert applied == [
        "m001_create_tables",
        "m002_one_unused_session_per_owner",
        "m003_full_text_search",
        "m004_short_term_search",
    ]
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
    with Store(db_path) as store:
        state = dict(store.db.execute("SELECT id, is_used FROM chat_session").fetchall())
        assert state == {"newer": 0, "holds-messages": 1, "bob-one": 0}
        session, is_new = store.new_session("alice")
        assert (session.id, is_new) == ("newer", False)


def test_message_written_after_all_migrations_is_searchable(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "the quokka smiles")
    assert [hit.session_id for hit in store.search("alice", "quokka")] == [session.id]


def test_transform_then_ensure_fts_triggers_keeps_search_working(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "before transform")
    # What a future migration might do: rebuild the table (which drops its triggers).
    store.db.table("chat_message").transform(types={"latency_ms": float})
    triggers = {t.name for t in store.db.table("chat_message").triggers}
    assert "chat_message_ai" not in triggers
    ensure_fts_triggers(store.db)
    later, _ = store.new_session("alice")
    store.start_turn(later, "written after the rebuild")
    assert [hit.session_id for hit in store.search("alice", "rebuild")] == [later.id]
    assert [hit.session_id for hit in store.search("alice", "transform")] == [session.id]
