"""Raw SQL on either backend, for the few tests about the tables themselves (the
contract suite otherwise goes through the store's API)."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import sqlite_utils

from chat_core.store import is_postgres_url, postgres_schema
from chat_core.store.postgres_schema import MIGRATIONS_TABLE
from chat_core.store.sqlite_schema import migrations
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


def database_before(location: str, postgres_migration: str, sqlite_migration: str) -> None:
    """A database as the versions before these migrations (one per backend) left it."""
    if is_postgres_url(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE {MIGRATIONS_TABLE} "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for name, step in postgres_schema.MIGRATIONS:
                if name == postgres_migration:
                    break
                step(conn) if callable(step) else conn.execute(step)
                conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (%s)", [name])
        return
    db = sqlite_utils.Database(location)
    register_functions(db.conn)
    migrations.apply(db, stop_before=sqlite_migration)
    db.close()
