"""AppTest: a reply cut at the token limit says so and offers Continue; a turn without
an answer says the model will not see it."""

from __future__ import annotations

from chat_core.store import connect
from tests import test_app as page
from tests.test_app import app, param, texts

# The page tests' fixtures: a configured environment, and clients closed after each test.
env, close_clients = page.env, page.close_clients


def notices(at) -> list[str]:
    return [w.value for w in at.warning]


def test_a_cut_reply_says_so_and_continue_completes_it(env, monkeypatch):
    monkeypatch.setenv("ARK_MAX_TOKENS", "5")
    at = app().run()
    at.chat_input(key="chat_input").set_value("#tokens=8").run()
    assert texts(at)[-1] == ("assistant", ["w1 w2 w3 w4 w5"])
    assert notices(at) == [
        "This answer stopped at the token limit (ARK_MAX_TOKENS or the model's own)."
    ]
    at.button(key="continue").click().run()
    assert not at.exception
    assert texts(at) == [("user", ["#tokens=8"]), ("assistant", ["w1 w2 w3 w4 w5 w6 w7 w8"])]
    assert notices(at) == []
    assert [b.key for b in at.button if b.key == "continue"] == []


def test_a_continue_that_is_cut_again_offers_continue_again(env, monkeypatch):
    monkeypatch.setenv("ARK_MAX_TOKENS", "3")
    monkeypatch.setenv("CHAT_LANG", "zh")
    at = app().run()
    at.chat_input(key="chat_input").set_value("#tokens=8").run()
    at.button(key="continue").click().run()
    assert texts(at)[-1] == ("assistant", ["w1 w2 w3 w4 w5 w6"])
    assert notices(at) == ["这条回答因达到 token 上限（ARK_MAX_TOKENS 或模型自身的上限）而中断。"]
    assert at.button(key="continue").label == "继续"


def test_a_continue_that_fails_before_new_text_says_why(env, emu, monkeypatch):
    monkeypatch.setenv("ARK_MAX_TOKENS", "5")
    at = app().run()
    at.chat_input(key="chat_input").set_value("#tokens=8").run()
    emu.fail_next("500", n=5)  # every try of the SDK's
    try:
        at.button(key="continue").click().run()
    finally:
        emu.clear_faults()
    assert not at.exception
    assert [e.value for e in at.error if "internal error" in e.value]
    assert texts(at)[-1] == ("assistant", ["w1 w2 w3 w4 w5"])  # kept, to continue again
    assert at.button(key="continue")


def test_a_turn_without_an_answer_says_the_model_will_not_see_it(env, emu):
    at = app().run()
    emu.fail_next("500")
    at.chat_input(key="chat_input").set_value("lost question").run()
    captions = [c.value for c in at.chat_message[-1].caption]
    assert any("Not part of what the model sees" in c for c in captions)
    at.chat_input(key="chat_input").set_value("next question").run()
    assert texts(at)[-1] == ("assistant", ["Echo: next question"])
    answered = [c.value for c in at.chat_message[-1].caption]
    assert not any("Not part of what the model sees" in c for c in answered)


def test_a_continue_refused_by_a_reply_written_elsewhere_says_so(env, monkeypatch, db_path):
    monkeypatch.setenv("ARK_MAX_TOKENS", "5")
    at = app().run()
    at.chat_input(key="chat_input").set_value("#tokens=8").run()
    # Another app process (a store of its own) writes a reply on another version of the
    # question, and its tab switched back to this one.
    with connect(str(db_path)) as other:
        session = other.get_session("local", param(at))
        question, cut = other.get_messages(session)
        other.edit_message(session, question.id, "#tokens=8 another version")
        elsewhere = other.begin_reply(session)
        other.switch_branch(session, cut.id)
        at.button(key="continue").click().run()
        assert not at.exception
        assert [e.value for e in at.error] == [
            "A reply is still being written in this chat. "
            "Wait for it, or stop it, before sending another message."
        ]
        assert other.get_message(session, cut.id) == cut  # left as it was, to continue
        other.save_reply(session, elsewhere.id, content="done", status="complete")
