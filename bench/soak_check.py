"""End-of-run checks for the soak benchmark: the database against the users' log.

`check_run` returns the figures to print and a list of failures (any one fails the
run). The rules, for one mode run:

* every confirmed sent message is stored exactly once, in the session its URL named, of
  its owner; an unconfirmed one (the page never showed it) at most once, of its owner;
  no user message is stored that nobody typed;
* the row after a user message, if it is a reply, is `complete` with the emulator's exact
  text, or `interrupted`/`error` with a prefix of it; nothing is left `streaming`; a
  user message with no reply is counted (a run cut off before the reply began);
* no owner has more than one unused session; no page showed a session of another owner
  or another user's message; a confirmed rename is the stored title;
* no page showed a Streamlit exception; every search found its message; after Stop the
  page still has its chat input.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from soak_log import SoakLog, expected_reply

from chat_core.store import connect

FINAL_STATUSES = ("complete", "interrupted", "error")


@dataclass
class Rows:
    """What the database holds after the run."""

    sessions: dict[str, tuple[str, bool, str | None]]  # id -> (owner, is_used, title)
    messages: dict[str, list[tuple[int, str, str, str]]]  # session -> [(id, role, content, status)]

    def user_rows(self) -> dict[str, list[tuple[str, int]]]:
        """User message text -> [(session id, message id)]."""
        found = defaultdict(list)
        for session, rows in self.messages.items():
            for message_id, role, content, _ in rows:
                if role == "user":
                    found[content].append((session, message_id))
        return found


@dataclass
class Result:
    figures: Counter = field(default_factory=Counter)
    replies: Counter = field(default_factory=Counter)  # stored reply statuses
    ttft_ms: list[float] = field(default_factory=list)  # complete turns only
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str, items: list[str], shown: int = 5) -> None:
        if items:
            more = f" (+{len(items) - shown} more)" if len(items) > shown else ""
            self.failures.append(f"{what}: {len(items)}{more}\n    " + "\n    ".join(items[:shown]))


def load_rows(db: str | Path) -> Rows:
    """Every session and message, read in one go (SQL both backends accept)."""
    with connect(db) as store, store.backend.reading() as tx:
        session_rows = tx.query("SELECT id, owner, is_used, title FROM chat_session")
        message_rows = tx.query(
            "SELECT id, session_id, role, content, status FROM chat_message ORDER BY id"
        )
    # Users sign in as emails through the proxy, which the app keys as email:<address>.
    sessions = {
        r["id"]: (r["owner"].removeprefix("email:"), r["is_used"], r["title"]) for r in session_rows
    }
    messages = defaultdict(list)
    for r in message_rows:
        messages[r["session_id"]].append((r["id"], r["role"], r["content"], r["status"]))
    return Rows(sessions, dict(messages))


def wait_replies_settled(db: str | Path, timeout: float) -> int:
    """Poll until no reply is `streaming` (closed tabs finish in the background);
    how many still are at the timeout."""
    deadline = time.monotonic() + timeout
    with connect(db) as store:
        while True:
            with store.backend.reading() as tx:
                left = tx.query(
                    "SELECT count(*) AS n FROM chat_message WHERE status = 'streaming'"
                )[0]["n"]
            if left == 0 or time.monotonic() > deadline:
                return left
            time.sleep(0.5)


def check_run(db: str | Path, log: SoakLog) -> Result:
    rows, result = load_rows(db), Result()
    _check_sent(rows, log, result)
    _check_replies(rows, log, result)
    _check_sessions(rows, log, result)
    result.fail("Streamlit exceptions shown in a page", log.exceptions)
    result.fail("searches that did not find a sent message", log.search_misses)
    result.fail("pages left without a chat input after Stop (reload needed)", log.blank_pages)
    # A run whose pages never showed a sent message proves nothing: fail it.
    if log.sent and not any(sent.confirmed for sent in log.sent):
        result.fail("no sent message ever showed in its page", [f"{len(log.sent)} sent"])
    # A failed reply shows as "Reply failed" in its chat (Retry deletes it: count those too);
    # the driver saw some of them live.
    result.figures["surfaced"] = result.replies["error"] + log.retried
    result.figures["retried"] = log.retried
    result.figures["surfaced_seen"] = log.surfaced
    result.figures["expired"] = log.expired
    return result


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    if share == 0.5:
        return statistics.median(values)
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _check_sent(rows: Rows, log: SoakLog, result: Result) -> None:
    stored, texts = rows.user_rows(), {sent.text for sent in log.sent}
    lost, doubled, misplaced = [], [], []
    for sent in log.sent:
        found = stored.get(sent.text, [])
        if len(found) > 1:
            doubled.append(f"{sent.tag} stored {len(found)} times: {found}")
        owners = {rows.sessions[sid][0] for sid, _ in found}
        if owners - {sent.owner}:
            misplaced.append(f"{sent.tag} of {sent.owner} stored for {sorted(owners)}")
        if not sent.confirmed:
            result.figures["unconfirmed"] += 1
            result.figures["unconfirmed_stored"] += bool(found)
            continue
        result.figures["sent"] += 1
        result.figures["stored"] += len(found) == 1
        if not found:
            lost.append(f"{sent.tag} of {sent.owner} in session {sent.session}")
        elif found[0][0] != sent.session:
            misplaced.append(f"{sent.tag} sent in {sent.session}, stored in {found[0][0]}")
    unexpected = [
        f"{text[:60]!r} in {where}" for text, where in stored.items() if text not in texts
    ]
    result.figures["lost"] = len(lost)
    result.fail("LOST: sent messages not stored", lost)
    result.fail("messages stored more than once", doubled)
    result.fail("messages stored in the wrong session or owner", misplaced)
    result.fail("stored user messages nobody sent", unexpected)


def _check_replies(rows: Rows, log: SoakLog, result: Result) -> None:
    by_text = {sent.text: sent for sent in log.sent}
    bad, orphans = [], []
    for sid, messages in rows.messages.items():
        for at, (message_id, role, content, status) in enumerate(messages):
            before = messages[at - 1] if at else None
            after = messages[at + 1] if at + 1 < len(messages) else None
            if role == "user" and (after is None or after[1] == "user"):
                result.figures["no_reply"] += 1
            if role != "assistant":
                continue
            result.replies[status] += 1
            if before is None or before[1] != "user":
                orphans.append(f"reply {message_id} in {sid} follows no user message")
                continue
            expected = expected_reply(before[2])
            if problem := _reply_problem(status, content, expected):
                bad.append(f"reply {message_id} in {sid} to {before[2][:40]!r}: {problem}")
            elif status == "complete" and (ms := _ttft(by_text.get(before[2]), log)):
                result.ttft_ms.append(ms)
    result.fail("replies with a wrong status or text", bad)
    result.fail("replies without their own user message", orphans)


def _ttft(sent, log: SoakLog) -> float | None:
    """The TTFT the page measured for a confirmed message, if any."""
    return log.ttft_ms.get(sent.tag) if sent is not None and sent.confirmed else None


def _reply_problem(status: str, content: str, expected: str) -> str | None:
    if status not in FINAL_STATUSES:
        return f"left with status {status!r}"
    if status == "complete" and content != expected:
        return f"complete but text is {content[-40:]!r}, expected {expected[-40:]!r}"
    if status != "complete" and not expected.startswith(content):
        return f"{status} but {content[:40]!r} is not a prefix of the answer"
    return None


def _check_sessions(rows: Rows, log: SoakLog, result: Result) -> None:
    owners = log.owners
    unused = Counter(owner for owner, used, _ in rows.sessions.values() if not used)
    result.fail(
        "owners with more than one unused session",
        [f"{owner}: {count}" for owner, count in unused.items() if count > 1],
    )
    strangers = {owner for owner, _, _ in rows.sessions.values()} - owners
    result.fail("sessions of owners no user was", sorted(strangers))
    leaks = [
        f"{owner} saw {sid} of {rows.sessions[sid][0] if sid in rows.sessions else '?'}"
        for owner, sid in sorted(log.seen_sessions)
        if rows.sessions.get(sid, ("?",))[0] != owner
    ]
    result.fail("sessions shown to someone who does not own them", leaks)
    result.fail("other users' messages shown", log.foreign_tags)
    last = {sid: (title, shown) for _, sid, title, shown in log.renames}
    wrong = [
        f"{sid}: shown {title!r}, stored {rows.sessions.get(sid, (0, 0, None))[2]!r}"
        for sid, (title, shown) in last.items()
        if shown and rows.sessions.get(sid, (0, 0, None))[2] != title
    ]
    result.fail("renames not stored", wrong)
    result.figures["sessions"] = len(rows.sessions)
    result.figures["renames"] = sum(shown for *_, shown in log.renames)
