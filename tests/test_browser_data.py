"""The data pages in chromium, driven as a person does: the Usage page's charts and its
CSV, a temporary chat that leaves the database as it was, and share links opened by
other people. The database is read afterwards."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from chat_core.identity import owner_key
from chat_core.images import prepare_image
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server_fixture,
    assert_no_exception_shown,
    browser_fixture,
    expect,
    send,
    session_of,
    signed_in_pages,
    stop_mid_reply,
    wait_for_app,
)
from tests.conftest import emulator_fixture
from tests.test_browser_images import png

pytestmark = pytest.mark.browser
emu = emulator_fixture(scope="module", **EMULATOR_SETTINGS)
TABLES = ("chat_session", "chat_message", "chat_attachment", "share_link", "owner_preference")
TODAY = datetime.now(UTC).date()


server = app_server_fixture("data")


browser = browser_fixture()


@pytest.fixture
def open_as(browser, server):
    """A page of a new browser context; `email` None opens it as nobody signed in."""
    with signed_in_pages(browser, server.url, accept_downloads=True) as opener:
        yield opener


def store_of(server):
    return connect(server.env["CHAT_DB"])


def table_rows(server) -> dict[str, list[tuple]]:
    with store_of(server) as store, store.backend.reading() as tx:
        return {
            table: sorted(tuple(row.values()) for row in tx.query(f"SELECT * FROM {table}"))
            for table in TABLES
        }


def run_finished(page) -> None:
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=30_000
    )


def click_nav(page, label: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
    run_finished(page)


# --- the Usage page ------------------------------------------------------------------------


def seed_usage(server, email: str) -> None:
    owner = owner_key("email", email)

    def reply(days_ago, model, prompt, cached, completion, status="complete"):
        day = TODAY - timedelta(days=days_ago)
        return {
            "role": "assistant",
            "content": "answer",
            "created_at": f"{day.isoformat()}T06:00:00.000000+00:00",
            "status": status,
            "model": model,
            "prompt_tokens": prompt,
            "cached_tokens": cached,
            "completion_tokens": completion,
            "reasoning_tokens": 0,
            "latency_ms": 900 + prompt,
            "first_token_ms": 100 + completion,
        }

    with store_of(server) as store:
        store.import_session(
            owner,
            "Seeded spending",
            [
                reply(0, "doubao-seed-1-6-251015", 1200, 200, 300),
                reply(1, "doubao-seed-1-6-251015", 800, 0, 100),
                reply(2, "deepseek-v3-2-251201", 500, 100, 50),
                reply(3, "deepseek-v3-2-251201", 50, 0, 5, status="interrupted"),
                reply(45, "deepseek-v3-2-251201", 9999, 0, 999),  # outside the 30 days
            ],
        )


def usage_page_of(open_as, server, email: str):
    """The Usage page of `email`, whose replies `seed_usage` wrote, opened from the
    sidebar."""
    seed_usage(server, email)
    page = open_as(email)
    click_nav(page, "Usage")
    return page


def test_the_usage_page_draws_its_charts_and_the_csv_matches_the_filter(open_as, server):
    email = "usage@example.com"
    page = usage_page_of(open_as, server, email)
    charts = page.locator("[data-testid='stVegaLiteChart']")
    expect(charts).to_have_count(3, timeout=30_000)  # cost, tokens, cache hits
    for index in range(3):  # each chart drew its marks
        expect(charts.nth(index).locator("canvas, svg").first).to_be_visible()
    latency = page.locator(".st-key-usage_latency table")
    expect(latency).to_contain_text("deepseek-v3-2-251201")
    statuses = page.locator(".st-key-usage_statuses table")
    expect(statuses).to_contain_text("Interrupted")
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Replies")).to_contain_text("4")
    run_finished(page)
    # keep one model: type in the model filter and pick it
    page.locator(".st-key-usage_models").get_by_role("combobox").click()
    page.keyboard.type("deepseek")
    page.get_by_role("option").filter(has_text="deepseek-v3-2-251201").click()
    page.keyboard.press("Escape")
    expect(metrics.filter(has_text="Replies")).to_contain_text("2", timeout=30_000)
    run_finished(page)
    # by week: drawn again from the figures this visit read
    page.locator(".st-key-usage_period").get_by_text("Week", exact=True).click()
    run_finished(page)
    expect(charts).to_have_count(3)
    expect(metrics.filter(has_text="Replies")).to_contain_text("2")
    assert page.locator(".st-key-usage_period input[type='radio']").nth(1).is_checked()
    with page.expect_download() as caught:
        page.locator(".st-key-usage_csv button").click()
    rows = list(csv.DictReader(io.StringIO(caught.value.path().read_text())))
    assert sorted((r["model"], r["status"], r["prompt_tokens"]) for r in rows) == [
        ("deepseek-v3-2-251201", "complete", "500"),
        ("deepseek-v3-2-251201", "interrupted", "50"),
    ]
    assert {r["owner"] for r in rows} == {owner_key("email", email)}
    assert all(r["cost_cny"] for r in rows)  # the catalogue prices this model


def test_a_usage_csv_the_database_cannot_give_downloads_a_note_saying_why(open_as, server):
    page = usage_page_of(open_as, server, "usage-csv-fails@example.com")
    csv_button = page.locator(".st-key-usage_csv button")
    expect(csv_button).to_be_visible(timeout=30_000)
    database = Path(server.env["CHAT_DB"])
    moved = database.with_name("moved.db")
    database.rename(moved)  # another file takes its place
    try:
        database.write_bytes(b"not a database " * 100)
        with page.expect_download() as caught:
            csv_button.click()
        note = caught.value.path().read_text(encoding="utf-8")
    finally:
        moved.replace(database)
    assert note.startswith(f"The chat database file {database} was replaced by another file")


# --- temporary chats ----------------------------------------------------------------------


def attach_image(page, folder, name: str) -> None:
    """Choose an image with the chat input's file chooser (a real click on its button)
    and wait until it is uploaded."""
    path = folder / name
    path.write_bytes(png("red"))
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stChatInputFileUploadButton").click()
    chooser.value.set_files(str(path))
    expect(page.get_by_test_id("stChatInput")).to_contain_text(name, timeout=15_000)


def test_a_temporary_chat_leaves_the_database_as_it_was(open_as, server, tmp_path):
    page = open_as("temporary@example.com")
    before = table_rows(server)
    page.get_by_text("Temporary chat", exact=True).first.click()
    run_finished(page)
    expect(page.get_by_text("vanishes when you reload", exact=False)).to_be_visible()
    attach_image(page, tmp_path, "private.png")
    send(page, "a secret never to be kept")
    answer = page.get_by_test_id("stChatMessage").filter(has_text="Echo: a secret never to be kept")
    expect(answer).to_be_visible(timeout=30_000)
    expect(answer).to_contain_text("[image: 300×200 JPEG]")  # the model was sent the image
    question = page.get_by_test_id("stChatMessage").filter(has_text="a secret").first
    expect(question.locator("[data-testid='stImage'] img")).to_be_visible()
    send(page, "and a second one")
    expect(page.get_by_text("Echo: and a second one")).to_be_visible(timeout=30_000)
    run_finished(page)
    assert table_rows(server) == before
    page.reload()  # as the page says, it vanishes
    wait_for_app(page)
    expect(page.get_by_text("a secret never to be kept")).to_have_count(0)
    assert table_rows(server) == before


def test_stop_in_a_temporary_chat_keeps_what_arrived(open_as, server, emu):
    page = open_as("temporary-stop@example.com")
    before = table_rows(server)
    page.get_by_text("Temporary chat", exact=True).first.click()
    run_finished(page)
    stop_mid_reply(page, emu)
    assert_no_exception_shown(page.context)
    assert table_rows(server) == before


def test_a_temporary_chat_can_be_saved_as_a_chat(open_as, server, tmp_path):
    email = "keeper@example.com"
    page = open_as(email)
    page.get_by_text("Temporary chat", exact=True).first.click()
    run_finished(page)
    attach_image(page, tmp_path, "keep me.png")
    send(page, "worth keeping after all")
    expect(page.get_by_text("Echo: worth keeping after all")).to_be_visible(timeout=30_000)
    run_finished(page)
    page.locator(".st-key-temporary_save button").click()
    sid = session_of(page)
    wait_for_app(page)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("worth keeping after all")
    with store_of(server) as store:
        session = store.get_session(owner_key("email", email), sid)
        messages = store.get_messages(session)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "worth keeping after all"),
            ("assistant", "Echo: worth keeping after all [image: 300×200 JPEG]"),
        ]
        [image] = store.attachments(session, [messages[0].id])[messages[0].id]
        assert (image.name, image.width, image.height) == ("keep me.png", 300, 200)


# --- share links --------------------------------------------------------------------------


def seed_chats(server, email: str) -> tuple[str, str]:
    owner = owner_key("email", email)
    with store_of(server) as store:
        ids = []
        for question, answer in (
            ("shared question", "A shared **answer** ![x](https://example.com/x.png)"),
            ("my private other chat", "private answer"),
        ):
            session, _ = store.new_session(owner)
            store.start_turn(session, question)
            reply = store.begin_reply(session)
            store.save_reply(session, reply.id, content=answer, status="complete")
            ids.append(session.id)
    return ids[0], ids[1]


def create_link(page, audience: str) -> str:
    panel = page.get_by_test_id("stPopoverBody")
    if not panel.is_visible():  # open the Share menu (it stays open after a link is made)
        page.locator("[data-testid='stPopover']").filter(has_text="Share").get_by_role(
            "button"
        ).first.click()
        run_finished(page)
    panel.get_by_text(audience, exact=True).click()
    links_before = panel.get_by_test_id("stCode").count()
    panel.get_by_role("button", name="Create link").click()
    run_finished(page)
    codes = page.get_by_test_id("stPopoverBody").get_by_test_id("stCode")
    expect(codes).to_have_count(links_before + 1, timeout=30_000)
    text = codes.first.inner_text().strip()
    assert re.search(r"/shared\?link=[\w-]{32,}$", text), text
    return text[text.index("/shared") :]


def test_share_links_open_for_their_audience_and_never_reach_other_chats(open_as, server):
    owner_email = "sharer@example.com"
    shared_id, private_id = seed_chats(server, owner_email)
    owner_page = open_as(owner_email, f"/?session={shared_id}")
    public = create_link(owner_page, "Anyone with the link")
    members = create_link(owner_page, "Signed-in users")
    private = create_link(owner_page, "Only me")
    # someone not signed in: the public link opens, with the messages and nothing else
    stranger = open_as(None, public, ready=False)
    run_finished(stranger)
    expect(stranger.get_by_test_id("stChatMessage").first).to_contain_text("shared question")
    expect(stranger.get_by_test_id("stChatMessage").nth(1)).to_contain_text("A shared answer")
    expect(stranger.locator("[data-testid='stChatMessage'] img")).to_have_count(0)  # no fetch
    expect(stranger.get_by_text("my private other chat")).to_have_count(0)
    expect(stranger.get_by_text("Sign in to continue")).to_be_visible()
    stranger.goto(server.url + members)
    run_finished(stranger)
    expect(stranger.get_by_text("is for signed-in users")).to_be_visible()
    # a signed-in viewer opens the members' link, and continues in their own chats
    viewer_email = "viewer@example.com"
    viewer = open_as(viewer_email)
    viewer.goto(server.url + members)
    run_finished(viewer)
    expect(viewer.get_by_test_id("stChatMessage").first).to_contain_text("shared question")
    viewer.get_by_role("button", name="Continue in my own chats").click()
    copy_id = session_of(viewer)
    wait_for_app(viewer)
    assert copy_id != shared_id
    expect(viewer.get_by_test_id("stSidebar")).not_to_contain_text("my private other chat")
    # the owner-only link, the owner's chat ids and a guessed token never open for them
    for path in (private, f"/shared?link={shared_id}", "/shared?link=" + "A" * 32):
        viewer.goto(server.url + path)
        run_finished(viewer)
        expect(viewer.get_by_text("does not exist, or it is not for you")).to_be_visible()
    viewer.goto(f"{server.url}/?session={private_id}")
    wait_for_app(viewer)
    expect(viewer.get_by_text("my private other chat")).to_have_count(0)
    with store_of(server) as store:
        viewer_key = owner_key("email", viewer_email)
        assert [s.id for s in store.list_sessions(viewer_key) if s.is_used] == [copy_id]
        copy = store.get_session(viewer_key, copy_id)
        assert [m.content for m in store.get_messages(copy)] == [
            "shared question",
            "A shared **answer** ![x](https://example.com/x.png)",
        ]
    # the owner revokes the public link on the Shared links page: it says so
    owner_page.keyboard.press("Escape")  # close the Share menu, then open the page
    run_finished(owner_page)
    click_nav(owner_page, "Shared links")
    listed = owner_page.locator(".st-key-link-" + public.rsplit("=", 1)[1])
    address = listed.get_by_test_id("stCode").inner_text().strip()
    assert urlsplit(address).path == "/shared", address  # the app's root, not /links/…
    assert listed.get_by_role("link", name="Open").get_attribute("href") == address
    listed.get_by_role("button", name="Revoke").click()
    run_finished(owner_page)
    stranger.goto(server.url + public)
    run_finished(stranger)
    expect(stranger.get_by_text("was revoked by its owner")).to_be_visible()


def test_a_shared_chat_shows_its_images_and_its_cut_answers(open_as, server):
    owner = owner_key("email", "pictures@example.com")
    with store_of(server) as store:
        session, _ = store.new_session(owner)
        store.start_turn(session, "", images=[prepare_image("receipt.png", png("red"))])
        reply = store.begin_reply(session)
        store.save_reply(session, reply.id, content="It totals 42 yuan.", status="complete")
        store.start_turn(session, "and the tax?")
        reply = store.begin_reply(session)
        store.save_reply(session, reply.id, content="The tax is", status="interrupted")
        link = store.create_share(owner, session.id, "anyone")
    stranger = open_as(None, f"/shared?link={link.token}", ready=False)
    run_finished(stranger)
    messages = stranger.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(4)
    image = messages.first.locator("img")
    expect(image).to_have_count(1)
    expect(messages.first).to_contain_text("receipt")  # its name, as the chat shows it
    source = image.get_attribute("src")
    assert urlsplit(urljoin(server.url, source)).netloc == urlsplit(server.url).netloc, source
    assert stranger.evaluate(  # drawn: the browser loaded it from the app itself
        "(img) => img.complete && img.naturalWidth > 0", image.element_handle()
    )
    expect(messages.nth(3)).to_contain_text("The tax is")
    expect(messages.nth(3).get_by_text("Reply interrupted")).to_be_visible()
