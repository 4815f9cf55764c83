"""Raw SQL on either backend, for the few tests about the tables themselves (the
contract suite otherwise goes through the store's API)."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from chat_core.store import is_postgres_url
from chat_core.store.sqlite_tokens import register_functions


def run_sql(location: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run one statement with `?` placeholders and return its rows."""
    if is_postgres_url(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
    with closing(sqlite3.connect(location)) as conn, conn:
        register_functions(conn)  # the search triggers call it
        return conn.execute(sql, params).fetchall()
