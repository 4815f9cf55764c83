"""The scenarios of `e2e_perf.py`. Each takes a `Bench` and returns table rows.

Prompts are unique per run ("Echo: z<hex>" comes back only for that run; "#tokens=2000
z<hex>" yields "w1 ... w2000"), so text from earlier runs never matches. Chat runs open
a fresh page (a fresh Streamlit session) each time; the app's long chats are cut back to
their seeded length after each run, and the peer reloads its injected history, so every
run starts from the same chat. With two backends, one app server runs on each, on its
own copy of the seeded database, and their runs alternate with the floor's and peer's.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from e2e_databases import OWNER, Databases, SeededChat, SeededDb, reset_chat
from e2e_harness import (
    ROOT,
    Server,
    open_chat,
    page_exceptions,
    running,
    server_env,
    start_streamlit,
    wait_for_app_run,
    wait_healthy,
)
from e2e_probe import (
    Timing,
    arm,
    click,
    message_count,
    press_enter,
    result,
    watch_requests,
)
from e2e_report import Check, Row, app_key, make_row, rendered_note, request_note
from playwright.sync_api import Browser, Page
from volcenginesdkarkruntime import Ark

from ark_emulator import ArkEmulator
from chat_core.store import Store, connect

PEER = ROOT / "bench" / "peer_app.py"
MODEL = "ep-bench-model"
LONG_TOKENS = 2000
HUGE_TOKENS, HUGE_RATE = 30_000, 300
HUGE_RUNS = 1  # each run streams for 100 s
HUGE_TIMEOUT_MS = 300_000
TIMEOUT_MS = 60_000
# Pause between "page ready" and the action. Streamlit runs gc.collect(2) right after
# telling the page a run finished (~50-100 ms here, GIL held); a user who types a
# message never acts that fast, so the benchmark should not time that collection.
SETTLE_MS = 400


@dataclass
class Bench:
    """What every scenario needs, and the problems found so far (any one means exit 1)."""

    runs: int
    app: Path | None
    work: Path
    emulator: ArkEmulator
    browser: Browser
    databases: list[Databases]  # one per backend the app runs on
    seeded: dict[str, SeededDb] = field(default_factory=dict)  # by backend
    problems: list[str] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)  # prompt -> time.time()

    def __post_init__(self) -> None:
        watch_requests(self.emulator, self.arrivals)

    def chat(self, backend: str, size: int) -> SeededChat | None:
        """The seeded chat of `size` messages on `backend` (None for 0: a new chat)."""
        return self.seeded[backend].chats.get(size)

    def chat_sizes(self) -> list[int]:
        return list(next(iter(self.seeded.values())).chats)

    def history(self, size: int) -> list[dict]:
        """The peer's and floor's copy of a seeded chat (the same text on every backend)."""
        chat = next(iter(self.seeded.values())).chats.get(size)
        return chat.history if chat else []

    def env(self, db: str | None = None) -> dict[str, str]:
        # Thinking off: the floor and the peer do not ask for reasoning either. The peer
        # keeps history in its session and gets no database.
        extra = {"CHAT_DB": db} if db else {}
        return server_env(
            {
                "ARK_API_KEY": self.emulator.api_key,
                "ARK_BASE_URL": self.emulator.base_url,
                "ARK_MODEL": MODEL,
                "ARK_CACHE": "off",
                "ARK_THINKING": "disabled",
                "PEER_HISTORY_DIR": str(self.work / "histories"),
                **extra,
            }
        )

    def check_page(self, page: Page, who: str) -> None:
        for text in page_exceptions(page):
            self.problems.append(f"{who}: the page shows an exception:\n{text}")

    def check_log(self, server: Server) -> None:
        if traceback := server.traceback():
            excerpt = traceback[:4000] + ("\n[...]" if len(traceback) > 4000 else "")
            self.problems.append(f"{server.name}: the server log has a traceback:\n{excerpt}")


@dataclass
class App:
    """The app on one backend for one scenario, and the benchmark's own store on the
    same database copy (to undo measured turns)."""

    backend: str
    server: Server
    store: Store


# --- scenarios -----------------------------------------------------------------------------


def ttft(bench: Bench) -> list[Row]:
    """Enter to the first reply token, in an empty chat and in the seeded long chats."""
    rows = []
    with chat_servers(bench, "ttft") as (peer, apps):
        client = floor_client(bench)
        for size in (0, *bench.chat_sizes()):
            history, query = bench.history(size), f"/?history=h{size}" if size else ""
            targets = {
                "floor": lambda h=history: floor_turn(client, h, echo_prompt),
                "peer": lambda q=query: browser_turn(bench, peer, peer.url + q, echo_prompt),
            }
            for backend, app in apps.items():
                targets[app_key(backend)] = app_turn(
                    bench, app, bench.chat(backend, size), echo_prompt
                )
            samples = measure(bench, targets)
            if size:
                check, target = within_empty_chat(rows[0]), "<= 1.15x empty chat"
            else:
                check, target = (lambda f, p, a, _: a <= f + 60), "<= floor+60"
            row = make_row(f"TTFT, {size:,} msgs", samples, "first_ms", target, check)
            row.ttft = True
            row.notes.append(request_note(samples))
            if size:
                row.notes.append("messages shown before Enter: " + rendered_note(samples))
            rows.append(row)
    return rows


def long_answer(bench: Bench) -> list[Row]:
    """A 2,000-token reply as fast as the emulator sends it, in an empty chat."""
    with chat_servers(bench, "long") as (peer, apps):
        client = floor_client(bench)
        targets = {
            "floor": lambda: floor_turn(client, [], long_prompt),
            "peer": lambda: browser_turn(bench, peer, peer.url, long_prompt),
        }
        for backend, app in apps.items():
            targets[app_key(backend)] = app_turn(bench, app, None, long_prompt)
        samples = measure(bench, targets)
    last = make_row(
        f"Long answer {LONG_TOKENS:,} tok, last token",
        samples,
        "last_ms",
        "<= floor+150",
        lambda f, p, a, _: a <= f + 150,
    )
    first = make_row(f"Long answer {LONG_TOKENS:,} tok, first token", samples, "first_ms")
    first.ttft = True
    first.notes.append(request_note(samples))
    return [last, first]


def open_long_chat(bench: Bench) -> list[Row]:
    """Click a 1,000-message chat in the sidebar until its newest message shows (app only)."""
    name = "Open 1,000-msg chat"
    if not bench.app:
        return [Row(name, notes=["skipped: no app (the peer has no sidebar)"])]
    with chat_servers(bench, "open", with_peer=False) as (_, apps):
        targets = {
            app_key(backend): lambda a=app: open_turn(bench, a.server, bench.chat(a.backend, 1000))
            for backend, app in apps.items()
        }
        samples = measure(bench, targets)
    row = make_row(name, samples, "last_ms", "<= 400", lambda f, p, a, _: a <= 400)
    row.notes.append("messages shown after opening: " + rendered_note(samples))
    return [row]


def cold_start(bench: Bench) -> list[Row]:
    """`streamlit run` to /_stcore/health, and to the chat input visible in a new page."""
    targets = {"peer": lambda: cold_turn(bench, PEER, None, "peer-cold")}
    if bench.app:
        for databases in bench.databases:
            db, name = databases.copy("cold"), f"app-{databases.backend}-cold"
            targets[app_key(databases.backend)] = lambda d=db, n=name: cold_turn(
                bench, bench.app, d, n
            )
    samples = measure(bench, targets)
    return [
        make_row("Cold start, health ok", samples, "first_ms"),
        make_row("Cold start, interactive", samples, "last_ms", "< peer", lambda f, p, a, _: a < p),
    ]


def huge_answer(bench: Bench) -> list[Row]:
    """A 30,000-token reply at 300 tokens/s (one long paragraph): on screen in full soon
    after the model's last token, and saved whole (app only; the floor is the bare SDK)."""
    name = f"{HUGE_TOKENS:,} tok at {HUGE_RATE} tok/s, last token"
    if not bench.app:
        return [Row(name, notes=["skipped: no app"])]
    bench.emulator.token_delay = 1 / HUGE_RATE
    try:
        with chat_servers(bench, "huge", with_peer=False) as (_, apps):
            client = floor_client(bench)
            targets = {"floor": lambda: floor_turn(client, [], huge_prompt)}
            for backend, app in apps.items():
                targets[app_key(backend)] = app_turn(bench, app, None, huge_prompt, HUGE_TIMEOUT_MS)
            samples = measure(bench, targets, runs=HUGE_RUNS)
            for app in apps.values():
                check_saved_whole(bench, app, HUGE_RUNS + 1)
    finally:
        bench.emulator.token_delay = 0.0
    return [make_row(name, samples, "last_ms", "<= floor+2000", lambda f, p, a, _: a <= f + 2000)]


def within_empty_chat(empty: Row) -> Check:
    """TTFT in a long chat within 1.15x of the same app's TTFT in an empty chat."""
    return lambda f, p, a, contender: a <= 1.15 * empty.median(contender)


def check_saved_whole(bench: Bench, app: App, turns: int) -> None:
    """The huge replies the app stored (the newest chats) are complete, every token kept."""
    for session in app.store.list_sessions(OWNER, limit=turns):
        for message in app.store.get_messages(session):
            whole = message.content.rstrip().endswith(f"w{HUGE_TOKENS}")
            if message.role == "assistant" and (message.status != "complete" or not whole):
                bench.problems.append(
                    f"{app.server.name}: a huge reply was saved {message.status}, "
                    f"{len(message.content):,} characters"
                )


SCENARIOS = {
    "ttft": ttft,
    "long": long_answer,
    "open": open_long_chat,
    "cold": cold_start,
    "huge": huge_answer,
}


# --- one run of each kind ------------------------------------------------------------------


def echo_prompt() -> tuple[str, str, str]:
    """(prompt, first marker, last marker); short, so "auto" thinking would not start."""
    tag = "z" + uuid.uuid4().hex[:8]
    return tag, f"Echo: {tag}", f"Echo: {tag}"


def long_prompt() -> tuple[str, str, str]:
    return f"#tokens={LONG_TOKENS} z{uuid.uuid4().hex[:6]}", "w1", f"w{LONG_TOKENS}"


def huge_prompt() -> tuple[str, str, str]:
    return f"#tokens={HUGE_TOKENS} z{uuid.uuid4().hex[:6]}", "w1", f"w{HUGE_TOKENS}"


def floor_client(bench: Bench) -> Ark:
    return Ark(api_key=bench.emulator.api_key, base_url=bench.emulator.base_url)


def floor_turn(client: Ark, history: list[dict], make_prompt) -> Timing:
    """The bare SDK in this process: request to first and to last content token."""
    prompt, _, _ = make_prompt()
    messages = [*history, {"role": "user", "content": prompt}]
    started, first, last = time.perf_counter(), None, None
    for chunk in client.chat.completions.create(model=MODEL, messages=messages, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
    return Timing((first - started) * 1000, (last - started) * 1000)


def browser_turn(
    bench: Bench, server: Server, url: str, make_prompt, timeout_ms: int = TIMEOUT_MS
) -> Timing:
    """Open `url` in a new page, send a prompt, time the reply in the page."""
    prompt, first, last = make_prompt()
    page = open_chat(bench.browser, url)
    try:
        shown = message_count(page)
        page.wait_for_timeout(SETTLE_MS)
        arm(page, first, last)
        press_enter(page, prompt)
        timing = result(page, timeout_ms)
        wait_for_app_run(page)  # let the run finish (and save) before the next one
        timing.rendered = shown
        if (arrived := bench.arrivals.pop(prompt, None)) is not None:
            timing.request_ms = (arrived - timing.start_epoch) * 1000
        return timing
    finally:
        bench.check_page(page, server.name)
        page.close()


def app_turn(
    bench: Bench, app: App, chat: SeededChat | None, make_prompt, timeout_ms: int = TIMEOUT_MS
):
    """A browser turn in `chat` (or in a fresh session), then undo it in the database."""
    url = f"{app.server.url}/?session={chat.session_id}" if chat else app.server.url

    def turn() -> Timing:
        try:
            return browser_turn(bench, app.server, url, make_prompt, timeout_ms)
        finally:
            if chat:
                reset_chat(app.store, chat.session_id, len(chat.history))

    return turn


def open_turn(bench: Bench, app: Server, chat: SeededChat) -> Timing:
    page = open_chat(bench.browser, app.url)  # a fresh, empty session
    try:
        page.wait_for_timeout(SETTLE_MS)
        arm(page, chat.last_text, chat.last_text)
        click(page, f".st-key-session-{chat.session_id} button")
        timing = result(page, TIMEOUT_MS)
        wait_for_app_run(page)
        timing.rendered = message_count(page)
        return timing
    finally:
        bench.check_page(page, app.name)
        page.close()


def cold_turn(bench: Bench, script: Path, db: str | None, name: str) -> Timing:
    """first_ms: Popen to health ok; last_ms: Popen to the chat input visible."""
    server = start_streamlit(script, bench.env(db), bench.work, name)
    try:
        health = wait_healthy(server)
        page = bench.browser.new_page()
        try:
            page.goto(server.url, timeout=TIMEOUT_MS)
            page.get_by_test_id("stChatInputTextArea").wait_for(state="visible", timeout=TIMEOUT_MS)
            interactive = time.perf_counter() - server.started
            wait_for_app_run(page)
        finally:
            bench.check_page(page, name)
            page.close()
    finally:
        server.stop()
        bench.check_log(server)
    return Timing(health * 1000, interactive * 1000)


# --- helpers -------------------------------------------------------------------------------


@contextlib.contextmanager
def chat_servers(
    bench: Bench, scenario: str, with_peer: bool = True
) -> Iterator[tuple[Server | None, dict[str, App]]]:
    """The peer and one app per backend (each on a fresh copy of the seeded database),
    for one scenario."""
    with contextlib.ExitStack() as stores:  # closed after the servers have stopped
        peer = None
        if with_peer:
            peer = start_streamlit(PEER, bench.env(), bench.work, f"peer-{scenario}")
        apps = {}
        if bench.app:
            for databases in bench.databases:
                db = databases.copy(scenario)
                store = stores.enter_context(connect(db, busy_timeout=30))
                name = f"app-{databases.backend}-{scenario}"
                server = start_streamlit(bench.app, bench.env(db), bench.work, name)
                apps[databases.backend] = App(databases.backend, server, store)
        servers = [server for server in (peer, *(app.server for app in apps.values())) if server]
        try:
            with running(*servers):
                yield peer, apps
        finally:
            for server in servers:
                bench.check_log(server)


def measure(
    bench: Bench, targets: dict[str, Callable[[], Timing]], runs: int | None = None
) -> dict[str, list[Timing]]:
    """One untimed warm-up run, then `runs` (default `bench.runs`) runs; the order
    alternates each run."""
    samples: dict[str, list[Timing]] = {name: [] for name in targets}
    names = list(targets)
    for run in range(1 + (bench.runs if runs is None else runs)):
        for name in names if run % 2 else names[::-1]:
            timing = targets[name]()
            if run:
                samples[name].append(timing)
    return samples
