"""The usage dashboard's figures: the store's grouped replies, priced and summed.

The database groups replies (`Store.usage_groups`, `latency_counts`, `top_chats`);
this module prices the groups with the price table, rolls days into weeks, reads
percentiles off the latency histograms, decides who may see everyone's usage, and
writes the CSV of the filtered replies (each priced with `pricing.cost`).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from .ark import Usage
from .catalogue import Price, models
from .identity import email_key, login_identity, verified_email
from .pricing import MILLION, PriceTable, cost
from .store.usage import (
    EVERYONE,
    BandRates,
    Bands,
    ChatSpend,
    Everyone,
    LatencyCount,
    UsageFilter,
    UsageGroup,
)

STATUSES = ("complete", "interrupted", "error")
MEASURES = ("first_token", "total")
CSV_COLUMNS = (
    "time_utc",
    "chat",
    "owner",
    "model",
    "mode",
    "status",
    "error",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "first_token_ms",
    "latency_ms",
    "cost_cny",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

MAX_PERIODS = 1_000  # the most days or weeks a chart lays out in time


# --- the filter ------------------------------------------------------------------------------


def day_filter(first: date, last: date, models: Iterable[str] = ()) -> UsageFilter:
    """Replies started on UTC days `first` to `last`, both included."""
    start = _stamp(datetime.combine(first, time(), UTC))
    end = (
        None
        if last >= date.max
        else _stamp(datetime.combine(last + timedelta(days=1), time(), UTC))
    )
    return UsageFilter(start, end, tuple(models))


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")  # as the store writes times


# --- prices ----------------------------------------------------------------------------------


def bands(prices: PriceTable) -> Bands:
    """Every length at which some known price changes its rates: tier bounds on the
    prompt, short-reply limits on the reply."""
    prompt, reply = set(), set()
    for price in _known_prices(prices):
        for tier in price.tiers:
            if tier.input_up_to is not None:
                prompt.add(tier.input_up_to)
            if tier.short_reply is not None:
                reply.add(tier.short_reply.max_output)
    return Bands(tuple(sorted(prompt)), tuple(sorted(reply)))


def _known_prices(prices: PriceTable) -> Iterator[Price]:
    yield from (info.prices for info in models() if info.prices is not None)
    yield from prices.overrides.values()


def _price(prices: PriceTable, model: str, alias: str) -> Price | None:
    """As a reply's own cost looks it up: its model, then the model its chat's endpoint
    serves."""
    return prices.price_for(model or None) or prices.price_for(alias or None)


def _band_rates(price: Price, limits: Bands, prompt_band: int, reply_band: int):
    """The rates of every reply in these bands (one length inside each band stands
    for all: no price changes within a band)."""
    return price.rates(
        _inside(limits.prompt_bounds, prompt_band), _inside(limits.reply_bounds, reply_band)
    )


def _inside(bounds: tuple[int, ...], band: int) -> int:
    return bounds[band] if band < len(bounds) else (bounds[-1] + 1 if bounds else 0)


@dataclass(frozen=True)
class Priced:
    """A group's cost: None when its price is unknown."""

    cost: Decimal | None
    unverified: bool = False


def price_group(group: UsageGroup, prices: PriceTable, limits: Bands) -> Priced:
    """What a group's replies cost: their summed tokens at their band's rates, which is
    the sum of each reply's own cost. Replies that reported no usage cost nothing."""
    if not group.with_usage:
        return Priced(Decimal(0))
    price = _price(prices, group.model, group.alias)
    rates = price and _band_rates(price, limits, group.prompt_band, group.reply_band)
    if not rates or (group.cached_tokens and rates.cached_input is None):
        return Priced(None)
    fresh = group.prompt_tokens - group.cached_tokens
    total = (
        fresh * rates.input
        + group.cached_tokens * (rates.cached_input or 0)
        + group.completion_tokens * rates.output
    )
    return Priced(total / MILLION, price.unverified)


def band_rates(groups: Iterable[UsageGroup], prices: PriceTable, limits: Bands) -> list[BandRates]:
    """The rates of every model, alias and band among `groups`, for ranking chats by
    cost in the database. A band with no known price is left out (it costs nothing
    there); an unknown cached rate is NULL, leaving cached replies unpriced."""
    keys = {(g.model, g.alias, g.prompt_band, g.reply_band) for g in groups if g.with_usage}
    found = []
    for model, alias, prompt_band, reply_band in sorted(keys):
        price = _price(prices, model, alias)
        rates = price and _band_rates(price, limits, prompt_band, reply_band)
        if rates:
            cached = None if rates.cached_input is None else float(rates.cached_input)
            found.append(
                BandRates(
                    model,
                    alias,
                    prompt_band,
                    reply_band,
                    float(rates.input),
                    cached,
                    float(rates.output),
                )
            )
    return found


# --- the dashboard ---------------------------------------------------------------------------


@dataclass
class Totals:
    replies: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    unpriced: int = 0  # replies with usage whose price is unknown
    unverified: bool = False

    @property
    def cache_hit_rate(self) -> float | None:
        """Cached ÷ input tokens; None without input."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else None

    def add(self, group: UsageGroup, priced: Priced) -> None:
        self.replies += group.replies
        self.prompt_tokens += group.prompt_tokens
        self.cached_tokens += group.cached_tokens
        self.completion_tokens += group.completion_tokens
        self.reasoning_tokens += group.reasoning_tokens
        if priced.cost is None:
            self.unpriced += group.with_usage
        else:
            self.cost += priced.cost
        self.unverified = self.unverified or priced.unverified


@dataclass
class Dashboard:
    """Everything the Usage page draws, from the groups of one filter."""

    totals: Totals = field(default_factory=Totals)
    # (period, model) -> Totals; period is a day or the Monday of a week (YYYY-MM-DD)
    by_period_model: dict[tuple[str, str], Totals] = field(default_factory=dict)
    # (period, mode) -> Totals
    by_period_mode: dict[tuple[str, str], Totals] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_error: dict[str, int] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)  # every model of the date range


def dashboard(
    groups: Iterable[UsageGroup],
    prices: PriceTable,
    limits: Bands,
    *,
    models: Iterable[str] = (),
    weekly: bool = False,
) -> Dashboard:
    """Sum the groups of a date range for the page: only those of `models` (all when
    empty), per day or (with `weekly`) per week starting on Monday."""
    chosen = set(models)
    board = Dashboard()
    seen = set()
    by_model: dict = defaultdict(Totals)
    by_mode: dict = defaultdict(Totals)
    for group in groups:
        seen.add(group.model)
        if chosen and group.model not in chosen:
            continue
        priced = price_group(group, prices, limits)
        period = week_of(group.day) if weekly else group.day
        board.totals.add(group, priced)
        by_model[period, group.model].add(group, priced)
        by_mode[period, group.mode].add(group, priced)
        board.by_status[group.status] = board.by_status.get(group.status, 0) + group.replies
        if group.error_code:
            code = group.error_code
            board.by_error[code] = board.by_error.get(code, 0) + group.replies
    board.by_period_model, board.by_period_mode = dict(by_model), dict(by_mode)
    board.models = sorted(seen)
    return board


def periods(first: date, last: date, weekly: bool) -> list[str] | None:
    """Every day (or the Monday of every week) from `first` to `last`: a chart's time
    axis, with the periods that had no reply in their place. None when that would be
    more than `MAX_PERIODS` (a range of centuries typed into the address)."""
    step = 7 if weekly else 1
    start = date.fromisoformat(week_of(first.isoformat())) if weekly else first
    count = (last - start).days // step + 1
    if count > MAX_PERIODS:
        return None
    return [(start + timedelta(days=step * index)).isoformat() for index in range(count)]


def week_of(day: str) -> str:
    """The Monday (YYYY-MM-DD) of the week holding `day`."""
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


# --- latency ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    model: str
    measure: str  # "first_token" or "total"
    replies: int
    p50_ms: int
    p95_ms: int


def latencies(counts: Iterable[LatencyCount]) -> list[Latency]:
    """p50 and p95 per model and measure, read off the histograms (nearest rank; a
    percentile is the lower end of its bucket, within 1% of the exact figure)."""
    histograms: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for count in counts:
        histograms[count.model, count.measure][count.floor_ms] = count.replies
    found = []
    for (model, measure), histogram in sorted(histograms.items()):
        total = sum(histogram.values())
        found.append(
            Latency(
                model,
                measure,
                total,
                percentile(histogram, 0.50),
                percentile(histogram, 0.95),
            )
        )
    return found


def percentile(histogram: Mapping[int, int], share: float) -> int:
    """The nearest-rank percentile `share` (0–1) of a histogram {value: count}."""
    total = sum(histogram.values())
    if not total:
        raise ValueError("an empty histogram has no percentile")
    rank = max(1, -int(-share * total // 1))  # ceil(share * total), at least 1
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


# --- who sees what ---------------------------------------------------------------------------


def is_admin(owner: str, claims: Mapping[str, object], admins: Iterable[str]) -> bool:
    """Whether the visitor is on the operator's admin list, by email or by subject.

    An email matches a login's verified email or a proxy's email; a subject matches a
    login's subject (`sub`, or `<iss>#<sub>` to name its provider too) or a proxy's user
    value. A login's claims count only when they give `owner`: they are the visitor's.
    Nobody is an admin without being signed in (the `local` owner is everyone who opens
    an app without a login)."""
    wanted = {entry.strip() for entry in admins if entry and entry.strip()}
    emails = {email_key(entry) for entry in wanted if "@" in entry}
    subjects = {entry for entry in wanted if "@" not in entry}
    if owner.startswith("email:"):
        return owner.removeprefix("email:") in emails
    if owner.startswith("user:"):  # a proxy's user value, an email for some proxies
        value = owner.removeprefix("user:")
        return value in subjects or email_key(value) in emails
    login = login_identity(claims)
    if login is None or login.owner != owner:
        return False
    email, issuer, subject = verified_email(claims), claims.get("iss"), claims.get("sub")
    names = {str(subject), f"{issuer}#{subject}"} if issuer and subject else set()
    return (email is not None and email_key(email) in emails) or bool(names & subjects)


def scope(owner: str, everyone: bool) -> str | Everyone:
    """The owner a usage query runs for: `EVERYONE` only when asked (by an admin)."""
    return EVERYONE if everyone else owner


# --- CSV -------------------------------------------------------------------------------------


def usage_csv(
    store, owner: str | Everyone, filters: UsageFilter, prices: PriceTable, *, default_mode: str
) -> str:
    """The filtered replies as CSV, one row each, with its cost (blank when unknown)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    after = 0
    while rows := store.usage_rows(owner, filters, after=after):
        for row in rows:
            writer.writerow(_csv_row(row, prices, default_mode))
        after = rows[-1]["id"]
    return out.getvalue()


def _csv_row(row: Mapping, prices: PriceTable, default_mode: str) -> list:
    spent, cached = None, row["cached_tokens"]
    if cached is not None and row["prompt_tokens"] is not None:
        cached = min(cached, row["prompt_tokens"])  # as the page counts them
    if row["prompt_tokens"] is not None and row["completion_tokens"] is not None:
        usage = Usage(
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            cached_tokens=cached or 0,
            reasoning_tokens=row["reasoning_tokens"] or 0,
            model=row["model"] or None,
            tier_prompt_tokens=row["tier_prompt_tokens"],
            tier_completion_tokens=row["tier_completion_tokens"],
        )
        spent = cost(usage, row["model"] or None, prices, alias=row["alias"] or None)
    values = (
        row["created_at"],
        row["session_id"],
        row["owner"],
        row["model"],
        row["mode"] or default_mode,
        row["status"],
        row["error_code"],
        row["prompt_tokens"],
        cached,
        row["completion_tokens"],
        row["reasoning_tokens"],
        row["first_token_ms"],
        row["latency_ms"],
        "" if spent is None else f"{spent:f}",
    )
    return [_cell(value) for value in values]


def _cell(value: object) -> object:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


__all__ = [
    "CSV_COLUMNS",
    "EVERYONE",
    "ChatSpend",
    "Dashboard",
    "Latency",
    "Totals",
    "UsageFilter",
    "band_rates",
    "bands",
    "dashboard",
    "day_filter",
    "is_admin",
    "latencies",
    "percentile",
    "price_group",
    "scope",
    "usage_csv",
    "week_of",
]
