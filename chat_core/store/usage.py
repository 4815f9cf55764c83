"""Usage figures of replies, aggregated in the database (part of the `Store` contract).

Every figure is a `GROUP BY` in SQL that SQLite and PostgreSQL both run, over the
assistant replies that have finished (complete, interrupted or failed). The rows that
come back are groups, never one row per reply, so a page stays fast for an owner with
a million messages; only the CSV export (`usage_rows`) reads replies one by one, a
page at a time.

Prices stay out of SQL: a price may depend on each request's length (tiers, a short
reply rate), so replies are grouped by bands of prompt and reply length whose bounds
the caller takes from the price table; within one band every reply of a model has
the same rates, and the groups are priced in Python (`chat_core.usage`). Only the
ranking of chats by cost needs rates per row; the caller hands them in as numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import CACHE_MODES

USAGE_ROWS_PAGE = 5_000
# Latency histograms keep about two significant digits: exact below 1 s, then 10 ms
# steps below 10 s, 100 ms below 100 s, 1 s beyond.
LATENCY_BUCKETS = ((1_000, 1), (10_000, 10), (100_000, 100))
LATENCY_WIDEST = 1_000
# A chat's activity time (`updated_at`) moves to the end of every reply, so a chat last
# active before a filter's start has no reply in it: usage queries skip such chats
# without reading their messages. The slack covers chats whose time was set only at
# the question (rows of older versions).
ACTIVITY_SLACK = timedelta(days=1)


class Everyone:
    """Stands for every owner in a usage query: the admins the operator names see the
    whole app's usage; a visitor's own view passes their owner key instead."""

    def __repr__(self) -> str:
        return "EVERYONE"


EVERYONE = Everyone()


@dataclass(frozen=True)
class UsageFilter:
    """Which replies count: started in [start, end) (ISO 8601 UTC; None leaves that
    side open), and answered by one of `models` (reply model ids; empty means all)."""

    start: str | None = None
    end: str | None = None
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bands:
    """Length bounds that split replies into groups priced alike: band 0 holds prompts
    of at most `prompt_bounds[0]` tokens, band 1 up to the next bound, and so on."""

    prompt_bounds: tuple[int, ...] = ()
    reply_bounds: tuple[int, ...] = ()


@dataclass(frozen=True)
class UsageGroup:
    """Replies sharing a UTC day, model, chat mode, status and error, length bands (of
    the lengths that set their price tier), and whether they read cached tokens (all of
    a group's replies did, or none)."""

    day: str  # YYYY-MM-DD, UTC
    model: str  # as the reply stored it; "" when unknown
    alias: str  # the catalogue model the reply's endpoint served; "" when none
    mode: str  # the chat's cache mode
    status: str  # complete, interrupted or error
    error_code: str  # "" for none
    prompt_band: int
    reply_band: int
    replies: int
    with_usage: int  # replies that reported their tokens
    prompt_tokens: int
    cached_tokens: int  # never more than the prompt tokens of their reply
    completion_tokens: int
    reasoning_tokens: int


@dataclass(frozen=True)
class LatencyCount:
    """How many replies of a model took about `floor_ms` (the lower end of a histogram
    bucket), for `measure` "first_token" (time to first text) or "total"."""

    model: str
    measure: str
    floor_ms: int
    replies: int


@dataclass(frozen=True)
class BandRates:
    """CNY per million tokens for the replies of one model and alias in one band."""

    model: str
    alias: str
    prompt_band: int
    reply_band: int
    input: float
    cached_input: float
    output: float


@dataclass(frozen=True)
class ChatSpend:
    """A chat with what its replies (within a filter) cost and used."""

    session_id: str
    owner: str
    title: str | None
    cost: float  # of the replies whose price is known
    replies: int
    tokens: int
    unpriced: int = 0  # replies with usage whose price is unknown


class UsageFigures:
    """The usage queries of `Store` (which provides `backend`)."""

    def usage_groups(
        self, owner: str | Everyone, filters: UsageFilter, *, default_mode: str, bands: Bands
    ) -> list[UsageGroup]:
        """The finished replies in `filters`, grouped (see `UsageGroup`). A chat with no
        mode of its own counts under the one it runs in: `default_mode` (the owner's
        preferred mode, else the operator's); in everyone's usage, each owner's
        preferred mode, else `default_mode` (the operator's)."""
        where, params = _where(owner, filters)
        mode, preference = _mode(owner)
        cached, total = _CACHED, self.backend.SUM.format
        prompt_band, prompt_params = _band(_TIER_PROMPT, bands.prompt_bounds)
        reply_band, reply_params = _band(_TIER_REPLY, bands.reply_bounds)
        sql = (
            f"SELECT {self.backend.UTC_DAY.format('m.created_at')} AS day, "
            f"COALESCE(m.model, '') AS model, {_ALIAS} AS alias, "
            f"COALESCE({mode}, ?) AS mode, m.status AS status, "
            "COALESCE(m.error_code, '') AS error_code, "
            f"{prompt_band} AS prompt_band, {reply_band} AS reply_band, "
            "count(*) AS replies, count(m.prompt_tokens) AS with_usage, "
            f"COALESCE({total('m.prompt_tokens')}, 0) AS prompt_tokens, "
            f"COALESCE({total(cached)}, 0) AS cached_tokens, "
            f"COALESCE({total('m.completion_tokens')}, 0) AS completion_tokens, "
            f"COALESCE({total('m.reasoning_tokens')}, 0) AS reasoning_tokens "
            f"FROM chat_message m JOIN chat_session s ON s.id = m.session_id{preference} "
            f"WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, {_HAS_CACHED} ORDER BY 1"
        )
        with self.backend.reading() as tx:
            rows = tx.query(sql, [default_mode, *prompt_params, *reply_params, *params])
        return [_group(row) for row in rows]

    def latency_counts(self, owner: str | Everyone, filters: UsageFilter) -> list[LatencyCount]:
        """Histograms of time to first text and of total time, by model, of the
        finished replies in `filters` that were timed. The replies are read once and
        counted twice (a CTE the database materializes)."""
        where, params = _where(owner, filters)
        sql = (
            "WITH timed AS MATERIALIZED (SELECT COALESCE(m.model, '') AS model, "
            "m.first_token_ms AS first_token, m.latency_ms AS total "
            f"FROM chat_message m JOIN chat_session s ON s.id = m.session_id WHERE {where} "
            "AND (m.first_token_ms IS NOT NULL OR m.latency_ms IS NOT NULL)) "
            + " UNION ALL ".join(
                f"SELECT '{measure}' AS measure, model, {_bucket(measure)} AS floor_ms, "
                f"count(*) AS replies FROM timed WHERE {measure} IS NOT NULL GROUP BY 2, 3"
                for measure in ("first_token", "total")
            )
        )
        with self.backend.reading() as tx:
            rows = tx.query(sql, params)
        # Thousands of rows: built directly (counts are integers on both engines).
        return [
            LatencyCount(row["model"], row["measure"], int(row["floor_ms"]), int(row["replies"]))
            for row in rows
        ]

    def top_chats(
        self,
        owner: str | Everyone,
        filters: UsageFilter,
        *,
        bands: Bands,
        rates: Sequence[BandRates],
        limit: int = 10,
    ) -> list[ChatSpend]:
        """The chats whose replies in `filters` cost most, by the `rates` of each
        model, alias and band, most first; replies with no rate are counted, and
        `unpriced`, but add nothing to the cost."""
        if not rates:
            return []
        where, params = _where(owner, filters)
        prompt_band, prompt_params = _band(_TIER_PROMPT, bands.prompt_bounds)
        reply_band, reply_params = _band(_TIER_REPLY, bands.reply_bounds)
        cached, total = f"COALESCE({_CACHED}, 0)", self.backend.SUM.format
        number = "CAST(? AS DOUBLE PRECISION)"
        values = ", ".join(f"(?, ?, {_INT}, {_INT}, {number}, {number}, {number})" for _ in rates)
        rate_params = [
            value
            for r in rates
            for value in (
                r.model,
                r.alias,
                r.prompt_band,
                r.reply_band,
                r.input,
                r.cached_input,
                r.output,
            )
        ]
        # Tokens are summed per chat, model and band first: few groups, then priced. As
        # on the rest of the page, a group whose rates are unknown (its cached rate, if
        # it has cached tokens) is unpriced, and a reply with no usage costs nothing.
        sql = (
            "WITH used AS (SELECT m.session_id AS session_id, COALESCE(m.model, '') AS model, "
            f"{_ALIAS} AS alias, "
            f"{prompt_band} AS prompt_band, {reply_band} AS reply_band, count(*) AS replies, "
            "count(m.prompt_tokens) AS with_usage, "
            f"COALESCE({total(f'm.prompt_tokens - {cached}')}, 0) AS fresh, "
            f"COALESCE({total(cached)}, 0) AS cached, "
            f"COALESCE({total('m.completion_tokens')}, 0) AS output "
            f"FROM chat_message m JOIN chat_session s ON s.id = m.session_id WHERE {where} "
            f"GROUP BY 1, 2, 3, 4, 5, {_HAS_CACHED}), "
            f"rates AS (SELECT * FROM (VALUES {values}) AS r), "
            "priced AS (SELECT u.*, CASE WHEN u.with_usage = 0 THEN 0 "
            "WHEN r.column1 IS NULL OR (u.cached > 0 AND r.column6 IS NULL) THEN NULL "
            "ELSE (u.fresh * r.column5 + u.output * r.column7 + CASE WHEN u.cached = 0 "
            "THEN 0 ELSE u.cached * r.column6 END) / 1000000.0 END AS cost "
            "FROM used u LEFT JOIN rates r "
            "ON r.column1 = u.model AND r.column2 = u.alias AND r.column3 = u.prompt_band "
            "AND r.column4 = u.reply_band), "
            "spent AS (SELECT session_id, COALESCE(sum(cost), 0) AS cost, "
            "sum(replies) AS replies, sum(fresh + cached + output) AS tokens, "
            "sum(CASE WHEN cost IS NULL THEN with_usage ELSE 0 END) AS unpriced "
            "FROM priced GROUP BY session_id) "
            "SELECT p.session_id, s.owner, s.title, p.cost, p.replies, p.tokens, p.unpriced "
            "FROM spent p JOIN chat_session s ON s.id = p.session_id WHERE p.cost > 0 "
            "ORDER BY p.cost DESC, p.session_id LIMIT ?"
        )
        with self.backend.reading() as tx:
            rows = tx.query(sql, [*prompt_params, *reply_params, *params, *rate_params, limit])
        return [
            ChatSpend(
                session_id=row["session_id"],
                owner=row["owner"],
                title=row["title"],
                cost=float(row["cost"]),
                replies=int(row["replies"]),
                tokens=int(row["tokens"]),
                unpriced=int(row["unpriced"]),
            )
            for row in rows
        ]

    def usage_rows(
        self,
        owner: str | Everyone,
        filters: UsageFilter,
        *,
        after: int = 0,
        limit: int = USAGE_ROWS_PAGE,
    ) -> list[dict]:
        """The finished replies in `filters` one by one, oldest id first, from message
        id `after` on: their time, chat, model, chat mode, status, error, tokens and
        timings (never their text)."""
        where, params = _where(owner, filters)
        mode, preference = _mode(owner)
        with self.backend.reading() as tx:
            return tx.query(
                "SELECT m.id, m.created_at, m.session_id, s.owner, COALESCE(m.model, '') AS model, "
                f"{_ALIAS} AS alias, {mode} AS mode, m.status, "
                "COALESCE(m.error_code, '') AS error_code, m.prompt_tokens, m.cached_tokens, "
                "m.completion_tokens, m.reasoning_tokens, m.first_token_ms, m.latency_ms, "
                "m.tier_prompt_tokens, m.tier_completion_tokens "
                f"FROM chat_message m JOIN chat_session s ON s.id = m.session_id{preference} "
                f"WHERE {where} AND m.id > ? ORDER BY m.id LIMIT ?",
                [*params, after, limit],
            )


_INT = "CAST(? AS INTEGER)"
# The lengths that set a reply's price tier: a continued answer's largest prompt and
# reply among its calls (see `chat_core.pricing.tier_lengths`), else its own.
_TIER_PROMPT = "COALESCE(m.tier_prompt_tokens, m.prompt_tokens)"
_TIER_REPLY = "COALESCE(m.tier_completion_tokens, m.completion_tokens)"
# The catalogue model a reply's endpoint served: as the reply was asked, else (a row
# older than that) as its chat says now, when the reply is of the chat's model still.
_ALIAS = (
    "COALESCE(NULLIF(m.model_alias, ''), CASE WHEN m.model = s.model THEN s.model_alias END, '')"
)
# A reply's cached tokens, never more than its prompt (a service may round them up).
_CACHED = (
    "(CASE WHEN m.cached_tokens > m.prompt_tokens THEN m.prompt_tokens ELSE m.cached_tokens END)"
)


# Replies with cached tokens are grouped apart from those without: a model whose cached
# rate is unknown leaves only the former unpriced.
_HAS_CACHED = f"(COALESCE({_CACHED}, 0) > 0)"


# A reply the app asked a model for has a model, tokens or a time; one that has none
# came from elsewhere (continued from a share link: the viewer spent nothing on it).
_MEASURED = "(m.model IS NOT NULL OR m.prompt_tokens IS NOT NULL OR m.latency_ms IS NOT NULL)"


def _mode(owner: str | Everyone) -> tuple[str, str]:
    """SQL for a reply's chat mode as far as the chat and its owner set it (NULL when
    neither did), and the join that needs. One owner's preference is the caller's
    default already; everyone's usage reads each owner's."""
    # A value no version writes (set by hand) counts as not set, as it does in a chat.
    modes = ", ".join(f"'{mode}'" for mode in CACHE_MODES)
    own = f"CASE WHEN s.cache_mode IN ({modes}) THEN s.cache_mode END"
    if not isinstance(owner, Everyone):
        return own, ""
    preferred = f"CASE WHEN p.value IN ({modes}) THEN p.value END"
    join = " LEFT JOIN owner_preference p ON p.owner = s.owner AND p.name = 'mode'"
    return f"COALESCE({own}, {preferred})", join


def _where(owner: str | Everyone, filters: UsageFilter) -> tuple[str, list]:
    """The conditions every usage query shares: finished replies the app asked a model
    for, of the owner (or of everyone), within the filter."""
    clauses = ["m.role = 'assistant'", "m.status <> 'streaming'", _MEASURED]
    params: list = []
    if not isinstance(owner, Everyone):
        if not isinstance(owner, str) or not owner:
            raise ValueError("usage queries need an owner key or EVERYONE")
        clauses.append("s.owner = ?")
        params.append(owner)
    if filters.start is not None:
        clauses.append("m.created_at >= ?")
        params.append(filters.start)
        clauses.append("s.updated_at >= ?")  # see ACTIVITY_SLACK
        params.append(_active_since(filters.start))
    if filters.end is not None:
        clauses.append("m.created_at < ?")
        params.append(filters.end)
    if filters.models:
        clauses.append(f"COALESCE(m.model, '') IN ({', '.join('?' for _ in filters.models)})")
        params += list(filters.models)
    return " AND ".join(clauses), params


def _active_since(start: str) -> str:
    """The earliest activity time of a chat that may hold a reply from `start` on."""
    try:
        moment = datetime.fromisoformat(start) - ACTIVITY_SLACK
    except OverflowError:  # a start in the year 1: every chat may hold its replies
        moment = datetime.min.replace(tzinfo=UTC)
    return moment.isoformat(timespec="microseconds")  # as the store writes times


def _band(column: str, bounds: Sequence[int]) -> tuple[str, list[int]]:
    """SQL numbering the band of `column` between `bounds` (0 when it has none or is
    NULL), and its parameters."""
    if not bounds:
        return "0", []
    steps = " ".join(f"WHEN {column} <= {_INT} THEN {index}" for index in range(len(bounds)))
    return f"(CASE WHEN {column} IS NULL THEN 0 {steps} ELSE {len(bounds)} END)", list(bounds)


def _bucket(column: str) -> str:
    """SQL rounding a time in ms down to its histogram bucket (see LATENCY_BUCKETS)."""
    steps = " ".join(
        f"WHEN {column} < {below} THEN ({column} / {width}) * {width}"
        for below, width in LATENCY_BUCKETS
    )
    return f"(CASE {steps} ELSE ({column} / {LATENCY_WIDEST}) * {LATENCY_WIDEST} END)"


def _group(row: dict) -> UsageGroup:
    """A row of `usage_groups`, its counts as int (PostgreSQL sums them as numeric)."""
    text = (row[name] for name in _GROUP_TEXTS)
    return UsageGroup(*text, *(int(row[name]) for name in _GROUP_COUNTS))


_GROUP_TEXTS = ("day", "model", "alias", "mode", "status", "error_code")
_GROUP_COUNTS = (
    "prompt_band",
    "reply_band",
    "replies",
    "with_usage",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "reasoning_tokens",
)
