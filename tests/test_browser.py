"""End to end in Debian chromium: `streamlit run` against the loopback emulator.

The server trusts an `X-Forwarded-Email` header and the browser reaches it through
`bench/identity_proxy.py`, an authenticating proxy that sets the header from each browser
context's cookie, so every test drives its own owner and the tests cannot see each
other's chats. (Chromium does not send a context's extra HTTP headers on the WebSocket
request, where Streamlit reads `st.user`.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.identity_proxy import HEADER, IdentityProxy, identity_cookie
from chat_core.emulator import ArkEmulator
from chat_core.store import connect

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium")
KEY = "browser-test-key"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None:
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run must install it", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

FAST_TOKENS, SLOW_TOKENS = 0.002, 0.02  # seconds between tokens


@contextlib.contextmanager
def slow_replies(emu):
    """Replies slow enough to interrupt mid-stream."""
    emu.token_delay = SLOW_TOKENS
    try:
        yield
    finally:
        emu.token_delay = FAST_TOKENS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def emu():
    with ArkEmulator(api_key=KEY, ttft=0.02, token_delay=FAST_TOKENS) as running:
        yield running


@pytest.fixture(scope="module")
def server(emu, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    db_path, log_path, port = folder / "chat.db", folder / "server.log", free_port()
    env = dict(
        os.environ,
        ARK_API_KEY=KEY,
        ARK_BASE_URL=emu.base_url,
        ARK_MODEL="ep-e2e",
        ARK_MAX_RETRIES="0",
        CHAT_DB=str(db_path),
        NO_PROXY="127.0.0.1,localhost",
        ARK_THINKING="disabled",
    )
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--server.trustedUserHeaders",
        json.dumps({HEADER: "email"}),
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, log_path)
        with IdentityProxy(url) as proxy:
            yield {"url": proxy.url, "db": db_path, "log": log_path}
    finally:
        process.terminate()
        process.wait(15)
    assert "Traceback" not in log_path.read_text(errors="replace")


def wait_for_health(url: str, process, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text())
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("streamlit did not start:\n" + log_path.read_text())


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_as(browser, server):
    contexts = []

    def open_page(owner: str, path: str = ""):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.add_cookies([identity_cookie(server["url"], owner)])
        contexts.append(context)
        page = context.new_page()
        page.goto(server["url"] + path)
        wait_for_app(page)
        return page

    yield open_page
    for context in contexts:
        for page in context.pages:
            assert page.get_by_test_id("stException").count() == 0
        context.close()


def wait_for_app(page) -> None:
    page.wait_for_timeout(200)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=30_000
    )
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=30_000
    )
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible(timeout=30_000)


def session_of(page) -> str:
    page.wait_for_url(re.compile(r"session=\w+"))
    return re.search(r"session=(\w+)", page.url).group(1)


def send(page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")


def sessions_of(server, owner: str) -> dict[str, int]:
    with connect(server["db"]) as store, store.backend.reading() as tx:
        rows = tx.query("SELECT id, is_used FROM chat_session WHERE owner = ?", [owner])
    return {row["id"]: row["is_used"] for row in rows}


def click_new_chat(page) -> None:
    page.locator(".st-key-new_chat button").click()
    wait_for_app(page)


def test_new_chat_twice_without_sending_keeps_one_session(open_as, server):
    page = open_as("one@example.com")
    first = session_of(page)
    click_new_chat(page)
    expect(page.get_by_text("Continue in the session you have not started yet")).to_be_visible()
    click_new_chat(page)
    assert session_of(page) == first
    assert sessions_of(server, "one@example.com") == {first: 0}


def test_send_streams_marks_used_and_new_chat_then_creates_once(open_as, server):
    owner = "two@example.com"
    page = open_as(owner)
    first = session_of(page)
    send(page, "hello browser")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages.nth(1)).to_contain_text("Echo: hello browser", timeout=20_000)
    wait_for_app(page)
    assert sessions_of(server, owner) == {first: 1}
    expect(page.locator(f".st-key-session-{first}")).to_contain_text("hello browser")
    click_new_chat(page)
    page.wait_for_url(lambda url: "session=" in url and first not in url)
    second = session_of(page)
    expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
    click_new_chat(page)
    assert session_of(page) == second
    assert sessions_of(server, owner) == {first: 1, second: 0}


def test_reload_with_session_in_the_url_shows_the_history(open_as, server):
    page = open_as("three@example.com")
    send(page, "remember this")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
        "Echo: remember this", timeout=20_000
    )
    sid = session_of(page)
    page.reload()
    wait_for_app(page)
    assert session_of(page) == sid
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
    expect(page.get_by_test_id("stChatMessage").nth(0)).to_contain_text("remember this")


def test_closing_the_page_mid_stream_saves_the_partial_reply(open_as, server, emu):
    owner = "four@example.com"
    page = open_as(owner)
    sid = session_of(page)
    with slow_replies(emu):
        send(page, "a long answer please #tokens=2000")
        expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w10", timeout=20_000)
        page.close()
        reply = wait_for_final_reply(server, sid)
    assert reply["status"] == "interrupted"
    assert reply["content"].startswith("w1 w2 w3 w4 w5 w6 w7 w8 w9 w10")
    assert "w2000" not in reply["content"]


def wait_for_final_reply(server, sid: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connect(server["db"]) as store, store.backend.reading() as tx:
            rows = tx.query(
                "SELECT status, content FROM chat_message WHERE session_id = ? "
                "AND role = 'assistant' ORDER BY id DESC LIMIT 1",
                [sid],
            )
        if rows and rows[0]["status"] != "streaming":
            return rows[0]
        time.sleep(0.2)
    raise AssertionError(f"the reply in {sid} never left the streaming state")


def test_two_owners_never_see_each_other(open_as, server):
    alice = open_as("alice@example.com")
    send(alice, "alice private note")
    expect(alice.get_by_test_id("stChatMessage").nth(1)).to_contain_text(
        "Echo: alice private note", timeout=20_000
    )
    alice_sid = session_of(alice)
    bob = open_as("bob@example.com")
    bob_sid = session_of(bob)
    assert bob_sid != alice_sid
    expect(bob.get_by_test_id("stSidebar")).not_to_contain_text("alice private note")
    bob.goto(f"{server['url']}/?session={alice_sid}")
    wait_for_app(bob)
    assert session_of(bob) != alice_sid
    expect(bob.get_by_test_id("stChatMessage")).to_have_count(0)
    expect(bob.get_by_text("does not exist or is not yours")).to_be_visible()
    assert set(sessions_of(server, "bob@example.com")) == {bob_sid}


def test_stop_button_keeps_the_partial_reply_and_offers_regenerate(open_as, server, emu):
    page = open_as("five@example.com")
    sid = session_of(page)
    with slow_replies(emu):
        send(page, "stop me #tokens=2000")
        expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w10", timeout=20_000)
        page.get_by_test_id("stChatInputStopButton").click()
        reply = wait_for_final_reply(server, sid)
    assert reply["status"] == "interrupted" and reply["content"].startswith("w1 w2 w3")
    page.reload()
    wait_for_app(page)
    expect(page.get_by_text("Reply interrupted")).to_be_visible()
    page.locator(".st-key-regenerate button").click()
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("w2000", timeout=30_000)
    wait_for_app(page)
    assert wait_for_final_reply(server, sid)["status"] == "complete"


def test_import_an_exported_chat(open_as, server, tmp_path):
    with connect(server["db"]) as store:
        from chat_core.transfer import export_json

        source, _ = store.new_session("someone@example.com")
        store.start_turn(source, "imported hello")
        exported = tmp_path / "chat.json"
        exported.write_text(export_json(store, "someone@example.com", source.id))
    page = open_as("six@example.com")
    page.get_by_test_id("stExpander").locator("summary").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(exported)
    expect(page.get_by_text("Imported “imported hello”")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("stChatMessage").nth(0)).to_contain_text("imported hello")
    imported = session_of(page)
    assert imported != source.id
    assert sessions_of(server, "six@example.com")[imported] == 1


def test_html_in_prompts_and_replies_is_never_executed(open_as):
    page = open_as("seven@example.com")
    payload = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> **bold**'
    send(page, payload)
    reply = page.get_by_test_id("stChatMessage").nth(1)
    expect(reply).to_contain_text("Echo:", timeout=20_000)
    wait_for_app(page)
    assert page.evaluate("window.pwned") is None
    assert page.locator("[data-testid='stChatMessage'] img[src='x']").count() == 0
    expect(reply.locator("strong")).to_have_text("bold")


def test_markdown_code_and_latex_render(open_as, server):
    page = open_as("eight@example.com")
    send(page, "Plan a trip to Kyoto")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Kyoto", timeout=20_000)
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Show **bold**, `inline code` and \\(E = mc^2\\)")
    box.press("Enter")
    reply = page.get_by_test_id("stChatMessage").nth(3)
    expect(reply.locator(".katex")).to_have_count(1, timeout=20_000)
    expect(reply.locator("code")).to_have_text("inline code")
    expect(reply.locator("strong")).to_have_text("bold")
    wait_for_app(page)
    save_screenshot(page)


def save_screenshot(page) -> None:
    """With ARK_CHAT_SCREENSHOT set, keep the README's screenshot current."""
    target = os.environ.get("ARK_CHAT_SCREENSHOT")
    if target:
        page.screenshot(path=target)
