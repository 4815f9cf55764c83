"""AppTest: costs as the page shows them (against a real SQLite file and the emulator): a
cost too small for four decimals, an unverified price, and the cache storage of a
caching mode shown apart as an estimate; and what the Context API does with images."""

from decimal import Decimal

import pytest

from chat_core.chat import chat_storage_cost, message_quote
from chat_core.config import load_settings
from chat_core.pricing import load_prices
from chat_core.store import connect
from tests.test_app import app, close_clients, env, labelled, param  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("env")  # on `db_path`, ARK_MODEL=ep-test unless set

CHEAP = "doubao-seed-2-0-mini-260428"  # 0.2 in, 2 out per million: a short turn is tiny
UNVERIFIED = "doubao-seed-2-1-turbo-260628"


def replies(db_path):
    with connect(db_path) as store:
        (session,) = [s for s in store.list_sessions("local") if s.is_used]
        return store, session, [m for m in store.get_messages(session) if m.role == "assistant"]


def header(at) -> str:
    """The caption under the chat's title: model, mode and the chat's costs."""
    (found,) = [c.value for c in at.caption if " · This chat: " in c.value]
    return found


def test_a_cost_under_a_ten_thousandth_of_a_yuan_shows_as_below_it(db_path, monkeypatch):
    monkeypatch.setenv("ARK_MODEL", CHEAP)
    at = app().run()
    at.chat_input(key="chat_input").set_value("hi").run()
    _, _, (reply,) = replies(db_path)
    quote = message_quote(reply, load_prices())
    assert Decimal(0) < quote.amount < Decimal("0.0001")
    caption = at.chat_message[1].caption[0].value
    assert " · < ¥0.0001 · " in caption and "¥0.0000" not in caption
    assert header(at).endswith(" · This chat: < ¥0.0001")


def test_an_unverified_price_is_labelled_with_the_cost(db_path, monkeypatch):
    monkeypatch.setenv("ARK_MODEL", UNVERIFIED)
    at = app().run()
    at.chat_input(key="chat_input").set_value("price me #tokens=3000").run()
    _, _, (reply,) = replies(db_path)
    cost = message_quote(reply, load_prices()).amount
    assert f" · ¥{cost:.4f} · unverified price · " in at.chat_message[1].caption[0].value
    assert f"This chat: ¥{cost:.4f} · unverified price" in header(at)


def test_a_responses_chat_shows_its_cache_storage_apart_as_an_estimate(db_path, monkeypatch):
    monkeypatch.setenv("ARK_MODEL", CHEAP)
    monkeypatch.setenv("ARK_CACHE", "responses")
    at = app().run()
    at.chat_input(key="chat_input").set_value("#input_tokens=100000 a long one").run()
    store, session, (reply,) = replies(db_path)
    with store:
        storage = chat_storage_cost(store, session, load_settings(), load_prices())
    held = reply.prompt_tokens + reply.completion_tokens - (reply.reasoning_tokens or 0)
    # 0.017 CNY per million tokens an hour, for the three days a response is kept
    assert storage == Decimal(held) * Decimal("0.017") * 72 / 1_000_000
    cost = message_quote(reply, load_prices()).amount
    assert header(at).endswith(
        f" · This chat: ¥{cost:.4f} · cache storage ≈ ¥{storage:.4f} (estimate)"
    )


def test_the_context_api_says_earlier_images_are_kept_as_text_only():
    at = app().run()  # an endpoint: the Context API is offered
    note = "the cached context keeps only the text of earlier messages"
    assert not [c for c in at.caption if note in c.value]
    labelled(at.selectbox, "Conversation mode").set_value("context").run()
    assert [c for c in at.caption if note in c.value]


def test_the_default_model_prices_a_long_input_at_its_tier(db_path, monkeypatch):
    monkeypatch.delenv("ARK_MODEL")  # the app's default: Seed 2.0 Lite, priced in tiers
    at = app().run()
    at.chat_input(key="chat_input").set_value("#input_tokens=40000 #tokens=1000 long").run()
    _, _, (reply,) = replies(db_path)
    assert (reply.model, reply.prompt_tokens, reply.completion_tokens) == (
        "doubao-seed-2-0-lite-260428",
        40_000,
        1_000,
    )
    # 32k–128k tier: 0.9 per million input tokens, 5.4 per million output tokens
    assert " · ¥0.0414 · " in at.chat_message[1].caption[0].value  # 0.036 + 0.0054


def test_an_endpoint_said_to_serve_a_catalogue_model_is_priced_as_that_model(db_path):
    at = app().run()  # ARK_MODEL=ep-test: no price of its own
    sid = param(at)
    labelled(at.selectbox, "Model this endpoint serves").set_value(
        "doubao-seed-2-1-pro-260628"
    ).run()
    at.button(key=f"settings-save-{sid}").click().run()
    at.chat_input(key="chat_input").set_value("price me #tokens=3000").run()
    _, _, (reply,) = replies(db_path)
    assert reply.model == "ep-test"
    # Seed 2.1 Pro: 6 per million input tokens, 30 per million output tokens
    expected = (Decimal(reply.prompt_tokens) * 6 + Decimal(reply.completion_tokens) * 30) / 10**6
    assert f" · ¥{expected:.4f} · " in at.chat_message[1].caption[0].value
    assert header(at).endswith(f" · This chat: ¥{expected:.4f}")


def test_an_endpoint_the_preferences_say_serves_a_model_is_priced_as_it(db_path):
    served = "doubao-seed-2-1-pro-260628"
    with connect(db_path) as store:  # the default model, the model it serves, the mode
        store.set_preferences("local", {"model": "ep-test", "model_alias": served, "mode": "off"})
    at = app().run()
    at.chat_input(key="chat_input").set_value("price me #tokens=3000").run()
    store, session, (reply,) = replies(db_path)
    assert session.model is None and session.model_alias is None  # it follows them
    cost = message_quote(reply, load_prices().serving("ep-test", served)).amount
    assert cost > 0
    assert f" · ¥{cost:.4f} · " in at.chat_message[1].caption[0].value
    assert f"This chat: ¥{cost:.4f}" in header(at)
