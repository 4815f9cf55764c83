"""Web search through a reply on a worker thread (real store on both backends, real SDK,
emulator): pages watching the reply are told while the model searches, then see the
answer, and the reply keeps the pages it cites."""

import pytest

from chat_core import chat
from chat_core.config import load_settings
from chat_core.runner import ReplyRunner
from tests.conftest import EMULATOR_KEY, emulator_fixture

MODEL = "doubao-seed-2-1-pro-260628"

emu = emulator_fixture(scope="module", token_delay=0.01)


@pytest.fixture
def settings(emu):
    emu.clear_requests()
    emu.search_seconds = 2.0  # long enough for a watcher on a busy machine to see it
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
def replies(store):
    started = ReplyRunner(store)
    yield started
    started.shutdown()


def phases_until_done(live) -> tuple[list[str], object]:
    """Each phase a watching page is shown, in order, without repeats (a phase shorter
    than the watcher's wake-up may be missed), and the final progress."""
    progress, seen = live.progress, [live.progress.phase]
    while not progress.done:
        progress = live.wait(progress.version, 5)
        if progress.phase != seen[-1]:
            seen.append(progress.phase)
    return seen, progress


def searching_chat(store, *, web_search: bool):
    session, _ = store.new_session("alice")
    return store.update_settings("alice", session.id, cache_mode="responses", web_search=web_search)


def test_a_watching_page_is_told_while_the_model_searches(store, settings, client, replies):
    session = searching_chat(store, web_search=True)
    reply = chat.send(store, settings, session, client, "ark news today")
    phases, final = phases_until_done(replies.start(reply, "alice"))
    # a busy machine may start the watcher after the search began
    assert phases[0] in ("waiting", "searching") and "searching" in phases
    assert phases[-1] == "done"
    assert final.answer_at is not None and final.searching_since is None  # then it answered
    stored = store.get_messages(session)[-1]
    assert stored.status == "complete" and len(stored.sources) == 3
    assert all(source["url"].startswith("https://search.example/") for source in stored.sources)


def test_without_web_search_there_is_no_search_phase(store, settings, client, replies):
    session = searching_chat(store, web_search=False)
    reply = chat.send(store, settings, session, client, "ark news today")
    phases, final = phases_until_done(replies.start(reply, "alice"))
    assert "searching" not in phases and final.answer_at is not None
    assert not store.get_messages(session)[-1].sources
