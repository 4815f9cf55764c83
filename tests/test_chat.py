"""A whole turn: real store file, real Ark SDK, loopback emulator."""

import traceback

import httpx
import pytest

from chat_core import chat
from chat_core.ark import ContentDelta, make_client
from chat_core.config import load_settings
from chat_core.errors import (
    AuthenticationError,
    ContentFilterError,
    DatabaseLockedError,
    InvalidInputError,
    ReplyReplacedError,
    StreamInterruptedError,
)
from locales import describe
from tests.conftest import EMULATOR_KEY
from tests.databases import run_sql

KEY = EMULATOR_KEY


@pytest.fixture
def settings(emu, db_path):
    emu.clear_requests()
    return load_settings(
        env={
            "ARK_API_KEY": KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": "ep-test-model",
            "ARK_MAX_RETRIES": "0",
            "CHAT_DB": str(db_path),
            "ARK_THINKING": "disabled",
        }
    )


def run(reply):
    with reply:
        return "".join(event.text for event in reply if type(event).__name__ == "ContentDelta")


def test_a_turn_is_stored_with_usage_and_latency(store, settings, client):
    session, _ = store.new_session("alice")
    text = run(chat.send(store, settings, session, client, "hello there"))
    assert text == "Echo: hello there"
    user, reply = store.get_messages(session)
    assert (user.role, user.content) == ("user", "hello there")
    assert (reply.role, reply.content, reply.status) == ("assistant", text, "complete")
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert reply.latency_ms is not None and reply.model
    assert store.get_session("alice", session.id).is_used


def test_second_turn_sends_the_history(store, settings, client, emu):
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "first"))
    run(chat.send(store, settings, session, client, "second"))
    sent = emu.requests[-1].body["messages"]
    assert [m["content"] for m in sent] == ["first", "Echo: first", "second"]


def test_thinking_is_stored_apart_from_the_answer(store, settings, client):
    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, thinking="enabled")
    reply = chat.send(store, settings, session, client, "why is the sky blue")
    with reply:
        kinds = {type(event).__name__ for event in reply}
    assert kinds == {"ContentDelta", "ReasoningDelta"}
    stored = store.get_messages(session)[-1]
    assert stored.reasoning_content == "Thinking about: why is the sky blue"
    assert stored.content == "Echo: why is the sky blue"
    assert stored.reasoning_tokens > 0


def test_abandoned_reply_is_saved_as_interrupted_with_partial_text(store, settings, client):
    session, _ = store.new_session("alice")
    reply = chat.send(store, settings, session, client, "one two three four five six")
    with reply:
        events = iter(reply)
        first = [next(events).text for _ in range(3)]
    stored = store.get_messages(session)[-1]
    assert stored.status == "interrupted"
    assert stored.content == "".join(first) and stored.content
    # The user message stays, and the session can be answered again.
    again = run(chat.regenerate(store, settings, session, client))
    assert again == "Echo: one two three four five six"
    assert [m.status for m in store.get_messages(session)] == ["complete", "complete"]


def test_error_mid_stream_keeps_partial_text_and_raises(store, settings, client, emu):
    session, _ = store.new_session("alice")
    emu.fail_next("stream_error", after_tokens=2)
    reply = chat.send(store, settings, session, client, "alpha beta gamma delta")
    with pytest.raises(StreamInterruptedError), reply:
        list(reply)
    stored = store.get_messages(session)[-1]
    assert (stored.status, stored.content) == ("error", "Echo: alpha ")
    assert (stored.error_code, stored.error) == ("stream_interrupted", None)


def test_dropped_connection_keeps_partial_text(store, settings, client, emu):
    session, _ = store.new_session("alice")
    emu.fail_next("drop", after_tokens=3)
    reply = chat.send(store, settings, session, client, "alpha beta gamma delta")
    with pytest.raises(StreamInterruptedError), reply:
        list(reply)
    stored = store.get_messages(session)[-1]
    assert (stored.status, stored.content) == ("error", "Echo: alpha beta ")


def test_refused_key_saves_an_error_and_keeps_the_user_message(store, settings, emu):
    session, _ = store.new_session("alice")
    with httpx.Client(trust_env=False) as http:
        bad = make_client(settings, api_key="wrong-key", http_client=http)
        reply = chat.send(store, settings, session, bad, "hello")
        with pytest.raises(AuthenticationError) as info, reply:
            list(reply)
    assert "wrong-key" not in describe("en", info.value) + describe("zh", info.value)
    user, failed = store.get_messages(session)
    assert user.content == "hello"
    assert (failed.status, failed.content) == ("error", "")
    assert failed.error_code == "api_key_refused" and "wrong-key" not in str(failed.error_params)


def test_content_filter_finish_is_an_error_with_partial_text(store, settings, client, emu):
    session, _ = store.new_session("alice")
    emu.fail_next("content_filter", after_tokens=2)
    reply = chat.send(store, settings, session, client, "tell me something")
    with pytest.raises(ContentFilterError), reply:
        list(reply)
    stored = store.get_messages(session)[-1]
    assert (stored.status, stored.content) == ("error", "Echo: tell ")


def test_two_filtered_replies_raise_two_errors_whose_tracebacks_do_not_grow(
    store, settings, client, emu
):
    session, _ = store.new_session("alice")
    caught = []
    for text in ("first question", "second question"):
        emu.fail_next("content_filter", after_tokens=1)
        reply = chat.send(store, settings, session, client, text)
        with pytest.raises(ContentFilterError) as info, reply:
            list(reply)
        caught.append(info.value)
    first, second = caught
    assert first is not second
    assert len(traceback.extract_tb(second.__traceback__)) == len(
        traceback.extract_tb(first.__traceback__)
    )
    replies = [m for m in store.get_messages(session) if m.role == "assistant"]
    assert [(m.status, m.error_code) for m in replies] == [("error", "reply_filtered")] * 2


def test_an_unexpected_failure_is_saved_with_its_kind_and_surfaces(store, settings, monkeypatch):
    def broken(client, request):
        yield ContentDelta("so far ")
        raise KeyError("a bug")

    monkeypatch.setattr(chat.ark, "stream_turn", broken)
    session, _ = store.new_session("alice")
    reply = chat.send(store, settings, session, None, "hello")
    with pytest.raises(KeyError), reply:
        list(reply)
    stored = store.get_messages(session)[-1]
    assert (stored.status, stored.content) == ("error", "so far ")
    assert (stored.error_code, stored.error_params) == ("unexpected_failure", {"kind": "KeyError"})


def test_edit_last_replaces_the_turn(store, settings, client):
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "first"))
    run(chat.send(store, settings, session, client, "typo"))
    assert run(chat.edit_last(store, settings, session, client, "fixed")) == "Echo: fixed"
    assert [m.content for m in store.get_messages(session)] == [
        "first",
        "Echo: first",
        "fixed",
        "Echo: fixed",
    ]


def test_edit_with_empty_text_deletes_nothing(store, settings, client):
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "keep"))
    with pytest.raises(InvalidInputError):
        chat.edit_last(store, settings, session, client, "   ")
    assert store.count_messages(session) == 2


def test_reply_to_nothing_is_refused(store, settings, client):
    session, _ = store.new_session("alice")
    with pytest.raises(InvalidInputError):
        chat.reply_to_last(store, settings, session, client)


@pytest.mark.parametrize("mode", ["context", "responses"])
def test_caching_modes_store_their_state_and_recover_from_expiry(
    store, settings, client, emu, mode
):
    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, cache_mode=mode)
    run(chat.send(store, settings, session, client, "one"))
    run(chat.send(store, settings, session, client, "two"))
    cached = store.get_session("alice", session.id)
    assert cached.ark_context_id if mode == "context" else cached.response_id
    emu.expire_contexts()
    emu.expire_responses()
    assert run(chat.send(store, settings, session, client, "three")) == "Echo: three"
    assert [m.content for m in store.get_messages(session)][-2:] == ["three", "Echo: three"]


def test_failed_turn_in_a_caching_mode_drops_the_cache_state(store, settings, client, emu):
    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, cache_mode="responses")
    run(chat.send(store, settings, session, client, "one"))
    emu.fail_next("stream_error", after_tokens=1)
    reply = chat.send(store, settings, session, client, "two")
    with pytest.raises(StreamInterruptedError), reply:
        list(reply)
    assert store.get_session("alice", session.id).response_id is None
    assert run(chat.regenerate(store, settings, session, client)) == "Echo: two"
    # The failed turn left no response to chain from: the retry chains from the last
    # complete reply of the branch, which holds exactly the path before "two".
    first_reply = store.get_messages(session)[1]
    sent = emu.requests[-1].body
    assert first_reply.response_id and sent["previous_response_id"] == first_reply.response_id
    assert [item["content"] for item in sent["input"]] == ["two"]


@pytest.mark.parametrize("mode", ["context", "responses"])
def test_interrupted_turn_in_a_caching_mode_drops_the_cache_state(
    store, settings, client, emu, mode
):
    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, cache_mode=mode)
    run(chat.send(store, settings, session, client, "one"))
    run(chat.send(store, settings, session, client, "two"))
    cached = store.get_session("alice", session.id)
    assert cached.ark_context_id if mode == "context" else cached.response_id
    with chat.send(store, settings, session, client, "three four five six") as reply:
        events = iter(reply)
        next(events)  # the service has begun this turn; the reader leaves
    assert store.get_messages(session)[-1].status == "interrupted"
    dropped = store.get_session("alice", session.id)
    assert (dropped.ark_context_id, dropped.response_id) == (None, None)
    emu.clear_requests()
    assert run(chat.regenerate(store, settings, session, client)) == "Echo: three four five six"
    if mode == "responses":
        # Responses are immutable: the chain goes on from the last complete reply of the
        # branch, which holds exactly the stored path, never the interrupted turn.
        answer_two = store.get_messages(session)[3]
        sent = emu.requests[0].body
        assert sent["previous_response_id"] == answer_two.response_id
        assert [item["content"] for item in sent["input"]] == ["three four five six"]
        return
    replayed = " ".join(str(request.body) for request in emu.requests)
    assert "one" in replayed and "two" in replayed  # the stored history, not the old cache


def test_a_streaming_reply_saves_its_first_text_at_once(store, settings, client, monkeypatch):
    monkeypatch.setattr(chat, "PROGRESS_SAVE_SECONDS", 3600)  # no periodic save in the test
    session, _ = store.new_session("alice")
    with chat.send(store, settings, session, client, "alpha beta gamma delta") as reply:
        events = iter(reply)
        first = next(events).text
        for _ in range(3):  # the reply goes on past its first text, and nothing more is saved
            next(events)
            assert store.get_messages(session)[-1].content == first == "Echo: "
        list(events)
    assert store.get_messages(session)[-1].content == "Echo: alpha beta gamma delta"


def test_a_streaming_reply_is_saved_as_often_as_it_is_asked(store, settings, client, monkeypatch):
    monkeypatch.setattr(chat, "PROGRESS_SAVE_SECONDS", 0)  # a save after every event
    session, _ = store.new_session("alice")
    shown = ""
    with chat.send(store, settings, session, client, "one two three four five six") as reply:
        for event in reply:
            assert store.get_messages(session)[-1].content == shown  # saved before the next
            shown += event.text
    assert store.get_messages(session)[-1].content == shown == "Echo: one two three four five six"


def test_chat_cost_sums_priced_replies(store, settings, client):
    from chat_core.pricing import load_prices

    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, model="doubao-seed-1-6-250615")
    run(chat.send(store, settings, session, client, "one"))
    run(chat.send(store, settings, session, client, "two"))
    replies = [m for m in store.get_messages(session) if m.role == "assistant"]
    per_reply = [chat.message_cost(m, load_prices()) for m in replies]
    total = chat.chat_cost(store, session, load_prices())
    assert all(cost is not None and cost > 0 for cost in per_reply)
    assert total.complete and total.total == sum(per_reply)
    assert chat.chat_cost(store, type(session)(**{**session.__dict__, "owner": "bob"})).total == 0


def test_a_long_chat_loads_only_the_history_that_fits_the_budget(store, settings, client, emu):
    session, _ = store.new_session("alice")
    for i in range(250):
        store.start_turn(session, f"message {i} " + "word " * 40)
        if i < 249:  # answered: a question without an answer is not sent at all
            answer = store.begin_reply(session)
            store.save_reply(session, answer.id, content="word " * 40, status="complete")
    budget_settings = type(settings)(**{**settings.__dict__, "history_tokens": 1000})
    loaded = chat.recent_messages(store, session, 1000)
    assert 100 <= len(loaded) < 499
    assert loaded[-1].content.startswith("message 249")
    assert [m.id for m in loaded] == sorted(m.id for m in loaded)
    assert len(chat.recent_messages(store, session, 10**9)) == 499
    run(chat.reply_to_last(store, budget_settings, session, client))
    sent = emu.requests[-1].body["messages"]
    assert sent[-1]["content"].startswith("message 249")
    assert 1 < len(sent) < 100


# --- two tabs on one chat: a reply whose turn is replaced elsewhere stops saving --------


def start_streaming(store, settings, client, session, text, events=3):
    """Tab A: a reply that has streamed `events` chunks and is still going."""
    reply = chat.send(store, settings, session, client, text)
    stream = iter(reply)
    for _ in range(events):
        next(stream)
    return reply, stream


@pytest.mark.parametrize("save_every_event", [False, True])
def test_delete_in_another_tab_stops_the_old_reply(
    store, settings, client, monkeypatch, save_every_event
):
    if save_every_event:  # the stream notices at its next progress save, mid-stream
        monkeypatch.setattr(chat, "PROGRESS_SAVE_SECONDS", 0)
    session, _ = store.new_session("alice")
    old = "old question " + "word " * 30
    tab_a, stream = start_streaming(store, settings, client, session, old)
    store.delete_message(session, store.get_messages(session)[0].id)
    assert run(chat.send(store, settings, session, client, "new question")) == (
        "Echo: new question"
    )
    with pytest.raises(ReplyReplacedError) as info, tab_a:
        list(stream)
    assert "another tab" in describe("en", info.value)
    assert [(m.role, m.content, m.status) for m in store.get_messages(session)] == [
        ("user", "new question", "complete"),
        ("assistant", "Echo: new question", "complete"),
    ]
    if save_every_event:
        assert len(tab_a.text) < len("Echo: " + old)  # it stopped instead of reading on


def test_regenerate_or_edit_while_the_reply_streams_is_refused(store, settings, client):
    session, _ = store.new_session("alice")
    tab_a, stream = start_streaming(store, settings, client, session, "question " + "w " * 30)
    for action in (
        lambda: chat.regenerate(store, settings, session, client),
        lambda: chat.edit_last(store, settings, session, client, "changed"),
    ):
        with pytest.raises(InvalidInputError) as info:
            action()
        assert info.value.code == "reply_in_progress"
    with tab_a:
        list(stream)
    messages = store.get_messages(session)
    assert [(m.role, m.status) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert store.versions(session, messages) == {}


def _locked(*args, **kwargs):
    raise DatabaseLockedError("database_locked")  # injected fault


def _failing_after(store, name: str, action: str):
    """Make the store's `action` (start_turn or edit_message) succeed, then every
    `name` call fail as a database that stays locked does."""
    stores_message = getattr(store, action)

    def stored_then_locked(*args, **kwargs):
        stored = stores_message(*args, **kwargs)
        setattr(store, name, _locked)
        return stored

    setattr(store, action, stored_then_locked)


def _send_or_edit(store, settings, session, client, action, question):
    if action == "start_turn":
        return chat.send(store, settings, session, client, "second")
    return chat.edit(store, settings, session, client, question.id, "second")


@pytest.mark.parametrize("action", ["start_turn", "edit_message"])
def test_a_message_whose_reply_cannot_begin_is_taken_back(
    store, db_location, settings, client, action
):
    """The message is stored, then reading the chat fails before its reply begins: the
    message is taken back, so sending it again does not store it twice."""
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "first"))
    question = store.get_messages(session)[0]
    _failing_after(store, "get_session", action)
    with pytest.raises(DatabaseLockedError) as failed:
        _send_or_edit(store, settings, session, client, action, question)
    assert failed.value.kept_message is None
    every = [content for (content,) in run_sql(db_location, "SELECT content FROM chat_message")]
    assert every == ["first", "Echo: first"]


def test_an_edit_of_an_older_version_taken_back_shows_that_version_again(store, settings, client):
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "one"))
    first = store.get_messages(session)[0]
    run(chat.edit(store, settings, session, client, first.id, "uno"))
    session = store.switch_branch(store.get_session("alice", session.id), first.id)
    assert [m.content for m in store.get_messages(session)] == ["one", "Echo: one"]
    _failing_after(store, "get_session", "edit_message")
    with pytest.raises(DatabaseLockedError):
        chat.edit(store, settings, session, client, first.id, "third")
    del store.get_session  # the database is free again
    shown = store.get_messages(store.get_session("alice", session.id))
    assert [m.content for m in shown] == ["one", "Echo: one"]  # not the newest, "uno"


def test_an_edit_taken_back_whose_title_cannot_go_back_is_still_gone(
    store, db_location, settings, client
):
    """Editing the first message titles the chat anew; the edit is taken back, but the
    old title cannot be written again: the edit is gone all the same, and the error
    does not say it stays."""
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "first"))
    question = store.get_messages(session)[0]
    _failing_after(store, "get_session", "edit_message")
    store.set_generated_title = _locked
    with pytest.raises(DatabaseLockedError) as failed:
        chat.edit(store, settings, session, client, question.id, "second")
    assert failed.value.kept_message is None
    every = [content for (content,) in run_sql(db_location, "SELECT content FROM chat_message")]
    assert every == ["first", "Echo: first"]


@pytest.mark.parametrize("action", ["start_turn", "edit_message"])
def test_a_message_that_cannot_be_taken_back_says_it_stays(
    store, db_location, settings, client, action
):
    """Neither its reply nor its removal can be written: the error names the message,
    which stays in the chat unanswered, and Retry (an answer to the branch's last
    message) answers it."""
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "first"))
    question = store.get_messages(session)[0]
    _failing_after(store, "get_session", action)
    store.delete_message = _locked
    with pytest.raises(DatabaseLockedError) as failed:
        _send_or_edit(store, settings, session, client, action, question)
    del store.get_session, store.delete_message  # the database is free again
    kept = store.get_message(session, failed.value.kept_message)
    assert (kept.role, kept.content) == ("user", "second")
    assert store.get_messages(session)[-1].id == kept.id  # the branch ends with it
    run(chat.regenerate(store, settings, session, client))
    assert [m.content for m in store.get_messages(session)][-2:] == ["second", "Echo: second"]


def test_a_response_only_accumulates_what_streamed():
    from chat_core.ark import CacheUpdate, Finish, ReasoningDelta, Usage
    from chat_core.response import Response

    response = Response()
    events = [
        ReasoningDelta("think "),
        ContentDelta("Hel"),
        ContentDelta("lo"),
        Usage(prompt_tokens=3, completion_tokens=2, cached_tokens=0, reasoning_tokens=1, model="m"),
        Finish("stop"),
        CacheUpdate(None, None, "resp-1"),
    ]
    assert [response.add(event) for event in events] == [True, True, True, False, False, False]
    assert (response.text, response.reasoning_text) == ("Hello", "think ")
    assert (response.finish, response.cache.response_id, response.usage.model) == (
        "stop",
        "resp-1",
        "m",
    )
    assert response.failure() is None
    response.add(Finish("content_filter"))
    assert response.failure() is not response.failure()  # a new error for every raise


@pytest.mark.parametrize("action", ["send", "edit"])
def test_a_message_whose_reply_another_process_began_first_is_withdrawn(
    store, open_store, db_location, settings, client, action
):
    """Two app processes store a message in one chat at the same moment: the one whose
    reply begins second is refused as a whole, its message taken back, not left
    unanswered on a branch of its own."""
    session, _ = store.new_session("alice")
    run(chat.send(store, settings, session, client, "first"))
    [question, answer] = store.get_messages(session)
    title = store.get_session("alice", session.id).title
    elsewhere, theirs = open_store(), []
    stores_message = store.start_turn if action == "send" else store.edit_message

    def then_the_other_process_sends(*args, **kwargs):
        stored = stores_message(*args, **kwargs)
        # after the last message its page showed, as a page sends
        theirs.append(
            chat.send(elsewhere, settings, session, client, "from elsewhere", after=answer.id)
        )
        return stored

    if action == "send":
        store.start_turn = then_the_other_process_sends
    else:
        store.edit_message = then_the_other_process_sends
    with pytest.raises(InvalidInputError) as refused:
        if action == "send":
            chat.send(store, settings, session, client, "from here")
        else:
            chat.edit(store, settings, session, client, question.id, "edited here")
    assert refused.value.code == "reply_in_progress"
    run(theirs[0])
    contents = [m.content for m in store.get_messages(session)]
    assert contents == ["first", "Echo: first", "from elsewhere", "Echo: from elsewhere"]
    every = {content for (content,) in run_sql(db_location, "SELECT content FROM chat_message")}
    assert not every & {"from here", "edited here"}
    assert store.get_session("alice", session.id).title == title  # not the edit's
