"""The soak benchmark's log: what the simulated users sent, did and saw in one mode run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Sent:
    """One submitted message; `confirmed` once its user message showed in the page."""

    owner: str
    tag: str
    text: str
    session: str  # from the URL when Enter was pressed
    confirmed: bool = False
    seen: str = ""  # the reply as the page last showed it (see `turn_outcome`)


@dataclass
class SoakLog:
    """Everything the users did and saw in one mode run."""

    mode: str
    owners: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    renames: list[tuple[str, str, str, bool]] = field(default_factory=list)
    seen_sessions: set[tuple[str, str]] = field(default_factory=set)
    foreign_tags: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    search_misses: list[str] = field(default_factory=list)
    blank_pages: list[str] = field(default_factory=list)  # no chat input left after Stop
    driver_errors: list[str] = field(default_factory=list)
    ttft_ms: dict[str, float] = field(default_factory=dict)
    surfaced: int = 0  # replies the page showed as "Reply failed"
    retried: int = 0  # failed replies replaced by pressing Retry (their rows are gone)
    expired: int = 0  # contexts or responses expired in the emulator
    actions: Counter = field(default_factory=Counter)
    failure_kinds: Counter = field(default_factory=Counter)  # "Reply failed" reasons seen


def expected_reply(text: str) -> str:
    """The emulator's deterministic answer to `text`."""
    if (at := text.find("#tokens=")) >= 0:
        count = int(text[at + 8 :].split()[0])
        return " ".join(f"w{i}" for i in range(1, count + 1))
    return f"Echo: {text}"
