"""Replies written on worker threads: real store (both backends), real SDK, emulator."""

import contextlib
import dataclasses
import importlib
import sys
import threading
import time

import httpx
import pytest
import streamlit as st

from chat_core import chat, continuation, runner
from chat_core.ark import make_client
from chat_core.config import load_settings
from chat_core.errors import InvalidInputError, ReplyLimitError
from chat_core.runner import ReplyRunner
from chat_core.store import connect
from locales import describe
from tests.conftest import EMULATOR_KEY, emulator_fixture
from tests.test_database_errors import locked_by_another_process
from ui import runtime

emu = emulator_fixture(scope="module", api_key=EMULATOR_KEY, ttft=0.02, token_delay=0.01)
LONG = "question " + "word " * 60  # the emulator echoes it, one token per word


@pytest.fixture
def settings(emu):
    emu.clear_requests()
    emu.clear_faults()
    return load_settings(
        env={
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": "ep-test-model",
            "ARK_MAX_RETRIES": "0",
            "ARK_THINKING": "disabled",
        }
    )


@pytest.fixture
def replies(store):
    started = ReplyRunner(store)
    yield started
    started.shutdown()


def wait_done(live, timeout=30):
    progress = live.progress
    deadline = time.monotonic() + timeout
    while not progress.done and time.monotonic() < deadline:
        progress = live.wait(progress.version, 1)
    assert progress.done
    return progress


def saved_some_text(live, chars=20):
    """The live reply's progress once its row holds `chars` characters of text."""
    progress = live.progress
    while progress.message is None or len(progress.message.content) < chars:
        progress = live.wait(progress.version, 5)
    return progress


def test_a_reply_completes_with_nobody_watching(store, settings, client, replies):
    session, _ = store.new_session("alice")
    live = replies.start(chat.send(store, settings, session, client, LONG), "alice")
    final = wait_done(live)
    stored = store.get_messages(session)[-1]
    assert (stored.status, stored.content) == ("complete", "Echo: " + LONG)
    assert final.message == stored
    assert stored.first_token_ms is not None and 0 <= stored.first_token_ms <= stored.latency_ms


def test_a_page_is_shown_only_what_is_stored(store, settings, client, replies):
    session, _ = store.new_session("alice")
    live = replies.start(chat.send(store, settings, session, client, LONG), "alice")
    progress, shown = live.progress, []
    while not progress.done:
        progress = live.wait(progress.version, 5)
        if progress.message is not None:
            stored = store.get_message(session, progress.message.id)
            # What a page may show is never ahead of the store.
            assert stored.content.startswith(progress.message.content)
            shown.append(progress.message.content)
    assert len(set(shown)) > 3  # it streamed in steps, not at the end only
    assert shown[-1] == "Echo: " + LONG


@pytest.mark.parametrize("pressed_on", ["this process", "another process"])
def test_stop_saves_exactly_what_was_shown(
    store, open_store, settings, client, replies, emu, pressed_on
):
    emu.token_delay = 0.03
    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, cache_mode="responses")
    live = replies.start(chat.send(store, settings, session, client, "warm up"), "alice")
    wait_done(live)
    live = replies.start(chat.send(store, settings, session, client, LONG), "alice")
    progress = saved_some_text(live)
    shown = progress.message.content[:15]  # the page had drawn a little less
    if pressed_on == "this process":
        final = live.stop(shown)
    else:  # a page there followed the reply through its own store, same database
        final = runner.stop_elsewhere(open_store(), session, progress.message.id, shown)
    assert (final.status, final.content) == ("interrupted", shown)
    ended = wait_done(live, timeout=5)  # at once here, or at the writer's next save
    assert (ended.message.status, ended.message.content) == ("interrupted", shown)
    replies.check_room("alice", session.id)  # the chat takes a new message at once
    live.thread.join(10)
    stored = store.get_messages(session)[-1]
    assert (stored.status, stored.content) == ("interrupted", shown)
    # The service saw more of this turn than the chat holds: no chaining from it.
    assert store.get_session("alice", session.id).response_id is None


def test_a_reply_waiting_for_its_first_token_ends_when_another_process_stops_it(
    store, open_store, settings, client, emu, monkeypatch
):
    monkeypatch.setattr(runner, "BEAT_SECONDS", 0.05)
    emu.ttft = 3.0  # nothing is saved until the first token: the heartbeat finds out
    writing = ReplyRunner(store)
    try:
        session, _ = store.new_session("alice")
        live = writing.start(chat.send(store, settings, session, client, "slow"), "alice")
        row = live.begun()
        runner.stop_elsewhere(open_store(), session, row.id, "")
        assert wait_done(live, timeout=1).message.status == "interrupted"
        assert live.progress.first_text_at is None  # before the first token arrived
        live.thread.join(10)
        assert store.get_message(session, row.id).status == "interrupted"
        assert store.get_message(session, row.id).content == ""
    finally:
        emu.ttft = 0.02
        writing.shutdown()


def test_a_continue_stopped_on_another_process_ends_and_is_not_continued_under_its_writer(
    store, open_store, settings, client, emu, monkeypatch
):
    monkeypatch.setattr(runner, "BEAT_SECONDS", 0.05)
    writing = ReplyRunner(store)  # its heartbeat, often
    cut_short = dataclasses.replace(settings, max_tokens=5)
    session, _ = store.new_session("alice")
    wait_done(writing.start(chat.send(store, cut_short, session, client, "#tokens=8"), "alice"))
    cut = store.get_messages(session)[-1]
    emu.ttft = 2.0  # stopped before it adds anything, while its writer waits
    try:
        live = writing.start(
            continuation.continue_reply(store, cut_short, session, client), "alice"
        )
        final = runner.stop_elsewhere(open_store(), session, cut.id, cut.content)
        assert (final.status, final.content) == ("interrupted", cut.content)
        assert wait_done(live, timeout=1).message.status == "interrupted"  # at its heartbeat
        # The row is not reopened while its writer may still save into it.
        with pytest.raises(InvalidInputError):
            continuation.continue_reply(store, cut_short, session, client)
        live.thread.join(10)  # its first token came: nothing of it is written
        assert store.get_message(session, cut.id) == final
    finally:
        emu.ttft = 0.02
        writing.shutdown()


def test_the_heartbeat_never_ends_a_reply_that_saved_its_own_end(
    store, settings, client, monkeypatch
):
    """A beat between a reply's final save and its last steps (its title) finds the row
    no longer streaming: the reply goes on to those steps, and nobody stopped it."""
    monkeypatch.setattr(runner, "BEAT_SECONDS", 0.05)
    writing = ReplyRunner(store)
    try:
        session, _ = store.new_session("alice")
        reply = chat.send(store, settings, session, client, "hello")
        titled = threading.Event()
        reply.after_complete.append(lambda done: time.sleep(0.5) or titled.set())
        live = writing.start(reply, "alice")
        wait_done(live)
        assert titled.is_set() and not live.stopping
    finally:
        writing.shutdown()


def test_limits_per_user_and_per_process(store, settings, client, emu):
    emu.token_delay = 0.05
    limited = ReplyRunner(store, max_running=3, max_per_owner=2)
    try:
        for owner in ("alice", "alice", "bob"):
            session, _ = store.new_session(owner)
            limited.start(chat.send(store, settings, session, client, LONG), owner)
        with pytest.raises(ReplyLimitError) as own:
            limited.check_room("alice")
        assert own.value.code == "too_many_own_replies"
        with pytest.raises(ReplyLimitError) as full:
            limited.check_room("carol")
        assert full.value.code == "too_many_replies"
    finally:
        limited.shutdown()


def test_replies_streamed_elsewhere_count_against_the_limits(store, settings, client, emu):
    emu.token_delay = 0.05
    limited = ReplyRunner(store, max_running=3, max_per_owner=2)
    try:
        session, _ = store.new_session("alice")
        limited.start(chat.send(store, settings, session, client, LONG), "alice")
        with limited.counted("alice"):  # a temporary chat's reply, streamed by its page
            with pytest.raises(ReplyLimitError) as own:
                limited.check_room("alice")
            assert own.value.code == "too_many_own_replies"
            with pytest.raises(ReplyLimitError), limited.counted("alice"):
                pass  # a third is refused before it runs
            with limited.counted("bob"), pytest.raises(ReplyLimitError) as full:
                limited.check_room("carol")
            assert full.value.code == "too_many_replies"
        limited.check_room("alice")  # ended: its place is free again
        limited.check_room("carol")
    finally:
        limited.shutdown()


def test_shutdown_saves_every_running_reply(store, settings, client, emu):
    emu.token_delay = 0.05
    stopping = ReplyRunner(store)
    session, _ = store.new_session("alice")
    live = stopping.start(chat.send(store, settings, session, client, LONG), "alice")
    progress = live.progress
    while progress.message is None or not progress.message.content:
        progress = live.wait(progress.version, 5)
    stopping.shutdown()
    stored = store.get_messages(session)[-1]
    assert (stored.status, stored.error_code) == ("interrupted", "reply_abandoned")  # not a Stop
    assert stored.content and ("Echo: " + LONG).startswith(stored.content)


def test_a_reply_whose_writer_died_is_finished_with_its_cache_dropped(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "hello")
    orphan = store.begin_reply(session)  # its writer never beats again
    store.save_reply(session, orphan.id, content="half an ans")
    store.set_cache_state(session, response_id="resp_of_the_dead_turn")
    time.sleep(0.05)
    assert store.interrupt_stale_replies(silent_seconds=0.01) == 1
    stored = store.get_message(session, orphan.id)
    assert (stored.status, stored.content, stored.error_code) == (
        "interrupted",
        "half an ans",
        "reply_abandoned",
    )
    assert store.get_session("alice", session.id).response_id is None


def heartbeat(store, message_id: int):
    with store.backend.reading() as tx:
        (row,) = tx.query("SELECT heartbeat_at FROM chat_message WHERE id = ?", [message_id])
    return row["heartbeat_at"]


def test_a_live_reply_keeps_beating(store, settings, client, emu, monkeypatch):
    monkeypatch.setattr(runner, "BEAT_SECONDS", 0.05)
    emu.ttft = 3.0  # a long silent wait for the first token
    beating = ReplyRunner(store)
    try:
        session, _ = store.new_session("alice")
        live = beating.start(chat.send(store, settings, session, client, "slow"), "alice")
        row = live.begun()
        beats = {heartbeat(store, row.id)}
        while len(beats) < 3 and live.progress.first_text_at is None:
            time.sleep(0.01)
            beats.add(heartbeat(store, row.id))
        # The row says its writer is alive again and again while nothing arrives.
        assert len(beats) == 3 and live.progress.first_text_at is None
        assert wait_done(live).message.status == "complete"
    finally:
        emu.ttft = 0.02
        beating.shutdown()


def test_a_first_message_never_joins_a_chat_another_tab_started(store, settings, client):
    session, _ = store.new_session("alice")  # both tabs show this empty chat
    chat.send_first(store, settings, session, client, "from tab one").close()
    reply = chat.send_first(store, settings, session, client, "from tab two")
    reply.close()
    assert reply.session.id != session.id
    assert [m.content for m in store.get_messages(session)][:1] == ["from tab one"]
    assert [m.content for m in store.get_messages(reply.session)][:1] == ["from tab two"]
    assert [s.id for s in store.list_sessions("alice") if not s.is_used] == []


def test_many_pages_can_watch_one_reply(store, settings, client, replies):
    session, _ = store.new_session("alice")
    live = replies.start(chat.send(store, settings, session, client, LONG), "alice")
    seen = []

    def watch():
        seen.append(wait_done(live).message.content)

    pages = [threading.Thread(target=watch) for _ in range(3)]
    for page in pages:
        page.start()
    for page in pages:
        page.join(30)
    assert seen == ["Echo: " + LONG] * 3


def test_stopped_replies_waiting_for_a_first_token_leave_room_at_once(store, settings, client, emu):
    emu.ttft = 2.0  # each reply waits silently for its first token
    limited = ReplyRunner(store, max_running=4, max_per_owner=3)
    try:
        stopped = []
        for _ in range(3):
            session, _ = store.new_session("alice")
            stopped.append(
                limited.start(chat.send(store, settings, session, client, "slow"), "alice")
            )
            assert stopped[-1].begun() is not None
        with pytest.raises(ReplyLimitError):
            limited.check_room("alice")
        for live in stopped:
            assert live.stop().status == "interrupted"
        assert all(live.thread.is_alive() for live in stopped)  # still waiting on the service
        # Stopped replies are over for their user: a new one starts at once.
        limited.check_room("alice")
        session, _ = store.new_session("alice")
        fresh = limited.start(chat.send(store, settings, session, client, "again"), "alice")
        assert fresh.begun() is not None
        # The process still counts the threads it has until they end.
        with pytest.raises(ReplyLimitError) as full:
            limited.check_room("bob")
        assert full.value.code == "too_many_replies"
        fresh.stop()
        for live in [*stopped, fresh]:
            live.thread.join(10)
            assert not live.thread.is_alive()
            stored = store.get_message(live.reply.session, live.progress.message.id)
            assert (stored.status, stored.content) == ("interrupted", "")
        limited.check_room("bob")
    finally:
        emu.ttft = 0.02
        limited.shutdown()


def test_a_chat_has_one_live_reply_whichever_branch_is_shown(store, settings, client, emu):
    emu.token_delay = 0.05
    runner = ReplyRunner(store)
    try:
        session, _ = store.new_session("alice")
        first = runner.start(chat.send(store, settings, session, client, "first"), "alice")
        wait_done(first)
        _question, answer = store.get_messages(session)
        regenerated = runner.start(chat.regenerate(store, settings, session, client), "alice")
        wait_done(regenerated)
        # a long reply on the newest branch, then the first answer's branch shown again
        streaming = runner.start(chat.send(store, settings, session, client, LONG), "alice")
        streaming.begun()  # its row is the current leaf until the switch below
        store.switch_branch(session, answer.id)
        with pytest.raises(InvalidInputError) as refused:
            runner.check_room("alice", session.id)
        assert refused.value.code == "reply_in_progress"
        with pytest.raises(InvalidInputError) as refused:  # by the store, on any branch
            chat.regenerate(store, settings, session, client, answer.id)
        assert refused.value.code == "reply_in_progress"
        assert runner.live(session.id) is streaming  # still the one Stop reaches
        streaming.stop()
    finally:
        runner.shutdown()


def test_replies_stopped_and_sent_again_in_one_chat_still_count_for_the_process(
    store, settings, client, emu
):
    emu.ttft = 2.0  # each reply waits silently for its first token
    limited = ReplyRunner(store, max_running=2, max_per_owner=2)
    try:
        session, _ = store.new_session("alice")
        first = limited.start(chat.send(store, settings, session, client, "slow"), "alice")
        assert first.begun() is not None
        first.stop()
        again = limited.start(chat.regenerate(store, settings, session, client), "alice")
        assert again.begun() is not None
        again.stop()
        assert first.thread.is_alive() and again.thread.is_alive()
        # both threads still run: the process is full, though one replaced the other
        with pytest.raises(ReplyLimitError) as full:
            limited.check_room("bob")
        assert full.value.code == "too_many_replies"
        for live in (first, again):
            live.thread.join(10)
        limited.check_room("bob")
    finally:
        emu.ttft = 0.02
        limited.shutdown()


def test_a_reply_goes_on_when_streamlit_is_asked_to_clear_its_caches(db_location, emu):
    """Any browser can send Streamlit's "clear caches" message; the process's store and
    runner are not in that cache, so a reply being written finishes."""
    settings = load_settings(
        env={
            "CHAT_DB": db_location,
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": "ep-test-model",
            "ARK_MAX_RETRIES": "0",
        }
    )
    store, replies = runtime.shared_store(settings), runtime.shared_runner(settings)
    try:
        emu.token_delay = 0.02
        session, _ = store.new_session("alice")
        with make_client(settings, http_client=httpx.Client(trust_env=False)) as client:
            live = replies.start(chat.send(store, settings, session, client, LONG), "alice")
            live.begun()
            st.cache_resource.clear()  # what Streamlit does on that message
            progress = wait_done(live)
        assert progress.message.status == "complete"
        assert runtime.shared_store(settings) is store  # the same store, still open
        assert store.get_messages(session)[-1].status == "complete"
    finally:
        emu.token_delay = 0.01
        runtime.release_shared()


def test_the_process_keeps_its_store_and_runner_when_streamlit_reloads_the_app(
    db_location, monkeypatch
):
    """On a source file change Streamlit drops the app's modules from `sys.modules` and
    imports them again: the same store and runner serve the next run, with the replies
    the runner is writing."""
    settings = load_settings(env={"CHAT_DB": db_location, "ARK_API_KEY": EMULATOR_KEY})
    try:
        store, replies = runtime.shared_store(settings), runtime.shared_runner(settings)
        for name in [name for name in sys.modules if name == "ui" or name.startswith("ui.")]:
            monkeypatch.delitem(sys.modules, name)  # put back when the test ends
        reloaded = importlib.import_module("ui.runtime")
        assert reloaded is not runtime
        assert reloaded.shared_store(settings) is store
        assert reloaded.shared_runner(settings) is replies
    finally:
        runtime.release_shared()


# --- another process holding the SQLite file past the busy timeout ---------------------------


def saved_text(live) -> bool:
    message = live.progress.message
    return message is not None and bool(message.content)


def wait_for(condition, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


@contextlib.contextmanager
def reply_with_text_saved(path, settings, client, prompt: str):
    """A reply to `prompt` written to a SQLite file at `path` (busy timeout 0.2 s):
    `(store, session, live)` once some of its text is saved."""
    with connect(path, busy_timeout=0.2) as store:
        replies = ReplyRunner(store)
        try:
            session, _ = store.new_session("alice")
            live = replies.start(chat.send(store, settings, session, client, prompt), "alice")
            wait_for(lambda: saved_text(live))
            yield store, session, live
        finally:
            replies.shutdown()


def test_a_reply_outlasting_a_lock_held_past_the_busy_timeout_is_saved_whole(
    tmp_path, settings, client
):
    path = tmp_path / "chat.db"
    prompt = "#tokens=250 a long answer"  # 2.5 s of tokens
    with reply_with_text_saved(path, settings, client, prompt) as (store, session, live):
        with locked_by_another_process(path):
            time.sleep(1.2)  # a progress save or more waits out the busy timeout
            assert not live.progress.done
        final = wait_done(live)
        stored = store.get_messages(session)[-1]
    assert final.error is None
    assert stored.status == "complete"
    assert stored.content == " ".join(f"w{n}" for n in range(1, 251))


def test_a_final_save_the_lock_outlasts_says_the_end_was_not_saved(
    tmp_path, settings, client, monkeypatch
):
    monkeypatch.setattr(runner, "END_RETRY_SECONDS", 1.0)
    path = tmp_path / "chat.db"
    prompt = "#tokens=60 an answer"  # 0.6 s of tokens
    with reply_with_text_saved(path, settings, client, prompt) as (store, session, live):
        with locked_by_another_process(path):
            final = wait_done(live)  # the final save tried again and again meanwhile
        stored = store.get_messages(session)[-1]
    assert final.error.code == "reply_end_busy"
    assert "end of this reply was not saved" in describe("en", final.error)
    # The row keeps the text saved before the lock; the sweep finishes it later.
    assert stored.status == "streaming" and stored.content.startswith("w1")
