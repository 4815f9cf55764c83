"""What the app's server offers, for the chat settings and the preferences: its models
and the conversation modes it can serve.

Ark serves all three modes, and its models are those of the catalogue. Another
OpenAI-compatible server serves stateless chat; Responses chaining once it has shown
that it keeps responses; never the Context API, which only Ark has. Its models are those
it lists (GET /v1/models), and Ark's catalogue says nothing of them. It is asked in the
background, so the page never waits for it.
"""

from __future__ import annotations

import streamlit as st

from chat_core.config import CACHE_MODES
from chat_core.provider import ARK, ServerFacts, modes_offered

from .model_picker import alias_picker, model_picker
from .runtime import Visit
from .text import t


def choose_model(
    visit: Visit, current: str, current_alias: str | None, *, key: str, alias_key: str
) -> tuple[str, str | None]:
    """The model chosen and, for an id Ark's catalogue does not know, the catalogue model
    it serves. On another server: one of the models it lists, or any name typed in, and
    no catalogue model."""
    lang = visit.lang
    if visit.settings.provider_kind == ARK:
        model = model_picker(lang, current, key=key)
        return model, alias_picker(lang, model, current_alias, key=alias_key)
    listed = _facts(visit, current).models or ()
    return model_picker(lang, current, key=key, served=listed), None


# Why the Responses mode is not offered yet: the server is still being asked.
CHECKING = "server_checking"


def server_modes(visit: Visit, model: str) -> dict[str, str | None]:
    """Each mode, with None when the server serves it, else the key of a text that says
    why not (formatted with the mode's name as `option`)."""
    settings = visit.settings
    if settings.provider_kind == ARK:
        return dict.fromkeys(CACHE_MODES)
    facts = _facts(visit, model)
    offered = modes_offered(settings.provider_kind, facts)
    reasons = {
        "context": "server_no_context",
        "responses": CHECKING if facts.chains_responses is None else "server_no_chaining",
    }
    return {mode: None if mode in offered else reasons[mode] for mode in CACHE_MODES}


def thinking_note(visit: Visit) -> None:
    """Under the thinking choice: another server is not sent Ark's thinking switch."""
    if visit.settings.provider_kind != ARK:
        st.caption(t(visit.lang, "server_no_thinking"))


def _facts(visit: Visit, model: str) -> ServerFacts:
    """What is known of a generic server for `model`, asking it in the background when
    that is not known yet."""
    from chat_core.ark import probe  # the SDK loads only for a generic server

    settings = visit.settings
    facts = probe.known_facts(settings.base_url, model)
    if facts.chains_responses is None and visit.api_key:
        probe.ask_in_background(settings, visit.api_key, model)
    return facts
