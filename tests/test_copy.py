"""`python -m chat_core.store.copy`: history copied between real SQLite files and a real
PostgreSQL server, in both directions, compared through the store's API."""

import dataclasses
import hashlib
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from chat_core.errors import ShareLinkError
from chat_core.store import connect, utc_now
from chat_core.store.copy import copy_history, main, owner_counts
from chat_core.store.rules import CACHE_KEYS
from tests.databases import run_sql

REPO = Path(__file__).resolve().parent.parent
PASSWORD_IN_URL = "Sekr1t-pw-do-not-print"


# --- building databases --------------------------------------------------------------------


def fill(store):
    """Three owners with settings, statuses, usage, reasoning, pins, renames, a cached
    chat, an unused chat, share links (one revoked) and preferences."""
    trip, _ = store.new_session("alice")
    store.start_turn(trip, "Plan a trip to Kyoto")
    # asked of an endpoint, which said it serves this model
    reply = store.begin_reply(trip, model="ep-20250101-abc", model_alias="doubao-seed-1-6")
    store.save_reply(
        trip,
        reply.id,
        content="Day 1: temples. Day 2: gardens.",
        reasoning="The user wants a short plan.",
        status="complete",
        model="doubao-seed-1-6-250615",
        usage={"prompt_tokens": 12, "completion_tokens": 30, "cached_tokens": 4,
               "reasoning_tokens": 7},
        latency_ms=850,
    )  # fmt: skip
    store.update_settings(
        "alice", trip.id, model="ep-20250101-abc", system_prompt="Be brief.",
        temperature=0.7, thinking="enabled", cache_mode="responses",
    )  # fmt: skip
    store.set_pinned("alice", trip.id, True)
    store.set_cache_state(trip, response_id="resp-123", context_id="ctx-9", context_expires_at=9e9)

    failed, _ = store.new_session("alice")
    store.start_turn(failed, "Why is the sky blue?")
    reply = store.begin_reply(failed)
    store.save_reply(failed, reply.id, content="Because of Rayl", status="interrupted")
    store.start_turn(failed, "Go on")
    reply = store.begin_reply(failed)
    store.save_reply(
        failed,
        reply.id,
        content="",
        status="error",
        error_code="rate_limited",
        error_params={"request_id": "req-429"},
    )
    store.rename("alice", failed.id, "Sky colour")
    store.new_session("alice")  # alice's unused chat

    weather, _ = store.new_session("bob")
    store.start_turn(weather, "北京明天天气怎么样？")
    reply = store.begin_reply(weather)
    store.save_reply(weather, reply.id, content="晴，15°C。", status="complete", latency_ms=40)
    store.update_settings("bob", weather.id, thinking="disabled", cache_mode="context")

    draft, _ = store.new_session("carol")
    store.start_turn(draft, "A reply still streaming when the copy ran")
    store.begin_reply(draft)

    store.create_share("alice", trip.id, "anyone")
    store.revoke_share("alice", store.create_share("alice", failed.id, "signed_in").token)
    store.create_share("bob", weather.id, "owner")
    store.set_preferences("alice", {"language": "zh", "thinking": "enabled"})
    store.set_preferences("bob", {"model": "ep-20250101-abc"})
    return trip


def snapshot(store):
    """Every chat of every owner as plain values: session fields without the cache
    state, and its messages (ids included)."""
    chats = {}
    for owner in store.backend.owners():
        for session in store.list_sessions(owner, limit=100_000):
            fields = dataclasses.asdict(session)
            for key in CACHE_KEYS:
                fields.pop(key)
            messages = [dataclasses.asdict(m) for m in store.get_messages(session)]
            # The tree by position, which survives new ids: each message's parent, and
            # the current leaf, as an index into the chat's messages.
            position = {m["id"]: index for index, m in enumerate(messages)}
            for message in messages:
                message["parent_id"] = position.get(message["parent_id"])
            fields["current_leaf_id"] = position.get(
                fields["current_leaf_id"], len(messages) - 1 if messages else None
            )
            chats[session.id] = (fields, messages)
    return chats


def links_and_preferences(store):
    """Every share link (token, snapshot and revocation included) and preference."""
    with store.backend.reading() as tx:
        links = tx.query("SELECT * FROM share_link ORDER BY token")
        return links, tx.query("SELECT * FROM owner_preference ORDER BY owner, name")


def cache_states(store):
    return {
        getattr(session, key)
        for owner in store.backend.owners()
        for session in store.list_sessions(owner, limit=100_000)
        for key in CACHE_KEYS
    }


def unused_ids(store, owner):
    return [s.id for s in store.list_sessions(owner, limit=1000) if not s.is_used]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- round trip ------------------------------------------------------------------------------


def test_sqlite_to_postgres_to_sqlite_keeps_every_chat(tmp_path, postgres_url, capsys):
    first, back = tmp_path / "first.db", tmp_path / "back.db"
    with connect(first) as store:
        trip = fill(store)
        original = snapshot(store)
        assert "doubao-seed-1-6" in {m["model_alias"] for _, ms in original.values() for m in ms}
        original_extras = links_and_preferences(store)
        (public,) = store.share_links("alice", session_id=trip.id)
        assert cache_states(store) > {None}  # the source does hold a cache state

    assert main([str(first), postgres_url]) == 0
    assert main([postgres_url, str(back)]) == 0

    out = capsys.readouterr().out
    assert out.count("owners:   3") == 2 and out.count("Verified") == 2
    assert "sessions: 5 copied" in out and "messages: 10 copied" in out
    for location in (postgres_url, back):
        with connect(location) as store:
            assert snapshot(store) == original
            assert cache_states(store) == {None}  # a copied chat starts a fresh cache
            assert links_and_preferences(store) == original_extras
            assert store.open_share(public.token, None).messages  # a published link works


def test_a_copy_is_ready_for_the_app(tmp_path, postgres_url):
    """New ids continue after the copied ones, and the owner's unused chat is reused."""
    source = tmp_path / "source.db"
    with connect(source) as store:
        trip = fill(store)
        (unused,) = unused_ids(store, "alice")
    assert main([str(source), postgres_url]) == 0
    with connect(postgres_url) as store:
        copied = store.get_session("alice", trip.id)
        newest = store.get_messages(copied)[-1].id
        message = store.start_turn(copied, "One more day?")
        again, is_new = store.new_session("alice")
    assert message.id > newest
    assert (again.id, is_new) == (unused, False)


# --- running again ----------------------------------------------------------------------------


def test_second_run_copies_nothing_and_a_third_only_what_is_new(tmp_path, db_location):
    source = tmp_path / "source.db"
    with connect(source) as store:
        trip = fill(store)
    first = copy_history(str(source), db_location)
    assert (first.sessions_copied, first.messages_copied, first.missing) == (5, 10, {})

    second = copy_history(str(source), db_location)
    assert (second.sessions_copied, second.sessions_updated, second.messages_copied) == (0, 0, 0)
    assert (second.sessions_present, second.messages_present) == (5, 10)

    with connect(source) as store:
        (unused,) = unused_ids(store, "alice")
        turn = store.start_turn(store.get_session("alice", trip.id), "And day 3?")
        store.start_turn(store.get_session("alice", unused), "Now I use my unused chat")
        store.new_session("alice")  # a new unused chat takes its place
        dave, _ = store.new_session("dave")
        store.start_turn(dave, "Hello from a new owner")
        expected = snapshot(store)
    with connect(db_location) as store:  # TARGET's own cache state of the chat that grows
        store.set_cache_state(store.get_session("alice", trip.id), response_id="resp-target")

    third = copy_history(str(source), db_location)
    assert (third.sessions_copied, third.sessions_updated, third.messages_copied) == (2, 2, 3)
    assert (third.sessions_present, third.messages_present, third.missing) == (3, 10, {})
    with connect(db_location) as store:
        assert snapshot(store) == expected
        grown = store.get_session("alice", trip.id)
        assert store.get_messages(grown)[-1].id == turn.id
        assert grown.response_id is None  # its cache lacks the turn added: dropped
        assert len(unused_ids(store, "alice")) == 1


def code_of(call) -> str:
    with pytest.raises(ShareLinkError) as caught:
        call()
    return caught.value.code


def test_links_and_preferences_copied_again_leave_target_own_alone(
    tmp_path, db_location, monkeypatch
):
    """New links and preferences are copied; a link there already is revoked as in
    SOURCE unless TARGET holds it under another owner; TARGET's preferences stay."""
    monkeypatch.setattr("chat_core.store.copy.PAGE_LINKS", 2)
    monkeypatch.setattr("chat_core.store.copy.PAGE_PREFERENCES", 2)
    source = tmp_path / "source.db"
    with connect(source) as store:
        trip = fill(store)
        (public,) = store.share_links("alice", session_id=trip.id)
        (private,) = store.share_links("bob")
    first = copy_history(str(source), db_location)
    assert (first.links_copied, first.preferences_copied, first.missing) == (3, 3, {})

    with connect(source) as store:
        store.revoke_share("alice", public.token)
        store.revoke_share("bob", private.token)
        newer = store.create_share("alice", trip.id, "signed_in")
        store.set_preferences("alice", {"model": "ep-20250101-abc"})
    with connect(db_location) as store:
        store.set_preferences("alice", {"language": "en"})
    run_sql(db_location, "UPDATE share_link SET owner = ? WHERE token = ?", ("zoe", private.token))

    second = copy_history(str(source), db_location)
    assert (second.links_copied, second.links_present, second.links_foreign) == (1, 2, 1)
    assert (second.preferences_copied, second.preferences_present) == (1, 3)
    with connect(db_location) as store:
        assert code_of(lambda: store.open_share(public.token, None)) == "share_revoked"
        assert not store.open_share(private.token, "zoe").revoked  # another owner's now
        assert store.open_share(newer.token, "dave").messages == newer.messages
        assert store.preferences("alice") == {
            "language": "en",
            "model": "ep-20250101-abc",
            "thinking": "enabled",
        }
    third = copy_history(str(source), db_location)
    assert (third.links_copied, third.preferences_copied) == (0, 0)


def test_a_link_to_a_chat_id_another_owner_holds_in_target_is_not_copied(tmp_path, db_location):
    source = tmp_path / "source.db"
    with connect(source) as store:
        chat, _ = store.new_session("alice")
        store.start_turn(chat, "alice's question")
        reply = store.begin_reply(chat)
        store.save_reply(chat, reply.id, content="alice's answer", status="complete")
        link = store.create_share("alice", chat.id, "anyone")
    with connect(db_location) as store:  # TARGET holds that id under zoe
        store.import_session(
            "zoe",
            "zoe's chat",
            [
                {
                    "role": "user",
                    "content": "zoe's",
                    "status": "complete",
                    "created_at": "2026-01-01T08:00:00.000000+00:00",
                }
            ],
            session_id=chat.id,
        )
    report = copy_history(str(source), db_location)
    assert (report.links_copied, report.links_foreign) == (0, 1)
    with connect(db_location) as store:
        assert code_of(lambda: store.open_share(link.token, None)) == "share_unknown"


def test_unused_chat_is_skipped_when_the_target_owner_has_one(tmp_path, db_location):
    source = tmp_path / "source.db"
    with connect(source) as store:
        used, _ = store.new_session("alice")
        store.start_turn(used, "hello")
        store.new_session("alice")
    with connect(db_location) as store:
        own, _ = store.new_session("alice")

    report = copy_history(str(source), db_location)
    assert (report.sessions_copied, report.sessions_unused_skipped, report.missing) == (1, 1, {})
    with connect(db_location) as store:
        assert unused_ids(store, "alice") == [own.id]
        assert store.find_session("alice", used.id) is not None


def test_a_link_of_a_chat_the_copy_skips_is_not_copied(tmp_path, db_location):
    source = tmp_path / "source.db"
    with connect(source) as store:  # a chat shared, then emptied: alice's unused chat
        emptied, _ = store.new_session("alice")
        question = store.start_turn(emptied, "soon deleted")
        reply = store.begin_reply(emptied)
        store.save_reply(emptied, reply.id, content="an answer", status="complete")
        link = store.create_share("alice", emptied.id, "anyone")
        store.delete_message(emptied, question.id)
        assert not store.get_session("alice", emptied.id).is_used
    with connect(db_location) as store:
        store.new_session("alice")  # TARGET has alice's unused chat: SOURCE's is skipped
    report = copy_history(str(source), db_location)
    assert (report.sessions_unused_skipped, report.links_copied) == (1, 0)
    with connect(db_location) as store:  # no link left behind a chat it does not hold
        assert code_of(lambda: store.open_share(link.token, None)) == "share_unknown"


def test_chats_whose_ids_are_taken_get_new_ones_in_order(tmp_path, db_location):
    source = tmp_path / "source.db"
    with connect(source) as store:
        fill(store)
        original = snapshot(store)
    with connect(db_location) as store:  # TARGET's own chat already uses ids 1 and 2
        own, _ = store.new_session("zoe")
        store.start_turn(own, "my own chat")
        store.begin_reply(own)

    assert copy_history(str(source), db_location).missing == {}
    with connect(db_location) as store:
        copied = snapshot(store)
    for sid, (session, messages) in original.items():
        copied_session, copied_messages = copied[sid]
        assert copied_session == session
        ids, source_ids = [m.pop("id") for m in copied_messages], [m["id"] for m in messages]
        assert ids == sorted(ids)  # still in their order
        if not {1, 2} & set(source_ids):
            assert ids == source_ids  # free ids are kept
        assert copied_messages == [{k: v for k, v in m.items() if k != "id"} for m in messages]
    assert [m["id"] for m in copied[own.id][1]] == [1, 2]  # TARGET's own chat is untouched


def test_progress_is_shown_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("chat_core.store.copy.PROGRESS_SECONDS", 0)
    monkeypatch.setattr("chat_core.store.copy.PAGE_SESSIONS", 2)
    source = tmp_path / "source.db"
    with connect(source) as store:
        fill(store)
    assert main([str(source), str(tmp_path / "target.db")]) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "sessions read" in line] == [
        "… 2 of 5 sessions read (40%)",
        "… 4 of 5 sessions read (80%)",
        "… 5 of 5 sessions read (100%)",
    ]


# --- a large database ---------------------------------------------------------------------------


def build_large(path, sessions, owners=10, messages_per_chat=3):
    """`sessions` chats spread over `owners` (each owner's last chat unused), written
    with one executemany per table rather than through the store's API."""
    session_rows, message_rows = [], []
    for n in range(sessions):
        owner = f"user{n % owners}@example.com"
        unused = n >= sessions - owners
        sid, now = uuid.uuid4().hex, utc_now()
        session_rows.append(
            [sid, owner, None if unused else f"Chat {n}", not unused, now, now,
             None if unused else now, n % 97 == 0, "ep-demo" if n % 2 else None, 0.5]
        )  # fmt: skip
        for turn in range(0 if unused else messages_per_chat):
            role = "user" if turn % 2 == 0 else "assistant"
            text = f"Message {turn} of chat {n}: 北京天气"
            message_rows.append([sid, role, text, "complete", now, turn * 10 or None])
    with connect(path) as store, store.backend.writing() as tx:
        tx.execute_many(
            "INSERT INTO chat_session (id, owner, title, is_used, created_at, updated_at, "
            "used_at, pinned, model, temperature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            session_rows,
        )
        tx.execute_many(
            "INSERT INTO chat_message (session_id, role, content, status, created_at, "
            "prompt_tokens) VALUES (?, ?, ?, ?, ?, ?)",
            message_rows,
        )


def counts_of(location):
    with connect(location) as store, store.backend.reading() as tx:
        return {owner: dataclasses.astuple(c) for owner, c in owner_counts(tx).items()}


def test_ten_thousand_chats_move_to_postgres_and_back(tmp_path, postgres_url, capsys):
    source, back = tmp_path / "large.db", tmp_path / "back.db"
    build_large(source, 10_000)
    expected = counts_of(source)
    assert sum(s for s, _ in expected.values()) == 10_000

    started = time.perf_counter()
    assert main([str(source), postgres_url]) == 0
    to_postgres = time.perf_counter() - started
    assert main([postgres_url, str(back)]) == 0
    to_sqlite = time.perf_counter() - started - to_postgres

    output = capsys.readouterr()
    assert output.out.count("sessions: 10,000 copied") == 2
    assert output.out.count("messages: 29,970 copied") == 2
    assert counts_of(postgres_url) == counts_of(back) == expected
    with capsys.disabled():
        print(f"\n10,000 chats: SQLite → PostgreSQL {to_postgres:.1f} s, back {to_sqlite:.1f} s")


# --- a first-version database ----------------------------------------------------------------

FIRST_VERSION_CHATS = {
    "ctx-20250120174458-6c94p": [("user", "你好"), ("assistant", "你好！有什么可以帮你？")],
    "ctx-20250121090000-ab12c": [
        ("user", "Write a haiku"),
        ("assistant", "Autumn moonlight—"),
        ("user", "Another one"),
        ("assistant", "A frog jumps in"),
    ],
}
FIRST_VERSION_EMPTY = ["ctx-20250122100000-aaaaa", "ctx-20250123100000-bbbbb", "ctx-20250124-c"]


def build_first_version(path):
    """A database as the Flask version wrote it, with several empty unused sessions."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(
            """
            CREATE TABLE chat_session (id VARCHAR(36) PRIMARY KEY, created_at DATETIME,
                                       is_used BOOLEAN);
            CREATE TABLE chat_message (id INTEGER PRIMARY KEY, session_id VARCHAR(36),
                                       role VARCHAR(20), content TEXT, created_at DATETIME);
            """
        )
        for day, (sid, turns) in enumerate(FIRST_VERSION_CHATS.items(), start=20):
            conn.execute("INSERT INTO chat_session VALUES (?, ?, 1)", [sid, f"2025-01-{day} 10:00"])
            for second, (role, text) in enumerate(turns):
                conn.execute(
                    "INSERT INTO chat_message (session_id, role, content, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [sid, role, text, f"2025-01-{day} 10:00:{second:02}.123456"],
                )
        for day, sid in enumerate(FIRST_VERSION_EMPTY, start=22):
            conn.execute("INSERT INTO chat_session VALUES (?, ?, 0)", [sid, f"2025-01-{day} 10:00"])


def test_first_version_database_copies_read_only(tmp_path, db_location, capsys):
    old = tmp_path / "old" / "chat.db"
    old.parent.mkdir()
    build_first_version(old)
    before = sha256(old)

    assert main([str(old), db_location, "--owner", "alice"]) == 0
    assert main([str(old), db_location, "--owner", "alice"]) == 0  # nothing new

    out = capsys.readouterr().out
    assert "sessions: 3 copied" in out and "messages: 6 copied" in out
    assert "sessions: 0 copied" in out and "3 already there" in out
    assert sha256(old) == before
    assert sorted(p.name for p in old.parent.iterdir()) == ["chat.db"]  # no journal, no backup
    with connect(db_location) as store:
        for sid, turns in FIRST_VERSION_CHATS.items():
            session = store.get_session("alice", sid)
            assert session.is_used and session.title == turns[0][1]
            assert [(m.role, m.content) for m in store.get_messages(session)] == turns
        # Of the empty sessions only the newest is kept, as alice's one unused chat.
        assert unused_ids(store, "alice") == [FIRST_VERSION_EMPTY[-1]]


def test_first_version_chats_copied_for_another_owner_fail_verification(
    tmp_path, postgres_url, capsys
):
    old = tmp_path / "old.db"
    build_first_version(old)
    assert main([str(old), postgres_url]) == 0  # owner "local" by default
    assert main([str(old), postgres_url, "--owner", "alice"]) == 1

    err = capsys.readouterr().err
    assert "Verification failed" in err and "alice: 0 of 3 sessions" in err
    assert "another owner" in err
    with connect(postgres_url) as store:
        assert store.find_session("local", "ctx-20250120174458-6c94p") is not None


# --- bad input -----------------------------------------------------------------------------------


def run_failing(argv, capsys):
    """`main(argv)`'s exit status and its whole output; checks it shows no traceback."""
    status = main(argv)
    output = capsys.readouterr()
    text = output.out + output.err
    assert "Traceback" not in text and PASSWORD_IN_URL not in text
    return status, text


def test_missing_source_file(tmp_path, capsys):
    target = tmp_path / "target.db"
    status, text = run_failing([str(tmp_path / "nothing.db"), str(target)], capsys)
    assert status == 1 and "nothing.db does not exist" in text
    assert not target.exists()  # a bad SOURCE creates no TARGET


def test_source_that_is_not_a_database(tmp_path, capsys):
    source = tmp_path / "notes.db"
    source.write_bytes(b"These are my notes, not a database.\n" * 100)
    status, text = run_failing([str(source), str(tmp_path / "target.db")], capsys)
    assert status == 1 and "is not a SQLite database" in text
    assert source.read_bytes().startswith(b"These are my notes")


def test_sqlite_source_without_chats(tmp_path, capsys):
    source = tmp_path / "other.db"
    with closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = sha256(source)
    status, text = run_failing([str(source), str(tmp_path / "target.db")], capsys)
    assert status == 1 and "without Ark Chat chats" in text
    assert sha256(source) == before


def test_postgres_source_without_chats_is_not_changed(tmp_path, postgres_url, capsys):
    status, text = run_failing([postgres_url, str(tmp_path / "target.db")], capsys)
    assert status == 1 and "holds no Ark Chat tables" in text
    with psycopg.connect(postgres_url) as conn:  # opening it would have created them
        assert conn.execute("SELECT to_regclass('chat_session')").fetchone()[0] is None


def test_unreachable_postgres_target(tmp_path, capsys):
    source = tmp_path / "source.db"
    with connect(source) as store:
        fill(store)
    target = f"postgresql://postgres:{PASSWORD_IN_URL}@127.0.0.1:1/chats"
    status, text = run_failing([str(source), target], capsys)
    assert status == 1 and "Cannot open TARGET" in text and "cannot be reached" in text
    assert "postgres:***@127.0.0.1:1/chats" in text


def test_wrong_password(tmp_path, postgres_server, postgres_url, capsys):
    source = tmp_path / "source.db"
    with connect(source) as store:
        fill(store)
    dbname = conninfo_to_dict(postgres_url)["dbname"]
    target = postgres_server.url(dbname, password=PASSWORD_IN_URL)
    status, text = run_failing([str(source), target], capsys)
    assert status == 1 and "refused the user name or password" in text


def test_same_source_and_target(tmp_path, postgres_url, capsys):
    source = tmp_path / "chat.db"
    with connect(source) as store:
        fill(store)
        before = snapshot(store)
    status, text = run_failing([str(source), str(tmp_path / "." / "chat.db")], capsys)
    assert status == 1 and "the same database" in text
    with connect(source) as store:
        assert snapshot(store) == before

    parts = conninfo_to_dict(postgres_url)
    other_spelling = (
        f"postgres://postgres:{PASSWORD_IN_URL}@localhost:{parts['port']}/{parts['dbname']}"
    )
    status, text = run_failing([postgres_url, other_spelling], capsys)
    assert status == 1 and "the same database" in text


def test_the_module_runs_as_a_command(tmp_path, postgres_server, postgres_url):
    source = tmp_path / "source.db"
    with connect(source) as store:
        fill(store)
    done = subprocess.run(
        [sys.executable, "-m", "chat_core.store.copy", str(source), postgres_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "sessions: 5 copied" in done.stdout and "Verified" in done.stdout
    assert postgres_server.password not in done.stdout + done.stderr
    assert "postgres:***@127.0.0.1" in done.stdout


def test_a_target_url_with_a_slash_missing_is_refused_and_creates_no_file(
    tmp_path, monkeypatch, capsys
):
    source = tmp_path / "source.db"
    with connect(source) as store:
        fill(store)
    monkeypatch.chdir(tmp_path)
    target = f"postgresql:/postgres:{PASSWORD_IN_URL}@127.0.0.1/chats"
    status, text = run_failing([str(source), target], capsys)
    assert status == 1 and "TARGET must be a postgresql:// URL" in text
    assert sorted(path.name for path in tmp_path.iterdir()) == ["source.db"]
