"""Store benchmark: 100,000 sessions and 1,000,000 messages, p50/p99 per operation.

    python bench/bench_store.py [--sessions 100000] [--messages 1000000] [--db PATH]

All sessions belong to one owner, the worst case for owner-scoped queries. The database
is bulk-loaded once (through the store's own schema, triggers and search index) and then
every operation is timed through `Store`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat_core.store import Store

OWNER = "bench"
WORDS = [
    "python",
    "sqlite",
    "stream",
    "token",
    "model",
    "reply",
    "cache",
    "context",
    "session",
    "search",
    "index",
    "query",
    "weather",
    "travel",
    "recipe",
    "budget",
    "deploy",
    "cluster",
    "latency",
    "vector",
    "matrix",
    "garden",
    "music",
]
CJK = [
    "今天",
    "天气",
    "北京",
    "上海",
    "模型",
    "缓存",
    "会话",
    "搜索",
    "学习",
    "编程",
    "旅行",
    "音乐",
    "数据",
    "问题",
    "回答",
    "工作",
]
SEARCH_TARGET_MS = 50


def sentence(rng: random.Random) -> str:
    parts = [rng.choice(WORDS) if rng.random() < 0.7 else rng.choice(CJK) for _ in range(16)]
    return " ".join(parts)


def build(path: Path, sessions: int, messages: int, rng: random.Random) -> float:
    started = time.perf_counter()
    with Store(path) as store:
        conn = store.db.conn
        per_session = messages // sessions
        conn.execute("BEGIN")
        session_rows, message_rows = [], []
        for i in range(sessions):
            sid = uuid.uuid4().hex
            stamp = f"2025-01-01T00:00:00.{i:06d}+00:00" if i < 10**6 else "2025-06-01"
            session_rows.append(
                (sid, OWNER, f"chat {i} {rng.choice(WORDS)}", 1, stamp, stamp, stamp)
            )
            for _ in range(per_session):
                role = "user" if len(message_rows) % 2 == 0 else "assistant"
                message_rows.append((sid, role, sentence(rng), "complete", stamp))
            if len(message_rows) >= 50_000:
                _flush(conn, session_rows, message_rows)
        _flush(conn, session_rows, message_rows)
        conn.execute("COMMIT")
        store.rebuild_short_term_index()  # the store fills it itself; raw inserts did not
    return time.perf_counter() - started


def _flush(conn, session_rows, message_rows) -> None:
    conn.executemany(
        "INSERT INTO chat_session (id, owner, title, is_used, created_at, updated_at, used_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        session_rows,
    )
    conn.executemany(
        "INSERT INTO chat_message (session_id, role, content, status, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        message_rows,
    )
    session_rows.clear()
    message_rows.clear()


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def measure(path: Path, runs: int) -> list[tuple[str, float, float, float | None]]:
    results = []
    with Store(path) as store:
        long_chat, _ = store.new_session(OWNER)
        for i in range(1000):
            store.start_turn(long_chat, f"message {i} {sentence(random.Random(i))}")
        add = lambda name, fn, target: results.append((name, *timed(fn, runs), target))  # noqa: E731

        store.new_session(OWNER)
        add("new_session (reuse)", lambda: store.new_session(OWNER), 2)

        samples = []
        for _ in range(runs):
            session, _ = store.new_session(OWNER)  # reuse of the draft
            store.start_turn(session, "first message of a new chat")
            started = time.perf_counter()
            store.new_session(OWNER)  # nothing unused: creates
            samples.append((time.perf_counter() - started) * 1000)
        results.append(("new_session (create)", *percentiles(samples), 2))

        turn_samples = []
        for _ in range(runs):
            session, _ = store.new_session(OWNER)
            started = time.perf_counter()
            store.start_turn(session, "a first message that titles the session")
            turn_samples.append((time.perf_counter() - started) * 1000)
        results.append(("start_turn", *percentiles(turn_samples), 3))

        add("list_sessions first page (50)", lambda: store.list_sessions(OWNER, limit=50), 5)
        deep = store.list_sessions(OWNER, limit=5000)[-1]
        add(
            "list_sessions page after 5,000",
            lambda: store.list_sessions(OWNER, limit=50, after=deep),
            None,
        )
        long_chat = store.get_session(OWNER, long_chat.id)
        add("get_messages (1,000 messages)", lambda: store.get_messages(long_chat), 20)
        add("get_messages (latest 50)", lambda: store.get_messages(long_chat, limit=50), None)
        for query in (
            "latency",
            "matrix garden",
            "北京 天气",
            "天气",
            "编程学",
            "zzzznothing",
            '"NEAR(*',
        ):
            add(f"search {query!r}", lambda q=query: store.search(OWNER, q), SEARCH_TARGET_MS)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--db", type=Path, help="reuse or keep this database file")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.db or Path(folder.name) / "bench.db"
    if not path.exists():
        seconds = build(path, args.sessions, args.messages, random.Random(7))
        print(f"built {args.sessions:,} sessions and {args.messages:,} messages in {seconds:.1f} s")
    print(f"{'operation':40} {'p50 ms':>8} {'p99 ms':>8} {'target':>8}")
    failed = []
    for name, p50, p99, target in measure(path, args.runs):
        verdict = "" if target is None else ("ok" if p99 <= target else "MISSED")
        target_text = "" if target is None else f"<= {target}"
        print(f"{name:40} {p50:8.2f} {p99:8.2f} {target_text:>8} {verdict}")
        if verdict == "MISSED":
            failed.append(name)
    print("all targets met" if not failed else f"targets missed: {', '.join(failed)}")
    folder.cleanup()


if __name__ == "__main__":
    main()
