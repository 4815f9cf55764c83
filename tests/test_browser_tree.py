"""Message actions, versions and search landing in chromium, driven as a person does:
real mouse clicks and keys, what is on screen read from the page, the database read
afterwards. No reload before looking."""

from __future__ import annotations

import pytest

from chat_core.identity import owner_key
from chat_core.store import connect
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server_fixture,
    browser_fixture,
    expect,
    send,
    session_of,
    signed_in_pages,
    slow_replies,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
emu = emulator_fixture(scope="module", **EMULATOR_SETTINGS)
MESSAGES = "[data-testid='stMain'] [data-testid='stChatMessage']"
CONTENTS = "[data-testid='stMain'] [data-testid='stChatMessageContent']"
END_ROW = "[class*='st-key-actions-end-']"  # the actions under a reply just written


server = app_server_fixture("tree")


browser = browser_fixture()


@pytest.fixture
def open_as(browser, server):
    with signed_in_pages(browser, server.url) as opener:
        yield opener


def branch(server, email: str, session_id: str) -> list[tuple[str, str]]:
    with connect(server.env["CHAT_DB"]) as store:
        session = store.get_session(owner_key("email", email), session_id)
        return [(m.role, m.content) for m in store.get_messages(session)]


def shown(page) -> list[str]:
    """The text of every message on the page, in order."""
    return [text.strip() for text in page.locator(CONTENTS).all_inner_texts()]


def message_box(page, text: str):
    """The message container (text and actions) of the message whose text is `text`."""
    return page.locator("[class*='st-key-msg-']").filter(has=page.get_by_text(text, exact=True))


def idle(page) -> None:
    """The page's run has ended (a person acts on what stays on screen)."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=30_000
    )


def action(page, box, name: str):
    """The action button `name` (copy, edit, regenerate, remove, prev, next) of a
    message; the pointer goes over the message first, as a person's does."""
    idle(page)
    box.hover()
    return box.locator(f"[class*='st-key-{name}-'] button:visible")


def two_turns(page) -> None:
    send(page, "first question")
    expect(page.locator(MESSAGES)).to_have_count(2, timeout=20_000)
    expect(page.locator(MESSAGES).nth(1)).to_contain_text("Echo: first question")
    send(page, "second question")
    expect(page.locator(MESSAGES)).to_have_count(4, timeout=20_000)
    expect(page.locator(MESSAGES).nth(3)).to_contain_text("Echo: second question")


def test_copy_puts_the_message_text_on_the_clipboard(open_as):
    page = open_as("copy@example.com", permissions=["clipboard-read", "clipboard-write"])
    send(page, "copy **this** text")
    expect(page.locator(MESSAGES).nth(1)).to_contain_text("Echo: copy", timeout=20_000)
    action(page, message_box(page, "Echo: copy this text"), "copy").click()
    expect(page.get_by_text("Copied.")).to_be_visible(timeout=10_000)
    # The answer's text as Markdown (its source), not the rendered text.
    assert page.evaluate("navigator.clipboard.readText()") == "Echo: copy **this** text"


def test_edit_in_place_starts_a_branch_and_the_switcher_goes_back(open_as, server):
    email = "edit@example.com"
    page = open_as(email)
    sid = session_of(page)
    two_turns(page)
    first = message_box(page, "first question")
    action(page, first, "edit").click()
    editor = page.locator(".st-key-edit_text textarea")
    expect(editor).to_have_value("first question")  # in place of the message
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("first question, edited")
    page.get_by_role("button", name="Save and resend").click()
    expect(page.locator(MESSAGES)).to_have_count(2, timeout=20_000)
    expect(page.locator(MESSAGES).nth(1)).to_contain_text("Echo: first question, edited")
    assert branch(server, email, sid)[0] == ("user", "first question, edited")
    edited = message_box(page, "first question, edited")
    expect(edited).to_contain_text("2 / 2")
    action(page, edited, "prev").click()
    expect(page.locator(MESSAGES)).to_have_count(4, timeout=20_000)
    assert shown(page)[0] == "first question"
    expect(message_box(page, "first question")).to_contain_text("1 / 2")
    assert branch(server, email, sid)[-1] == ("assistant", "Echo: second question")


def test_regenerate_keeps_the_old_answer_as_a_version(open_as, server):
    email = "regen@example.com"
    page = open_as(email)
    sid = session_of(page)
    two_turns(page)
    action(page, message_box(page, "Echo: first question"), "regenerate").click()
    # The earlier answer's new version ends the branch: the later turn is on the old one.
    expect(page.locator(MESSAGES)).to_have_count(2, timeout=20_000)
    # Under the answer: in the row of a reply just written, or in the message's own
    # container once a full run of the page has drawn it with the history.
    versions = page.locator(f"{END_ROW}, [class*='st-key-msg-']").filter(has_text="2 / 2").last
    expect(versions).to_be_visible(timeout=20_000)
    action(page, versions, "prev").click()
    expect(page.locator(MESSAGES)).to_have_count(4, timeout=20_000)
    assert shown(page)[-1].startswith("Echo: second question")
    assert [role for role, _ in branch(server, email, sid)] == ["user", "assistant"] * 2


def test_delete_asks_first_and_takes_the_branch_below(open_as, server):
    email = "delete@example.com"
    page = open_as(email)
    sid = session_of(page)
    two_turns(page)
    second = message_box(page, "second question")
    action(page, second, "remove").click()
    expect(page.get_by_text("Delete this message and everything below it")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Delete this message and everything below it")).to_have_count(0)
    assert len(branch(server, email, sid)) == 4
    action(page, message_box(page, "second question"), "remove").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.locator(MESSAGES)).to_have_count(2, timeout=20_000)
    assert branch(server, email, sid) == [
        ("user", "first question"),
        ("assistant", "Echo: first question"),
    ]


def test_actions_show_on_hover_on_a_desktop_and_always_on_touch(open_as, browser, server):
    page = open_as("hover@example.com")
    two_turns(page)
    first = message_box(page, "first question")
    bar = first.locator("[class*='st-key-actions-']")
    page.mouse.move(5, 5)
    expect(bar).to_have_css("opacity", "0")
    first.hover()
    expect(bar).to_have_css("opacity", "1")
    touch = open_as("hover@example.com", path=page.url[len(server.url) :], has_touch=True)
    expect(message_box(touch, "first question").locator("[class*='st-key-actions-']")).to_have_css(
        "opacity", "1"
    )


def test_a_search_hit_opens_the_chat_on_message_7_of_120(open_as, server):
    email = "search@example.com"
    with connect(server.env["CHAT_DB"]) as store:
        session, _ = store.new_session(owner_key("email", email))
        for n in range(1, 121):
            if n % 2:  # message 7 is a question
                about = " the zebra crossing" if n == 7 else ""
                store.start_turn(session, f"question {n}{about} " + "filler " * 30)
            else:
                reply = store.begin_reply(session)
                store.save_reply(session, reply.id, content=f"answer {n}" + " words" * 30)
                store.save_reply(session, reply.id, content=f"answer {n}", status="complete")
        seventh = store.get_messages(session)[6]
        other, _ = store.new_session(owner_key("email", email))
        store.start_turn(other, "another chat")
    page = open_as(email, path=f"/?session={other.id}")
    search = page.get_by_test_id("stSidebar").get_by_placeholder("Search chats")
    search.click()
    page.keyboard.type("zebra")  # no Enter: results come as you type
    hit = page.locator(f"[class*='st-key-hit-{session.id}-{seventh.id}'] button")
    expect(hit).to_be_visible(timeout=10_000)
    marked = page.get_by_test_id("stSidebar").get_by_text("zebra", exact=True)
    expect(marked).not_to_have_css("background-color", "rgba(0, 0, 0, 0)")  # the match
    hit.click()
    target = page.locator(f".st-key-msg-{seventh.id}")
    expect(target).to_be_in_viewport(timeout=20_000)
    expect(target).to_contain_text("the zebra crossing")
    expect(target.get_by_test_id("stChatMessage")).not_to_have_css("box-shadow", "none")
    assert f"session={session.id}" in page.url
    # Drawn with everything after it: no "Show earlier" click was needed.
    expect(page.locator(MESSAGES)).to_have_count(120)


def test_a_long_chat_shows_its_latest_20_messages_and_earlier_ones_on_a_click(open_as, server):
    email = "earlier@example.com"
    with connect(server.env["CHAT_DB"]) as store:
        session, _ = store.new_session(owner_key("email", email))
        for n in range(1, 24):
            store.start_turn(session, f"question {n}")
            reply = store.begin_reply(session)
            store.save_reply(session, reply.id, content=f"answer {n}", status="complete")
    page = open_as(email, path=f"/?session={session.id}")  # 46 messages
    expect(page.locator(MESSAGES)).to_have_count(20)
    assert shown(page)[0] == "question 14"
    earlier = page.get_by_role("button", name="Show earlier messages (26 more)")
    earlier.click()
    expect(page.locator(MESSAGES)).to_have_count(40)
    assert shown(page)[0] == "question 4"
    expect(page.get_by_role("button", name="Show earlier messages (6 more)")).to_be_visible()


def test_a_version_switched_to_while_a_reply_streams_shows_alone(open_as, server, emu):
    email = "switch-live@example.com"
    page = open_as(email)
    sid = session_of(page)
    send(page, "version one")
    expect(page.locator(MESSAGES).nth(1)).to_contain_text("Echo: version one", timeout=20_000)
    action(page, message_box(page, "version one"), "edit").click()
    editor = page.locator(".st-key-edit_text textarea")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("version two")
    page.get_by_role("button", name="Save and resend").click()
    expect(page.locator(MESSAGES).nth(1)).to_contain_text("Echo: version two", timeout=20_000)
    with slow_replies(emu):  # 400 tokens: some 8 s
        send(page, "#tokens=400 a long reply")
        expect(page.locator(MESSAGES).nth(3)).to_contain_text("w5", timeout=20_000)
        # Back to the first version while the reply on the second one streams.
        box = message_box(page, "version two")
        box.hover()
        box.locator("[class*='st-key-prev-'] button:visible").click()
        expect(page.locator(MESSAGES)).to_have_count(2, timeout=20_000)
        assert [text.split("\n")[0] for text in shown(page)] == ["version one", "Echo: version one"]
        page.wait_for_timeout(1_500)  # the reply goes on meanwhile, elsewhere
        assert branch(server, email, sid)[-1] == ("assistant", "Echo: version one")
        expect(page.locator(MESSAGES)).to_have_count(2)
        assert "w5" not in page.locator("[data-testid='stMain']").inner_text()
