"""What the browser tests share: `streamlit run` behind the identity proxy, chromium,
and the steps a person takes on the page.

Importing this module skips the importing test module when chromium is missing (and
fails it under CI, where .ci/run must have installed chromium).

The server trusts an `X-Forwarded-Email` header and the browser reaches it through
`bench/identity_proxy.py`, an authenticating proxy that sets the header from each browser
context's cookie. (Chromium does not send a context's extra HTTP headers on the WebSocket
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

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium")
KEY = "browser-test-key"
FAST_TOKENS, SLOW_TOKENS = 0.002, 0.02  # seconds between tokens
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

# --- servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# How the browser tests' emulator runs (tests.conftest.emulator_fixture): fast replies to `KEY`.
EMULATOR_SETTINGS = {"api_key": KEY, "ttft": 0.02, "token_delay": FAST_TOKENS}


@contextlib.contextmanager
def slow_replies(emu):
    """Replies slow enough to interrupt mid-stream."""
    emu.token_delay = SLOW_TOKENS
    try:
        yield
    finally:
        emu.token_delay = FAST_TOKENS


def app_env(emu, chat_db: str | Path) -> dict[str, str]:
    return dict(
        os.environ,
        ARK_API_KEY=KEY,
        ARK_BASE_URL=emu.base_url,
        ARK_MODEL="ep-e2e",
        ARK_MAX_RETRIES="0",
        CHAT_DB=str(chat_db),
        NO_PROXY="127.0.0.1,localhost",
        ARK_THINKING="disabled",
        # Chats keep their first-message titles; generated titles have their own tests.
        CHAT_TITLES="off",
    )


def streamlit_command(port: int) -> list[str]:
    return [
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


class AppServer:
    """One `streamlit run` process behind its own identity proxy.

    `restart()` starts a new process on the same port, so the proxy (and the URL the
    browser uses) stays. The log is appended to, so it keeps every run's output."""

    def __init__(self, emu, chat_db: str | Path, log_path: Path) -> None:
        self.env = app_env(emu, chat_db)
        self.log_path = log_path
        self.port = free_port()
        self.direct_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.proxy = IdentityProxy(self.direct_url)

    @property
    def url(self) -> str:
        """Where the browser goes: the proxy."""
        return self.proxy.url

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                streamlit_command(self.port), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_health(self.direct_url, self.process, self.log_path)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def app_server(emu, chat_db: str | Path, log_path: Path):
    """A started `AppServer`; stopped at the end, its log then free of tracebacks."""
    server = AppServer(emu, chat_db, log_path)
    try:
        server.start()
        with server.proxy:
            yield server
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()


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


# --- the browser -------------------------------------------------------------------------


@contextlib.contextmanager
def launched_browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def browser_fixture():
    """A module's `browser` fixture: headless chromium shared by the module's tests
    (`browser = browser_fixture()`)."""

    @pytest.fixture(scope="module", name="browser")
    def running_browser():
        with launched_browser() as launched:
            yield launched

    return running_browser


def app_server_fixture(folder: str):
    """A module's `server` fixture: the app on the module's emulator, with a database
    and a log of its own in a new temporary folder named after `folder`
    (`server = app_server_fixture("tree")`)."""

    @pytest.fixture(scope="module", name="server")
    def running_app(emu, tmp_path_factory):
        path = tmp_path_factory.mktemp(folder)
        with app_server(emu, path / "chat.db", path / "server.log") as running:
            yield running

    return running_app


def new_context(browser):
    return browser.new_context(viewport={"width": 1280, "height": 860})


DESKTOP = {"width": 1280, "height": 900}


@contextlib.contextmanager
def signed_in_pages(browser, url: str, **defaults):
    """`open_page(email, path="", *, ready=True, **options)`: a page in a new browser
    context, signed in as `email` (None: nobody) through the identity proxy at `url`,
    at `path`, once the app is ready (unless `ready` is false). The context takes
    `options` over `defaults` over a desktop viewport. At the end no page may show an
    exception."""
    contexts = []

    def open_page(email: str | None, path: str = "", *, ready: bool = True, **options):
        context = browser.new_context(**{"viewport": DESKTOP, **defaults, **options})
        if email is not None:
            context.add_cookies([identity_cookie(url, email)])
        contexts.append(context)
        page = context.new_page()
        page.goto(url + path)
        if ready:
            wait_for_app(page)
        return page

    yield open_page
    for context in contexts:
        assert_no_exception_shown(context)
        context.close()


def assert_no_exception_shown(context) -> None:
    for page in context.pages:
        assert page.get_by_test_id("stException").count() == 0


def wait_for_app(page) -> None:
    """Connected, the script done, and the chat input shown."""
    page.wait_for_timeout(200)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=30_000
    )
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=30_000
    )
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible(timeout=30_000)


def session_of(page) -> str:
    """The chat id in the page's `?session=` (ids may hold hyphens)."""
    page.wait_for_url(re.compile(r"session=[\w-]+"))
    return re.search(r"session=([\w-]+)", page.url).group(1)


def send(page, text: str) -> None:
    """Click the chat input, type `text` on the keyboard and press Enter."""
    page.get_by_test_id("stChatInputTextArea").click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def stop_mid_reply(page, emu):
    """Send a long question, answered slowly, and press Stop (a real mouse click) once
    some of the answer shows; returns the answer once it says it was interrupted."""
    with slow_replies(emu):
        send(page, "stop me #tokens=2000")
        answer = page.get_by_test_id("stChatMessage").nth(1)
        expect(answer).to_contain_text("w10", timeout=20_000)
        page.get_by_test_id("stChatInputStopButton").click()
        # No reload: the page itself shows the end.
        expect(page.get_by_text("Reply interrupted")).to_be_visible(timeout=10_000)
    return answer


def send_lines(page, lines: list[str]) -> None:
    """Type several lines (Shift+Enter between them, as a person does), then send."""
    page.get_by_test_id("stChatInputTextArea").click()
    for index, line in enumerate(lines):
        if index:
            page.keyboard.press("Shift+Enter")
        page.keyboard.type(line)
    page.keyboard.press("Enter")


def click_new_chat(page) -> None:
    page.locator(".st-key-new_chat button").click()
    wait_for_app(page)
