"""What a turn, a chat and its cache storage cost, in CNY, from the catalogue's prices.

The catalogue (`catalogue.json`) holds the shipped prices. A JSON file at
`Settings.prices_path` is merged over them: `{"models": {id: price}}`, where an id is a
model id, a model id without its version, or an endpoint id, and a price is either flat
`{"input", "cached_input", "output"}` or `{"tiers": [...]}` as in the catalogue. Its
entries win over the catalogue's.

A turn is priced by its input length (the tier), with cached prompt tokens at the
tier's cached-input rate and every output token, reasoning included (Ark counts
reasoning in `completion_tokens`), at the output rate. A model without a known price,
or a turn past its last tier, gets no cost (None), never a guessed one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from .catalogue import Price, find_model, parse_price, version_free
from .errors import ConfigError

MILLION = Decimal(1_000_000)
# Costs below this show as "< ¥0.0001": four decimals would round them to zero.
SMALLEST_SHOWN = Decimal("0.0001")
# A response stored by the Responses API (with its cache) lives three days unless the
# request sets `expire_at`, which the app does not.
RESPONSES_HOLD_HOURS = 72
SECONDS_PER_HOUR = 3600


class TokenCounts(Protocol):
    """Anything with the token counts of a turn, such as `chat_core.ark.Usage`; those
    of a reply made of several calls may also say the lengths that set its tier (see
    `tier_lengths`)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


def tier_lengths(usage: TokenCounts) -> tuple[int, int]:
    """The prompt and reply lengths that choose a turn's rates. A continued answer is
    two calls or more, each billed at the tier of its own lengths, where the summed
    counts would reach a higher tier, or none: the largest prompt and the largest reply
    among the calls stand for all. Exact when the calls share a tier; when a later call
    (which holds the earlier text) crosses a bound, the earlier tokens get its higher
    rates."""
    prompt = getattr(usage, "tier_prompt_tokens", None)
    completion = getattr(usage, "tier_completion_tokens", None)
    return (
        usage.prompt_tokens if prompt is None else prompt,
        usage.completion_tokens if completion is None else completion,
    )


@dataclass(frozen=True)
class PriceTable:
    """The catalogue's prices with a user's own (`overrides`) over them, and endpoints
    priced as the catalogue model a chat says they serve (`served`, see `serving`)."""

    overrides: Mapping[str, Price] = field(default_factory=lambda: MappingProxyType({}))
    served: Mapping[str, Price] = field(default_factory=lambda: MappingProxyType({}))

    def price_for(self, model: str | None) -> Price | None:
        """The price of `model` (any version of a catalogue model, or an endpoint the
        table serves), or None."""
        found = self.own_price(model)
        return found if found is not None or not model else self.served.get(model)

    def own_price(self, model: str | None) -> Price | None:
        """The price of `model` itself (any version of a catalogue model), or None: an
        endpoint has one only when the user's prices name it."""
        if not model:
            return None
        info = find_model(model)
        names = [model, version_free(model)]
        if info is not None:
            names += [info.id, info.family]
        for name in names:
            if name in self.overrides:
                return self.overrides[name]
        return info.prices if info is not None else None

    def serving(self, endpoint: str | None, model: str | None) -> PriceTable:
        """This table with `endpoint` (which has no price of its own) priced as the
        catalogue model a chat says it serves now: a reply that says which model
        served it is priced by that one (see `quote`), an older reply by this."""
        if not endpoint or not model or self.price_for(endpoint) is not None:
            return self
        price = self.price_for(model)
        if price is None:
            return self
        return PriceTable(self.overrides, MappingProxyType({**self.served, endpoint: price}))


@dataclass(frozen=True)
class Quote:
    """What a turn cost, and whether the price it used is unverified."""

    amount: Decimal
    unverified: bool = False


@dataclass(frozen=True)
class SessionCost:
    """A chat's summed cost. `complete` is False when some turns had no known price;
    `unverified` is True when some turn was priced from an unverified figure."""

    total: Decimal
    complete: bool
    unverified: bool = False
    priced: int = 0  # turns with a known cost


@dataclass(frozen=True)
class HeldTokens:
    """Tokens a cache held after a turn, and from when (epoch seconds)."""

    tokens: int
    since: float
    model: str | None
    alias: str | None = None  # the catalogue model its endpoint served, when said


def load_prices(path: Path | None = None) -> PriceTable:
    """The catalogue's prices, with the file at `path` (if any) merged over them."""
    if path is None:
        return PriceTable()
    document = _read_document(path)
    return PriceTable(MappingProxyType(_parse_models(document, path)))


def quote(
    usage: TokenCounts,
    model: str | None = None,
    prices: PriceTable | None = None,
    *,
    alias: str | None = None,
) -> Quote | None:
    """What a turn cost, or None when its price is unknown.

    The price is looked up for `model`, then `alias` (the catalogue model an endpoint
    served for this turn), then the model the table says the endpoint serves now (see
    `PriceTable.serving`), then `usage.model` (the version that answered)."""
    price = _price(prices or PriceTable(), model, alias, getattr(usage, "model", None))
    if price is None:
        return None
    rates = price.rates(*tier_lengths(usage))
    if rates is None:
        return None  # longer than any tier the price knows
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    if cached and rates.cached_input is None:
        return None
    total = (
        (usage.prompt_tokens - cached) * rates.input
        + cached * (rates.cached_input or 0)
        + usage.completion_tokens * rates.output
    )
    return Quote(total / MILLION, price.unverified)


def cost(
    usage: TokenCounts,
    model: str | None = None,
    prices: PriceTable | None = None,
    *,
    alias: str | None = None,
) -> Decimal | None:
    """What a turn cost in CNY, or None when its price is unknown (see `quote`)."""
    found = quote(usage, model, prices, alias=alias)
    return None if found is None else found.amount


def session_cost(
    turns: Iterable[tuple[TokenCounts, str | None] | tuple[TokenCounts, str | None, str | None]],
    prices: PriceTable | None = None,
    *,
    alias: str | None = None,
) -> SessionCost:
    """Sum the cost of (usage, model) turns, or (usage, model, alias) ones: a turn
    without an alias of its own takes `alias`. Unknown prices make the sum incomplete."""
    total, complete, unverified, priced = Decimal(0), True, False, 0
    for usage, model, *own in turns:
        found = quote(usage, model, prices, alias=(own[0] if own else None) or alias)
        if found is None:
            complete = False
            continue
        total += found.amount
        unverified = unverified or found.unverified
        priced += 1
    return SessionCost(total, complete, unverified, priced)


def storage_estimate(
    held: Iterable[HeldTokens],
    cache_mode: str,
    *,
    context_ttl: int,
    prices: PriceTable | None = None,
    alias: str | None = None,
) -> Decimal | None:
    """An estimate of what keeping a chat's cache costs, in CNY; None in mode "off" or
    when a model's storage price is unknown.

    Storage is billed per started hour per million tokens held. In the Responses mode
    every turn's response keeps its cache for `RESPONSES_HOLD_HOURS`. In the context
    mode one context holds the conversation; its expiry slides, so each turn's size is
    held until the next turn (at most `context_ttl`), and the last one for a full TTL.
    """
    if cache_mode not in ("context", "responses"):
        return None
    turns = sorted(held, key=lambda turn: turn.since)
    table = prices or PriceTable()
    token_hours = Decimal(0)
    for index, turn in enumerate(turns):
        price = _price(table, turn.model, turn.alias or alias, None)
        if price is None or price.cache_storage is None:
            return None
        hours = _held_hours(turns, index, cache_mode, context_ttl)
        token_hours += turn.tokens * hours * price.cache_storage
    return token_hours / MILLION


def is_below_shown(amount: Decimal) -> bool:
    """Whether a cost is positive yet would show as ¥0.0000 (shown as < ¥0.0001)."""
    return 0 < amount < SMALLEST_SHOWN


def _held_hours(turns: list[HeldTokens], index: int, cache_mode: str, ttl: int) -> int:
    if cache_mode == "responses":
        return RESPONSES_HOLD_HOURS
    seconds = ttl
    if index + 1 < len(turns):
        seconds = min(max(turns[index + 1].since - turns[index].since, 0), ttl)
    return max(1, math.ceil(seconds / SECONDS_PER_HOUR))


def _price(
    table: PriceTable, model: str | None, alias: str | None, answered: str | None
) -> Price | None:
    """The price of `model` itself, else of the model it served (`alias`), else of the
    one the table serves it as, else of the version that answered."""
    lookups = (table.own_price, table.price_for, table.price_for, table.price_for)
    for lookup, name in zip(lookups, (model, alias, model, answered), strict=True):
        price = lookup(name)
        if price is not None:
            return price
    return None


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(
            # utf-8-sig: a file a Windows editor saved starts with a byte-order mark.
            Path(path).read_text(encoding="utf-8-sig"),
            parse_float=Decimal,
            parse_int=Decimal,
        )
    except (OSError, ValueError) as exc:
        raise ConfigError("prices_file_unreadable", path=str(path), reason=str(exc)) from exc
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise ConfigError("prices_file_shape", path=str(path))
    return document


def _parse_models(document: dict[str, Any], path: Path) -> dict[str, Price]:
    prices = {}
    for model, entry in document["models"].items():
        try:
            prices[model] = parse_price(entry, status="user")
        except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ConfigError("prices_entry_invalid", path=str(path), model=model) from exc
    return prices
