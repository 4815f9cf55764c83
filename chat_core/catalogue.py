"""The models Ark serves, as data (`catalogue.json`): what each can do and what it costs.

`find_model(model_id)` answers for a dated model id (`doubao-seed-2-1-pro-260628`),
for another version of the same model (the id with a different 6-digit version
suffix), or for the id without its version. Endpoint ids (`ep-…`) are in no catalogue:
a chat says which catalogue model its endpoint serves (`model_info(model, alias)`).

A price has tiers chosen by the request's input length, a cached-input price per tier,
an optional cheaper rate for short replies, a cache-storage price, and the source,
date and status (verified, mirror or unverified) of its figures.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from .config import REASONING_EFFORTS, THINKING_MODES

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")
ENDPOINT_PREFIX = "ep-"
PRICE_STATUSES = ("verified", "mirror", "unverified", "user")
_VERSION_SUFFIX = re.compile(r"-\d{6}$")


@dataclass(frozen=True)
class Rates:
    """CNY per million tokens for one request; `cached_input` None when unknown."""

    input: Decimal
    cached_input: Decimal | None
    output: Decimal


@dataclass(frozen=True)
class ShortReply:
    """Rates that replace a tier's own when the reply has at most `max_output` tokens."""

    max_output: int
    input: Decimal | None = None
    cached_input: Decimal | None = None
    output: Decimal | None = None


@dataclass(frozen=True)
class PriceTier:
    """Rates for requests whose input is at most `input_up_to` tokens (None: any)."""

    input_up_to: int | None
    input: Decimal
    cached_input: Decimal | None
    output: Decimal
    short_reply: ShortReply | None = None

    def rates(self, output_tokens: int) -> Rates:
        short = self.short_reply
        if short is None or output_tokens > short.max_output:
            return Rates(self.input, self.cached_input, self.output)
        return Rates(
            _first(short.input, self.input),
            _first(short.cached_input, self.cached_input),
            _first(short.output, self.output),
        )


@dataclass(frozen=True)
class Price:
    """A model's list price: tiers by input length, ordered by `input_up_to`."""

    tiers: tuple[PriceTier, ...]
    status: str = "verified"
    source: str | None = None
    date: str | None = None
    # CNY per million tokens held in a cache for an hour (context and Responses caching).
    cache_storage: Decimal | None = None

    def rates(self, input_tokens: int, output_tokens: int) -> Rates | None:
        """The rates for a request of `input_tokens`; None past the last tier."""
        for tier in self.tiers:
            if tier.input_up_to is None or input_tokens <= tier.input_up_to:
                return tier.rates(output_tokens)
        return None

    @property
    def unverified(self) -> bool:
        return self.status == "unverified"


@dataclass(frozen=True)
class ModelInfo:
    """One catalogue model. `reasoning_efforts` None: the model takes an effort whose
    levels are not listed (every level the app knows is offered); () takes none."""

    id: str
    name: str
    context_window: int | None
    max_output: int | None
    images: bool
    thinking_modes: tuple[str, ...]
    reasoning_efforts: tuple[str, ...] | None
    prices: Price | None
    released: str | None = None

    @property
    def family(self) -> str:
        """The id without its version: every version of the model shares it."""
        return version_free(self.id)

    @property
    def takes_reasoning_effort(self) -> bool:
        return self.reasoning_efforts is None or bool(self.reasoning_efforts)

    @property
    def effort_levels(self) -> tuple[str, ...]:
        return REASONING_EFFORTS if self.reasoning_efforts is None else self.reasoning_efforts


@dataclass(frozen=True)
class Catalogue:
    models: tuple[ModelInfo, ...]
    date: str | None

    def find(self, model_id: object) -> ModelInfo | None:
        """The first model (in the file's order) whose id is `model_id` or whose
        family is that of `model_id`."""
        if not isinstance(model_id, str) or not model_id:
            return None
        by_id, by_family = self._index
        found = [
            hit
            for hit in (by_id.get(model_id), by_family.get(version_free(model_id.strip())))
            if hit is not None
        ]
        return self.models[min(found)] if found else None

    @cached_property
    def _index(self) -> tuple[dict[str, int], dict[str, int]]:
        """Positions of the first model of each id and of each family: `find` runs for
        every group of replies the Usage page prices."""
        by_id: dict[str, int] = {}
        by_family: dict[str, int] = {}
        for position, model in enumerate(self.models):
            by_id.setdefault(model.id, position)
            by_family.setdefault(model.family, position)
        return by_id, by_family


def find_model(model_id: object) -> ModelInfo | None:
    """The catalogue entry of a model id (any version of it), or None."""
    return catalogue().find(model_id)


def model_info(model: str | None, alias: str | None = None) -> ModelInfo | None:
    """What `model` is: its own entry, else (an endpoint or a custom id) the entry of
    `alias`, the catalogue model the chat says it serves."""
    return find_model(model) or find_model(alias)


def models() -> tuple[ModelInfo, ...]:
    """Every catalogue model, newest first as the file lists them."""
    return catalogue().models


def is_endpoint(model_id: object) -> bool:
    """Whether `model_id` names an Ark endpoint (`ep-…`), which the Context API needs."""
    return isinstance(model_id, str) and model_id.strip().startswith(ENDPOINT_PREFIX)


def version_free(model_id: str) -> str:
    """`model_id` without Ark's 6-digit version suffix (`-260628`)."""
    return _VERSION_SUFFIX.sub("", model_id)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    document = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return Catalogue(
        tuple(_model(entry) for entry in document["models"]), document.get("catalogue_date")
    )


def parse_price(entry: Mapping[str, Any], *, status: str = "user") -> Price:
    """A `Price` from a catalogue or price-file entry: either `tiers` (a list of
    {input_up_to, input, cached_input, output[, short_reply]}) or one flat
    {input, cached_input, output}. Raises ValueError (or KeyError/TypeError) when the
    entry is malformed."""
    if not isinstance(entry, Mapping):
        raise TypeError("a price is an object")
    raw_tiers = entry.get("tiers", [{**entry, "input_up_to": None}])
    if not isinstance(raw_tiers, list) or not raw_tiers:
        raise ValueError("a price needs at least one tier")
    tiers = tuple(_tier(raw) for raw in raw_tiers)
    bounds = [tier.input_up_to for tier in tiers]
    bounded = bounds if bounds[-1] is not None else bounds[:-1]
    rising = all(low < high for low, high in itertools.pairwise(bounded))
    if None in bounded or not rising or any(bound <= 0 for bound in bounded):
        # A tier bounded below the one before, or at 0, could never apply.
        raise ValueError("tiers must rise from above 0, and only the last may be unbounded")
    chosen = entry.get("status", status)
    if chosen not in PRICE_STATUSES:
        raise ValueError(f"unknown price status {chosen!r}")
    return Price(
        tiers=tiers,
        status=chosen,
        source=_text(entry.get("source")),
        date=_text(entry.get("date")),
        cache_storage=_amount(entry.get("cache_storage"), optional=True),
    )


def _model(entry: Mapping[str, Any]) -> ModelInfo:
    efforts = entry.get("reasoning_efforts")
    thinking = tuple(entry.get("thinking") or THINKING_MODES)
    if not set(thinking) <= set(THINKING_MODES):
        raise ValueError(f"{entry['id']}: unknown thinking mode in {thinking}")
    if efforts is not None and not set(efforts) <= set(REASONING_EFFORTS):
        raise ValueError(f"{entry['id']}: unknown reasoning effort in {efforts}")
    price = entry.get("price")
    return ModelInfo(
        id=entry["id"],
        name=entry["name"],
        context_window=entry.get("context_window"),
        max_output=entry.get("max_output"),
        images=bool(entry.get("images")),
        thinking_modes=thinking,
        reasoning_efforts=None if efforts is None else tuple(efforts),
        prices=None if price is None else parse_price(price, status="mirror"),
        released=entry.get("released"),
    )


def _tier(raw: Mapping[str, Any]) -> PriceTier:
    up_to = raw.get("input_up_to")
    if up_to is not None and (
        isinstance(up_to, bool) or not isinstance(up_to, int | Decimal) or up_to != int(up_to)
    ):
        raise TypeError("input_up_to is a whole number of tokens or null")
    short = raw.get("short_reply")
    return PriceTier(
        input_up_to=None if up_to is None else int(up_to),
        input=_amount(raw["input"]),
        cached_input=_amount(raw.get("cached_input"), optional=True),
        output=_amount(raw["output"]),
        short_reply=None if short is None else _short_reply(short),
    )


def _short_reply(raw: Mapping[str, Any]) -> ShortReply:
    return ShortReply(
        max_output=int(raw["max_output"]),
        input=_amount(raw.get("input"), optional=True),
        cached_input=_amount(raw.get("cached_input"), optional=True),
        output=_amount(raw.get("output"), optional=True),
    )


def _amount(value: object, *, optional: bool = False) -> Decimal | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError(f"not a price: {value!r}")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not a price: {value!r}")
    return amount


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _first(*values: Decimal | None) -> Decimal | None:
    return next((value for value in values if value is not None), None)
