"""A reply's final save that the store refuses (another process holding the SQLite file
locked, the PostgreSQL server away): tried again for a while, its text shown whole
meanwhile, and, if it never goes in, shown whole on its own page with why. Real
SQLite files, a real PostgreSQL server, the real SDK against the emulator."""

import contextlib
import sqlite3
import threading
import time

import pytest

from chat_core import chat, runner
from chat_core.config import load_settings
from chat_core.runner import ReplyRunner
from chat_core.store import connect
from locales import describe
from tests.conftest import EMULATOR_KEY, emulator_fixture
from tests.test_app import app, close_clients, env, param, texts  # noqa: F401 (fixtures)
from tests.test_database_errors import locked_by_another_process
from tests.test_runner import reply_with_text_saved, wait_done, wait_for

emu = emulator_fixture(scope="module", api_key=EMULATOR_KEY, ttft=0.02, token_delay=0.01)
PROMPT = "#tokens=60 an answer"  # 0.6 s of tokens
WHOLE = " ".join(f"w{n}" for n in range(1, 61))
LONG_PROMPT = "#tokens=200 a long answer"  # 2 s of tokens
LONG_WHOLE = " ".join(f"w{n}" for n in range(1, 201))
NOT_SAVED = "end of this reply was not saved"


@pytest.fixture
def settings(emu):
    return load_settings(
        env={
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": "ep-test-model",
            "ARK_MAX_RETRIES": "0",
            "ARK_THINKING": "disabled",
        }
    )


# --- the runner -------------------------------------------------------------------------------


def test_a_final_save_refused_a_while_goes_in_once_the_store_takes_it(tmp_path, settings, client):
    path = tmp_path / "chat.db"
    with reply_with_text_saved(path, settings, client, PROMPT) as (store, session, live):
        with locked_by_another_process(path):
            # The stream has ended and the final save failed: pages see all that arrived.
            wait_for(lambda: live.progress.message.content == WHOLE)
            time.sleep(1.0)  # past the first tries
            assert not live.progress.done  # still its writer's: pages watch it as such
        final = wait_done(live)
        stored = store.get_messages(session)[-1]
    assert final.error is None
    assert (stored.status, stored.content) == ("complete", WHOLE)
    assert final.message == stored


def test_a_final_save_refused_for_good_ends_with_all_that_arrived(
    tmp_path, settings, client, monkeypatch
):
    monkeypatch.setattr(runner, "END_RETRY_SECONDS", 1.0)
    path = tmp_path / "chat.db"
    with reply_with_text_saved(path, settings, client, PROMPT) as (store, session, live):
        with locked_by_another_process(path):
            final = wait_done(live)
        stored = store.get_messages(session)[-1]
    assert final.error.code == "reply_end_busy"
    assert NOT_SAVED in describe("en", final.error)
    assert final.message.content == WHOLE
    # The row keeps the text saved before the lock, untouched; the sweep finishes it later.
    assert stored.status == "streaming"
    assert stored.content and WHOLE.startswith(stored.content) and stored.content != WHOLE


def test_a_reply_the_model_failed_keeps_its_own_error_when_its_end_is_not_saved(
    tmp_path, settings, client, monkeypatch, emu
):
    monkeypatch.setattr(runner, "END_RETRY_SECONDS", 1.0)
    emu.fail_next("content_filter", after_tokens=40)
    path = tmp_path / "chat.db"
    with (
        reply_with_text_saved(path, settings, client, PROMPT) as (_, _, live),
        locked_by_another_process(path),
    ):
        final = wait_done(live)
    # Moderation stopped it: that is what the page says, with all that arrived.
    assert final.error.code == "reply_filtered"
    assert final.message.content.strip() == " ".join(f"w{n}" for n in range(1, 41))


def test_a_first_answer_whose_end_goes_in_on_a_retry_gets_its_generated_title(
    tmp_path, settings, client
):
    assert settings.generated_titles
    path = tmp_path / "chat.db"
    with reply_with_text_saved(path, settings, client, PROMPT) as (store, session, live):
        with locked_by_another_process(path):
            wait_for(lambda: live.progress.message.content == WHOLE)
            time.sleep(1.0)  # past the first tries
        final = wait_done(live)
        titled = store.get_session(session.owner, session.id)
    assert final.error is None
    assert titled.title and titled.title != PROMPT  # the model's title, not the question


def test_a_reply_ending_while_the_postgres_server_is_away_is_saved_when_it_returns(
    postgres_server, postgres_url, settings, client
):
    server = postgres_server
    with connect(postgres_url, busy_timeout=1.0) as store:
        replies = ReplyRunner(store)
        back = threading.Timer(14.0, server.start)  # well after the recorder's own tries
        try:
            session, _ = store.new_session("alice")
            sent = chat.send(store, settings, session, client, LONG_PROMPT)
            live = replies.start(sent, "alice")
            wait_for(lambda: bool(live.progress.message and live.progress.message.content))
            server.stop()
            back.start()
            wait_for(lambda: live.progress.done or live.progress.message.content == LONG_WHOLE, 25)
            assert not live.progress.done  # pages see all that arrived, as its writer's
            final = wait_done(live)
        finally:
            with contextlib.suppress(RuntimeError):  # not started: the server never stopped
                back.join()  # the server runs again, whatever happened
            replies.shutdown()
        stored = store.get_messages(session)[-1]
    assert final.error is None
    assert (stored.status, stored.content) == ("complete", LONG_WHOLE)


# --- the page -------------------------------------------------------------------------------


@contextlib.contextmanager
def locked_once_text_is_saved(path):
    """Another process locks the SQLite file at `path` as soon as a streaming reply's row
    holds some text, until the block ends."""
    release, taken = threading.Event(), threading.Event()

    def lock_when_saved():
        while not release.is_set() and not _text_saved(path):
            time.sleep(0.01)
        if release.is_set():
            return
        with locked_by_another_process(path):
            taken.set()
            release.wait()

    locker = threading.Thread(target=lock_when_saved)
    locker.start()
    try:
        yield taken
    finally:
        release.set()
        locker.join()


def _text_saved(path) -> bool:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        query = "SELECT 1 FROM chat_message WHERE status = 'streaming' AND content != ''"
        return conn.execute(query).fetchone() is not None


@pytest.mark.usefixtures("env")
def test_the_page_shows_a_reply_whose_end_was_not_saved_whole_and_as_its_own(db_path, monkeypatch):
    monkeypatch.setattr(runner, "END_RETRY_SECONDS", 1.0)
    monkeypatch.setenv("CHAT_BUSY_TIMEOUT", "0.2")
    at = app().run()
    with locked_once_text_is_saved(db_path) as taken:
        at.chat_input(key="chat_input").set_value(PROMPT).run()
        assert taken.is_set()
    assert not at.exception
    assert texts(at)[-1] == ("assistant", [WHOLE])
    assert [e.value for e in at.error if NOT_SAVED in e.value]
    # Its row still says `streaming` (until the sweep), yet the page knows it as its own
    # (followed as another process's, it would show the saved part alone, with a caption).
    at.run()
    assert_shown_whole_as_unsaved(at)


def assert_shown_whole_as_unsaved(at) -> None:
    assert not at.exception
    assert texts(at)[-1] == ("assistant", [WHOLE])
    assert [e.value for e in at.error if NOT_SAVED in e.value]
    assert not [c.value for c in at.caption if "another app process" in c.value]


@pytest.mark.usefixtures("env")
def test_another_page_of_the_process_shows_a_reply_whose_end_was_not_saved_whole(
    db_path, monkeypatch
):
    """Another tab, a reload, or this tab back from another chat: the runner keeps the
    reply's end for every page of the process, not only the one that watched it."""
    monkeypatch.setattr(runner, "END_RETRY_SECONDS", 1.0)
    monkeypatch.setattr(runner, "BEAT_SECONDS", 0.05)  # it forgets finished replies soon
    monkeypatch.setenv("CHAT_BUSY_TIMEOUT", "0.2")
    at = app().run()
    with locked_once_text_is_saved(db_path):
        at.chat_input(key="chat_input").set_value(PROMPT).run()
    assert_shown_whole_as_unsaved(at)
    time.sleep(0.5)  # many of the runner's rounds, which forget replies that are over
    other = app(session=param(at)).run()
    assert_shown_whole_as_unsaved(other)
