"""Token estimate, history trimming and the price table (no server needed)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chat_core.ark import Usage, estimate_tokens, trim_history
from chat_core.errors import ConfigError
from chat_core.pricing import (
    HeldTokens,
    cost,
    is_below_shown,
    load_prices,
    quote,
    session_cost,
    storage_estimate,
)


def usage(prompt=1_000, completion=0, cached=0, model=None, reasoning=0):
    return Usage(prompt, completion, cached, reasoning, model)


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


# --- prices: one hand-computed request per tier -------------------------------------------

M = Decimal(1_000_000)


@pytest.mark.parametrize(
    ("prompt", "cached", "completion", "expected"),
    [
        # Seed 2.0 Pro: ≤32k 3.2 in / 0.64 cached / 16 out; 32–128k 4.8 / 0.96 / 24;
        # 128–256k 9.6 / 1.92 / 48 (CNY per million tokens).
        (20_000, 5_000, 1_000, (15_000 * 3.2 + 5_000 * 0.64 + 1_000 * 16)),
        (32_000, 0, 500, (32_000 * 3.2 + 500 * 16)),  # the bound belongs to the lower tier
        (32_001, 0, 500, (32_001 * 4.8 + 500 * 24)),
        (100_000, 60_000, 2_000, (40_000 * 4.8 + 60_000 * 0.96 + 2_000 * 24)),
        (200_000, 150_000, 3_000, (50_000 * 9.6 + 150_000 * 1.92 + 3_000 * 48)),
    ],
)
def test_seed_2_0_pro_is_priced_by_the_tier_of_the_input_length(
    prompt, cached, completion, expected
):
    turn = usage(prompt=prompt, completion=completion, cached=cached)
    assert cost(turn, "doubao-seed-2-0-pro-260215") == Decimal(str(expected)) / M


def test_a_request_longer_than_the_last_tier_has_no_price():
    assert cost(usage(prompt=256_001), "doubao-seed-2-0-pro-260215") is None


@pytest.mark.parametrize(
    ("prompt", "completion", "output_rate"),
    [(10_000, 200, 2), (10_000, 201, 8), (50_000, 100, 16), (150_000, 100, 24)],
)
def test_seed_1_8_bills_short_replies_to_short_inputs_at_the_lower_rate(
    prompt, completion, output_rate
):
    input_rate = {10_000: "0.8", 50_000: "1.2", 150_000: "2.4"}[prompt]
    expected = (prompt * Decimal(input_rate) + completion * output_rate) / M
    assert cost(usage(prompt=prompt, completion=completion), "doubao-seed-1-8-251228") == expected


def test_seed_2_1_pro_flat_price():
    # 6 in, 1.2 cached, 30 out: 40k prompt (10k cached) and 2k out.
    turn = usage(prompt=40_000, cached=10_000, completion=2_000)
    expected = (30_000 * 6 + 10_000 * Decimal("1.2") + 2_000 * 30) / M
    assert cost(turn, "doubao-seed-2-1-pro-260628") == expected == Decimal("0.252")


def test_reasoning_tokens_are_billed_as_output():
    # Ark counts reasoning inside completion_tokens: 300 reasoning + 100 answer.
    turn = usage(prompt=1_000, completion=400, reasoning=300)
    assert cost(turn, "doubao-seed-2-1-pro-260628") == (1_000 * 6 + 400 * 30) / M


def test_cached_tokens_without_a_cached_price_give_no_cost():
    assert cost(usage(cached=10), "deepseek-v3-250324") is None
    assert cost(usage(cached=0), "deepseek-v3-250324") == Decimal(2_000) / M


@pytest.mark.parametrize("model", ["deepseek-v3-1-250821", "doubao-seed-1-6x", "ep-2025", "", None])
def test_unknown_models_have_no_price(model):
    assert load_prices().price_for(model) is None
    assert cost(usage(), model) is None


def test_older_versions_take_their_models_price():
    table = load_prices()
    assert table.price_for("doubao-seed-1-6-250615") is table.price_for("doubao-seed-1-6-251015")
    assert table.price_for("doubao-seed-1-6-flash-250828") != table.price_for("doubao-seed-1-6")


def test_an_endpoint_is_priced_as_the_model_it_serves_or_the_model_that_answered():
    endpoint = "ep-20250120174411-9h98m"
    assert cost(usage(), endpoint) is None
    assert cost(usage(), endpoint, alias="doubao-seed-2-1-pro-260628") == Decimal(6_000) / M
    answered = usage(model="doubao-seed-1-6-flash-250828")
    assert cost(answered, endpoint) == Decimal(150) / M


def test_an_unverified_price_says_so():
    assert quote(usage(), "doubao-seed-2-1-turbo-260628").unverified
    assert not quote(usage(), "doubao-seed-2-1-pro-260628").unverified


def test_tiny_costs_are_below_what_four_decimals_show():
    tiny = cost(usage(prompt=10, completion=0), "doubao-seed-2-0-mini-260428")
    assert tiny == Decimal("0.000002") and is_below_shown(tiny)
    assert not is_below_shown(Decimal("0.0001")) and not is_below_shown(Decimal(0))


def test_user_file_overrides_and_extends(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "models": {
                    "doubao-seed-1-6": {"input": 1, "cached_input": 0.5, "output": 10},
                    "ep-20250120174411-9h98m": {
                        "tiers": [
                            {"input_up_to": 1000, "input": 3, "cached_input": None, "output": 6},
                            {"input_up_to": None, "input": 5, "cached_input": None, "output": 6},
                        ]
                    },
                },
            }
        ),
        encoding="utf-8",
    )
    table = load_prices(path)
    assert cost(usage(), "doubao-seed-1-6-250615", table) == Decimal(1_000) / M
    assert cost(usage(), "ep-20250120174411-9h98m", table) == Decimal(3_000) / M
    assert cost(usage(prompt=2_000), "ep-20250120174411-9h98m", table) == Decimal(10_000) / M
    assert cost(usage(), "doubao-seed-1-6-flash", table) == Decimal(150) / M  # untouched
    assert quote(usage(), "ep-20250120174411-9h98m", table).unverified is False


def _tiers(*bounds) -> str:
    tiers = [{"input_up_to": bound, "input": 1, "output": 2} for bound in bounds]
    return json.dumps({"models": {"m": {"tiers": tiers}}})


def test_a_price_file_a_windows_editor_saved_is_read(tmp_path):
    path = tmp_path / "prices.json"
    text = json.dumps({"models": {"mystery-model": {"input": 1, "output": 2}}})
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())  # a byte-order mark first
    assert cost(usage(), "mystery-model", load_prices(path)) is not None


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"models": {"m": {"input": 1}}}',
        '{"models": {"m": {"input": -1, "output": 1}}}',
        '{"models": {"m": {"tiers": [{"input_up_to": 1.5, "input": 1, "output": 1}]}}}',
        _tiers(32000, 128000, 64000),  # a tier below the one before could never apply
        _tiers(32000, 32000),
        _tiers(-5, None),
        _tiers(0, None),
    ],
)
def test_a_broken_user_file_is_a_config_error(tmp_path, text):
    path = tmp_path / "prices.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_prices(path)


def test_missing_user_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load_prices(tmp_path / "nope.json")


def test_session_cost_sums_known_turns_and_flags_unknown_and_unverified_ones():
    turns = [(usage(), "doubao-seed-2-1-pro-260628"), (usage(), "doubao-seed-2-0-mini-260428")]
    total = session_cost(turns)
    assert total.total == Decimal("0.0062") and total.complete and not total.unverified
    partial = session_cost([*turns, (usage(), "mystery"), (usage(), "doubao-seed-evolving")])
    assert not partial.complete and partial.unverified and partial.priced == 3


# --- cache storage ---------------------------------------------------------------------------


def test_responses_storage_holds_every_turn_for_three_days():
    held = [HeldTokens(10_000, 0.0, "doubao-seed-2-1-pro-260628")] * 2
    estimate = storage_estimate(held, "responses", context_ttl=3600)
    assert estimate == 2 * 10_000 * 72 * Decimal("0.017") / M


def test_context_storage_holds_each_size_until_the_next_turn_and_the_last_for_its_ttl():
    model = "doubao-seed-1-8-251228"
    held = [HeldTokens(1_000, 0.0, model), HeldTokens(3_000, 5400.0, model)]
    # 1,000 tokens for 1.5 h (two started hours), then 3,000 tokens for the 2 h TTL.
    estimate = storage_estimate(held, "context", context_ttl=7200)
    assert estimate == (1_000 * 2 + 3_000 * 2) * Decimal("0.017") / M


def test_no_storage_estimate_without_a_cache_or_a_storage_price():
    held = [HeldTokens(1_000, 0.0, "doubao-seed-2-1-pro-260628")]
    assert storage_estimate(held, "off", context_ttl=3600) is None
    unpriced = [HeldTokens(1_000, 0.0, "doubao-seed-1-6-flash-250828")]
    assert storage_estimate(unpriced, "responses", context_ttl=3600) is None
