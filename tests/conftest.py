import sqlite3
import sys
from importlib.metadata import version

import pytest

from chat_core.store import Store


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
