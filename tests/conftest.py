import sqlite3
import sys

import pytest
import sqlite_utils

from chat_core.store import Store


def pytest_report_header(config):
    return (
        f"sqlite {sqlite3.sqlite_version}, sqlite-utils {sqlite_utils.__version__}, "
        f"python {sys.version.split()[0]}"
    )


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "chat.db"


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened
