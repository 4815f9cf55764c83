"""Usage page benchmark: the page for an owner with 100,000 chats and 1,000,000 messages.

    python bench/bench_usage.py                     # SQLite file in a temp folder
    python bench/bench_usage.py --db postgres       # a throwaway PostgreSQL server
    python bench/bench_usage.py --db path/to/usage.db  # keep (or reuse) a SQLite file
    python bench/bench_usage.py --store-only        # the store's queries, no browser

Every chat belongs to `local` (the visitor of an app without a login); the chats are
spread over the last year, a new one every five minutes or so. The page is timed as it
opens (its default: the last 30 days, about 40,000 replies) and for the whole year
(`?from=…&to=…`: all 500,000 replies). Replies carry usage like real ones: four models
(one an endpoint that serves a catalogue model), prompts across the catalogue's price
tiers, cache hits in the caching modes, timings, and a few interrupted and failed
replies. The database is bulk-loaded with `bench_store`'s builder.

First the store's queries are timed through `Store` (median of `--runs`). Then a Streamlit
server runs the app on the database and headless chromium opens the Usage page
`--runs` times each way: by its address in a fresh browser context (a first visit: a
new Streamlit session, nothing cached), by its address again in a new tab of one context
(a returning visitor: the app's scripts cached), and with a mouse click on "Usage" in
the sidebar of the app's Shared links page (the page is switched inside the running
app). The time runs until the three charts have drawn, the metric cards, the latency
and status tables and the top chats are shown and the script run has finished. Target:
1.5 s. Three baselines: the app's empty Shared links page, what opening any page of
the app by its address costs on the machine at that moment; a bare Streamlit app of
one title and one notice (no app code at all), what Streamlit itself costs there; and
the default view, by its address and from the sidebar, from a second server whose
usage queries answer from memory after their first run (`bench/usage_memo/`): what
the page costs beyond its queries. Timings are printed, never asserted; a page that
shows an exception or a server traceback exits with 1.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from bench_store import build_postgres, build_sqlite, open_database
from e2e_harness import ROOT, launched_browser, running, server_env, start_streamlit

from chat_core import usage
from chat_core.pricing import load_prices
from chat_core.store import connect, is_postgres_url

OWNER = "local"
TARGET_SECONDS = 1.5
DAYS = 365  # the chats span a year
DEFAULT_DAYS = 30  # what the page shows first
MODELS = (
    ("doubao-seed-1-6-251015", None),
    ("doubao-seed-2-0-lite-260428", None),
    ("deepseek-v3-2-251201", None),
    ("ep-20260101000000-bench", "doubao-seed-1-8-251228"),  # an endpoint and its model
)
MODES = ("off", "context", "responses", None)
ERRORS = ("rate_limited", "server_error", "stream_interrupted")
TABLES = (
    "chat_session (id, owner, title, is_used, created_at, updated_at, used_at, model, "
    "cache_mode, model_alias)",
    "chat_message (session_id, role, content, status, created_at, model, prompt_tokens, "
    "cached_tokens, completion_tokens, reasoning_tokens, latency_ms, first_token_ms, "
    "error_code)",
)
CHARTS = 3  # cost, tokens, cache hits; latency and statuses are tables
VIEWPORT = {"width": 1400, "height": 1000}
BASELINE = "baseline, the empty Shared links page"
FLOOR = "floor, a bare Streamlit app (a title and a notice)"
MEMO = "Usage page, last 30 days, its figures already in memory"
BARE_APP = 'import streamlit as st\n\nst.title("Bare")\nst.info("Nothing else.")\n'


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def generated_rows(sessions: int, messages: int, rng: random.Random):
    """(session rows, message rows) batches; half the messages are replies."""
    per_session = messages // sessions
    now = datetime.now(UTC)
    start = now - timedelta(days=DAYS - 1)
    span = (now - start).total_seconds() - 3600
    session_rows, message_rows = [], []
    for i in range(sessions):
        sid = uuid.uuid4().hex
        began = start + timedelta(seconds=span * i / sessions)
        model, alias = rng.choice(MODELS)
        mode = rng.choice(MODES)
        at = stamp(began)
        session_rows.append((sid, OWNER, f"chat {i}", True, at, at, at, model, mode, alias))
        for turn in range(per_session):
            moment = stamp(began + timedelta(seconds=turn))
            if turn % 2 == 0:
                message_rows.append((sid, "user", "question", "complete", moment) + (None,) * 8)
            else:
                message_rows.append((sid, "assistant", "answer", *reply(rng, model, mode, moment)))
        if len(message_rows) >= 50_000:
            yield session_rows, message_rows
            session_rows, message_rows = [], []
    if session_rows:
        yield session_rows, message_rows


def reply(rng: random.Random, model: str, mode: str | None, moment: str) -> tuple:
    """(status, created_at, model, tokens…, timings, error code) of one reply."""
    roll = rng.random()
    if roll < 0.02:
        latency = rng.randint(20, 900)
        return ("error", moment, model, None, None, None, None, latency, None, rng.choice(ERRORS))
    prompt = int(rng.lognormvariate(8, 1.2)) + 20  # mostly a few thousand, some > 32k
    cached = int(prompt * rng.random()) if mode in ("context", "responses") else 0
    completion = rng.randint(5, 2000)
    reasoning = rng.randint(0, completion)
    first = rng.randint(150, 3000)
    total = first + completion * rng.randint(5, 30)
    status = "interrupted" if roll < 0.05 else "complete"
    return (status, moment, model, prompt, cached, completion, reasoning, total, first, None)


def build(store, location: str, backend: str, sessions: int, messages: int) -> None:
    started = time.perf_counter()
    batches = generated_rows(sessions, messages, random.Random(11))
    (build_postgres if backend == "postgres" else build_sqlite)(store, batches, TABLES)
    if backend == "postgres":
        # What autovacuum does to a table soon after a bulk load: the visibility map
        # lets the usage queries read the covering index alone.
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) chat_message, chat_session")
    took = time.perf_counter() - started
    print(f"built {sessions:,} chats and {messages:,} messages in {took:.1f} s")


def views() -> dict[str, tuple[date, date]]:
    """The two views timed: the page's default and the whole year."""
    today = datetime.now(UTC).date()
    return {
        f"last {DEFAULT_DAYS} days": (today - timedelta(days=DEFAULT_DAYS - 1), today),
        f"last {DAYS} days": (today - timedelta(days=DAYS - 1), today),
    }


def time_store(store, runs: int) -> None:
    """The page's queries through the store, median wall-clock and CPU ms of `runs`."""
    prices = load_prices()
    limits = usage.bands(prices)
    for view, (first, last) in views().items():
        filters = usage.day_filter(first, last)

        def groups(filters=filters):
            return store.usage_groups(OWNER, filters, default_mode="off", bands=limits)

        found = groups()
        rates = usage.band_rates(found, prices, limits)
        steps = {
            "usage_groups": groups,
            "dashboard (pricing the groups)": lambda f=found: usage.dashboard(f, prices, limits),
            "latency_counts": lambda f=filters: store.latency_counts(OWNER, f),
            "top_chats": lambda f=filters, r=rates: store.top_chats(
                OWNER, f, bands=limits, rates=r
            ),
        }
        replies = sum(g.replies for g in found)
        print(f"{view}: {replies:,} replies in {len(found):,} groups")
        for name, step in steps.items():
            wall, cpu = [], []
            for _ in range(runs):
                began, began_cpu = time.perf_counter(), time.thread_time()
                step()
                wall.append((time.perf_counter() - began) * 1000)
                cpu.append((time.thread_time() - began_cpu) * 1000)
            print(
                f"  {name:32} {statistics.median(wall):8.1f} ms"
                f"  (CPU {statistics.median(cpu):7.1f} ms)"
            )


def time_page(location: str, runs: int, work: Path) -> dict[str, list[float]]:
    """Seconds until the Usage page has drawn, `runs` times per way of opening it (see
    the module's docstring), and for the empty Shared links page as a baseline."""
    env = server_env({"CHAT_DB": location, "ARK_API_KEY": "bench-key", "NO_PROXY": "*"})
    server = start_streamlit(ROOT / "streamlit_app.py", env, work, "usage")
    remembering = start_streamlit(ROOT / "streamlit_app.py", memo_env(env), work, "memo")
    bare_app = work / "bare_app.py"
    bare_app.write_text(BARE_APP)
    bare = start_streamlit(bare_app, env, work, "bare")
    targets = {BASELINE: (by_address("/links", links_drawn), True, server)}
    for view, (first, last) in views().items():
        targets[f"Usage page, {view}"] = (
            by_address(f"/usage?from={first}&to={last}"),
            True,
            server,
        )
    first, last = views()[f"last {DEFAULT_DAYS} days"]
    default_view = by_address(f"/usage?from={first}&to={last}")
    targets[f"Usage page, last {DEFAULT_DAYS} days, returning visitor"] = (
        default_view,
        False,
        server,
    )
    targets[f"Usage page, last {DEFAULT_DAYS} days, opened from the sidebar"] = (
        from_sidebar,
        True,
        server,
    )
    targets[f"{MEMO}, by address"] = (default_view, True, remembering)
    targets[f"{MEMO}, opened from the sidebar"] = (from_sidebar, True, remembering)
    samples: dict[str, list[float]] = {}
    with launched_browser() as browser, running(server, remembering, bare):
        floor = [bare_drawn(browser, bare.url) for _ in range(runs + 1)]
        samples[FLOOR] = floor[1:]  # the first load warms the server up: not counted
        for name, (opened, fresh, app) in targets.items():
            kept = None if fresh else browser.new_context(viewport=VIEWPORT)
            times = []
            for _ in range(runs + 1):  # the first load warms the server up: not counted
                context = kept or browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                times.append(opened(page, app.url))
                if page.get_by_test_id("stException").count():
                    raise RuntimeError(f"{name}: the page shows an exception")
                page.close()
                if context is not kept:
                    context.close()
            if kept is not None:
                kept.close()
            samples[name] = times[1:]
        for app in (server, remembering):
            if app.traceback():
                raise RuntimeError(app.traceback())
    return samples


def memo_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a server whose Usage queries answer from memory after their first run
    (`bench/usage_memo/sitecustomize.py`): what the page costs beyond its queries."""
    folder = str(ROOT / "bench" / "usage_memo")
    paths = [folder, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}


def bare_drawn(browser, url: str) -> float:
    """Seconds from opening the bare app in a new browser context until it has drawn."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    took = by_address("/", links_drawn)(page, url)
    context.close()
    return took


def by_address(path: str, done=None):
    """Opening `path` by its address: seconds from the navigation until `done`."""

    def opened(page, url: str) -> float:
        began = time.perf_counter()
        page.goto(url + path)
        (done or drawn)(page)
        return time.perf_counter() - began

    return opened


def from_sidebar(page, url: str) -> float:
    """Opening the Usage page with a click on its link in the sidebar of the app's
    Shared links page: seconds from the click until drawn."""
    page.goto(url + "/links")
    links_drawn(page)
    link = page.get_by_test_id("stSidebarNavLink").filter(has_text="Usage")
    link.hover()
    began = time.perf_counter()
    link.click()
    drawn(page)  # waits for what only the Usage page shows
    return time.perf_counter() - began


def run_finished(page, timeout: int) -> None:
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout
    )


def links_drawn(page, timeout: int = 120_000) -> None:
    """A notice shown (the Shared links page saying there are none, or the bare
    app's), and the run finished."""
    page.get_by_test_id("stAlert").first.wait_for(timeout=timeout)
    run_finished(page, timeout)


def drawn(page, timeout: int = 120_000) -> None:
    """The charts drawn (their canvas or SVG), the cards, tables and top chats shown,
    and the run finished."""
    charts = page.locator(
        "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg.marks"
    )
    page.wait_for_function(
        f"document.querySelectorAll(\"[data-testid='stVegaLiteChart'] canvas, "
        f"[data-testid='stVegaLiteChart'] svg.marks\").length >= {CHARTS}",
        timeout=timeout,
    )
    page.get_by_test_id("stMetric").first.wait_for(timeout=timeout)
    for table in ("usage_latency", "usage_statuses"):
        page.locator(f".st-key-{table} td").first.wait_for(timeout=timeout)
    page.locator(".st-key-usage_top_chats [data-testid='stPageLink']").first.wait_for(
        timeout=timeout
    )
    run_finished(page, timeout)
    assert charts.count() >= CHARTS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="a SQLite path, a postgresql:// URL, or 'postgres'")
    parser.add_argument("--store-only", action="store_true", help="skip the browser")
    args = parser.parse_args()
    with ExitStack() as stack:
        location = open_database(args, stack)
        backend = "postgres" if is_postgres_url(location) else "sqlite"
        with connect(location, busy_timeout=30) as store:
            if not store.backend.owners():
                build(store, location, backend, args.sessions, args.messages)
            print(f"backend: {backend}")
            time_store(store, args.runs)
        if args.store_only:
            return 0
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(dir="/var/tmp")))
        samples = time_page(location, args.runs, work)
    # The ratio to the empty page stays comparable across days the machine runs at
    # different speeds; the target is in seconds.
    baseline = statistics.median(samples[BASELINE])
    for name, times in samples.items():
        median = statistics.median(times)
        shown = ", ".join(f"{t:.2f}" for t in times)
        verdict = ""
        if name.startswith(MEMO):
            verdict = f", {median / baseline:.2f}x the empty page"
        elif name not in (BASELINE, FLOOR):
            verdict = f", {median / baseline:.2f}x the empty page; target {TARGET_SECONDS} s "
            verdict += "ok" if median <= TARGET_SECONDS else "MISSED"
        print(f"{name}: drawn in {median:.2f} s median ({shown}){verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
