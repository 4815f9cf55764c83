"""The PostgreSQL test server and its fixtures work against a real server."""

import psycopg
import pytest

CJK_WORD = "数据库"  # 3 characters: 2 inner trigrams plus 2 padded ones


def trigram_count(url: str, text: str) -> int:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        return len(conn.execute("SELECT show_trgm(%s)", [text]).fetchone()[0])


def database_ctype(url: str) -> str:
    with psycopg.connect(url) as conn:
        query = "SELECT datctype FROM pg_database WHERE datname = current_database()"
        return conn.execute(query).fetchone()[0]


def test_a_query_runs(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)


@pytest.mark.parametrize("run", [1, 2])
def test_every_test_gets_an_empty_database(postgres_url, run):
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)
        conn.execute("CREATE TABLE left_behind (run int)")
        conn.execute("INSERT INTO left_behind VALUES (%s)", [run])


def test_default_ctype_is_utf8_so_trigrams_split_cjk(postgres_url):
    assert database_ctype(postgres_url) == "C.UTF-8"
    assert trigram_count(postgres_url, CJK_WORD) == 4


def test_ctype_c_database_gets_no_cjk_trigrams(postgres_server):
    url = postgres_server.create_database("ctype_c", ctype="C")
    try:
        assert database_ctype(url) == "C"
        assert trigram_count(url, CJK_WORD) == 0
    finally:
        postgres_server.drop_database("ctype_c")


def test_wrong_password_is_refused_and_never_echoed(postgres_server):
    wrong = "wrong-" + postgres_server.password[::-1]
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(postgres_server.url(password=wrong))
    assert "password authentication failed" in str(refused.value)
    log = postgres_server.read_log()
    assert "password authentication failed" in log
    for secret in (wrong, postgres_server.password):
        assert secret not in str(refused.value)
        assert secret not in log


def test_new_connection_works_after_restart(postgres_server, postgres_url):
    port = postgres_server.port
    with psycopg.connect(postgres_url, autocommit=True) as before:
        before.execute("CREATE TABLE kept AS SELECT 7 AS n")
        postgres_server.restart()
        with pytest.raises(psycopg.OperationalError):
            before.execute("SELECT 1")
    assert postgres_server.port == port
    with psycopg.connect(postgres_url) as after:
        assert after.execute("SELECT n FROM kept").fetchone() == (7,)
