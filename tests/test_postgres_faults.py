"""PostgreSQL faults against a real server: every failure is a clear `DatabaseError`,
comes quickly, loses nothing already saved, and never shows the password or the URL.

Tests that stop the shared server take the `server` fixture, which starts it again.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from chat_core import chat
from chat_core.ark import make_client
from chat_core.config import Settings, load_settings
from chat_core.errors import (
    ChatError,
    ConfigError,
    DatabaseAuthError,
    DatabaseError,
    DatabaseLockedError,
    DatabaseSetupError,
    DatabaseUnavailableError,
)
from chat_core.store import Store, connect, open_store
from locales import describe
from tests.conftest import EMULATOR_KEY
from tests.postgres_server import free_port

STORE_TIMEOUT = 1.0  # busy_timeout of stores that see the server go away
SECRET = "s3cret-Pa55word"  # for URLs whose server never sees it
PUBLIC_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def logs(caplog):
    """Every record of the app and of psycopg (pool included), down to DEBUG."""
    for name in ("chat_core", "psycopg"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def server(postgres_server, postgres_url):
    """The shared server, running again after the test whatever the test did to it
    (before `postgres_url` drops the test's database)."""
    yield postgres_server
    if not postgres_server.is_running():
        postgres_server.start()


@pytest.fixture
def stores():
    """Open stores that are closed at the end of the test."""
    opened = []

    def open_one(url: str, **options):
        opened.append(connect(url, **options))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def failed_connect(url: str) -> DatabaseError:
    """The error `connect(url)` raises (how long it takes: bench/bench_postgres_faults.py)."""
    with pytest.raises(DatabaseError) as failed:
        connect(url).close()
    return failed.value


def texts_of(error: ChatError) -> list[str]:
    return [describe("en", error), describe("zh", error), str(error)]


def assert_never_shown(secrets: list[str], logs, *errors: ChatError) -> None:
    """No secret (password or full URL) in the errors' messages, in either language, nor
    in any log record or logged traceback."""
    shown = [text for error in errors for text in texts_of(error)]
    shown += [logs.text, *(record.getMessage() for record in logs.records)]
    for secret in secrets:
        assert not [text for text in shown if secret in text], f"{secret!r} was shown"


def secrets_of(server, url: str) -> list[str]:
    return [server.password, url]


def add_chat(store, text: str = "kept before the fault"):
    session, _ = store.new_session("alice")
    store.start_turn(session, text)
    return session


def fill_pool(store, connections: int) -> None:
    """Leave `connections` idle connections in the store's pool, as after a busy moment."""
    with contextlib.ExitStack() as held:
        for _ in range(connections):
            held.enter_context(store.backend.pool.connection())


# --- opening: server unreachable, wrong password, missing database -----------------------


@pytest.mark.parametrize("port", [free_port(), 1], ids=["free-port", "port-1"])
def test_nothing_listening_fails_fast_and_clearly(port, logs):
    url = f"postgresql://chat:{SECRET}@127.0.0.1:{port}/chat"
    error = failed_connect(url)
    assert isinstance(error, DatabaseUnavailableError)
    assert f"(127.0.0.1:{port}/chat) cannot be reached" in describe("en", error)
    assert f"127.0.0.1:{port}/chat" in describe("zh", error)
    assert_never_shown([SECRET, url], logs, error)


def test_a_host_name_that_does_not_resolve(logs):
    # .invalid never resolves (RFC 2606); the system resolver bounds the wait.
    url = f"postgresql://chat:{SECRET}@no-such-host.invalid:5432/chat"
    error = failed_connect(url)
    assert isinstance(error, DatabaseUnavailableError)
    assert "no-such-host.invalid:5432/chat" in describe("en", error)
    assert_never_shown([SECRET, url], logs, error)


@pytest.mark.parametrize("password", ["Xy7/Secret+Pw=", "Ab@Secret9"])
def test_a_password_typed_unencoded_is_refused_and_never_shows(password, logs):
    # libpq would read part of it as the host, port or database name, which
    # connection errors and psycopg's own log then show
    url = f"postgresql://chat:{password}@127.0.0.1:{free_port()}/chat"
    with pytest.raises(ConfigError) as refused:
        connect(url)
    assert "percent-encoded" in describe("en", refused.value)
    secrets = [password, *(part for part in re.split(r"[/@+=]", password) if len(part) > 2)]
    assert_never_shown([*secrets, url], logs, refused.value)


def test_a_wrong_password_is_refused_by_name(postgres_server, logs):
    wrong = "wrong-" + postgres_server.password[::-1]
    url = postgres_server.url(password=wrong)
    error = failed_connect(url)
    assert isinstance(error, DatabaseAuthError)
    assert "refused the user name or password in CHAT_DB" in describe("en", error)
    assert "拒绝了 CHAT_DB 中的用户名或密码" in describe("zh", error)
    assert_never_shown([wrong, *secrets_of(postgres_server, url)], logs, error)


def test_a_missing_database_is_named(postgres_server, logs):
    url = postgres_server.url("nope")
    error = failed_connect(url)
    assert isinstance(error, DatabaseUnavailableError)
    assert f"127.0.0.1:{postgres_server.port}/nope) does not exist" in describe("en", error)
    assert "不存在" in describe("zh", error)
    assert_never_shown(secrets_of(postgres_server, url), logs, error)


# --- opening: a user who may not set the database up ---------------------------------------


class LimitedUser(NamedTuple):
    url: str
    password: str
    admin: Callable[[str], list]  # rows of admin SQL in the user's database; {role}: the user


@pytest.fixture
def limited_user(postgres_server, postgres_url):
    """A login role of its own on the test's fresh database, with no CREATE on the
    database (so, on PostgreSQL 15, it may not install even the trusted pg_trgm) and,
    until granted, no CREATE on schema public either."""
    database = postgres_url.rsplit("/", 1)[1]
    role, password = f"{database}_app", f"role-{SECRET}"

    def admin(statement: str) -> list:
        with postgres_server.admin_connection(database) as conn:
            done = conn.execute(sql.SQL(statement).format(role=sql.Identifier(role)))
            return done.fetchall() if done.description else []

    with postgres_server.admin_connection() as conn:
        create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}")
        conn.execute(create.format(sql.Identifier(role), sql.Literal(password)))
    yield LimitedUser(
        f"postgresql://{role}:{password}@127.0.0.1:{postgres_server.port}/{database}",
        password,
        admin,
    )
    postgres_server.drop_database(database)  # its grants go with it, so the role can too
    with postgres_server.admin_connection() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_missing_pg_trgm_names_the_line_to_run(limited_user, logs):
    user = limited_user
    user.admin("GRANT CREATE ON SCHEMA public TO {role}")  # tables yes, extensions no
    error = failed_connect(user.url)
    assert isinstance(error, DatabaseSetupError)
    for lang in ("en", "zh"):
        assert "CREATE EXTENSION pg_trgm;" in describe(lang, error)
    assert_never_shown([user.url, user.password], logs, error)
    # The migrations ran in one transaction: nothing half-made is left behind, and the
    # line the message names is all an administrator has to do.
    assert user.admin(PUBLIC_TABLES) == []
    user.admin("CREATE EXTENSION pg_trgm")
    with connect(user.url) as store:
        assert store.list_sessions("alice") == []


def test_a_user_who_may_not_create_tables_is_told_so(limited_user, logs):
    # PostgreSQL 15 no longer lets every user create tables in schema public.
    error = failed_connect(limited_user.url)
    assert isinstance(error, DatabaseSetupError)
    assert "permission denied for schema public" in describe("en", error)
    assert "permission denied for schema public" in describe("zh", error)
    assert_never_shown([limited_user.url, limited_user.password], logs, error)


@pytest.mark.timeout(60)  # without a lock timeout the call waits for ever
def test_a_row_locked_by_another_process_fails_as_busy_within_the_timeout(postgres_url, stores):
    store = stores(postgres_url, busy_timeout=STORE_TIMEOUT)
    session = add_chat(store)
    with psycopg.connect(postgres_url) as other:  # holds the chat's row in an open transaction
        other.execute("UPDATE chat_session SET title = 'held' WHERE id = %s", [session.id])
        began = time.monotonic()
        with pytest.raises(DatabaseLockedError) as failed:
            store.start_turn(session, "waits for the row")
        waited = time.monotonic() - began
    assert waited < STORE_TIMEOUT + 5  # it used to wait until the other transaction ended
    assert "busy" in describe("en", failed.value)
    assert [m.content for m in store.get_messages(session)] == ["kept before the fault"]


def test_times_near_year_9999_read_back_whatever_the_clients_zone(
    postgres_url, stores, monkeypatch
):
    """Shown in a zone east of UTC, 9999-12-31 23:00 UTC is past year 9999, which no
    client can read: the store reads times in UTC whatever PGTZ or the server says."""
    monkeypatch.setenv("PGTZ", "Asia/Shanghai")
    store = stores(postgres_url)
    session = add_chat(store)
    with psycopg.connect(postgres_url) as other:  # a time no version writes, set by hand
        other.execute(
            "UPDATE chat_message SET created_at = '9999-12-31T23:00:00Z' WHERE session_id = %s",
            [session.id],
        )
    (message,) = store.get_messages(session)
    assert message.created_at == "9999-12-31T23:00:00.000000+00:00"


# --- the server restarting or stopping under a running app ---------------------------------


@pytest.mark.parametrize("pooled", [1, 4])
def test_a_store_keeps_working_across_a_restart(server, postgres_url, stores, pooled, logs):
    store = stores(postgres_url, busy_timeout=STORE_TIMEOUT)
    session = add_chat(store)
    fill_pool(store, pooled)  # every pooled connection dies with the restart
    server.restart()
    # The very next call reconnects: a pool waiting out a reconnection backoff (1 s, then
    # 2 s...) would make it fail after the store's 1 s timeout.
    assert [m.content for m in store.get_messages(session)] == ["kept before the fault"]
    assert_never_shown(secrets_of(server, postgres_url), logs)


@pytest.mark.parametrize("outage", [0.0, 3.0], ids=["brief-outage", "3s-outage"])
def test_a_call_while_the_server_is_down_fails_clearly_then_recovers(
    server, postgres_url, stores, outage, logs
):
    store = stores(postgres_url, busy_timeout=STORE_TIMEOUT)
    session = add_chat(store)
    server.stop()
    with pytest.raises(DatabaseUnavailableError) as failed:
        store.start_turn(session, "written while the server is down")
    assert "cannot be reached right now. Nothing was saved" in describe("en", failed.value)
    time.sleep(outage)
    server.start()
    # The very next call works, and the failed write really saved nothing.
    assert [m.content for m in store.get_messages(session)] == ["kept before the fault"]
    assert_never_shown(secrets_of(server, postgres_url), logs, failed.value)


def test_a_password_changed_while_the_app_runs_is_named_not_taken_for_an_outage(
    server, postgres_url, stores, logs
):
    store = stores(postgres_url, busy_timeout=STORE_TIMEOUT)
    session = add_chat(store)
    rotated = "rotated-" + SECRET
    with server.admin_connection() as admin:
        admin.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(rotated)))
        try:
            # The app's connections end, as at a restart or an idle timeout.
            database = conninfo_to_dict(postgres_url)["dbname"]
            ended = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
            admin.execute(ended, [database])
            alive = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            deadline = time.monotonic() + 10
            while admin.execute(alive, [database]).fetchone()[0]:  # they end in a moment
                assert time.monotonic() < deadline
                time.sleep(0.05)
            with pytest.raises(DatabaseAuthError) as failed:
                store.get_messages(session)
        finally:
            admin.execute(
                sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(server.password))
            )
    assert "refused the user name or password in CHAT_DB" in describe("en", failed.value)
    assert [m.content for m in store.get_messages(session)] == ["kept before the fault"]
    assert_never_shown([rotated, *secrets_of(server, postgres_url)], logs, failed.value)


# --- a reply streaming while the database goes away ----------------------------------------


class App(NamedTuple):
    store: Store
    settings: Settings
    client: object  # the Ark client


@pytest.fixture
def app(server, postgres_url, emu):
    """A store and an Ark client as the app sets them up, on the test's database and the
    emulator answering a token every 20 ms."""
    env = {
        "ARK_API_KEY": EMULATOR_KEY,
        "ARK_BASE_URL": emu.base_url,
        "ARK_MODEL": "ep-test-model",
        "ARK_MAX_RETRIES": "0",
        "ARK_THINKING": "disabled",
        "CHAT_DB": postgres_url,
        "CHAT_BUSY_TIMEOUT": str(STORE_TIMEOUT),
    }
    settings = load_settings(env=env)
    emu.token_delay = 0.02
    try:
        with open_store(settings) as store, httpx.Client(trust_env=False) as http:
            yield App(store, settings, make_client(settings, http_client=http))
    finally:
        emu.token_delay = 0.0


def stream_and_stop(app, server, prompt: str, stop_when) -> tuple[ChatError, str, list]:
    """Send `prompt` and read the reply as the UI does, stopping the server once
    `stop_when(reply, shown_tokens)`, then start it again. Returns the error the user
    got, the text they saw and the chat's stored messages."""
    session, _ = app.store.new_session("alice")
    reply = chat.send(app.store, app.settings, session, app.client, prompt)
    shown, stopped = [], False
    with pytest.raises(ChatError) as failed, reply:
        for event in reply:
            shown.append(event.text)
            if not stopped and stop_when(reply, shown):
                server.stop()
                stopped = True
    server.start()
    return failed.value, "".join(shown), app.store.get_messages(session)


def assert_told_the_database_failed(error: ChatError, logs) -> None:
    # A clear database error, not a psycopg one; the failed final save is only logged.
    assert isinstance(error, DatabaseUnavailableError)
    assert describe("en", error).startswith("The chat database could not be reached, so the end")
    assert "could not save the final state of reply" in logs.text


def progress_saved(reply, shown) -> bool:
    return bool(reply.message.content)


def twenty_tokens_shown(reply, shown) -> bool:
    return len(shown) == 20


def test_a_reply_streaming_while_the_database_stops(server, postgres_url, app, logs):
    prompt = "#tokens=200 a long answer"  # 4 s of tokens
    error, text, stored = stream_and_stop(app, server, prompt, progress_saved)
    assert_told_the_database_failed(error, logs)
    user, saved = stored
    assert (user.content, user.status) == (prompt, "complete")
    # The text of the last progress save (~1 s in) is kept. The final save could not
    # run, so the row stays `streaming`; the UI shows it as "Reply incomplete".
    assert saved.status == "streaming"
    assert saved.content and text.startswith(saved.content) and saved.content != text
    assert_never_shown(secrets_of(server, postgres_url), logs, error)


def test_a_reply_finishing_while_the_database_is_down(server, postgres_url, app, logs):
    prompt = "#tokens=20 a short answer"  # 0.4 s: done before any progress save
    error, text, stored = stream_and_stop(app, server, prompt, twenty_tokens_shown)
    # The whole answer was shown, yet it could not be saved: the user is told so.
    assert text == " ".join(f"w{n}" for n in range(1, 21))
    assert_told_the_database_failed(error, logs)
    user, saved = stored
    assert (user.content, user.status) == (prompt, "complete")
    # The first text is saved at once, before the database went away; the rest is not.
    assert saved.status == "streaming" and text.startswith(saved.content)
    assert_never_shown(secrets_of(server, postgres_url), logs, error)


def test_a_reply_goes_on_through_a_short_outage_and_is_saved_whole(server, app, logs):
    prompt = "#tokens=150 a long answer"  # 3 s of tokens
    session, _ = app.store.new_session("alice")
    reply = chat.send(app.store, app.settings, session, app.client, prompt)
    back = None
    with reply:
        for _ in reply:
            if back is None and reply.message.content:  # a progress save has run
                server.stop()
                back = threading.Timer(1.5, server.start)  # back before the reply ends
                back.start()
    back.join()
    _, saved = app.store.get_messages(session)
    assert (saved.status, saved.content) == ("complete", reply.text)
    assert saved.content.endswith("w150")
    assert "a progress save failed (database_unreachable)" in logs.text


def test_settings_never_show_the_url(postgres_server):
    url = postgres_server.url()
    settings = load_settings(env={"CHAT_DB": url})
    assert settings.db == url
    for shown in (repr(settings), str(settings), settings.db_label):
        assert postgres_server.password not in shown
        assert url not in shown
