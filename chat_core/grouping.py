"""Sidebar groups: Pinned, Today, Yesterday, Previous 7 days, Older, in the user's zone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .store.records import Session

GROUPS = ("pinned", "today", "yesterday", "week", "older")


def user_zone(name: str | None) -> tzinfo:
    """The IANA zone the browser reported, or UTC when it is missing or unknown (any
    client may send any name: "Europe" names a folder of zones, not one)."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def group_of(session: Session, now: datetime, zone: tzinfo) -> str:
    if session.pinned:
        return "pinned"
    day = datetime.fromisoformat(session.updated_at).astimezone(zone).date()
    today = now.astimezone(zone).date()
    if day >= today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    if day >= today - timedelta(days=7):
        return "week"
    return "older"


def group_sessions(
    sessions: Iterable[Session], now: datetime, zone: tzinfo
) -> list[tuple[str, list[Session]]]:
    """(group, sessions) pairs in display order, keeping each group's input order."""
    grouped: dict[str, list[Session]] = {name: [] for name in GROUPS}
    for session in sessions:
        grouped[group_of(session, now, zone)].append(session)
    return [(name, items) for name, items in grouped.items() if items]
