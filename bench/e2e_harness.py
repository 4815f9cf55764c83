"""Reusable pieces for browser benchmarks: Streamlit servers, headless chromium, seeding.

    with launched_browser() as browser, running(start_streamlit(APP, env, logs)) as app:
        page = browser.new_page(); page.goto(app.url); wait_for_app_run(page)

Servers write stdout/stderr to a file (a PIPE nobody reads can fill up and stall them)
and are killed on exit, on exceptions and on Ctrl-C. Used by `e2e_perf.py`; a soak
benchmark can reuse them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from chat_core.store import Store  # noqa: E402

OWNER = "local"  # the app's owner when no login is configured
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_WORD_TEXT = (
    "python sqlite stream token model reply cache context session search index query "
    "weather travel recipe budget deploy cluster latency vector matrix garden music "
    "今天 天气 北京 上海 模型 缓存 会话 搜索"
)
WORDS = _WORD_TEXT.split()
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


# --- seeding -------------------------------------------------------------------------------


@dataclass
class SeededChat:
    """A long chat seeded through the store, and the same history for the peer."""

    session_id: str
    history: list[dict]  # [{"role", "content"}], oldest first
    last_text: str  # a word only the newest message contains


@dataclass
class SeededDb:
    path: Path
    chats: dict[int, SeededChat] = field(default_factory=dict)  # by message count


def seed_database(path: Path, small_sessions: int, long_chats: tuple[int, ...]) -> SeededDb:
    """`small_sessions` used two-message sessions (bulk, old), then one long chat per size
    in `long_chats` through `start_turn`/`begin_reply`/`save_reply`, so the long chats are
    the newest and show at the top of the sidebar."""
    rng = random.Random(7)
    seeded = SeededDb(path)
    with Store(path) as store:
        _bulk_small_sessions(store, small_sessions, rng)
        for size in long_chats:
            seeded.chats[size] = _seed_long_chat(store, size, rng)
    return seeded


def write_histories(seeded: SeededDb, folder: Path) -> None:
    """`h<size>.json` per long chat, for the peer's `?history=h<size>`."""
    folder.mkdir(parents=True, exist_ok=True)
    for size, chat in seeded.chats.items():
        (folder / f"h{size}.json").write_text(json.dumps(chat.history, ensure_ascii=False))


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy (WAL included) through SQLite's backup API."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


def reset_chat(db_path: Path, session_id: str, keep: int) -> None:
    """Delete everything after the first `keep` messages (undo a measured turn)."""
    with Store(db_path) as store:
        session = store.get_session(OWNER, session_id)
        messages = store.get_messages(session)
        if len(messages) > keep:
            store.truncate_from(session, messages[keep].id)


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _bulk_small_sessions(store: Store, count: int, rng: random.Random) -> None:
    # Store calls one by one would take minutes; bench_store.py loads the same way.
    sessions, messages = [], []
    for i in range(count):
        sid, stamp = uuid.uuid4().hex, f"2025-01-01T00:00:00.{i:06d}+00:00"
        sessions.append((sid, OWNER, f"chat {i} {rng.choice(WORDS)}", 1, stamp, stamp, stamp))
        messages.append((sid, "user", sentence(rng, 12), "complete", stamp))
        messages.append((sid, "assistant", sentence(rng, 40), "complete", stamp))
    conn = store.db.conn
    conn.execute("BEGIN")  # one transaction, as bench_store.py does
    conn.executemany(
        "INSERT INTO chat_session (id, owner, title, is_used, created_at, updated_at, "
        "used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        sessions,
    )
    conn.executemany(
        "INSERT INTO chat_message (session_id, role, content, status, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        messages,
    )
    conn.execute("COMMIT")


def _seed_long_chat(store: Store, size: int, rng: random.Random) -> SeededChat:
    session, _ = store.new_session(OWNER)
    history, last_text = [], f"lastof{size}x{session.id[:6]}"
    for turn in range(size // 2):
        question = f"Question {turn}: {sentence(rng, 16)}"
        answer = f"Answer {turn}: {sentence(rng, 60)}"
        if turn == size // 2 - 1:
            answer += f" {last_text}"
        store.start_turn(session, question)
        reply = store.begin_reply(session, "ep-bench-model")
        store.save_reply(session, reply.id, content=answer, status="complete")
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return SeededChat(session.id, history, last_text)
