import sqlite3
import sys
from importlib.metadata import version

import pytest

from ark_emulator import ArkEmulator
from chat_core.store import connect

EMULATOR_KEY = "test-key"


def pytest_report_header(config):
    return (
        f"sqlite {sqlite3.sqlite_version}, sqlite-utils {version('sqlite-utils')}, "
        f"python {sys.version.split()[0]}"
    )


@pytest.fixture
def db_path(tmp_path):
    """A SQLite file for tests about SQLite itself."""
    return tmp_path / "chat.db"


@pytest.fixture(params=["sqlite", "postgres"])
def db_location(request, tmp_path):
    """A fresh database on each backend in turn: a SQLite path or a PostgreSQL URL.
    Tests that take it (or `store`) are the store's contract suite."""
    if request.param == "sqlite":
        return str(tmp_path / "chat.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def open_store(db_location):
    """Open more stores on the test's database (each closed at the end)."""
    opened = []

    def open_one(**options):
        opened.append(connect(db_location, **options))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store):
    return open_store()


def emulator_fixture(scope: str = "module", **settings):
    """An `emu` fixture: a running `ArkEmulator` made with `settings` (`api_key` defaults to
    `EMULATOR_KEY`), one per module, or per test with `scope="function"`. A module that needs
    other settings says so in one line: `emu = emulator_fixture(scope="function", ...)`."""
    settings.setdefault("api_key", EMULATOR_KEY)

    @pytest.fixture(scope=scope, name="emu")
    def running_emulator():
        with ArkEmulator(**settings) as running:
            yield running

    return running_emulator


emu = emulator_fixture()


@pytest.fixture
def sdk_client(emu):
    """Make real-SDK clients of `emu` (no retries, no proxy), closed after the test:
    `sdk_client()`, or `sdk_client(api_key="wrong")`."""
    import httpx
    from volcenginesdkarkruntime import Ark

    opened = []

    def make(api_key: str | None = None) -> Ark:
        opened.append(httpx.Client(trust_env=False))
        key = emu.api_key if api_key is None else api_key
        return Ark(api_key=key, base_url=emu.base_url, max_retries=0, http_client=opened[-1])

    yield make
    for http_client in opened:
        http_client.close()


# --- PostgreSQL: one real throwaway server per session (tests/postgres_server.py) ----------


@pytest.fixture(scope="session")
def postgres_server():
    """A running `PostgresServer`, removed after the session.

    If PostgreSQL cannot start, its tests are skipped; under CI (env `CI` set) they fail.
    """
    try:
        from tests.postgres_server import PostgresServer, PostgresUnavailable
    except ImportError as error:  # psycopg missing
        _postgres_unavailable(f"cannot import the PostgreSQL test helper: {error}", "")
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as error:
        _postgres_unavailable(error.reason, error.log)
    try:
        yield server
    finally:
        server.close()


def _postgres_unavailable(reason: str, log: str):
    import os

    message = f"PostgreSQL unavailable: {reason}\n--- server log ---\n{log or '(empty)'}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def client(settings):
    """An Ark client on the test module's own `settings`, over loopback (the machine's
    proxy variables ignored)."""
    import httpx

    from chat_core.ark import make_client

    with httpx.Client(trust_env=False) as http:
        yield make_client(settings, http_client=http)


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty database (ctype C.UTF-8) for one test, dropped afterwards.

    Creating one takes ~20 ms and dropping ~10 ms (cluster on tmpfs), so no test ever
    sees another test's rows.
    """
    from psycopg.conninfo import conninfo_to_dict

    if not postgres_server.is_running():  # an earlier test stopped the server
        postgres_server.start()
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(conninfo_to_dict(url)["dbname"])
