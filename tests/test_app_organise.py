"""AppTest: organising chats in the sidebar against a real SQLite file: select several
to archive or delete at once, archive one from its menu, restore an archived chat, and
import a file of several chats."""

import pytest

from chat_core.bundles import export_bundle, import_file
from chat_core.store import connect
from chat_core.transfer import export_json
from tests.test_app import app, chat_of, close_clients, env, open_menu, param  # noqa: F401
from tests.test_database_errors import locked_by_another_process

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def three(db_path):
    """Three started chats of the single user, oldest first."""
    return [chat_of(db_path, "local", text).id for text in ("one", "two", "three")]


def listed(at) -> set[str]:
    """The ids of the chats the sidebar lists (not the archived ones)."""
    return {
        b.key.removeprefix("session-") for b in at.sidebar.button if b.key.startswith("session-")
    }


def archived_listed(at) -> set[str]:
    return {
        b.key.removeprefix("archived-") for b in at.sidebar.button if b.key.startswith("archived-")
    }


def archived_in(db_path) -> set[str]:
    with connect(db_path) as store:
        return {s.id for s in store.list_sessions("local", archived=True)}


def in_list(db_path) -> set[str]:
    """The started chats in the list (not archived)."""
    with connect(db_path) as store:
        return {s.id for s in store.list_sessions("local") if s.is_used}


def select(at, *session_ids):
    at.sidebar.button(key="select_chats").click().run()
    for session_id in session_ids:
        at.sidebar.checkbox(key=f"pick-{session_id}").check()
    return at.run()


def test_no_checkboxes_until_select_is_clicked(three):
    at = app().run()
    assert not [c for c in at.sidebar.checkbox if c.key.startswith("pick-")]
    at.sidebar.button(key="select_chats").click().run()
    picks = {c.key for c in at.sidebar.checkbox if c.key.startswith("pick-")}
    assert picks == {f"pick-{sid}" for sid in three}  # not the unused chat shown
    assert at.sidebar.caption.values.count("0 selected") == 1
    at.sidebar.button(key="select_chats").click().run()  # Done
    assert not [c for c in at.sidebar.checkbox if c.key.startswith("pick-")]


def test_selected_chats_are_archived_at_once_and_restored_one_by_one(db_path, three):
    at = select(app().run(), three[0], three[2])
    assert "2 selected" in at.sidebar.caption.values
    at.sidebar.button(key="archive_selected").click().run()
    assert archived_in(db_path) == {three[0], three[2]}
    assert three[0] not in listed(at) and three[2] not in listed(at) and three[1] in listed(at)
    assert any("Archived 2 chats" in notice.value for notice in at.info)
    at.sidebar.button(key="show_archived").click().run()
    assert archived_listed(at) == {three[0], three[2]}
    at.sidebar.button(key=f"restore-{three[0]}").click().run()
    assert archived_in(db_path) == {three[2]}
    assert three[0] in listed(at) and archived_listed(at) == {three[2]}
    assert any("“one” is back in the list" in notice.value for notice in at.info)


def test_archiving_the_selected_chats_on_a_locked_database_fails_once_for_all(db_path, monkeypatch):
    """One transaction for every chat selected: one wait for the lock and one error,
    nothing archived; the chats stay selected, to archive once the lock is gone."""
    ids = [chat_of(db_path, "local", f"chat {n}").id for n in range(4)]
    monkeypatch.setenv("CHAT_BUSY_TIMEOUT", "0.5")
    at = select(app().run(), *ids)
    with locked_by_another_process(db_path):
        at.sidebar.button(key="archive_selected").click().run()
    assert not at.exception
    assert len([error for error in at.error if "busy" in error.value]) == 1
    assert not any("Archived" in notice.value for notice in at.info)
    assert archived_in(db_path) == set()
    at.sidebar.button(key="archive_selected").click().run()
    assert archived_in(db_path) == set(ids)
    assert any("Archived 4 chats" in notice.value for notice in at.info)


def test_an_archived_chat_opens_from_the_archived_list(db_path, three):
    with connect(db_path) as store:
        store.set_archived("local", three[1], True)
    at = app().run()
    at.sidebar.button(key="show_archived").click().run()
    at.sidebar.button(key=f"archived-{three[1]}").click().run()
    assert param(at) == three[1]
    assert [m.text[0].value for m in at.chat_message if m.name == "user"] == ["two"]


def test_a_chat_is_archived_from_its_menu(db_path, three):
    at = app().run()
    open_menu(at, three[1]).sidebar.button(key=f"archive-{three[1]}").click().run()
    assert archived_in(db_path) == {three[1]}
    assert three[1] not in listed(at)


def test_deleting_the_selected_chats_asks_first(db_path, three):
    at = app(session=three[2]).run()
    select(at, three[1], three[2])
    at.sidebar.button(key="delete_selected").click().run()
    assert any("Delete 2 chats for good?" in w.value for w in at.sidebar.warning)
    at.sidebar.button(key="delete_selected_no").click().run()  # Cancel keeps them
    assert in_list(db_path) >= set(three)
    at.sidebar.button(key="delete_selected").click().run()
    at.sidebar.button(key="delete_selected_yes").click().run()
    assert in_list(db_path) & set(three) == {three[0]}
    assert any("Deleted 2 chats" in notice.value for notice in at.info)
    assert param(at) not in three  # the open chat went: another one opens
    assert not at.exception


def test_a_file_of_several_chats_imports_them_all(db_path, three):
    with connect(db_path) as store:
        bundle = export_bundle(store, "local", three).encode()
        import_file(store, "local", export_json(store, "local", three[0]))  # one, before
    before = in_list(db_path)
    at = app().run()
    at.sidebar.file_uploader(key="import_file").set_value(
        ("chats.json", bundle, "application/json")
    ).run()
    assert not at.exception
    assert any("Imported 2 chats (1 imported before)" in i.value for i in at.info)
    assert len(in_list(db_path) - before) == 2


def test_a_failed_bulk_delete_says_why_and_keeps_every_chat(db_path, three, monkeypatch):
    from chat_core.errors import DatabaseLockedError
    from chat_core.store import Store

    def busy(self, owner, session_ids):
        raise DatabaseLockedError("database_busy")

    at = select(app().run(), three[0], three[1])
    monkeypatch.setattr(Store, "delete_sessions", busy)  # injected fault
    at.sidebar.button(key="delete_selected").click().run()
    at.sidebar.button(key="delete_selected_yes").click().run()
    assert not at.exception
    assert not any("Deleted" in notice.value for notice in at.info)
    assert any("busy" in error.value for error in at.error)
    assert in_list(db_path) >= set(three)


def test_every_archived_chat_can_be_listed(db_path):
    ids = [chat_of(db_path, "local", f"old {n}").id for n in range(55)]
    with connect(db_path) as store:
        for session_id in ids:
            store.set_archived("local", session_id, True)
    at = app().run()
    at.sidebar.button(key="show_archived").click().run()
    assert len(archived_listed(at)) == 50
    at.sidebar.button(key="show_more_archived").click().run()
    assert archived_listed(at) == set(ids)
    assert not [b for b in at.sidebar.button if b.key == "show_more_archived"]


def test_a_selected_chat_deleted_from_its_menu_leaves_the_selection(three, db_path):
    one, two, _ = three
    at = app().run()
    at.sidebar.button(key="select_chats").click().run()
    at.sidebar.checkbox(key=f"pick-{one}").check()
    at.sidebar.checkbox(key=f"pick-{two}").check()
    at.run()
    assert [c for c in at.sidebar.caption.values if "2 selected" in c]
    open_menu(at, one).sidebar.button(key=f"delete-{one}").click().run()
    open_menu(at, one).sidebar.button(key=f"delete_yes-{one}").click().run()
    assert [c for c in at.sidebar.caption.values if "1 selected" in c]
    at.sidebar.button(key="archive_selected").click().run()
    assert not at.error
    assert archived_in(db_path) == {two}
