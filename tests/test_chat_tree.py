"""Branches end to end, in all three cache modes, against the loopback emulator with the
real SDK: what the model sees after an edit, a regenerate or a switch is exactly the
path of the current branch. Generated titles too."""

import dataclasses

import httpx
import pytest

from chat_core import chat, titles
from chat_core.ark import make_client
from chat_core.config import load_settings
from chat_core.errors import MessageNotFoundError
from chat_core.text import make_title
from tests.conftest import EMULATOR_KEY

SYSTEM = "Be brief."


@pytest.fixture
def settings(emu, db_path):
    emu.clear_requests()
    return load_settings(
        env={
            "ARK_API_KEY": EMULATOR_KEY,
            "ARK_BASE_URL": emu.base_url,
            "ARK_MODEL": "ep-test-model",
            "ARK_MAX_RETRIES": "0",
            "CHAT_DB": str(db_path),
            "ARK_THINKING": "disabled",
            "ARK_SYSTEM_PROMPT": SYSTEM,
            "CHAT_TITLES": "off",
        }
    )


def run(reply):
    with reply:
        return "".join(e.text for e in reply if type(e).__name__ == "ContentDelta")


def seen(emu, mode, store, session):
    """What the model held after the branch's last turn: the whole conversation, as
    (role, text) pairs, read from the emulator's own records of each mode."""
    reply = store.get_messages(session)[-1]
    if mode == "off":
        sent = emu.requests[-1].body["messages"]
        conversation = [*sent, {"role": "assistant", "content": reply.content}]
    elif mode == "context":
        context_id = emu.requests[-1].body["context_id"]
        conversation = emu.contexts[context_id].messages
    else:
        conversation = emu.responses[reply.response_id].messages
    return [(m["role"], m["content"]) for m in conversation]


def path(*texts):
    """The conversation a branch of these user messages makes (the emulator echoes)."""
    pairs = [("system", SYSTEM)]
    for text in texts:
        pairs += [("user", text), ("assistant", f"Echo: {text}")]
    return pairs


@pytest.fixture(params=["off", "context", "responses"])
def mode(request):
    return request.param


@pytest.fixture
def two_branches(store, settings, client, mode):
    return make_two_branches(store, settings, client, mode)


def make_two_branches(store, settings, client, mode):
    """one → two (branch A), then two edited to "two b" (branch B, current)."""
    session, _ = store.new_session("alice")
    store.update_settings("alice", session.id, cache_mode=mode)
    run(chat.send(store, settings, session, client, "one"))
    run(chat.send(store, settings, session, client, "two"))
    two = store.get_messages(session)[2]
    run(chat.edit(store, settings, session, client, two.id, "two b"))
    return session, two


def test_an_edit_is_answered_from_its_own_branch(store, emu, mode, two_branches):
    session, _ = two_branches
    assert seen(emu, mode, store, session) == path("one", "two b")


def test_after_switching_back_the_model_sees_that_branch(
    store, settings, client, emu, mode, two_branches
):
    session, two = two_branches
    store.switch_branch(session, two.id)
    run(chat.send(store, settings, session, client, "three"))
    assert seen(emu, mode, store, session) == path("one", "two", "three")
    # And over to the other branch again.
    two_b = store.versions(session, store.get_messages(session))[two.id][-1]
    store.switch_branch(session, two_b)
    run(chat.send(store, settings, session, client, "four"))
    assert seen(emu, mode, store, session) == path("one", "two b", "four")


def test_a_regenerated_answer_sees_the_path_up_to_its_question(
    store, settings, client, emu, mode, two_branches
):
    session, two = two_branches
    store.switch_branch(session, two.id)
    first_answer = store.get_messages(session)[-1]
    run(chat.regenerate(store, settings, session, client, first_answer.id))
    assert seen(emu, mode, store, session) == path("one", "two")
    messages = store.get_messages(session)
    assert store.versions(session, messages)[messages[-1].id] == [first_answer.id, messages[-1].id]


def test_the_chain_of_a_branch_continues_from_its_own_response(store, settings, client, emu):
    session, two = make_two_branches(store, settings, client, "responses")
    store.switch_branch(session, two.id)
    answer_two = store.get_messages(session)[-1]
    run(chat.send(store, settings, session, client, "three"))
    sent = emu.requests[-1].body
    assert sent["previous_response_id"] == answer_two.response_id
    assert sent["input"] == [{"role": "user", "content": "three"}]


def test_a_context_is_recreated_for_another_branch_and_kept_on_the_same(
    store, settings, client, emu
):
    session, two = make_two_branches(store, settings, client, "context")
    context_b = store.get_session("alice", session.id).ark_context_id
    run(chat.send(store, settings, session, client, "more on b"))
    assert emu.requests[-1].body["context_id"] == context_b  # same branch: reused
    store.switch_branch(session, two.id)
    created = len([r for r in emu.requests if r.path.endswith("/context/create")])
    run(chat.send(store, settings, session, client, "three"))
    assert len([r for r in emu.requests if r.path.endswith("/context/create")]) == created + 1
    assert emu.requests[-1].body["context_id"] != context_b


def test_regenerating_a_message_of_another_chat_is_refused(store, settings, client, mode):
    mine, _ = store.new_session("alice")
    run(chat.send(store, settings, mine, client, "mine"))
    theirs, _ = store.new_session("alice")
    run(chat.send(store, settings, theirs, client, "theirs"))
    foreign_answer = store.get_messages(theirs)[-1]
    with pytest.raises(MessageNotFoundError):
        chat.regenerate(store, settings, mine, client, foreign_answer.id)


# --- generated titles ----------------------------------------------------------------------


def with_titles(settings, on=True):
    return dataclasses.replace(settings, generated_titles=on, system_prompt="")


def title_requests(emu):
    return [r.body for r in emu.requests if r.body and r.body.get("stream") is False]


def test_the_first_answer_is_followed_by_one_small_title_request(store, settings, client, emu):
    session, _ = store.new_session("alice")
    run(chat.send(store, with_titles(settings), session, client, "hello there"))
    (request,) = title_requests(emu)
    assert request["max_tokens"] == titles_limit()
    assert request["thinking"] == {"type": "disabled"}
    # The emulator echoes the last user text: the excerpt sent, whose first line is kept.
    assert store.get_session("alice", session.id).title == "Echo: User: hello there"
    run(chat.send(store, with_titles(settings), session, client, "and more"))
    assert len(title_requests(emu)) == 1  # later turns keep the title


def titles_limit():
    from chat_core.ark.titles import TITLE_MAX_TOKENS

    return TITLE_MAX_TOKENS


def test_titles_switched_off_send_nothing_more(store, settings, client, emu):
    session, _ = store.new_session("alice")
    run(chat.send(store, with_titles(settings, on=False), session, client, "hello there"))
    assert title_requests(emu) == []
    assert store.get_session("alice", session.id).title == "hello there"


def test_a_failed_title_request_keeps_the_first_message_title(store, emu, settings):
    session, _ = store.new_session("alice")
    store.start_turn(session, "what is a monad")
    http = httpx.Client(trust_env=False)
    refused = make_client(settings, api_key="wrong-key", http_client=http)
    try:
        assert titles.generate_title(store, session, refused, "ep-x", "q", "a") is None
    finally:
        http.close()
    assert store.get_session("alice", session.id).title == make_title("what is a monad")


def test_editing_the_first_message_titles_the_chat_again(store, settings, client, emu):
    session, _ = store.new_session("alice")
    run(chat.send(store, with_titles(settings), session, client, "first try"))
    first = store.get_messages(session)[0]
    run(chat.edit(store, with_titles(settings), session, client, first.id, "second try"))
    assert store.get_session("alice", session.id).title == "Echo: User: second try"
    store.rename("alice", session.id, "Named by me")
    run(chat.edit(store, with_titles(settings), session, client, first.id, "third try"))
    assert store.get_session("alice", session.id).title == "Named by me"
    assert len(title_requests(emu)) == 2  # none for a chat its user named


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ('"Weather in Beijing"', "Weather in Beijing"),
        ("**Monads, explained.**\nMore text", "Monads, explained"),
        ("「北京天气」。", "北京天气"),
        ("   \n Title: x", "Title: x"),
    ],
)
def test_generated_titles_lose_quotes_marks_and_final_punctuation(raw, title):
    assert titles.clean_title(raw) == title
