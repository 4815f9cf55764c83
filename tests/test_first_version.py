"""A database written by the first (Flask) version of the app, opened as `CHAT_DB`."""

import logging
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest

from chat_core.store import connect, sqlite_upgrade

CHATS = {
    "ctx-20250120174458-6c94p": [
        ("user", "明天北京的天气怎么样？", "2025-01-20 17:45:01.000000"),
        ("assistant", "晴，最高 5 度。", "2025-01-20 17:45:03.500000"),
    ],
    "ctx-20250121090000-ab12c": [
        ("user", "Plan a trip to Kyoto", "2025-01-21 09:00:02"),
    ],
    "0f8fad5b-d9cb-469f-a165-70867728950e": [],  # empty sessions pile up in that version
    "7c9e6679-7425-40de-944b-e07fc1f90ae7": [],
}
CREATED = {
    "ctx-20250120174458-6c94p": "2025-01-20 17:44:58.000000",
    "ctx-20250121090000-ab12c": "2025-01-21 09:00:00.000000",
    "0f8fad5b-d9cb-469f-a165-70867728950e": "2025-01-22 08:00:00.000000",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7": "2025-01-23 08:00:00.000000",
}


def write_first_version_database(path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE chat_session (id VARCHAR(36) PRIMARY KEY, created_at DATETIME, "
            "is_used BOOLEAN)"
        )
        conn.execute(
            "CREATE TABLE chat_message (id INTEGER PRIMARY KEY, session_id VARCHAR(36) "
            "REFERENCES chat_session(id), role VARCHAR(20), content TEXT, created_at DATETIME)"
        )
        for session_id, messages in CHATS.items():
            conn.execute(
                "INSERT INTO chat_session VALUES (?, ?, ?)",
                [session_id, CREATED[session_id], bool(messages)],
            )
            conn.executemany(
                "INSERT INTO chat_message (session_id, role, content, created_at) "
                "VALUES (?, ?, ?, ?)",
                [(session_id, *message) for message in messages],
            )


@pytest.fixture
def legacy_path(tmp_path):
    path = tmp_path / "chat.db"
    write_first_version_database(path)
    return path


def dump(path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


def test_it_is_upgraded_in_place_after_a_backup(legacy_path, caplog):
    original = dump(legacy_path)
    with caplog.at_level(logging.WARNING, logger="chat_core"), connect(legacy_path) as store:
        sessions = store.list_sessions("local")
    (backup,) = legacy_path.parent.glob("chat.db.before-upgrade-*.bak")
    assert dump(backup) == original
    upgrades = [r for r in caplog.records if "first version" in r.getMessage()]
    assert len(upgrades) == 1 and backup.name in upgrades[0].getMessage()
    used = [s for s in sessions if s.is_used]
    unused = [s for s in sessions if not s.is_used]
    assert {s.id for s in used} == {"ctx-20250120174458-6c94p", "ctx-20250121090000-ab12c"}
    assert [s.id for s in unused] == ["7c9e6679-7425-40de-944b-e07fc1f90ae7"]  # the newest


def test_its_chats_open_by_their_hyphenated_ids(legacy_path):
    with connect(legacy_path) as store:
        session = store.get_session("local", "ctx-20250120174458-6c94p")
        messages = store.get_messages(session)
        assert session.title == "明天北京的天气怎么样？"
        assert session.created_at == "2025-01-20T17:44:58.000000+00:00"
        assert [(m.role, m.content, m.status) for m in messages] == [
            ("user", "明天北京的天气怎么样？", "complete"),
            ("assistant", "晴，最高 5 度。", "complete"),
        ]
        assert [h.session_id for h in store.search("local", "天气")] == [session.id]
        store.start_turn(session, "后天呢？")  # and they go on as usual
        assert store.count_messages(session) == 3


def test_the_upgrade_happens_once(legacy_path, caplog):
    connect(legacy_path).close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="chat_core"):
        connect(legacy_path).close()
    assert not [r for r in caplog.records if "first version" in r.getMessage()]
    assert len(list(legacy_path.parent.glob("*.bak"))) == 1


def test_a_backup_never_overwrites_one_another_process_made_in_the_same_second(legacy_path):
    now = time.time()
    stamps = {time.strftime("%Y%m%d-%H%M%S", time.localtime(now + delay)) for delay in (0, 1)}
    others = [legacy_path.with_name(f"chat.db.before-upgrade-{stamp}.bak") for stamp in stamps]
    for other in others:
        other.write_bytes(b"another process's backup")
    original = dump(legacy_path)
    connect(legacy_path).close()
    assert [other.read_bytes() for other in others] == [b"another process's backup"] * len(others)
    (backup,) = set(legacy_path.parent.glob("chat.db.before-upgrade-*.bak")) - set(others)
    assert dump(backup) == original


def test_a_process_that_finds_the_upgrade_done_keeps_no_backup_of_its_own(legacy_path, monkeypatch):
    original = dump(legacy_path)
    backup = sqlite_upgrade._backup

    def backup_then_another_process_upgrades(conn, path):
        made = backup(conn, path)
        # Between this process's backup and its write lock, another one upgrades.
        script = "import sys; from chat_core.store import connect; connect(sys.argv[1]).close()"
        subprocess.run([sys.executable, "-c", script, str(path)], check=True)
        return made

    monkeypatch.setattr(sqlite_upgrade, "_backup", backup_then_another_process_upgrades)
    with connect(legacy_path) as store:
        assert len(store.list_sessions("local")) == 3
    (kept,) = legacy_path.parent.glob("chat.db.before-upgrade-*.bak")
    assert dump(kept) == original
