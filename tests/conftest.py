import sqlite3
import sys
from importlib.metadata import version

import pytest

from chat_core.emulator import ArkEmulator
from chat_core.store import Store

EMULATOR_KEY = "test-key"


def pytest_report_header(config):
    return (
        f"sqlite {sqlite3.sqlite_version}, sqlite-utils {version('sqlite-utils')}, "
        f"python {sys.version.split()[0]}"
    )


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "chat.db"


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def emu():
    """A loopback Ark emulator shared by a test module; it accepts `EMULATOR_KEY`."""
    with ArkEmulator(api_key=EMULATOR_KEY) as running:
        yield running
