"""Preferences per owner: kept in the store, checked when read, layered over the
operator's settings, and taken by new chats (a chat's own choices still win)."""

import dataclasses

import pytest

from chat_core import preferences
from chat_core.chat import effective
from chat_core.config import load_settings
from chat_core.errors import InvalidInputError
from chat_core.preferences import Preferences

OPERATOR = {"ARK_MODEL": "ep-operator", "ARK_CACHE": "off", "ARK_SYSTEM_PROMPT": "Operator."}


def test_preferences_go_through_the_store_and_back(store):
    chosen = Preferences(
        language="zh",
        model="doubao-seed-1-6-250615",
        mode="responses",
        system_prompt="",
        thinking="disabled",
        temperature=0.7,
        generated_titles=False,
        reasoning_effort="low",
        web_search=True,
    )
    store.set_preferences("alice", preferences.to_stored(chosen))
    assert preferences.read(store.preferences("alice")) == chosen
    store.set_preferences("alice", preferences.to_stored(Preferences(language="en")))
    assert preferences.read(store.preferences("alice")) == Preferences(language="en")


def test_operator_settings_stay_beneath_the_preferences():
    settings = load_settings(env=OPERATOR)
    layered = preferences.apply(settings, Preferences(model="ep-mine", temperature=0.2))
    assert (layered.model, layered.temperature) == ("ep-mine", 0.2)
    assert (layered.cache, layered.system_prompt) == ("off", "Operator.")
    assert preferences.apply(settings, Preferences()) == settings


def test_an_empty_system_prompt_is_a_preference_too():
    settings = load_settings(env=OPERATOR)
    assert preferences.apply(settings, Preferences(system_prompt="")).system_prompt == ""


def test_the_models_default_temperature_is_a_preference_over_the_operators(store):
    store.set_preferences("alice", {"temperature": preferences.MODEL_DEFAULT})
    chosen = preferences.read(store.preferences("alice"))
    assert chosen.temperature == preferences.MODEL_DEFAULT
    operator = load_settings(env={**OPERATOR, "ARK_TEMPERATURE": "0.75"})
    assert preferences.apply(operator, chosen).temperature is None  # none is sent
    kept = preferences.differences(chosen, preferences.operator_defaults(operator))
    assert kept["temperature"] == preferences.MODEL_DEFAULT
    # With no temperature of the operator's it is no difference: nothing is pinned.
    without = preferences.operator_defaults(load_settings(env=OPERATOR))
    assert preferences.differences(chosen, without)["temperature"] is None
    with pytest.raises(ValueError):  # no number: a version without it ignores it
        float(preferences.MODEL_DEFAULT)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("language", "klingon"),
        ("mode", "telepathy"),
        ("thinking", "maybe"),
        ("temperature", "hot"),
        ("temperature", "2.5"),
        ("temperature", "nan"),
        ("temperature", "Default"),
        ("temperature", "auto"),
        ("generated_titles", "yes please"),
        ("reasoning_effort", "extreme"),
        ("model", "   "),
        ("model", "x" * 201),
        ("system_prompt", "x" * 20_001),
        ("web_search", "1"),
    ],
)
def test_a_value_this_version_cannot_use_counts_as_not_set(name, raw):
    assert getattr(preferences.read({name: raw}), name) is None


def test_new_chats_take_the_preferences_and_a_chats_own_choice_wins(store):
    layered = preferences.apply(
        load_settings(env=OPERATOR),
        Preferences(model="ep-mine", mode="responses", system_prompt="Mine.", thinking="enabled"),
    )
    fresh, _ = store.new_session("alice")
    chosen = effective(fresh, layered)
    assert (chosen["model"], chosen["cache_mode"], chosen["system_prompt"]) == (
        "ep-mine",
        "responses",
        "Mine.",
    )
    assert chosen["thinking"] == "enabled"
    own = store.update_settings("alice", fresh.id, model="ep-chat", system_prompt="Chat's.")
    assert (effective(own, layered)["model"], effective(own, layered)["system_prompt"]) == (
        "ep-chat",
        "Chat's.",
    )


def test_effort_and_web_search_go_with_the_default_model_and_mode(store):
    layered = preferences.apply(
        load_settings(env=OPERATOR), Preferences(reasoning_effort="high", web_search=True)
    )
    fresh, _ = store.new_session("alice")
    assert (
        effective(fresh, layered)["reasoning_effort"],
        effective(fresh, layered)["web_search"],
    ) == (
        "high",
        True,
    )
    other = store.update_settings("alice", fresh.id, model="ep-other", cache_mode="context")
    assert (
        effective(other, layered)["reasoning_effort"],
        effective(other, layered)["web_search"],
    ) == (
        None,
        False,
    )


def cached(store, owner, *, prompt=None):
    """A chat of `owner` with a cached context and a reply to chain from (with its own
    system prompt when `prompt` is given)."""
    session, _ = store.new_session(owner)
    if prompt is not None:
        session = store.update_settings(owner, session.id, system_prompt=prompt)
    store.start_turn(session, "question")
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content="answer", status="complete", response_id="r1")
    store.set_cache_state(session, context_id="ctx-1", response_id="r1", context_leaf_id=reply.id)
    return session


def caches(store, session):
    row = store.get_session(session.owner, session.id)
    chain = [m.response_id for m in store.get_messages(session) if m.role == "assistant"]
    return row.ark_context_id, row.response_id, chain


def test_a_new_default_prompt_drops_the_cache_of_the_chats_that_follow_it(store):
    following = cached(store, "alice")
    own = cached(store, "alice", prompt="Mine.")
    other_owner = cached(store, "bob")
    store.set_preferences("alice", {"system_prompt": "Answer in French.", "language": "en"})
    assert caches(store, following) == (None, None, [None])  # the next turn replays it
    assert caches(store, own) == ("ctx-1", "r1", ["r1"])
    assert caches(store, other_owner) == ("ctx-1", "r1", ["r1"])
    again = cached(store, "alice")
    store.set_preferences("alice", {"system_prompt": "Answer in French."})  # unchanged
    assert caches(store, again) == ("ctx-1", "r1", ["r1"])
    store.set_preferences("alice", {"model": "ep-other"})
    assert caches(store, again) == (None, None, [None])


def test_a_preference_removed_that_equals_its_default_keeps_the_caches(store):
    store.set_preferences("alice", {"model": "ep-x"})  # then the operator makes it theirs
    following = cached(store, "alice")
    defaults = {"model": "ep-x", "system_prompt": ""}
    store.set_preferences("alice", {"model": None}, defaults)  # ep-x applies all along
    assert caches(store, following) == ("ctx-1", "r1", ["r1"])
    assert "model" not in store.preferences("alice")
    store.set_preferences("alice", {"system_prompt": ""}, defaults)  # the default, set
    assert caches(store, following) == ("ctx-1", "r1", ["r1"])
    store.set_preferences("alice", {"model": "ep-y"}, defaults)  # a change of what applies
    assert caches(store, following) == (None, None, [None])


def test_a_model_its_alias_and_mode_are_kept_together():
    operator = load_settings(env={"ARK_MODEL": "ep-aaaa"})  # served model not said
    defaults = preferences.operator_defaults(operator)
    chosen = Preferences(
        language="en", model="ep-aaaa", model_alias="doubao-seed-1-8-251228", mode="off"
    )
    kept = preferences.differences(chosen, defaults)
    # only the alias differs, yet the endpoint and mode chosen with it are kept with it
    assert (kept["model"], kept["model_alias"], kept["mode"]) == (
        "ep-aaaa",
        "doubao-seed-1-8-251228",
        "off",
    )
    same = Preferences(language="en", model="ep-aaaa", model_alias=operator.model_alias)
    kept = preferences.differences(dataclasses.replace(same, mode=operator.cache), defaults)
    assert (kept["model"], kept["model_alias"], kept["mode"]) == (None, None, None)


def test_a_new_default_is_refused_while_a_chat_that_follows_it_writes_a_reply(store):
    following = cached(store, "alice")
    store.start_turn(following, "a question")
    reply = store.begin_reply(following)
    own = cached(store, "alice", prompt="Mine.")
    store.start_turn(own, "another")
    own_reply = store.begin_reply(own)  # its own prompt: no default it follows
    with pytest.raises(InvalidInputError) as refused:
        store.set_preferences("alice", {"system_prompt": "Answer in French.", "language": "zh"})
    assert refused.value.code == "preferences_while_streaming"
    assert store.preferences("alice") == {}  # nothing of the save is written
    store.set_preferences("alice", {"language": "zh"})  # what no cache depends on is fine
    store.save_reply(following, reply.id, content="done", status="complete")
    store.set_preferences("alice", {"system_prompt": "Answer in French."})  # once it ended
    assert caches(store, following)[0] is None
    store.save_reply(own, own_reply.id, content="done", status="complete")
