"""Two versions of the app opening the same Usage page, side by side, turn about.

    python bench/bench_usage_versions.py DB OLD_CHECKOUT NEW_CHECKOUT [--runs 8]

A change to the Usage page is judged on one machine in one hour: a Streamlit server
runs each checkout (its `streamlit_app.py`, `ui/` and `chat_core/`) on the database DB
(a SQLite path or a postgresql:// URL, e.g. the file `bench_usage.py --db` keeps), and
headless chromium opens the page's default view (the last 30 days) from each in turn,
by its address in a new browser context and with a mouse click on **Usage** in the
sidebar of the Shared links page, until it has drawn (as `bench_usage.py` times it).
Loads alternate between the versions, so a machine that slows down slows both. Medians
of `--runs` after a warm-up are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_usage import VIEWPORT, drawn, from_sidebar, views
from e2e_harness import launched_browser, running, server_env, start_streamlit

WAYS = ("by address", "from the sidebar")


def by_address(page, url: str) -> float:
    first, last = views()["last 30 days"]
    began = time.perf_counter()
    page.goto(f"{url}/usage?from={first}&to={last}")
    drawn(page)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="a SQLite path or a postgresql:// URL with usage in it")
    parser.add_argument("checkouts", nargs=2, type=Path, help="the old and the new checkout")
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    env = server_env({"CHAT_DB": args.db, "ARK_API_KEY": "bench-key", "NO_PROXY": "*"})
    work = Path(tempfile.mkdtemp(dir="/var/tmp"))
    servers = [
        start_streamlit(checkout / "streamlit_app.py", env, work, f"v{index}")
        for index, checkout in enumerate(args.checkouts)
    ]
    samples = {(checkout, way): [] for checkout in args.checkouts for way in WAYS}
    with launched_browser() as browser, running(*servers):
        for run in range(args.runs + 1):  # the first round warms both servers up
            for checkout, server in zip(args.checkouts, servers, strict=True):
                for way, opened in zip(WAYS, (by_address, from_sidebar), strict=True):
                    context = browser.new_context(viewport=VIEWPORT)
                    seconds = opened(context.new_page(), server.url)
                    context.close()
                    if run:
                        samples[checkout, way].append(seconds)
        failed = [server.traceback() for server in servers if server.traceback()]
    if failed:
        print(*failed, sep="\n")
        return 1
    for (checkout, way), times in samples.items():
        shown = " ".join(f"{t:.2f}" for t in times)
        print(f"{checkout} {way}: {statistics.median(times):.2f} s median ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
