"""Reusable pieces for browser benchmarks: Streamlit servers and headless chromium.

    with launched_browser() as browser, running(start_streamlit(APP, env, logs)) as app:
        page = browser.new_page(); page.goto(app.url); wait_for_app_run(page)

Servers write stdout/stderr to a file (a PIPE nobody reads can fill up and stall them)
and are killed on exit, on exceptions and on Ctrl-C. Used by `e2e_perf.py` and the soak
benchmark; seeded databases are in `e2e_databases.py`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_LIVE: set[subprocess.Popen] = set()


# --- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    """One `streamlit run` process; `started` is the perf_counter() just before Popen."""

    name: str
    proc: subprocess.Popen
    url: str
    log_path: Path
    started: float

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def traceback(self) -> str | None:
        """The server log from its first "Traceback", or None when there is none."""
        text = self.log_text()
        at = text.find("Traceback")
        return text[at:] if at >= 0 else None

    def stop(self) -> None:
        stop_process(self.proc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any ARK_*/CHAT_* settings, plus `extra`, so a
    developer's own key or database never leaks into a benchmark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARK_", "CHAT_"))}
    return {**env, **extra}


def start_streamlit(script: Path, env: Mapping[str, str], log_dir: Path, name: str) -> Server:
    """Popen `streamlit run script` on a free port; does not wait (see `wait_healthy`)."""
    port = free_port()
    log_path = log_dir / f"{name}-{port}.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        # Own session: Ctrl-C reaches only us, and we stop the server in order.
        proc = subprocess.Popen(
            command,
            env=dict(env),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _LIVE.add(proc)
    return Server(name, proc, f"http://127.0.0.1:{port}", log_path, started)


def wait_healthy(server: Server, timeout: float = 30.0) -> float:
    """Block until /_stcore/health says ok; seconds since Popen."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_text()}")
        health = f"{server.url}/_stcore/health"
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1) as reply:
            if reply.read() == b"ok":
                return time.perf_counter() - server.started
        time.sleep(0.02)
    raise RuntimeError(f"{server.name} not healthy after {timeout:.0f} s:\n{server.log_text()}")


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    """Wait until all servers are healthy and stop them when the block ends."""
    try:
        for server in servers:
            wait_healthy(server)
        yield servers
    finally:
        for server in servers:
            server.stop()


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    _LIVE.discard(proc)


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_LIVE):
        stop_process(proc)


# --- browser -------------------------------------------------------------------------------


@contextlib.contextmanager
def launched_browser() -> Iterator[Browser]:
    """Headless Debian chromium (`playwright install` cannot download here)."""
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium not found: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def wait_for_app_run(page: Page, initial_wait_ms: int = 210, timeout: int = 60_000) -> None:
    """Streamlit's own e2e wait: connected, and the script has finished its run."""
    page.wait_for_timeout(initial_wait_ms)
    app = "[data-testid='stApp']"
    page.locator(f"{app}[data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout
    )
    page.locator(f"{app}[data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout
    )


def open_chat(browser: Browser, url: str, timeout: int = 60_000) -> Page:
    """A new page (own context, so own Streamlit session) with the chat input ready."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url, timeout=timeout)
    page.get_by_test_id("stChatInputTextArea").wait_for(state="visible", timeout=timeout)
    wait_for_app_run(page, timeout=timeout)
    return page


def page_exceptions(page: Page) -> list[str]:
    """Texts of the `st.exception` boxes in the page (uncaught errors)."""
    return page.get_by_test_id("stException").all_inner_texts()
