"""Conversation-tree benchmark: a 1,000-message chat with 10 branches.

    python bench/bench_tree.py                       # store, SQLite file in a temp folder
    python bench/bench_tree.py --db postgres         # store, a throwaway PostgreSQL server
    python bench/bench_tree.py --browser             # a version switch in chromium

Store part: the store benchmark's database (`bench_store.py`: 100,000 sessions and
1,000,000 messages of one owner) plus one chat of 1,000 messages whose last ten turns
come in 10 versions (10 branches, each path about 900 messages long). Times, through
`Store`: loading the current path after a switch (the whole path, and its latest 50,
more than the 20 a page draws at first), the store's part of a switch (switch, latest
50, their versions), and search as you type (every prefix of a few queries, as the
sidebar sends them). SQLite targets are judged on CPU time, PostgreSQL's on wall-clock
time (see `bench_store.py`).

Browser part: the same chat alone in a SQLite file, the app under `streamlit run` with
the loopback emulator, headless chromium. The pointer goes over the message with
versions and clicks ‹ or ›; the time runs from the click until the page shows the other
version's number and its branch's last message (polled every animation frame).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench_store import (
    OWNER,
    build_postgres,
    build_sqlite,
    generated_rows,
    open_database,
    percentiles,
    timed_once,
)
from e2e_harness import launched_browser, running, server_env, start_streamlit, wait_for_app_run

from chat_core.search_typing import worth_searching
from chat_core.store import connect, is_postgres_url

BRANCHES = 10
TURNS_PER_BRANCH = 5  # the edited question, its answer and four more turns: 10 messages
QUERIES = ("latency garden", "北京天气", "matrix")
# p99 targets in ms (SQLite on CPU time, PostgreSQL on wall-clock time)
TARGETS = {
    "sqlite": {"path": 20, "keystroke": 50},
    "postgres": {"path": 40, "keystroke": 50},
}
SWITCH_TARGET_MS = 300


def answer(store, session, text: str) -> None:
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content=text, status="complete")


def turn(store, session, n: int, label: str = "") -> None:
    store.start_turn(session, f"question {n}{label} about latency and gardens")
    answer(store, session, f"answer {n}{label}: " + "words " * 20)


def tree_chat(store, owner: str, messages: int = 1000) -> tuple[object, int]:
    """A chat of `messages` messages: a trunk, then a question edited into BRANCHES
    versions, each answered and followed by more turns. Returns the chat and the id of
    the first version of that question."""
    session, _ = store.new_session(owner)
    trunk_turns = (messages - BRANCHES * TURNS_PER_BRANCH * 2) // 2
    for n in range(trunk_turns):
        turn(store, session, n)
    fork = None
    for version in range(1, BRANCHES + 1):
        text = f"the forked question, version {version}"
        if fork is None:
            fork = store.start_turn(session, text)
        else:
            store.edit_message(session, fork.id, text)
        answer(store, session, f"answer to version {version}")
        for n in range(1, TURNS_PER_BRANCH):
            turn(store, session, trunk_turns + n, label=f" on branch {version}")
    return store.get_session(owner, session.id), fork.id


def versions_of(store, session, fork_id: int) -> list[int]:
    fork = store.get_message(session, fork_id)
    return store.versions(session, [fork])[fork_id]


# --- store ---------------------------------------------------------------------------------


def measure_store(store, backend: str, runs: int) -> list[tuple]:
    session, fork_id = tree_chat(store, OWNER)
    versions = versions_of(store, session, fork_id)
    assert len(versions) == BRANCHES, versions
    rows = []
    path, latest, switch = [], [], []
    for run in range(runs):
        target = versions[run % BRANCHES]

        def switched(target=target):
            moved = store.switch_branch(session, target)
            page = store.get_messages(moved, limit=50)
            store.versions(moved, page)

        switch.append(timed_once(switched))
        current = store.get_session(OWNER, session.id)
        path.append(timed_once(lambda c=current: store.get_messages(c)))
        latest.append(timed_once(lambda c=current: store.get_messages(c, limit=50)))
    length = len(store.get_messages(store.get_session(OWNER, session.id)))
    rows.append((f"current path ({length} messages)", path, "path"))
    rows.append(("current path, latest 50", latest, "path"))
    rows.append(("switch + latest 50 + versions", switch, None))
    by_prefix: dict[str, list[tuple[float, float]]] = {}
    for query in QUERIES:
        # What the sidebar sends while the query is typed (one Latin letter is not).
        prefixes = [query[:n] for n in range(1, len(query) + 1) if worth_searching(query[:n])]
        for _ in range(max(1, runs // len(prefixes))):
            for prefix in prefixes:
                by_prefix.setdefault(prefix, []).append(
                    timed_once(lambda p=prefix: store.search(OWNER, p))
                )
    keystrokes = [sample for samples in by_prefix.values() for sample in samples]
    rows.append((f"search as you type ({len(keystrokes)} queries)", keystrokes, "keystroke"))
    judged = 1 if backend == "sqlite" else 0  # CPU time, or wall-clock time
    slowest = sorted(
        by_prefix.items(), key=lambda item: -percentiles([t[judged] for t in item[1]])[1]
    )[:6]
    for prefix, samples in slowest:
        rows.append((f"  typed {prefix!r}", samples, None))
    return rows


def report_store(rows: list[tuple], backend: str) -> None:
    print(f"backend: {backend}")
    print(f"{'operation':38} {'p50':>7} {'p99':>7} {'cpu p50':>8} {'cpu p99':>8}  target")
    for name, samples, target_name in rows:
        wall50, wall99 = percentiles([w for w, _ in samples])
        cpu50, cpu99 = percentiles([c for _, c in samples])
        verdict = ""
        if target_name:
            target = TARGETS[backend][target_name]
            judged = cpu99 if backend == "sqlite" else wall99
            verdict = f"<= {target:<3} {'ok' if judged <= target else 'MISSED'}"
        print(f"{name:38} {wall50:7.2f} {wall99:7.2f} {cpu50:8.2f} {cpu99:8.2f}  {verdict}")
    basis = "CPU time" if backend == "sqlite" else "wall-clock time"
    print(f"all times in ms; targets judged on {basis} p99")


def store_part(args) -> None:
    with ExitStack() as stack:
        location = open_database(args, stack)
        backend = "postgres" if is_postgres_url(location) else "sqlite"
        store = stack.enter_context(connect(location, busy_timeout=30))
        if not store.backend.owners():
            started = time.perf_counter()
            batches = generated_rows(args.sessions, args.messages, random.Random(7))
            (build_postgres if backend == "postgres" else build_sqlite)(store, batches)
            took = time.perf_counter() - started
            print(f"built {args.sessions:,} sessions, {args.messages:,} messages in {took:.0f} s")
        report_store(measure_store(store, backend, args.runs), backend)


# --- browser -------------------------------------------------------------------------------


def browser_part(runs: int) -> None:
    from ark_emulator import ArkEmulator

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(dir="/var/tmp")))
        with connect(folder / "chat.db") as store:
            session, fork_id = tree_chat(store, "local")
            versions = versions_of(store, session, fork_id)
        emu = stack.enter_context(ArkEmulator(api_key="bench-key", ttft=0.01))
        env = server_env(
            {
                "ARK_API_KEY": "bench-key",
                "ARK_BASE_URL": emu.base_url,
                "ARK_MODEL": "ep-bench",
                "CHAT_DB": str(folder / "chat.db"),
                "NO_PROXY": "127.0.0.1",
            }
        )
        app = start_streamlit(Path(__file__).parent.parent / "streamlit_app.py", env, folder, "app")
        stack.enter_context(running(app))
        browser = stack.enter_context(launched_browser())
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{app.url}/?session={session.id}")
        wait_for_app_run(page)
        shown, direction = BRANCHES, -1  # the newest version is the current one
        samples, baseline = [], []
        for run in range(runs + 1):  # the first, a warm-up, is not counted
            if not 1 <= shown + direction <= BRANCHES:
                direction = -direction
            box = page.locator(f".st-key-msg-{versions[shown - 1]}")
            box.hover()  # the actions show while the pointer is over the message
            name = "prev" if direction < 0 else "next"
            button = box.locator(f"[class*='st-key-{name}-'] button:visible")
            shown += direction
            started = time.perf_counter()
            button.click()
            page.wait_for_function(
                """([label, last]) => {
                    const text = document.querySelector("[data-testid='stMain']").innerText;
                    return text.includes(label) && text.includes(last);
                }""",
                arg=[f"{shown} / {BRANCHES}", f"on branch {shown}:"],
                polling="raf",
                timeout=30_000,
            )
            took = (time.perf_counter() - started) * 1000
            wait_for_app_run(page, initial_wait_ms=0)
            if run:
                samples.append(took)
                baseline.append(plain_run(page))
        p50, p99 = percentiles(samples)
        base50, base99 = percentiles(baseline)
        verdict = "ok" if p99 <= SWITCH_TARGET_MS else "MISSED"
        print(f"{len(samples)} clicks each on a 1,000-message chat (ms)   p50    p99    max")
        print(
            f"{'version switch to the redrawn page':44} {p50:6.0f} {p99:6.0f} {max(samples):6.0f}"
        )
        print(f"{'a plain run of the same page (Select)':44} {base50:6.0f} {base99:6.0f}")
        print(f"switch / plain run at p50: {p50 / base50:.2f}")
        print(f"target p99 <= {SWITCH_TARGET_MS} ms: {verdict}")


def plain_run(page) -> float:
    """A full run of the same page that changes nothing of the chat: the sidebar's
    Select button, from the click until its label changes. The floor under a switch."""
    button = page.locator(".st-key-select_chats button")
    before = button.inner_text()
    started = time.perf_counter()
    button.click()
    page.wait_for_function(
        """(before) => {
            const b = document.querySelector(".st-key-select_chats button");
            return b && b.innerText !== before;
        }""",
        arg=before,
        polling="raf",
        timeout=30_000,
    )
    took = (time.perf_counter() - started) * 1000
    wait_for_app_run(page, initial_wait_ms=0)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--db", help="a SQLite path, a postgresql:// URL, or 'postgres'")
    parser.add_argument("--browser", action="store_true", help="time a switch in chromium")
    args = parser.parse_args()
    if args.browser:
        browser_part(min(args.runs, 40))
    else:
        store_part(args)


if __name__ == "__main__":
    main()
