"""Token prices (CNY per million tokens) and what a turn or a session cost.

The shipped table is `prices.json`; a JSON file at `Settings.prices_path` with the same
format is merged over it (its entries replace or add models). A model without a known
price gets no cost (None), never a guessed one.

A model id matches a table key exactly, or as the key plus Ark's version suffix
(`doubao-seed-1-6-250615` -> `doubao-seed-1-6`). The suffix must be the 6-digit
version alone, so `doubao-seed-1-6-flash-250828` matches only `doubao-seed-1-6-flash`
and `deepseek-v3-1-250821` does not fall back to `deepseek-v3`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from .errors import ConfigError

SHIPPED_PRICES = Path(__file__).with_name("prices.json")
MILLION = Decimal(1_000_000)
_VERSION_SUFFIX = re.compile(r"-\d{6}$")


class TokenCounts(Protocol):
    """Anything with the token counts of a turn, such as `chat_core.ark.Usage`."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


@dataclass(frozen=True)
class Price:
    """CNY per million tokens; `cached_input` is None when no cache-hit price is known."""

    input: Decimal
    cached_input: Decimal | None
    output: Decimal


@dataclass(frozen=True)
class PriceTable:
    """Prices by model id (or id without its version suffix)."""

    prices: Mapping[str, Price]
    prices_date: str | None = None

    def price_for(self, model: str | None) -> Price | None:
        """The price of `model`, or None when it is unknown."""
        if not model:
            return None
        price = self.prices.get(model)
        if price is None and _VERSION_SUFFIX.search(model):
            price = self.prices.get(_VERSION_SUFFIX.sub("", model))
        return price


@dataclass(frozen=True)
class SessionCost:
    """A session's summed cost; `complete` is False when some turns had no known price."""

    total: Decimal
    complete: bool


def load_prices(path: Path | None = None) -> PriceTable:
    """The shipped price table, with the file at `path` (if any) merged over it."""
    shipped = _shipped_table()
    if path is None:
        return shipped
    document = _read_document(path)
    merged = dict(shipped.prices)
    merged.update(_parse_models(document, path))
    date = document.get("prices_date") or shipped.prices_date
    return PriceTable(MappingProxyType(merged), date)


def cost(
    usage: TokenCounts, model: str | None = None, prices: PriceTable | None = None
) -> Decimal | None:
    """What a turn cost in CNY, or None when the model's price is unknown.

    Cached prompt tokens are billed at the cached-input price, the other prompt tokens
    at the input price and completion tokens (reasoning included) at the output price.
    `model` is looked up first, then `usage.model` (the version that answered).
    """
    table = prices or _shipped_table()
    price = table.price_for(model) or table.price_for(getattr(usage, "model", None))
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    if cached and price.cached_input is None:
        return None
    total = (
        (usage.prompt_tokens - cached) * price.input
        + cached * (price.cached_input or 0)
        + usage.completion_tokens * price.output
    )
    return total / MILLION


def session_cost(
    turns: Iterable[tuple[TokenCounts, str | None]], prices: PriceTable | None = None
) -> SessionCost:
    """Sum the cost of (usage, model) pairs; unknown prices make the sum incomplete."""
    total, complete = Decimal(0), True
    for usage, model in turns:
        turn_cost = cost(usage, model, prices)
        if turn_cost is None:
            complete = False
        else:
            total += turn_cost
    return SessionCost(total, complete)


@lru_cache(maxsize=1)
def _shipped_table() -> PriceTable:
    document = _read_document(SHIPPED_PRICES)
    return PriceTable(
        MappingProxyType(_parse_models(document, SHIPPED_PRICES)), document.get("prices_date")
    )


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(
            Path(path).read_text(encoding="utf-8"), parse_float=Decimal, parse_int=Decimal
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
            cached = entry.get("cached_input")
            prices[model] = Price(
                input=Decimal(entry["input"]),
                cached_input=None if cached is None else Decimal(cached),
                output=Decimal(entry["output"]),
            )
        except (AttributeError, KeyError, TypeError, ArithmeticError) as exc:
            raise ConfigError("prices_entry_invalid", path=str(path), model=model) from exc
    return prices
