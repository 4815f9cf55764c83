"""In chromium: no page makes the browser fetch a remote resource (not even the tab's
icon), and an answer never does, neither while it streams in (a chat's second turn,
drawn by the chat fragment alone) nor when the chat is opened again from the sidebar.

The model here is the emulator, which echoes the prompt, so the answer holds a Markdown
image and a raw HTML image whose URLs point at a loopback sink that counts requests, as
an injected prompt would make a model write them.
"""

from __future__ import annotations

import contextlib
import http.server
import threading

import pytest

from bench.identity_proxy import identity_cookie
from tests.browser_support import (
    EMULATOR_SETTINGS,
    app_server_fixture,
    assert_no_exception_shown,
    click_new_chat,
    expect,
    launched_browser,
    new_context,
    send,
    send_lines,
    session_of,
    slow_replies,
    wait_for_app,
)
from tests.conftest import emulator_fixture

pytestmark = pytest.mark.browser
emu = emulator_fixture(**EMULATOR_SETTINGS)


class Sink(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that records every path requested from it."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.arrived = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with sink.arrived:
                    sink.paths.append(self.path)
                    sink.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for(self, path: str, timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: path in self.paths, timeout)


@pytest.fixture
def sink():
    server = Sink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def assert_nothing_reached(page, sink) -> None:
    """No request from the page reached the sink: one made now reaches it after any the
    page had started before."""
    page.evaluate(f"() => {{ new Image().src = '{sink.origin}/canary'; }}")
    assert sink.wait_for("/canary")
    assert sink.paths == ["/canary"]


server = app_server_fixture("remote-images")


@pytest.fixture
def page(server):
    with launched_browser() as browser:
        context = new_context(browser)
        context.add_cookies([identity_cookie(server.url, "images@example.com")])
        with contextlib.closing(context):
            page = context.new_page()
            page.goto(server.url)
            wait_for_app(page)
            yield page
            assert_no_exception_shown(context)


def test_no_request_leaves_the_page_for_an_image_in_an_answer(page, sink, emu):
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    def images(secret: str) -> str:
        leak = f"{sink.origin}/leak?secret={secret}"
        return (
            f'![x]({leak}-markdown) and <img src="{leak}-html"> and !![y]({leak}-double) '
            f"and ![a [b] c]({leak}-nested)"
        )

    send(page, "an ordinary first question")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages.nth(1)).to_contain_text("Echo: an ordinary first question")
    wait_for_app(page)
    chat = session_of(page)

    # The second turn, drawn live by the chat fragment without a full rerun: a finished
    # paragraph (drawn once, while the next one still grows) and the growing one.
    words = " ".join(f"word{i}" for i in range(100))
    answer = messages.nth(3)
    with slow_replies(emu):
        emu.token_delay = 0.05  # the second paragraph grows for some 5 s
        send_lines(page, [images("finished"), "", f"{images('growing')} {words} the end"])
        expect(answer).to_contain_text("word3")
        assert "the end" not in answer.inner_text()  # the page drew it mid-stream
        expect(answer).to_contain_text("the end", timeout=30_000)
    wait_for_app(page)
    for secret in ("finished", "growing"):
        link = answer.locator(f"a[href='{sink.origin}/leak?secret={secret}-markdown']")
        expect(link).to_have_text("x")
    assert answer.locator("img").count() == 0

    # History: another chat, then this one again from the sidebar.
    click_new_chat(page)
    expect(messages).to_have_count(0)
    page.locator(f".st-key-session-{chat} button").click()
    wait_for_app(page)
    expect(messages.nth(3)).to_contain_text("the end")
    expect(messages.nth(2)).to_contain_text(images("finished"))  # the question, as typed
    assert page.locator("[data-testid='stChatMessage'] img").count() == 0

    assert_nothing_reached(page, sink)
    assert [url for url in requested if url.startswith(sink.origin)] == [f"{sink.origin}/canary"]


def test_no_request_leaves_the_page_for_an_image_hidden_from_a_plain_parser(page, sink, emu):
    # Streamlit's renderer reads footnotes and maths, which a plain CommonMark parser
    # does not: there an indented line is code, and a backtick inside $$…$$ opens code
    leak = f"{sink.origin}/leak"
    send_lines(
        page,
        [
            f"see[^1] and $$a`$$ ![p [q] r]({leak}-maths) `z`",
            "",
            "$$x$$",
            "",
            "[^1]: note",
            f"    ![a [b] c]({leak}-footnote)",
        ],
    )
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer).to_contain_text("note", timeout=30_000)
    wait_for_app(page)
    assert answer.locator("img").count() == 0
    assert_nothing_reached(page, sink)


def test_no_request_leaves_the_page_for_an_image_in_maths_split_over_two_lines(page, sink, emu):
    # The page's renderer reads "$…$" as maths only on one line: across a line break the
    # image inside is an image for it.
    send_lines(page, [f"$![a [b [c]]]({sink.origin}/leak-lines)", "x$ the end"])
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer).to_contain_text("the end", timeout=30_000)
    wait_for_app(page)
    assert answer.locator("img").count() == 0
    assert_nothing_reached(page, sink)


def test_the_pages_request_nothing_from_outside_the_app(page, server):
    outside = []
    inside = (server.url, "data:", "blob:")
    page.on(
        "request",
        lambda request: None if request.url.startswith(inside) else outside.append(request.url),
    )
    alert = "[data-testid='stAlert']"
    drawn = {
        "/": "[data-testid='stChatInput']",
        "/usage": f"[data-testid='stMetric'], {alert}",  # figures, or none yet
        "/links": alert,
    }
    for path, shown in drawn.items():
        page.goto(server.url + path)
        expect(page.locator(shown).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1_000)  # the tab's icon, fonts and the like come in meanwhile
    assert outside == []
    icon = page.locator("link[rel*='icon']").first.get_attribute("href")
    assert icon.startswith("data:image/svg+xml")
