"""Token estimate, history trimming and the price table (no server needed)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from chat_core.ark import Usage, estimate_tokens, trim_history
from chat_core.errors import ConfigError
from chat_core.pricing import SHIPPED_PRICES, cost, load_prices, session_cost


def usage(prompt=1_000_000, completion=0, cached=0, model=None):
    return Usage(prompt, completion, cached, 0, model)


# --- token estimate and trimming ---------------------------------------------------------


def test_estimate_counts_cjk_characters_and_groups_of_four_others():
    assert estimate_tokens("") == 0
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("你好 abc") == 3  # 2 CJK + " abc" (4 chars)


def test_trim_drops_whole_oldest_turns():
    history = [
        ("user", "a" * 400),
        ("assistant", "b" * 400),
        ("user", "c" * 40),
        ("assistant", "d" * 40),
    ]
    assert trim_history(history, 10_000) == history
    kept = trim_history(history, 60, new_message="now")
    assert kept == history[2:]
    assert trim_history(history, 5, new_message="now") == []


def test_trim_never_splits_a_user_message_from_its_answer():
    history = [("user", "q1"), ("assistant", "x" * 4000), ("user", "q2"), ("assistant", "a2")]
    kept = trim_history(history, 100)
    assert kept == [("user", "q2"), ("assistant", "a2")]


def test_trim_counts_the_system_prompt():
    history = [("user", "q"), ("assistant", "a")]
    assert trim_history(history, 30, system_prompt="") == history
    assert trim_history(history, 30, system_prompt="s" * 200) == []


# --- prices ------------------------------------------------------------------------------


def test_shipped_file_names_its_date_and_source():
    document = json.loads(SHIPPED_PRICES.read_text(encoding="utf-8"))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", document["prices_date"])
    assert "volcengine.com" in document["source"]
    assert document["models"]


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("doubao-seed-1-6", "doubao-seed-1-6"),
        ("doubao-seed-1-6-250615", "doubao-seed-1-6"),
        ("doubao-seed-1-6-flash-250828", "doubao-seed-1-6-flash"),
        ("doubao-seed-1-6-thinking-250715", "doubao-seed-1-6-thinking"),
        ("deepseek-v3-250324", "deepseek-v3"),
    ],
)
def test_model_ids_match_their_own_entry(model, key):
    table = load_prices()
    assert table.price_for(model) == table.prices[key]


@pytest.mark.parametrize("model", ["deepseek-v3-1-250821", "doubao-seed-1-6x", "ep-2025", "", None])
def test_unknown_or_sibling_models_have_no_price(model):
    assert load_prices().price_for(model) is None


def test_flash_is_not_priced_as_plain_seed():
    table = load_prices()
    assert table.price_for("doubao-seed-1-6-flash-250828") != table.price_for("doubao-seed-1-6")


def test_cost_bills_cached_tokens_at_the_cached_price():
    # doubao-seed-1-6: 0.8 input, 0.16 cached, 8 output (CNY per million tokens)
    turn = usage(prompt=1_000_000, completion=500_000, cached=250_000)
    expected = Decimal("0.75") * Decimal("0.8") + Decimal("0.25") * Decimal("0.16") + 4
    assert cost(turn, "doubao-seed-1-6-250615") == expected


def test_cost_is_none_for_unknown_models():
    assert cost(usage(), "mystery-model") is None


def test_cost_falls_back_to_the_model_that_answered():
    turn = usage(prompt=1_000_000, model="doubao-seed-1-6-flash-250828")
    assert cost(turn, "ep-20250120174411-9h98m") == Decimal("0.15")


def test_cached_tokens_without_a_cached_price_give_no_cost():
    assert cost(usage(cached=10), "deepseek-v3-250324") is None
    assert cost(usage(cached=0), "deepseek-v3-250324") == Decimal(2)


def test_user_file_overrides_and_extends(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "prices_date": "2030-01-01",
                "models": {
                    "doubao-seed-1-6": {"input": 1, "cached_input": 0.5, "output": 10},
                    "ep-20250120174411-9h98m": {"input": 3, "cached_input": None, "output": 6},
                },
            }
        ),
        encoding="utf-8",
    )
    table = load_prices(path)
    assert table.prices_date == "2030-01-01"
    assert cost(usage(), "doubao-seed-1-6-250615", table) == Decimal(1)
    assert cost(usage(), "ep-20250120174411-9h98m", table) == Decimal(3)
    assert cost(usage(), "doubao-seed-1-6-flash", table) == Decimal("0.15")


@pytest.mark.parametrize("text", ["not json", "[]", '{"models": {"m": {"input": 1}}}'])
def test_a_broken_user_file_is_a_config_error(tmp_path, text):
    path = tmp_path / "prices.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_prices(path)


def test_missing_user_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load_prices(tmp_path / "nope.json")


def test_session_cost_sums_known_turns_and_flags_unknown_ones():
    turns = [(usage(), "doubao-seed-1-6-250615"), (usage(), "doubao-seed-1-6-flash-250828")]
    total = session_cost(turns)
    assert total.total == Decimal("0.95") and total.complete
    partial = session_cost([*turns, (usage(), "mystery")])
    assert partial.total == Decimal("0.95") and not partial.complete
