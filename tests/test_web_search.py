"""Web search through a reply on a worker thread (real store on both backends, real SDK,
emulator): pages watching the reply are told while the model searches, then see the
answer, and the reply keeps the pages it cites."""

import httpx
import pytest

from chat_core import chat
from chat_core.ark import make_client
from chat_core.config import load_settings
from chat_core.runner import ReplyRunner
from tests.conftest import EMULATOR_KEY, emulator_fixture

MODEL = "doubao-seed-2-1-pro-260628"

emu = emulator_fixture(scope="module", token_delay=0.01)


@pytest.fixture
def settings(emu):
    emu.clear_requests()
    emu.search_seconds = 0.5  # a search takes a moment, so a watcher sees it running
    return load_settings(
        env={
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": MODEL,
            "ARK_MAX_RETRIES": "0",
            "ARK_THINKING": "disabled",
            "CHAT_TITLES": "off",
        }
    )


@pytest.fixture
def client(settings):
    with httpx.Client(trust_env=False) as http:
        yield make_client(settings, http_client=http)


@pytest.fixture
def replies(store):
    started = ReplyRunner(store)
    yield started
    started.shutdown()


def phases_until_done(live) -> list[str]:
    """Each phase a watching page is shown, in order, without repeats."""
    progress, seen = live.progress, [live.progress.phase]
    while not progress.done:
        progress = live.wait(progress.version, 5)
        if progress.phase != seen[-1]:
            seen.append(progress.phase)
    return seen


def searching_chat(store, *, web_search: bool):
    session, _ = store.new_session("alice")
    return store.update_settings("alice", session.id, cache_mode="responses", web_search=web_search)


def test_a_watching_page_is_told_while_the_model_searches(store, settings, client, replies):
    session = searching_chat(store, web_search=True)
    reply = chat.send(store, settings, session, client, "ark news today")
    phases = phases_until_done(replies.start(reply, "alice"))
    assert phases[0] == "waiting" and phases[-1] == "done"
    assert "searching" in phases and phases.index("searching") < phases.index("answering")
    stored = store.get_messages(session)[-1]
    assert stored.status == "complete" and len(stored.sources) == 3
    assert all(source["url"].startswith("https://search.example/") for source in stored.sources)


def test_without_web_search_there_is_no_search_phase(store, settings, client, replies):
    session = searching_chat(store, web_search=False)
    reply = chat.send(store, settings, session, client, "ark news today")
    assert "searching" not in phases_until_done(replies.start(reply, "alice"))
    assert not store.get_messages(session)[-1].sources
