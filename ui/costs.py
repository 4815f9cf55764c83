"""Costs as the reader sees them: four decimals, `< ¥0.0001` for less, a label on an
unverified price, and cache storage apart, as an estimate."""

from __future__ import annotations

from decimal import Decimal

from chat_core.chat import chat_cost, chat_storage_cost, message_quote
from chat_core.pricing import SMALLEST_SHOWN, is_below_shown

from .text import t


def money(lang: str, amount: Decimal) -> str:
    """`¥0.0123`, or `< ¥0.0001` for a cost that four decimals would show as zero."""
    if is_below_shown(amount):
        return t(lang, "cost_below", cost=f"{SMALLEST_SHOWN}")
    return t(lang, "cost", cost=f"{amount:.4f}")


def reply_cost(lang: str, message, prices) -> list[str]:
    """The cost parts of a reply's usage line: none for an unpriced model."""
    found = message_quote(message, prices)
    if found is None:
        return []
    parts = [money(lang, found.amount)]
    if found.unverified:
        parts.append(t(lang, "price_unverified"))
    return parts


def chat_costs(lang: str, store, session, settings, prices) -> list[str]:
    """The chat's summed cost (if any turn is priced) and its cache storage estimate."""
    parts = []
    spent = chat_cost(store, session, prices, settings)
    if spent.priced:
        key = "session_cost" if spent.complete else "session_cost_partial"
        parts.append(t(lang, key, cost=money(lang, spent.total)))
        if spent.unverified:
            parts.append(t(lang, "price_unverified"))
    storage = chat_storage_cost(store, session, settings, prices)
    if storage:
        parts.append(t(lang, "storage_estimate", cost=money(lang, storage)))
    return parts
