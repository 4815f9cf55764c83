"""Soak benchmark: simulated users chat at once against one `streamlit run` server and
the Ark emulator with faults, in each conversation mode; then the database is checked
against everything the users sent.

    python bench/soak.py [--seconds 180] [--users 8] [--fault-rate 0.1]
        [--seed 1] [--mode off|context|responses] [--retries 2] [--keep DIR]

`--seconds` is the whole budget, split evenly across the modes (one fresh server,
emulator and database per mode; about 10 s of each slice goes to start-up and checks).
Each user is a Playwright browser context with its own `X-Forwarded-Email`, so its own
owner (the server trusts that header); all users share one headless chromium, driven
from one asyncio loop (one browser is what two cores can carry). Users send messages,
stop replies, open New chat or other chats mid-stream, reload, close tabs mid-stream,
search and rename (see `soak_users.py`). The emulator fails `--fault-rate` of model
requests (429 and 500 before the stream, errors and dropped connections mid-stream,
content-filter finishes); every few seconds its contexts (context mode) or stored
responses (responses mode) expire, and now and then a 429 or 500 is queued for every
attempt of one request, so the SDK's retries run out and the user sees it.

`ARK_MAX_RETRIES` is the app's default, 2 (`--retries`): the SDK retries 429/500 as it
would in production, so fewer faults reach the user than the emulator injects, and a
retried turn's TTFT includes the SDK's back-off.
Thinking is disabled, so the first visible token is the answer's.

Exit status 1 if a sent message was lost or any check failed (see `soak_check.py`), the
server logged a traceback, or a page showed a Streamlit exception.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from e2e_harness import CHROMIUM_ARGS, ROOT, Server, server_env, start_streamlit, wait_healthy
from playwright.async_api import Browser, async_playwright
from soak_check import Result, check_run, percentile, wait_replies_settled
from soak_log import SoakLog
from soak_users import HEADER, SimUser

from ark_emulator import ArkEmulator

MODES = ("off", "context", "responses")
KEY = "soak-key"
MODEL = "ep-soak-model"  # an endpoint id, so context mode works
FAULT_KINDS = ("429", "500", "stream_error", "drop", "content_filter")
INJECT_EVERY = 7.0  # seconds between expiring all contexts/responses
CLOSING_RESERVE = 8.0  # of each slice, for closing tabs, settling and checking
MIN_TRAFFIC = 10.0
GRACE = 30.0  # after the deadline, for actions already under way
SETTLE_SECONDS = 30.0


def main() -> int:
    args = parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="soak-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = asyncio.run(soak(args, work))
    print_report(results, time.monotonic() - started)
    failed = any(result.failures for _, result in results)
    if failed or args.keep:
        print(f"  databases and server logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="total budget (180)")
    parser.add_argument("--users", type=int, default=8, help="concurrent users (8)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.1, help="share of model requests that fail (0.1)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", choices=MODES, help="run only this conversation mode")
    parser.add_argument("--retries", type=int, default=2, help="ARK_MAX_RETRIES (2)")
    parser.add_argument("--keep", help="keep databases and server logs in this folder")
    return parser.parse_args()


async def soak(args: argparse.Namespace, work: Path) -> list[tuple[str, Result]]:
    modes = [args.mode] if args.mode else list(MODES)
    budget = args.seconds / len(modes)
    results = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        try:
            for mode in modes:
                results.append((mode, await run_mode(mode, args, browser, work, budget)))
        finally:
            await browser.close()
    return results


async def run_mode(mode: str, args, browser: Browser, work: Path, budget: float) -> Result:
    loop = asyncio.get_running_loop()
    started = loop.time()
    print(f"[{mode}] starting {args.users} users for ~{budget:.0f} s", flush=True)
    emulator = ArkEmulator(api_key=KEY, ttft=0.05, token_delay=0.005, seed=args.seed).start()
    db_path = work / f"soak-{mode}.db"
    server = start_streamlit(
        ROOT / "streamlit_app.py", app_env(mode, args, emulator, db_path), work, f"soak-{mode}"
    )
    log = SoakLog(mode)
    try:
        await asyncio.to_thread(wait_healthy, server, 60.0)
        rss_start = rss_mb(server)
        seed = args.seed * 1000 + MODES.index(mode) * 100
        shots = work if args.keep else None
        users = [SimUser(i, server.url, log, seed + i, shots) for i in range(args.users)]
        await asyncio.gather(*(user.open(browser) for user in users))
        rss_warm = rss_mb(server)
        print(f"[{mode}] users ready after {loop.time() - started:.0f} s", flush=True)
        emulator.random_faults(args.fault_rate, FAULT_KINDS, seed=args.seed)
        deadline = max(started + budget - CLOSING_RESERVE, loop.time() + MIN_TRAFFIC)
        await drive(users, deadline, emulator, log, args.retries)
        rss_end = rss_mb(server)
        await asyncio.gather(*(user.close() for user in users), return_exceptions=True)
        emulator.clear_faults()
        streaming = await asyncio.to_thread(wait_replies_settled, db_path, SETTLE_SECONDS)
    finally:
        server.stop()
        emulator.stop()
    result = check_run(db_path, log)
    result.figures.update(
        faults=emulator.faults_injected,
        rss_start=rss_start,
        rss_warm=rss_warm,
        rss_end=rss_end,
        streaming_left=streaming,
    )
    if traceback := server.traceback():
        result.failures.append(f"server log has a traceback:\n{traceback[:3000]}")
    print_mode(mode, result, log, loop.time() - started)
    return result


def app_env(mode: str, args, emulator: ArkEmulator, db_path: Path) -> dict[str, str]:
    return server_env(
        {
            "ARK_API_KEY": KEY,
            "ARK_BASE_URL": emulator.base_url,
            "ARK_MODEL": MODEL,
            "ARK_CACHE": mode,
            "ARK_THINKING": "disabled",
            "ARK_MAX_RETRIES": str(args.retries),
            "CHAT_DB": str(db_path),
            "NO_PROXY": "127.0.0.1,localhost",
            "STREAMLIT_SERVER_TRUSTED_USER_HEADERS": json.dumps({HEADER: "email"}),
        }
    )


async def drive(
    users: list[SimUser], deadline: float, emulator, log: SoakLog, retries: int
) -> None:
    """Run every user until the deadline (plus a grace period for actions under way)."""
    injector = asyncio.create_task(inject_periodically(emulator, log, retries))
    tasks = {asyncio.create_task(user.run(deadline)): user for user in users}
    remaining = deadline - asyncio.get_running_loop().time() + GRACE
    done, pending = await asyncio.wait(tasks, timeout=max(remaining, 1.0))
    for task in pending:
        task.cancel()
        user = tasks[task]
        log.driver_errors.append(
            f"{user.owner} still busy after the grace period, cancelled: {user.doing}"
        )
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            log.driver_errors.append(f"a user stopped early: {task.exception()!r}")
    injector.cancel()


async def inject_periodically(emulator: ArkEmulator, log: SoakLog, retries: int) -> None:
    """Expire what the mode caches, as the service does after a TTL (each expired
    context or response counts as a fault); every third time, fail all attempts of the
    next request with 429 or 500."""
    rng = random.Random(MODES.index(log.mode))
    for tick in itertools.count(1):
        await asyncio.sleep(INJECT_EVERY * rng.uniform(0.5, 1.5))
        if log.mode == "context":
            log.expired += sum(not record.expired for record in emulator.contexts.values())
            emulator.expire_contexts()
        elif log.mode == "responses":
            log.expired += sum(not record.expired for record in emulator.responses.values())
            emulator.expire_responses()
        if tick % 3 == 0:
            emulator.fail_next(rng.choice(("429", "500")), n=retries + 1)


def rss_mb(server: Server) -> float:
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def print_mode(mode: str, result: Result, log: SoakLog, seconds: float) -> None:
    f = result.figures
    p50, p99 = percentile(result.ttft_ms, 0.5), percentile(result.ttft_ms, 0.99)
    ttft = f"{p50:.0f} / {p99:.0f} ms (n={len(result.ttft_ms)})" if p50 is not None else "n/a"
    replies = ", ".join(f"{status} {count}" for status, count in sorted(result.replies.items()))
    print(f"""[{mode}] {seconds:.0f} s
  messages sent {f["sent"]}, stored {f["stored"]}, lost {f["lost"]}
  submits the page never showed {f["unconfirmed"]} (stored anyway: {f["unconfirmed_stored"]})
  replies stored: {replies or "none"}; user messages without a reply {f["no_reply"]}
  faults injected {f["faults"] + f["expired"]} (failed requests {f["faults"]}, expired \
contexts or responses {f["expired"]})
  faults surfaced to the user {f["surfaced"]} (failed replies: {f["retried"]} retried, the \
rest stored; {f["surfaced_seen"]} seen live by the driver: {dict(log.failure_kinds)})
  TTFT under load p50 / p99: {ttft}
  server RSS start {f["rss_start"]:.0f} MB, with users connected {f["rss_warm"]:.0f} MB, \
end {f["rss_end"]:.0f} MB
  sessions {f["sessions"]}, renames {f["renames"]}; actions: {dict(log.actions)}""")
    if f["streaming_left"]:
        print(
            f"  replies still streaming {SETTLE_SECONDS:.0f} s after the tabs closed: "
            f"{f['streaming_left']}"
        )
    for error in log.driver_errors[:10]:
        print(f"  driver: {error}")
    if len(log.driver_errors) > 10:
        print(f"  driver: ... {len(log.driver_errors) - 10} more")
    for failure in result.failures:
        print(f"  FAIL {failure}")
    sys.stdout.flush()


def print_report(results: list[tuple[str, Result]], seconds: float) -> None:
    total = sum((result.figures for _, result in results), start=Counter())
    ttft = [ms for _, result in results for ms in result.ttft_ms]
    failures = sum(len(result.failures) for _, result in results)
    print(
        f"\nSOAK {'PASSED' if not failures else 'FAILED'} in {seconds:.0f} s, modes "
        f"{', '.join(mode for mode, _ in results)}"
    )
    print(f"  messages sent {total['sent']}, stored {total['stored']}, lost {total['lost']}")
    print(
        f"  faults injected {total['faults'] + total['expired']}, surfaced to the user "
        f"{total['surfaced']}"
    )
    if ttft:
        print(
            f"  TTFT under load p50 {percentile(ttft, 0.5):.0f} ms, p99 "
            f"{percentile(ttft, 0.99):.0f} ms (n={len(ttft)})"
        )
    for mode, result in results:
        f = result.figures
        print(
            f"  server RSS [{mode}] start {f['rss_start']:.0f} MB, end {f['rss_end']:.0f} MB "
            f"(with users connected {f['rss_warm']:.0f} MB)"
        )
    if failures:
        print(f"  {failures} check(s) failed; see FAIL lines above")


if __name__ == "__main__":
    sys.exit(main())
