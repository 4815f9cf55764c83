"""A reply keeps the catalogue model its endpoint served when it was asked (its alias),
which prices it: in its cost line, its chat's sum and on the Usage page, whatever its
chat says later, and also when the chat took the alias from its owner's preferences.
Real store files (both backends for the store's part), the real SDK, the emulator."""

import csv
import io
import json
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

import httpx
import pytest

from chat_core import chat, continuation, preferences
from chat_core.ark import make_client
from chat_core.catalogue import parse_price
from chat_core.config import load_settings
from chat_core.pricing import PriceTable, cost, load_prices
from chat_core.store import connect
from chat_core.store.usage import UsageFilter
from chat_core.temporary import TemporaryChat
from chat_core.transfer import export_json, import_json
from chat_core.usage import band_rates, bands, dashboard, usage_csv
from tests.conftest import EMULATOR_KEY
from tests.databases import run_sql

PRO = "doubao-seed-2-1-pro-260628"  # 6 in, 30 out per million
MINI = "doubao-seed-2-0-mini-260428"  # 0.2 in, 2 out per million
ENDPOINT = "ep-test"  # no price of its own


def settings_of(emu, db_path, **extra):
    env = {
        "ARK_API_KEY": EMULATOR_KEY,
        "ARK_BASE_URL": emu.base_url,
        "ARK_MODEL": "ep-operator",
        "ARK_MAX_RETRIES": "0",
        "ARK_THINKING": "disabled",
        "ARK_CACHE": "off",
        "CHAT_DB": str(db_path),
        "CHAT_TITLES": "off",
    }
    return load_settings(env={**env, **extra})


@pytest.fixture
def operator(emu, db_path):
    return settings_of(emu, db_path)


@pytest.fixture
def client(operator):
    http = httpx.Client(trust_env=False)
    yield make_client(operator, http_client=http)
    http.close()


@pytest.fixture
def sqlite_store(db_path):
    with connect(str(db_path)) as opened:
        yield opened


def run(reply) -> None:
    with reply:
        for _ in reply:
            pass


def last_reply(store, session):
    return store.get_messages(store.get_session(session.owner, session.id))[-1]


def own_cost(message, model):
    """What `message` costs at `model`'s price, worked out apart from its stored alias."""
    return cost(chat.message_usage(message), model, load_prices())


def page_prices(settings, session):
    """The chat page's price table (as `ui.runtime.prices` makes it): the chat's
    endpoint priced as the model the chat says it serves now."""
    chosen = chat.effective(session, settings)
    return load_prices().serving(chosen["model"], chosen["model_alias"])


def usage_costs(store, owner, prices):
    """The Usage page's total, its top chats' costs and the CSV's costs."""
    limits = bands(prices)
    groups = store.usage_groups(owner, UsageFilter(), default_mode="off", bands=limits)
    total = dashboard(groups, prices, limits).totals.cost
    rates = band_rates(groups, prices, limits)
    top = [c.cost for c in store.top_chats(owner, UsageFilter(), bands=limits, rates=rates)]
    text = usage_csv(store, owner, UsageFilter(), prices, default_mode="off")
    rows = [row["cost_cny"] for row in csv.DictReader(io.StringIO(text))]
    return total, top, [Decimal(r) if r else None for r in rows]


# --- asked through the app's own turns (SQLite, the emulator) ------------------------------


def test_a_reply_in_a_chat_following_the_preferred_endpoint_is_priced_on_the_usage_page(
    sqlite_store, operator, client
):
    sqlite_store.set_preferences("alice", {"model": ENDPOINT, "model_alias": PRO, "mode": "off"})
    chosen = preferences.read(sqlite_store.preferences("alice"))
    settings = preferences.apply(operator, chosen)
    session, _ = sqlite_store.new_session("alice")
    run(chat.send(sqlite_store, settings, session, client, "price me #tokens=300"))
    reply = last_reply(sqlite_store, session)
    assert (reply.model, reply.model_alias) == (ENDPOINT, PRO)
    session = sqlite_store.get_session("alice", session.id)
    assert session.model is None and session.model_alias is None  # it follows them
    expected = own_cost(reply, PRO)
    assert expected > 0
    total, top, rows = usage_costs(sqlite_store, "alice", load_prices())
    assert total == expected and rows == [expected]
    assert top == [pytest.approx(float(expected))]


def test_changing_the_chats_model_leaves_its_earlier_replies_priced_as_they_were(
    sqlite_store, operator, client
):
    session, _ = sqlite_store.new_session("alice")
    session = sqlite_store.update_settings("alice", session.id, model=ENDPOINT, model_alias=PRO)
    run(chat.send(sqlite_store, operator, session, client, "price me #tokens=300"))
    first = last_reply(sqlite_store, session)
    session = sqlite_store.update_settings("alice", session.id, model_alias=MINI)
    run(chat.send(sqlite_store, operator, session, client, "and me #tokens=300"))
    second = last_reply(sqlite_store, session)
    assert (first.model_alias, second.model_alias) == (PRO, MINI)
    at_pro, at_mini = own_cost(first, PRO), own_cost(second, MINI)
    assert own_cost(first, MINI) != at_pro

    table = page_prices(operator, session)  # the endpoint serves MINI now
    assert chat.message_cost(first, table) == at_pro
    assert chat.message_cost(second, table) == at_mini
    assert chat.chat_cost(sqlite_store, session, table, operator).total == at_pro + at_mini
    total, top, rows = usage_costs(sqlite_store, "alice", load_prices())
    assert rows == [at_pro, at_mini] and total == at_pro + at_mini
    assert top == [pytest.approx(float(at_pro + at_mini))]


def cut_answer(store, settings, client):
    """A chat on ENDPOINT serving PRO, and its answer cut at the token limit."""
    session, _ = store.new_session("alice")
    session = store.update_settings("alice", session.id, model=ENDPOINT, model_alias=PRO)
    run(chat.send(store, settings, session, client, "#tokens=8"))
    return session, last_reply(store, session)


def test_answers_again_take_the_alias_of_their_moment_and_a_continued_one_keeps_its_own(
    sqlite_store, emu, db_path, client
):
    settings = settings_of(emu, db_path, ARK_MAX_TOKENS="5")
    session, cut = cut_answer(sqlite_store, settings, client)
    assert cut.finish_reason == "length" and cut.model_alias == PRO
    session = sqlite_store.update_settings("alice", session.id, model_alias=MINI)
    run(continuation.continue_reply(sqlite_store, settings, session, client))
    continued = last_reply(sqlite_store, session)
    assert continued.id == cut.id and continued.model_alias == PRO

    run(chat.regenerate(sqlite_store, settings, session, client, cut.id))
    again = last_reply(sqlite_store, session)
    assert again.id != cut.id and again.model_alias == MINI
    question = sqlite_store.get_message(session, again.parent_id)
    session = sqlite_store.update_settings("alice", session.id, model=None, model_alias=None)
    run(chat.edit(sqlite_store, settings, session, client, question.id, "edited #tokens=2"))
    edited = last_reply(sqlite_store, session)
    assert (edited.model, edited.model_alias) == ("ep-operator", None)  # none said
    assert sqlite_store.get_message(session, cut.id).model_alias == PRO


def test_continuing_an_answer_older_than_reply_aliases_gives_it_the_chats_alias_of_now(
    sqlite_store, emu, db_path, client
):
    settings = settings_of(emu, db_path, ARK_MAX_TOKENS="5")
    session, cut = cut_answer(sqlite_store, settings, client)
    run_sql(str(db_path), "UPDATE chat_message SET model_alias = NULL WHERE id = ?", (cut.id,))
    run(continuation.continue_reply(sqlite_store, settings, session, client))
    continued = last_reply(sqlite_store, session)
    assert continued.id == cut.id and continued.model_alias == PRO  # asked of it now


def test_a_saved_temporary_chat_keeps_the_alias_its_reply_was_asked_with(
    sqlite_store, operator, client
):
    settings = replace(operator, model=ENDPOINT, model_alias=PRO)  # the default model
    temporary = TemporaryChat("alice")
    run(temporary.send(settings, client, "price me #tokens=300", max_chars=1000))
    assert temporary.messages[-1].model_alias == PRO
    saved = temporary.save(sqlite_store)
    assert saved.model_alias is None  # the chat follows the defaults
    reply = last_reply(sqlite_store, saved)
    assert reply.model_alias == PRO
    total, _, _ = usage_costs(sqlite_store, "alice", load_prices())
    assert total == own_cost(reply, PRO) > 0


# --- the store and the Usage page on both backends -----------------------------------------

FLAT = {"served-a": {"input": 1, "output": 2}, "served-b": {"input": 10, "output": 20}}


def flat_prices():
    return PriceTable(MappingProxyType({k: parse_price(v) for k, v in FLAT.items()}))


def answer(alias=None, prompt=1000, completion=100):
    fields = {"model_alias": alias} if alias else {}
    return {
        "role": "assistant",
        "content": "answer",
        "created_at": "2026-03-02T10:00:00.000000+00:00",
        "status": "complete",
        "model": "ep-x",
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        **fields,
    }


def ask():
    return {
        "role": "user",
        "content": "question",
        "created_at": "2026-03-02T09:59:00.000000+00:00",
        "status": "complete",
    }


def test_the_usage_page_prices_a_reply_by_its_own_alias_else_by_its_chats(store):
    # The chat says its endpoint serves served-b now; its first reply was served by
    # served-a, its second predates replies keeping their alias. By hand: 1000 in at 1
    # and 100 out at 2 = 1200 per million; 1000 at 10 and 100 at 20 = 12000.
    settings = {"model": "ep-x", "model_alias": "served-b"}
    store.import_session(
        "alice", "mixed", [ask(), answer("served-a"), ask(), answer()], settings=settings
    )
    (session,) = store.list_sessions("alice")
    replies = sorted(store.reply_usage(session), key=lambda m: m.id)
    assert [m.model_alias for m in replies] == ["served-a", None]
    prices = flat_prices()
    first, second = Decimal(1200) / 10**6, Decimal(12000) / 10**6
    limits = bands(prices)
    groups = store.usage_groups("alice", UsageFilter(), default_mode="off", bands=limits)
    assert sorted(g.alias for g in groups) == ["served-a", "served-b"]
    total, top, rows = usage_costs(store, "alice", prices)
    assert rows == [first, second] and total == first + second
    assert top == [pytest.approx(float(first + second))]
    table = prices.serving("ep-x", "served-b")  # as the chat page prices it
    assert chat.chat_cost(store, session, table).total == first + second


def test_an_older_reply_of_another_endpoint_is_not_priced_as_the_chats_endpoint_of_now(
    store,
):
    # Its chat was moved from ep-x (nothing said of what it serves) to ep-y serving
    # served-b: the reply, older than replies keeping their alias, was not served-b's.
    settings = {"model": "ep-y", "model_alias": "served-b"}
    store.import_session("alice", "moved", [ask(), answer()], settings=settings)
    (session,) = store.list_sessions("alice")
    prices = flat_prices()
    total, top, rows = usage_costs(store, "alice", prices)
    assert rows == [None] and total == 0 and top == []
    spent = chat.chat_cost(store, session, prices.serving("ep-y", "served-b"))
    assert spent.total == 0 and not spent.complete


# --- export, import -----------------------------------------------------------------------


def test_export_and_import_keep_each_replys_alias(store):
    chat_made = store.import_session("alice", "kept", [ask(), answer("served-a")])
    document = export_json(store, "alice", chat_made.id)
    assert json.loads(document)["messages"][1]["model_alias"] == "served-a"
    imported = import_json(store, "alice", document)
    assert [m.model_alias for m in store.get_messages(imported)] == [None, "served-a"]
