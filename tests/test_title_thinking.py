"""The thinking mode of a generated title's request: off where the chat's model takes
it, else the mode the model takes (a model that only thinks may refuse a request that
turns it off), with the title still plain text. Real store, real SDK, emulator."""

import httpx
import pytest

from chat_core import chat
from chat_core.ark import make_client
from chat_core.ark.titles import INSTRUCTION
from chat_core.config import load_settings
from chat_core.store import connect
from tests.conftest import EMULATOR_KEY

ONLY_THINKS = "doubao-seed-1-6-thinking-250715"  # its catalogue entry: thinking ["enabled"]
CAN_STOP = "doubao-seed-1-6-251015"  # enabled, disabled, auto


@pytest.fixture
def store(db_path):
    with connect(str(db_path)) as opened:
        yield opened


def settings_for(emu, db_path, model: str):
    emu.clear_faults()
    emu.clear_requests()
    return load_settings(
        env={
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": model,
            "ARK_MAX_RETRIES": "0",
            "ARK_THINKING": "enabled",
            "CHAT_DB": str(db_path),
            "CHAT_TITLES": "on",
        }
    )


def titled_chat(store, emu, db_path, model: str):
    """A chat's first turn on `model`; (its title, the title request's body)."""
    settings = settings_for(emu, db_path, model)
    http = httpx.Client(trust_env=False)
    try:
        session, _ = store.new_session("alice")
        with chat.send(
            store, settings, session, make_client(settings, http_client=http), "hi"
        ) as reply:
            list(reply)
    finally:
        http.close()
    (request,) = [r.body for r in emu.requests if _asks_title(r.body)]
    return store.get_session("alice", session.id).title, request


def _asks_title(body) -> bool:
    messages = (body or {}).get("messages") or []
    return bool(messages) and messages[0]["content"] == INSTRUCTION


def test_a_model_that_only_thinks_is_asked_for_a_title_with_thinking_on(store, emu, db_path):
    title, request = titled_chat(store, emu, db_path, ONLY_THINKS)
    assert request["thinking"] == {"type": "enabled"}
    # The emulator reasons ("Thinking about: …") before its echo: the title is the answer.
    assert title == "Echo: User: hi"


def test_a_model_that_can_stop_thinking_is_asked_for_a_title_with_thinking_off(store, emu, db_path):
    title, request = titled_chat(store, emu, db_path, CAN_STOP)
    assert request["thinking"] == {"type": "disabled"}  # the chat itself thinks
    assert title == "Echo: User: hi"
