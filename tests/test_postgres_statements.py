"""PostgreSQL: the store never prepares statements on the server, since a pooler in
transaction mode (PgBouncer, Supabase's port 6543) hands each transaction to any server
connection, where a statement prepared on another one does not exist."""

from chat_core.store import connect


def test_the_store_prepares_no_statement_however_often_it_runs_one(postgres_url):
    with connect(postgres_url) as store:
        session, _ = store.new_session("alice")
        store.start_turn(session, "hello")
        for _ in range(3):  # calls through the pool, then one connection many times
            assert [m.content for m in store.get_messages(session)] == ["hello"]
        with store.backend.reading() as tx:
            for _ in range(20):  # psycopg prepares a statement on its sixth run by default
                assert tx.query("SELECT id FROM chat_session WHERE owner = ?", ["alice"])
            prepared = tx.query("SELECT name, statement FROM pg_prepared_statements")
    assert prepared == []
