"""The daily chat loop in chromium, driven as a person does: real mouse clicks and
keys, scroll positions read from the page, no reload before looking (unless the test is
about a reload), two browser contexts for two tabs, the database read afterwards.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from bench.identity_proxy import identity_cookie
from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    DESKTOP,
    EMULATOR_SETTINGS,
    app_server_fixture,
    browser_fixture,
    expect,
    send,
    send_lines,
    session_of,
    signed_in_pages,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
emu = emulator_fixture(scope="module", **EMULATOR_SETTINGS)
PHONE = {"width": 390, "height": 844}
MAIN = "[data-testid='stMain']"


server = app_server_fixture("loop")


browser = browser_fixture()


@pytest.fixture
def open_as(browser, server):
    with signed_in_pages(browser, server.url) as opener:
        yield lambda owner, size=DESKTOP, path="": opener(owner, path, viewport=size)


@contextlib.contextmanager
def reply_pace(emu, *, ttft=None, token_delay=None):
    """Slower replies for the test's duration."""
    saved = emu.ttft, emu.token_delay
    emu.ttft = saved[0] if ttft is None else ttft
    emu.token_delay = saved[1] if token_delay is None else token_delay
    try:
        yield
    finally:
        emu.ttft, emu.token_delay = saved


def store_of(server):
    return connect(server.env["CHAT_DB"])


def messages(server, email: str, session_id: str) -> list[tuple[str, str, str]]:
    with store_of(server) as store:
        session = store.get_session(owner_key("email", email), session_id)
        return [(m.role, m.status, m.content) for m in store.get_messages(session)]


def wait_for_status(server, email, session_id, status="complete", timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = messages(server, email, session_id)
        if rows and rows[-1][0] == "assistant" and rows[-1][1] == status:
            return rows
        time.sleep(0.2)
    raise AssertionError(
        f"no {status} reply in {session_id}: {messages(server, email, session_id)}"
    )


def seed_chats(server, email: str, titles: list[str]) -> list[str]:
    """Chats with one exchange each, newest last."""
    ids = []
    with store_of(server) as store:
        for title in titles:
            session, _ = store.new_session(owner_key("email", email))
            store.start_turn(session, title)
            reply = store.begin_reply(session)
            store.save_reply(session, reply.id, content=f"Answer to {title}", status="complete")
            ids.append(session.id)
    return ids


def scroll_state(page) -> dict:
    return page.evaluate(
        f"""() => {{ const m = document.querySelector("{MAIN}");
        return {{top: m.scrollTop, gap: m.scrollHeight - m.scrollTop - m.clientHeight}}; }}"""
    )


def open_sidebar_if_collapsed(page) -> None:
    toggle = page.get_by_test_id("stExpandSidebarButton")
    if toggle.count() and toggle.is_visible():
        toggle.click()
        expect(page.get_by_test_id("stSidebar")).to_be_visible()


def settled_box(page, locator) -> dict:
    """The element's box once it has stopped moving (two equal readings 100 ms apart)."""
    box = locator.bounding_box()
    for _ in range(100):
        page.wait_for_timeout(100)
        box, before = locator.bounding_box(), box
        if box == before:
            break
    return box


# --- the ⋮ chat menu ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_every_chats_menu_opens_with_a_mouse_click(open_as, server, size):
    email = f"menu-{size['width']}@example.com"
    long_title = "a chat whose title is far too long to fit in the sidebar's width " * 2
    older, current = seed_chats(server, email, ["older chat", long_title.strip()])
    page = open_as(email, size, f"?session={current}")
    open_sidebar_if_collapsed(page)
    for chat in (older, current):  # each menu beside its title, however long, not below
        menu_button = page.locator(f".st-key-menu-{chat} button").first
        expect(menu_button).to_be_visible()
        menu = settled_box(page, menu_button)  # the sidebar may still be sliding in
        title = page.locator(f".st-key-session-{chat} button").bounding_box()
        assert menu["x"] > title["x"] + title["width"] - 1, (title, menu)
        assert abs(menu["y"] - title["y"]) < title["height"], (title, menu)
    for _ in range(3):  # the menu once opened and closed within 20 ms
        open_sidebar_if_collapsed(page)
        page.locator(f".st-key-menu-{older} button").first.click()
        expect(page.get_by_text("Rename", exact=True)).to_be_visible(timeout=10_000)
        page.keyboard.press("Escape")
        expect(page.get_by_text("Rename", exact=True)).to_be_hidden(timeout=10_000)
    # Rename a chat that is not the open one, from its own menu.
    open_sidebar_if_collapsed(page)
    page.locator(f".st-key-menu-{older} button").first.click()
    field = page.get_by_label("Rename")
    field.click()
    field.fill("renamed from its menu")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("stSidebar")).to_contain_text("renamed from its menu")
    assert session_of(page) == current  # renaming did not open it


def test_delete_asks_first_and_cancel_keeps_the_chat(open_as, server):
    email = "delete@example.com"
    doomed, current = seed_chats(server, email, ["doomed chat", "current chat"])
    page = open_as(email, DESKTOP, f"?session={current}")
    page.locator(f".st-key-menu-{doomed} button").first.click()
    page.locator(f".st-key-delete-{doomed} button").click()
    expect(page.get_by_text("Delete this chat for good?")).to_be_visible()
    page.locator(f".st-key-delete_no-{doomed} button").click()
    expect(page.get_by_text("Delete this chat for good?")).to_be_hidden()
    with store_of(server) as store:
        assert store.find_session(owner_key("email", email), doomed) is not None
    page.locator(f".st-key-delete-{doomed} button").click()  # the menu is still open
    page.locator(f".st-key-delete_yes-{doomed} button").click()
    expect(page.get_by_text("Chat deleted.")).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).not_to_contain_text("doomed chat")
    assert session_of(page) == current


# --- scrolling ---------------------------------------------------------------------------


def seed_long_chat(server, email: str, exchanges: int = 30) -> str:
    with store_of(server) as store:
        session, _ = store.new_session(owner_key("email", email))
        for i in range(exchanges):
            store.start_turn(session, f"question {i}")
            reply = store.begin_reply(session)
            text = f"answer {i} " + "lorem ipsum dolor sit amet " * 12
            store.save_reply(session, reply.id, content=text, status="complete")
    return session.id


def test_opening_a_long_chat_shows_its_latest_messages(open_as, server):
    email = "open-long@example.com"
    chat = seed_long_chat(server, email)
    page = open_as(email, DESKTOP, f"?session={chat}")
    expect(page.get_by_text("answer 29", exact=False)).to_be_in_viewport()
    assert scroll_state(page)["gap"] < 100


def test_a_growing_reply_is_followed_unless_the_reader_scrolled_up(open_as, server, emu):
    email = "follow@example.com"
    chat = seed_long_chat(server, email)
    page = open_as(email, DESKTOP, f"?session={chat}")
    with reply_pace(emu, token_delay=0.03):
        send(page, "follow me #tokens=150")
        expect(page.get_by_test_id("stChatMessage").last).to_contain_text("w20", timeout=20_000)
        for _ in range(3):  # at the bottom: the view keeps up with the reply
            page.wait_for_timeout(400)
            # A new paragraph may land between two frames: within a third of the view.
            assert scroll_state(page)["gap"] < 300
        wait_for_status(server, email, chat)
        wait_for_app(page)
        send(page, "now I read above #tokens=150")
        expect(page.get_by_test_id("stChatMessage").last).to_contain_text("w5", timeout=20_000)
        page.mouse.move(700, 400)
        page.mouse.wheel(0, -1500)  # the reader scrolls up to read
        page.wait_for_timeout(300)
        held = scroll_state(page)["top"]
        page.wait_for_timeout(1500)
        assert scroll_state(page)["top"] == held  # the view stays where the reader is
    wait_for_status(server, email, chat)


# --- replies that outlive the page ---------------------------------------------------------


def test_a_reply_goes_on_while_the_user_visits_another_chat(open_as, server, emu):
    email = "away@example.com"
    (other,) = seed_chats(server, email, ["another chat"])
    page = open_as(email)
    first = session_of(page)
    with reply_pace(emu, token_delay=0.04):
        send(page, "keep going #tokens=150")
        expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w10", timeout=20_000)
        page.locator(f".st-key-session-{other} button").click()
        expect(page.get_by_test_id("stChatMessage").nth(0)).to_contain_text("another chat")
        page.locator(f".st-key-session-{first} button").click()
        answer = page.get_by_test_id("stChatMessage").nth(1)
        # Back while it is still being written: shown live, from where it is now.
        expect(answer).to_contain_text("w100", timeout=20_000)
        regenerate = page.locator("[class*='st-key-regenerate-'] button").filter(visible=True)
        expect(regenerate.last).to_be_visible(timeout=20_000)
    rows = wait_for_status(server, email, first)
    assert rows[-1][2].split() == [f"w{i}" for i in range(1, 151)]


@pytest.mark.parametrize("leave", ["new chat", "reload"])
def test_a_reply_goes_on_through_new_chat_and_reload(open_as, server, emu, leave):
    email = f"leave-{leave.replace(' ', '-')}@example.com"
    page = open_as(email)
    chat = session_of(page)
    with reply_pace(emu, token_delay=0.04):
        send(page, "do not stop #tokens=120")
        expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w10", timeout=20_000)
        if leave == "reload":
            page.reload()
            expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
                "w120", timeout=30_000
            )
        else:
            page.locator(".st-key-new_chat button").click()
            expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
    rows = wait_for_status(server, email, chat)
    assert rows[-1][2].split()[-1] == "w120"


def test_a_click_just_after_a_first_reply_is_answered(open_as, server):
    # The first reply gives the chat its title; the page redraws for it, and a click in
    # that moment once went unanswered for over 10 s.
    email = "quick-click@example.com"
    page = open_as(email)
    first = session_of(page)
    send(page, "a first message")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo: a first message")
    page.locator(".st-key-new_chat button").click()
    expect(page.get_by_test_id("stChatMessage")).to_have_count(0, timeout=5_000)
    assert session_of(page) != first
    expect(page.get_by_test_id("stSidebar")).to_contain_text("a first message")


# --- long replies --------------------------------------------------------------------------


def test_a_long_fast_reply_is_drawn_and_stored_whole(open_as, server):
    # 20,000 tokens as fast as the emulator sends them, in one paragraph: the page must
    # catch up with the stored text, never cut it, and end with it as one element.
    email = "long-reply@example.com"
    page = open_as(email)
    chat = session_of(page)
    send(page, "#tokens=20000 a long one")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer).to_contain_text("w20000", timeout=60_000)
    rows = wait_for_status(server, email, chat)
    assert rows[-1][2].split() == [f"w{i}" for i in range(1, 20001)]
    text = answer.get_by_test_id("stMarkdown").filter(has_text="w1 w2 w3")
    expect(text).to_have_count(1)
    assert text.inner_text().split() == rows[-1][2].split()


# --- two tabs, one unused chat -------------------------------------------------------------


def test_two_tabs_never_merge_into_one_conversation(open_as, server, emu):
    email = "two-tabs@example.com"
    one, two = open_as(email), open_as(email)
    shared = session_of(one)
    assert session_of(two) == shared  # both show the one unused chat, as designed
    send(one, "from tab one")
    expect(one.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo: from tab one")
    emu.clear_requests()
    send(two, "from tab two")  # tab two still shows the chat as empty
    expect(two.get_by_text("Another tab started that chat")).to_be_visible(timeout=20_000)
    expect(two.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo: from tab two")
    moved = session_of(two)
    assert moved != shared
    assert [m[2] for m in messages(server, email, shared)] == ["from tab one", "Echo: from tab one"]
    assert [m[2] for m in messages(server, email, moved)] == ["from tab two", "Echo: from tab two"]
    sent = emu.requests[-1].body["messages"]
    assert [m["content"] for m in sent] == ["from tab two"]  # no context from tab one


# --- signs of life -------------------------------------------------------------------------


def test_waiting_for_the_first_token_shows_the_seconds(open_as, server, emu):
    page = open_as("patience@example.com")
    with reply_pace(emu, ttft=3.0):
        send(page, "take your time")
        expect(page.get_by_text("Waiting for the model… 1 s")).to_be_visible(timeout=10_000)
        expect(page.get_by_text("Waiting for the model… 2 s")).to_be_visible(timeout=10_000)
        expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo: take your time")
    expect(page.get_by_text("Waiting for the model")).to_have_count(0)
    status = page.get_by_test_id("stStatusWidget")
    assert status.count() == 0 or not status.is_visible()  # no developer chrome


# --- text as typed -------------------------------------------------------------------------


def test_the_users_text_and_titles_show_as_typed(open_as, server):
    page = open_as("as-typed@example.com")
    typed = "Summarize https://docs.python.org/3/library/re.html for me"
    send(page, typed)
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo:")
    wait_for_app(page)
    title = page.locator(".st-key-chat_title")
    expect(title).to_have_text(typed)
    assert title.locator("a").count() == 0
    entry = page.locator(f".st-key-session-{session_of(page)}")
    expect(entry).to_have_text(typed)
    assert entry.locator("a").count() == 0
    send_lines(page, ["# Not a heading", "- not a list", "**not bold**"])
    question = page.get_by_test_id("stChatMessage").nth(2)
    expect(question).to_contain_text("# Not a heading")
    expect(question).to_contain_text("**not bold**")
    assert question.locator("h1, li, strong").count() == 0


def test_entities_and_icon_names_in_titles_show_as_typed(open_as):
    page = open_as("icons@example.com")
    typed = "Tom &amp; Jerry :material/keep: &lt;3"
    send(page, typed)
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo:")
    wait_for_app(page)
    entry = page.locator(f".st-key-session-{session_of(page)}")
    assert entry.inner_text().replace("\u2060", "").strip() == typed  # joiners are invisible
    assert entry.get_by_test_id("stIconMaterial").count() == 0  # no pin drawn


def test_reasoning_shows_its_seconds_then_how_long_it_took(open_as, server, emu):
    page = open_as("thinker@example.com")
    saved = emu.reasoning
    emu.reasoning = True
    try:
        with reply_pace(emu, token_delay=0.25):
            send(page, "why is the sky blue on a clear summer day")
            expect(page.get_by_text("Thinking… 1 s")).to_be_visible(timeout=10_000)
            answer = page.get_by_test_id("stChatMessage").nth(1)
            expect(answer).to_contain_text("Echo: why is the sky blue", timeout=30_000)
            expect(answer.get_by_text("Thought for")).to_be_visible(timeout=30_000)
    finally:
        emu.reasoning = saved


def test_a_dark_system_theme_gets_the_dark_theme(browser, server):
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    context.add_cookies([identity_cookie(server.url, "dark@example.com")])
    page = context.new_page()
    page.goto(server.url)
    wait_for_app(page)
    background = page.evaluate(
        "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor"
    )
    red, green, blue = (int(part) for part in background[4:-1].split(",")[:3])
    assert red + green + blue < 200, background
    context.close()
