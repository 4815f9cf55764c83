"""Preferences and organising chats in chromium, driven as a person does: real mouse
clicks and keys, what is on screen read from the page, the database and the emulator
read afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chat_core.bundles import import_file
from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server_fixture,
    browser_fixture,
    expect,
    send,
    signed_in_pages,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
emu = emulator_fixture(scope="module", **EMULATOR_SETTINGS)


server = app_server_fixture("organise")


browser = browser_fixture()


@pytest.fixture
def open_as(browser, server):
    with signed_in_pages(browser, server.url, accept_downloads=True) as opener:
        yield opener


def store_of(server):
    return connect(server.env["CHAT_DB"])


def started_chats(server, email: str, questions: list[str]) -> list[str]:
    owner = owner_key("email", email)
    with store_of(server) as store:
        ids = []
        for question in questions:
            session, _ = store.new_session(owner)
            store.start_turn(session, question)
            ids.append(session.id)
        return ids


def click(page, key: str) -> None:
    """Click the button keyed `key` (one with a tooltip is drawn twice, one hidden)."""
    page.locator(f".st-key-{key} button:visible").click()


def pick(page, session_id: str) -> None:
    page.locator(f".st-key-pick-{session_id} label").click()


def listed(page, session_id: str):
    return page.locator(f".st-key-session-{session_id}")


def test_preferences_set_in_the_dialog_survive_a_reload_and_apply_to_a_new_chat(
    open_as, emu, server
):
    page = open_as("prefs@example.com")
    click(page, "open_preferences")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    wait_for_app(page)  # a run still drawing the page may redraw the list under the click
    dialog.locator(".st-key-preference-language").click()
    page.get_by_role("option", name="中文").click()
    dialog.locator(".st-key-preference-system_prompt textarea").click()
    page.keyboard.type("Answer like a pirate.")
    dialog.locator(".st-key-save_preferences button").click()
    expect(dialog).to_have_count(0)
    new_chat = page.locator(".st-key-new_chat button")
    expect(new_chat).to_contain_text("新建会话")
    page.reload()  # what the promise is about
    wait_for_app(page)
    expect(new_chat).to_contain_text("新建会话")
    send(page, "ahoy")
    expect(page.get_by_text("Echo: ahoy")).to_be_visible(timeout=20_000)
    [body] = [
        r.body
        for r in emu.requests
        if r.body and (r.body.get("messages") or [{}])[-1].get("content") == "ahoy"
    ]
    assert body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
    with store_of(server) as store:  # only what differs from the operator's settings
        assert store.preferences(owner_key("email", "prefs@example.com")) == {
            "language": "zh",
            "system_prompt": "Answer like a pirate.",
        }


def test_a_dismissed_preferences_dialog_saves_nothing_and_stays_closed(open_as, server):
    page = open_as("dismiss@example.com")
    click(page, "open_preferences")
    dialog = page.get_by_role("dialog")
    dialog.locator(".st-key-preference-system_prompt textarea").click()
    page.keyboard.type("not saved")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    click(page, "select_chats")  # a full run of the page: the dialog stays closed
    expect(page.locator(".st-key-select_chats button")).to_contain_text("Done selecting")
    expect(dialog).to_have_count(0)
    with store_of(server) as store:
        assert store.preferences(owner_key("email", "dismiss@example.com")) == {}


def test_selected_chats_export_as_one_file_archive_and_restore(open_as, server, tmp_path):
    email = "bulk@example.com"
    one, two, three = started_chats(server, email, ["alpha question", "beta question", "gamma"])
    page = open_as(email)
    click(page, "select_chats")
    pick(page, one)
    pick(page, three)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("2 selected")
    with page.expect_download() as download:
        click(page, "export_selected")
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert [chat["messages"][0]["content"] for chat in exported["chats"]] == [
        text for chat_id, text in sorted([(one, "alpha question"), (three, "gamma")])
    ]
    with store_of(server) as store:
        copies = import_file(store, "someone-else", json.dumps(exported))
        assert len(copies) == 2 and not any(copy.duplicate for copy in copies)

    click(page, "archive_selected")
    expect(listed(page, one)).to_have_count(0)
    expect(listed(page, three)).to_have_count(0)
    expect(listed(page, two)).to_be_visible()
    click(page, "show_archived")
    expect(page.locator(f".st-key-archived-{one}")).to_be_visible()
    click(page, f"restore-{one}")
    expect(listed(page, one)).to_be_visible()
    expect(page.locator(f".st-key-archived-{three}")).to_be_visible()
    with store_of(server) as store:
        owner = owner_key("email", email)
        assert [s.id for s in store.list_sessions(owner, archived=True)] == [three]


def test_selected_chats_are_deleted_after_a_confirmation(open_as, server):
    email = "delete-many@example.com"
    one, two = started_chats(server, email, ["keep me", "delete me"])
    page = open_as(email)
    click(page, "select_chats")
    pick(page, two)
    click(page, "delete_selected")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Delete 1 chats for good?")
    click(page, "delete_selected_yes")
    expect(listed(page, two)).to_have_count(0)
    expect(listed(page, one)).to_be_visible()
    with store_of(server) as store:
        owner = owner_key("email", email)
        assert store.find_session(owner, two) is None
        assert store.find_session(owner, one) is not None


def test_exporting_a_chat_deleted_meanwhile_downloads_a_note_saying_so(open_as, server):
    email = "stale-export@example.com"
    (chat,) = started_chats(server, email, ["exported too late"])
    page = open_as(email)
    page.locator(f".st-key-menu-{chat} button").first.click()
    export = page.locator(f".st-key-export_md-{chat} button").first
    expect(export).to_be_visible()
    with store_of(server) as store:  # another tab deletes the chat
        store.delete_session(owner_key("email", email), chat)
    with page.expect_download() as download:
        export.click()
    note = Path(download.value.path()).read_text(encoding="utf-8")
    assert note == "This chat does not exist or belongs to someone else.\n"
