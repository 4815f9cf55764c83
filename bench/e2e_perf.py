"""Browser benchmark: time to first token, long answers, opening a long chat, cold start,
a 30,000-token reply at 300 tokens/s.

    python bench/e2e_perf.py [--runs 5] [--only ttft|long|open|cold|huge] [--no-app] [-v]
        [--backend sqlite|postgres|both]

The app (`streamlit_app.py`), a naive peer (`bench/peer_app.py`, Streamlit's chat
tutorial) and the bare SDK (the floor) all talk to one in-process Ark emulator with a
50 ms time to first token and no delay between tokens. Servers run under `streamlit run`
with a copy of a seeded database (10,000 two-message sessions plus chats of 200 and 1,000
messages; the peer gets the same history through `?history=`). Headless chromium drives
them and every browser time is taken in the page (see `e2e_probe.py`). Each scenario does
one untimed warm-up run (the first `st.write_stream` in a process costs ~0.8 s), then
`--runs` measured runs alternating the order of floor, peer and app; the table shows
medians in ms, the notes split each time at the model request, `-v` prints every sample.
Times on a busy machine are inflated: the load average is printed before and after.

`--backend` is where the app keeps its chats: a SQLite file (the default), or a database
on a throwaway PostgreSQL server started with durable settings (fsync on, on disk, as
`bench_store.py --db postgres`). Each app server gets its own copy of the seeded
database (`CREATE DATABASE ... TEMPLATE seeded` on PostgreSQL). `both` runs an app on
each backend in the same runs (their turns alternate with the floor's and the peer's, so
load on the machine hits both alike), prints the table once per backend, and then the
PostgreSQL/SQLite ratio per scenario; the target is TTFT within 1.2x of SQLite.

Exit status: 1 if a page showed an exception, a server logged a traceback or a scenario
failed; 2 if the app is missing (use `--no-app` for floor and peer only). Missed targets
are reported, not fatal: the test suite never asserts timings.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from e2e_databases import BACKENDS, Databases, open_databases, write_histories
from e2e_harness import ROOT, launched_browser
from e2e_report import Row, print_backend_table, print_notes, print_table
from e2e_scenarios import SCENARIOS, Bench

from ark_emulator import ArkEmulator

EMULATOR_TTFT = 0.05
SMALL_SESSIONS = 10_000
LONG_CHATS = (200, 1000)


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    if not args.app.exists() and not args.no_app:
        print(f"{args.app} does not exist; pass --no-app for floor and peer only")
        return 2
    work = Path(args.workdir or tempfile.mkdtemp(prefix="e2e_perf-"))
    work.mkdir(parents=True, exist_ok=True)
    emulator = ArkEmulator(api_key="test-key", ttft=EMULATOR_TTFT, token_delay=0.0).start()
    try:
        with contextlib.ExitStack() as stack:
            databases = [open_databases(backend, work, stack) for backend in args.backends]
            browser = stack.enter_context(launched_browser())
            print_header(args, browser.version, databases)
            app = None if args.no_app else args.app
            bench = Bench(args.runs, app, work, emulator, browser, databases)
            seed(bench)
            rows = run_scenarios(bench, args.only)
    finally:
        emulator.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print_results(rows, args)
    for problem in bench.problems:
        print(f"\nPROBLEM: {problem}")
    return 1 if bench.problems else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs after the warm-up")
    parser.add_argument("--only", choices=list(SCENARIOS), help="run one scenario")
    parser.add_argument("--app", type=Path, default=ROOT / "streamlit_app.py")
    parser.add_argument("--no-app", action="store_true", help="measure floor and peer only")
    parser.add_argument("--workdir", help="keep databases and server logs here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every sample")
    parser.add_argument(
        "--backend",
        choices=[*BACKENDS, "both"],
        default="sqlite",
        help="where the app keeps its chats (sqlite); both: one app on each, compared",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    return args


def print_header(args: argparse.Namespace, chromium: str, databases: list[Databases]) -> None:
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(
        f"machine: {os.cpu_count()} cpus ({platform.machine()}), "
        f"python {platform.python_version()}, streamlit {version('streamlit')}, "
        f"chromium {chromium}; load average before: {load_average()}"
    )
    print(
        f"emulator: ttft {EMULATOR_TTFT * 1000:.0f} ms, no token delay; runs: 1 warm-up + "
        f"{args.runs} measured; app: {'(none)' if args.no_app else args.app}"
    )
    for each in databases:
        print(f"database: {each.describe()}")
    sys.stdout.flush()


def load_average() -> str:
    # Other work on the machine skews browser timings: say how busy it was.
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def seed(bench: Bench) -> None:
    """The same chats on every backend; the peer's histories from the first."""
    for databases in bench.databases:
        started = time.perf_counter()
        bench.seeded[databases.backend] = databases.seed(SMALL_SESSIONS, LONG_CHATS)
        took = time.perf_counter() - started
        print(f"seeded {databases.backend} in {took:.1f} s", flush=True)
    write_histories(next(iter(bench.seeded.values())), bench.work / "histories")


def print_results(rows: list[Row], args: argparse.Namespace) -> None:
    # Without an app, floor and peer are the same whatever the backend: one table.
    backends = args.backends[:1] if args.no_app else args.backends
    for backend in backends:
        print_table(rows, backend)
    if len(backends) > 1:
        print_backend_table(rows)
    print_notes(rows, args.verbose)
    print("load average after: " + load_average())


def run_scenarios(bench: Bench, only: str | None) -> list[Row]:
    rows: list[Row] = []
    for name, scenario in SCENARIOS.items():
        if only and name != only:
            continue
        print(f"running {name} ...", flush=True)
        try:
            rows += scenario(bench)
        except Exception as error:  # report, go on with the next scenario, exit 1
            bench.problems.append(f"scenario {name} failed: {type(error).__name__}: {error}")
    return rows


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers are already stopped by then
        print("interrupted")
        sys.exit(130)
