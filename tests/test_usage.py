"""Usage figures: the store's aggregates on both backends against figures worked out by
hand from seeded replies, and their pricing against each reply's own cost."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType

import pytest

from chat_core.catalogue import parse_price
from chat_core.chat import message_cost
from chat_core.identity import login_identity
from chat_core.pricing import PriceTable
from chat_core.store.usage import EVERYONE, BandRates, Bands, UsageFilter
from chat_core.usage import (
    CSV_COLUMNS,
    band_rates,
    bands,
    dashboard,
    day_filter,
    is_admin,
    latencies,
    percentile,
    periods,
    price_group,
    usage_csv,
)
from tests.databases import run_sql

NO_BANDS = Bands()


def reply(day, clock="10:00:00", **fields):
    return {
        "role": "assistant",
        "content": "answer",
        "created_at": f"{day}T{clock}.000000+00:00",
        "status": "complete",
        **fields,
    }


def question(day, clock="09:59:00"):
    return {
        "role": "user",
        "content": "question",
        "created_at": f"{day}T{clock}.000000+00:00",
        "status": "complete",
    }


def tokens(prompt, cached, completion, reasoning=0, first=None, total=None):
    return {
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "completion_tokens": completion,
        "reasoning_tokens": reasoning,
        "first_token_ms": first,
        "latency_ms": total,
    }


@pytest.fixture
def seeded(store):
    """Alice: chat A (no mode of its own: the default, "off") and chat B (responses);
    Bob: chat C. 2026-03-02 is a Monday."""
    a = store.import_session(
        "alice",
        "chat A",
        [
            question("2026-03-02"),
            reply("2026-03-02", model="m1", **tokens(100, 0, 50, 10, 200, 1000)),
            question("2026-03-02", "23:58:00"),
            reply("2026-03-02", "23:59:59", model="m1", **tokens(300, 100, 20, 0, 400, 2000)),
            question("2026-03-03"),
            reply(
                "2026-03-03",
                model="m2",
                status="error",
                error_code="rate_limited",
                latency_ms=50,
            ),
        ],
    )
    b = store.import_session(
        "alice",
        "chat B",
        [
            question("2026-03-03"),
            reply(
                "2026-03-03",
                model="m1",
                status="interrupted",
                **tokens(1000, 800, 5, 0, 300, 3000),
            ),
            question("2026-03-09"),
            # cached above the prompt (a service's rounding) counts as the prompt
            reply("2026-03-09", model="m2", **tokens(50, 60, 10, 0, 250, 500)),
            question("2026-03-09", "11:00:00"),
            reply("2026-03-09", "11:00:01", model="m2", status="streaming", **tokens(9, 9, 9)),
        ],
        settings={"cache_mode": "responses"},
    )
    c = store.import_session(
        "bob",
        "chat C",
        [question("2026-03-02"), reply("2026-03-02", model="m1", **tokens(7, 0, 3))],
    )
    return a, b, c


def groups_by(groups, *keys):
    found = {}
    for g in groups:
        key = tuple(getattr(g, k) for k in keys)
        found.setdefault(key, []).append(g)
    return found


def summed(groups, field):
    return sum(getattr(g, field) for g in groups)


def test_groups_sum_an_owners_finished_replies_by_day_model_mode_and_status(store, seeded):
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=NO_BANDS)
    fields = ("replies", "with_usage", "prompt_tokens", "cached_tokens")
    fields += ("completion_tokens", "reasoning_tokens")
    found = groups_by(groups, "day", "model", "mode", "status", "error_code")
    rows = {key: tuple(summed(found[key], field) for field in fields) for key in found}
    assert rows == {
        ("2026-03-02", "m1", "off", "complete", ""): (2, 2, 400, 100, 70, 10),
        ("2026-03-03", "m2", "off", "error", "rate_limited"): (1, 0, 0, 0, 0, 0),
        ("2026-03-03", "m1", "responses", "interrupted", ""): (1, 1, 1000, 800, 5, 0),
        ("2026-03-09", "m2", "responses", "complete", ""): (1, 1, 50, 50, 10, 0),
    }


def test_the_default_mode_is_the_one_a_chat_without_its_own_runs_in(store, seeded):
    groups = store.usage_groups("alice", UsageFilter(), default_mode="context", bands=NO_BANDS)
    assert {g.mode for g in groups if g.model == "m1" and g.day == "2026-03-02"} == {"context"}


def test_dates_filter_on_utc_days_end_excluded(store, seeded):
    filters = day_filter(date(2026, 3, 3), date(2026, 3, 3))
    groups = store.usage_groups("alice", filters, default_mode="off", bands=NO_BANDS)
    assert sorted((g.day, g.model, g.status) for g in groups) == [
        ("2026-03-03", "m1", "interrupted"),
        ("2026-03-03", "m2", "error"),
    ]
    late = day_filter(date(2026, 3, 2), date(2026, 3, 2))
    groups = store.usage_groups("alice", late, default_mode="off", bands=NO_BANDS)
    assert summed(groups, "replies") == 2  # 23:59:59 is still the 2nd


def test_chats_last_active_a_day_before_the_start_are_skipped(store):
    """The queries skip chats whose activity time is over a day before the start; a
    chat whose time was set at its question (older rows) still counts its reply."""

    def chat_active_at(day_and_clock: str) -> None:
        session = store.import_session(
            "alice", "chat", [question("2026-03-05"), reply("2026-03-05", model="m1")]
        )
        with store.backend.writing() as tx:
            tx.execute(
                "UPDATE chat_session SET updated_at = ? WHERE id = ?",
                [f"{day_and_clock}.000000+00:00", session.id],
            )

    chat_active_at("2026-03-05T09:59:00")  # at the question, before the reply
    chat_active_at("2026-03-03T23:00:00")  # inconsistent on purpose: never read
    filters = UsageFilter(start="2026-03-05T09:59:30.000000+00:00")
    groups = store.usage_groups("alice", filters, default_mode="off", bands=NO_BANDS)
    assert summed(groups, "replies") == 1
    assert len(store.usage_rows("alice", filters)) == 1


def test_a_range_from_the_year_one_counts_every_reply(store, seeded):
    everything = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=NO_BANDS)
    filters = day_filter(date(1, 1, 1), date(9999, 12, 30))
    groups = store.usage_groups("alice", filters, default_mode="off", bands=NO_BANDS)
    assert summed(groups, "replies") == summed(everything, "replies") > 0


def test_a_reply_the_sweep_finishes_in_an_idle_chat_counts_on_its_day(store):
    """A new version of an old answer whose writer died: the sweep finishes it and
    the chat's activity time moves with it, so today's figures find it."""
    session = store.import_session(
        "alice", "old chat", [question("2026-03-05"), reply("2026-03-05", model="m1")]
    )
    asked = store.get_messages(session)[0]
    store.begin_reply(session, "m1", reply_to=asked.id)  # its writer dies here
    assert store.interrupt_stale_replies(0) == 1
    today = datetime.now(UTC).date()
    filters = day_filter(today, today)
    groups = store.usage_groups("alice", filters, default_mode="off", bands=NO_BANDS)
    assert [(g.status, g.replies) for g in groups] == [("interrupted", 1)]


def test_models_filter_in_the_database(store, seeded):
    filters = UsageFilter(models=("m2",))
    groups = store.usage_groups("alice", filters, default_mode="off", bands=NO_BANDS)
    assert {g.model for g in groups} == {"m2"} and summed(groups, "replies") == 2


def test_an_owner_sees_only_their_own_replies_and_everyone_sees_all(store, seeded):
    bob = store.usage_groups("bob", UsageFilter(), default_mode="off", bands=NO_BANDS)
    assert summed(bob, "replies") == 1 and summed(bob, "prompt_tokens") == 7
    nobody = store.usage_groups("carol", UsageFilter(), default_mode="off", bands=NO_BANDS)
    assert nobody == []
    everyone = store.usage_groups(EVERYONE, UsageFilter(), default_mode="off", bands=NO_BANDS)
    assert summed(everyone, "replies") == 6 and summed(everyone, "prompt_tokens") == 1457


def test_everyones_usage_counts_a_chat_in_its_owners_preferred_mode(store, seeded):
    # chat A has no mode of its own: Alice prefers "context", Bob set nothing
    store.set_preferences("alice", {"mode": "context"})
    store.set_preferences("bob", {"mode": "no-such-mode"})  # written by hand: ignored
    everyone = store.usage_groups(EVERYONE, UsageFilter(), default_mode="off", bands=NO_BANDS)
    complete = [g for g in everyone if g.status == "complete"]
    found = groups_by(complete, "day", "model", "mode")
    modes = {key: summed(found[key], "replies") for key in found}
    assert modes == {
        ("2026-03-02", "m1", "context"): 2,  # Alice's chat A
        ("2026-03-02", "m1", "off"): 1,  # Bob's chat C: the operator's default
        ("2026-03-09", "m2", "responses"): 1,  # chat B's own mode
    }
    rows = usage_csv(store, EVERYONE, UsageFilter(), PriceTable(), default_mode="off")
    by_chat = {(r["owner"], r["mode"]) for r in csv.DictReader(io.StringIO(rows))}
    assert by_chat == {("alice", "context"), ("alice", "responses"), ("bob", "off")}


def test_an_owner_is_required(store, seeded):
    for bad in ("", None, 3):
        with pytest.raises(ValueError):
            store.usage_groups(bad, UsageFilter(), default_mode="off", bands=NO_BANDS)


def test_bands_split_replies_by_prompt_and_reply_length(store, seeded):
    limits = Bands(prompt_bounds=(100, 500), reply_bounds=(20,))
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    found = {(g.day, g.model, g.status, g.prompt_band, g.reply_band): g.replies for g in groups}
    assert found == {
        ("2026-03-02", "m1", "complete", 0, 1): 1,  # 100 tokens in, 50 out
        ("2026-03-02", "m1", "complete", 1, 0): 1,  # 300 in, 20 out
        ("2026-03-03", "m2", "error", 0, 0): 1,  # no usage: band 0
        ("2026-03-03", "m1", "interrupted", 2, 0): 1,  # 1000 in
        ("2026-03-09", "m2", "complete", 0, 0): 1,
    }


def test_latency_histograms_and_percentiles(store, seeded):
    counts = store.latency_counts("alice", UsageFilter())
    found = {(c.model, c.measure, c.floor_ms): c.replies for c in counts}
    assert found == {
        ("m1", "first_token", 200): 1,
        ("m1", "first_token", 400): 1,
        ("m1", "first_token", 300): 1,
        ("m1", "total", 1000): 1,
        ("m1", "total", 2000): 1,
        ("m1", "total", 3000): 1,
        ("m2", "first_token", 250): 1,
        ("m2", "total", 50): 1,
        ("m2", "total", 500): 1,
    }
    by_key = {(x.model, x.measure): (x.replies, x.p50_ms, x.p95_ms) for x in latencies(counts)}
    assert by_key == {
        ("m1", "first_token"): (3, 300, 400),
        ("m1", "total"): (3, 2000, 3000),
        ("m2", "first_token"): (1, 250, 250),
        ("m2", "total"): (2, 50, 500),
    }


def test_latency_buckets_keep_two_significant_digits(store):
    times = [999, 1234, 56_789, 234_567]
    store.import_session(
        "dana",
        "timed",
        [reply("2026-01-01", model="m", latency_ms=ms) for ms in times],
    )
    counts = store.latency_counts("dana", UsageFilter())
    assert sorted(c.floor_ms for c in counts) == [999, 1230, 56_700, 234_000]


def test_percentile_is_the_nearest_rank():
    histogram = {10: 50, 20: 45, 30: 5}
    assert percentile(histogram, 0.5) == 10
    assert percentile(histogram, 0.51) == 20
    assert percentile(histogram, 0.95) == 20
    assert percentile(histogram, 0.96) == 30
    with pytest.raises(ValueError):
        percentile({}, 0.5)


def test_top_chats_rank_by_the_rates_handed_in(store, seeded):
    a, b, c = seeded
    rates = [
        BandRates("m1", "", 0, 0, input=2.0, cached_input=1.0, output=10.0),
        BandRates("m2", "", 0, 0, input=4.0, cached_input=None, output=8.0),
    ]
    top = store.top_chats(EVERYONE, UsageFilter(), bands=NO_BANDS, rates=rates)
    # A: m1 (400-100)*2 + 100*1 + 70*10 = 1400; m2 error has no usage.
    # B: m1 200*2 + 800*1 + 5*10 = 1250; m2 50 cached at an unknown rate: unpriced.
    # C: 7*2 + 3*10 = 44. Per million tokens.
    assert [(t.session_id, t.owner, t.title) for t in top] == [
        (a.id, "alice", "chat A"),
        (b.id, "alice", "chat B"),
        (c.id, "bob", "chat C"),
    ]
    assert [round(t.cost * 1e6, 6) for t in top] == [1400, 1250, 44]
    # Every finished reply counts (A's failed one, which reported no usage, too).
    assert [(t.replies, t.tokens, t.unpriced) for t in top] == [
        (3, 470, 0),
        (2, 1065, 1),
        (1, 10, 0),
    ]
    mine = store.top_chats("bob", UsageFilter(), bands=NO_BANDS, rates=rates, limit=5)
    assert [t.session_id for t in mine] == [c.id]
    assert (
        store.top_chats("alice", UsageFilter(), bands=NO_BANDS, rates=rates, limit=1)[0].title
        == "chat A"
    )


def test_top_chats_count_the_replies_of_a_model_without_a_price(store, seeded):
    _, b, _ = seeded
    rates = [BandRates("m1", "", 0, 0, input=2.0, cached_input=1.0, output=10.0)]
    top = {
        t.session_id: t
        for t in store.top_chats("alice", UsageFilter(), bands=NO_BANDS, rates=rates)
    }
    # B's m2 reply has no rate: counted in its replies and tokens, not in its cost.
    assert (round(top[b.id].cost * 1e6, 6), top[b.id].replies) == (1250, 2)
    assert (top[b.id].tokens, top[b.id].unpriced) == (1065, 1)


def test_usage_rows_page_through_the_filtered_replies(store, seeded):
    rows = store.usage_rows("alice", UsageFilter(), limit=2)
    assert [r["model"] for r in rows] == ["m1", "m1"]
    rest = store.usage_rows("alice", UsageFilter(), after=rows[-1]["id"], limit=10)
    assert [(r["model"], r["status"]) for r in rest] == [
        ("m2", "error"),
        ("m1", "interrupted"),
        ("m2", "complete"),
    ]
    assert "content" not in rows[0]
    assert store.usage_rows("alice", UsageFilter(models=("nope",))) == []


# --- pricing the groups ---------------------------------------------------------------------

TIERED = {
    "tiers": [
        {
            "input_up_to": 150,
            "input": 1,
            "cached_input": 0.5,
            "output": 4,
            "short_reply": {"max_output": 20, "output": 2},
        },
        {"input_up_to": 2000, "input": 3, "cached_input": 1, "output": 12},
    ]
}


def tiered_prices():
    return PriceTable(
        MappingProxyType({"m1": parse_price(TIERED), "m2": parse_price({"input": 5, "output": 7})})
    )


def test_group_costs_add_up_to_each_replys_own_cost(store, seeded):
    prices = tiered_prices()
    limits = bands(prices)
    assert 150 in limits.prompt_bounds and 20 in limits.reply_bounds
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    board = dashboard(groups, prices, limits)
    a, b, _ = seeded
    replies = [
        m
        for chat in (a, b)
        for m in store.get_messages(store.get_session("alice", chat.id))
        if m.role == "assistant" and m.status != "streaming"
    ]
    costs = [message_cost(m, prices) for m in replies]
    # m2 has no cached price: the reply with cached tokens is unpriced, as on its own
    assert costs.count(None) == 1 + 1  # and the error reply reported no usage
    assert board.totals.cost == sum(c for c in costs if c is not None)
    assert board.totals.unpriced == 1
    # by hand: 100 in at 1 + 50 out at 4 (not short) = 300; 200 at 3 + 100 at 1 + 20 at 12
    # = 940; 200 at 3 + 800 at 1 + 5 at 12 = 1460 (per million)
    assert board.totals.cost == Decimal(300 + 940 + 1460) / 1_000_000


def test_the_dashboard_sums_by_period_model_mode_and_status(store, seeded):
    prices = tiered_prices()
    limits = bands(prices)
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    daily = dashboard(groups, prices, limits)
    assert daily.models == ["m1", "m2"]
    assert daily.by_status == {"complete": 3, "interrupted": 1, "error": 1}
    assert daily.by_error == {"rate_limited": 1}
    assert daily.totals.replies == 5
    assert (daily.totals.prompt_tokens, daily.totals.cached_tokens) == (1450, 950)
    assert daily.totals.cache_hit_rate == pytest.approx(950 / 1450)
    assert daily.by_period_model["2026-03-02", "m1"].cost == Decimal(300 + 940) / 1_000_000
    weekly = dashboard(groups, prices, limits, weekly=True)
    assert sorted(weekly.by_period_model) == [
        ("2026-03-02", "m1"),
        ("2026-03-02", "m2"),
        ("2026-03-09", "m2"),
    ]
    week = weekly.by_period_mode["2026-03-02", "responses"]
    assert (week.prompt_tokens, week.cached_tokens) == (1000, 800)
    only_m2 = dashboard(groups, prices, limits, models=["m2"])
    assert only_m2.totals.replies == 2 and only_m2.models == ["m1", "m2"]


def test_band_rates_feed_the_ranking_with_the_prices_of_each_band(store, seeded):
    prices = tiered_prices()
    limits = bands(prices)
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    rates = band_rates(groups, prices, limits)
    top = store.top_chats("alice", UsageFilter(), bands=limits, rates=rates)
    a, b, _ = seeded
    assert [(t.session_id, round(t.cost * 1e6, 6)) for t in top] == [(b.id, 1460), (a.id, 1240)]


def test_replies_without_cached_tokens_keep_their_price_beside_ones_with_them(store):
    # m2 has no cached rate: of two replies on one day, in one band, only the one that
    # read cached tokens is unpriced. By hand: 120 in at 5 + 100 out at 7 = 1,300.
    chat = store.import_session(
        "alice",
        "mixed",
        [
            question("2026-03-02"),
            reply("2026-03-02", model="m2", **tokens(120, 0, 100)),
            question("2026-03-02", "11:00:00"),
            reply("2026-03-02", "11:00:01", model="m2", **tokens(100, 50, 30)),
        ],
    )
    prices = tiered_prices()
    limits = bands(prices)
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    assert {(g.prompt_band, g.reply_band) for g in groups} == {(0, 1)}  # one band
    board = dashboard(groups, prices, limits)
    assert (board.totals.cost, board.totals.unpriced) == (Decimal(1_300) / 1_000_000, 1)
    rates = band_rates(groups, prices, limits)
    (top,) = store.top_chats("alice", UsageFilter(), bands=limits, rates=rates)
    assert (top.session_id, round(top.cost * 1e6, 6), top.unpriced) == (chat.id, 1_300, 1)


def test_sums_past_the_largest_database_integer_still_add_up(store, db_location):
    # Counts no real reply has (stored before imports were bounded): summed, they pass
    # 2**63, where SQLite's sum() would fail the whole page.
    chat = store.import_session(
        "alice",
        "huge",
        [question("2026-03-02"), reply("2026-03-02", model="m1", **tokens(1, 0, 1))] * 2,
    )
    run_sql(
        db_location,
        "UPDATE chat_message SET prompt_tokens = ?, completion_tokens = ? WHERE role = ?",
        [2**62, 2**62, "assistant"],
    )
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=NO_BANDS)
    assert summed(groups, "prompt_tokens") == summed(groups, "completion_tokens") == 2**63
    rates = [BandRates("m1", "", 0, 0, input=1.0, cached_input=1.0, output=1.0)]
    (top,) = store.top_chats("alice", UsageFilter(), bands=NO_BANDS, rates=rates)
    assert (top.session_id, top.tokens, top.cost) == (chat.id, 2**64, 2**64 / 1e6)


def test_an_unknown_model_is_unpriced_not_free(store, seeded):
    prices = PriceTable()
    limits = bands(prices)
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    board = dashboard(groups, prices, limits)
    assert board.totals.cost == 0 and board.totals.unpriced == 4
    assert all(price_group(g, prices, limits).cost is None for g in groups if g.with_usage)


def test_a_continued_answer_is_priced_at_the_tier_of_its_largest_call(store):
    # Two calls of 120 and 140 tokens in (tier 1, up to 150) and 50 and 10 out: their
    # sums (260 in) would be tier 2's. By hand: 260 at 1 + 60 at 4 = 500 per million,
    # not 260 at 3 + 60 at 12 = 1500.
    continued = tokens(260, 0, 60) | {"tier_prompt_tokens": 140, "tier_completion_tokens": 50}
    chat = store.import_session(
        "alice", "long", [question("2026-03-02"), reply("2026-03-02", model="m1", **continued)]
    )
    prices = tiered_prices()
    limits = bands(prices)
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    assert [(g.prompt_band, g.reply_band, g.prompt_tokens) for g in groups] == [(0, 1, 260)]
    expected = Decimal(500) / 1_000_000
    assert dashboard(groups, prices, limits).totals.cost == expected
    (_, answer) = store.get_messages(store.get_session("alice", chat.id))
    assert message_cost(answer, prices) == expected
    text = usage_csv(store, "alice", UsageFilter(), prices, default_mode="off")
    assert [Decimal(row["cost_cny"]) for row in csv.DictReader(io.StringIO(text))] == [expected]
    rates = band_rates(groups, prices, limits)
    (top,) = store.top_chats("alice", UsageFilter(), bands=limits, rates=rates)
    assert round(top.cost * 1e6, 6) == 500


def test_the_csv_holds_the_filtered_replies_with_their_own_costs(store, seeded):
    prices = tiered_prices()
    text = usage_csv(store, "alice", UsageFilter(models=("m1",)), prices, default_mode="off")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["model"], r["mode"], r["status"], r["prompt_tokens"]) for r in rows] == [
        ("m1", "off", "complete", "100"),
        ("m1", "off", "complete", "300"),
        ("m1", "responses", "interrupted", "1000"),
    ]
    assert [Decimal(r["cost_cny"]) * 1_000_000 for r in rows] == [300, 940, 1460]
    # cached above the prompt (a service's rounding) counts as the prompt, as on the page
    text = usage_csv(store, "alice", UsageFilter(models=("m2",)), prices, default_mode="off")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["prompt_tokens"], r["cached_tokens"]) for r in rows if r["prompt_tokens"]] == [
        ("50", "50")
    ]


def test_csv_cells_a_spreadsheet_would_run_are_quoted(store):
    store.import_session(
        "eve", "t", [reply("2026-01-01", model="=HYPERLINK(1)", **tokens(1, 0, 1))]
    )
    text = usage_csv(store, "eve", UsageFilter(), PriceTable(), default_mode="off")
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["model"] == "'=HYPERLINK(1)" and row["cost_cny"] == ""


# --- admins ------------------------------------------------------------------------------------


ISSUER = "https://id.example"
OTHER_ISSUER = "https://other.example"


def login(sub: str, issuer: str = ISSUER, **claims) -> tuple[str, dict]:
    """The owner key and the claims of a login."""
    claims = {"iss": issuer, "sub": sub, **claims}
    return login_identity(claims).owner, claims


@pytest.mark.parametrize(
    ("owner", "claims", "admin"),
    [
        (*login("sub-1"), True),
        (*login("sub-1", OTHER_ISSUER), True),  # a bare subject: of any provider
        (*login("sub-3"), True),  # named with its provider
        (*login("sub-3", OTHER_ISSUER), False),
        (*login("sub-2", email="Boss@Example.com", email_verified=True), True),
        (*login("sub-2", email="boss@example.com"), False),  # unverified
        (*login("mallory#sub-1"), False),  # a subject that ends like an admin's
        (*login("x" * 300, email="boss@example.com", email_verified="true"), True),  # hashed key
        ("oidc:https://id.example#sub-1", {"iss": ISSUER, "sub": "sub-2"}, False),  # not theirs
        ("oidc:https://id.example#sub-1", {}, False),
        ("email:boss@example.com", {}, True),
        ("email:other@example.com", {}, False),
        ("user:sub-1", {}, True),
        ("user:Boss@Example.com", {}, True),  # a proxy whose user value is an email
        ("user:other@example.com", {}, False),
        ("local", {"email": "boss@example.com", "email_verified": True}, False),
    ],
)
def test_admins_by_email_or_subject(owner, claims, admin):
    admins = ["boss@example.com", " sub-1 ", "", f"{ISSUER}#sub-3"]
    assert is_admin(owner, claims, admins) is admin


def test_an_admins_address_is_not_another_that_folds_alike():
    admins = ["boss@fass.de"]
    assert not is_admin("email:boss@faß.de", {}, admins)
    assert not is_admin("user:Boss@Faß.de", {}, admins)
    assert is_admin("email:boss@fass.de", {}, admins)


def test_nobody_is_an_admin_without_a_list():
    assert not is_admin("email:boss@example.com", {}, [])


# --- chart axes ------------------------------------------------------------------------------


def test_periods_lay_out_every_day_or_week_of_a_range():
    assert periods(date(2026, 1, 30), date(2026, 2, 2), weekly=False) == [
        "2026-01-30",
        "2026-01-31",
        "2026-02-01",
        "2026-02-02",
    ]
    # weeks start on Monday: 2026-01-30 is a Friday
    assert periods(date(2026, 1, 30), date(2026, 2, 10), weekly=True) == [
        "2026-01-26",
        "2026-02-02",
        "2026-02-09",
    ]


def test_a_range_of_centuries_gets_no_laid_out_axis():
    assert periods(date(1, 1, 1), date(9999, 12, 31), weekly=True) is None
    assert len(periods(date(2026, 1, 1), date(2026, 12, 31), weekly=False)) == 365
