"""The per-session settings popover. A draft session keeps what is chosen here until its
first message, because the settings live on the session row.

It is a fragment without a form, so choosing a model or a mode redraws only the popover
(which stays open) and every option follows at once: what the model or mode cannot do
is not offered, and a caption says why. Nothing is stored before Save.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from chat_core.capabilities import THINKING_MODE_UNAVAILABLE, options, sent_thinking
from chat_core.chat import effective
from chat_core.config import CACHE_MODES, THINKING_MODES
from chat_core.errors import ChatError
from chat_core.preferences import MAX_SYSTEM_PROMPT_CHARS
from chat_core.store import Session

from . import feedback
from .runtime import Visit, notify, shared_store
from .server_modes import CHECKING, choose_model, server_modes, thinking_note
from .text import t

DEFAULT_EFFORT = "default"
# Each widget, by the setting it edits.
FIELDS = {
    "model": "model",
    "alias": "model_alias",
    "system_prompt": "system_prompt",
    "temperature": "temperature",
    "thinking": "thinking",
    "cache_mode": "cache_mode",
    "effort": "reasoning_effort",
    "web_search": "web_search",
}


def render_settings(visit: Visit, store, session: Session) -> None:
    with st.popover(t(visit.lang, "settings"), icon=":material/tune:"):
        settings_panel(visit, session.id)


@st.fragment
def settings_panel(visit: Visit, session_id: str) -> None:
    with feedback.guard(visit.lang):  # a choice reruns this fragment alone
        _settings_panel(visit, session_id)


def _settings_panel(visit: Visit, session_id: str) -> None:
    store = shared_store(visit.settings)
    session = store.find_session(visit.owner, session_id)
    if session is None:
        return
    lang, current = visit.lang, _current(session, visit.settings)
    key = _keys(session.id, current)
    model, alias = choose_model(
        visit, current["model"], current["model_alias"], key=key["model"], alias_key=key["alias"]
    )
    system_prompt = st.text_area(
        t(lang, "system_prompt"),
        value=current["system_prompt"] or "",
        # A longer prompt (imported, or the operator's) is kept whole: the field would cut it.
        max_chars=max(MAX_SYSTEM_PROMPT_CHARS, len(current["system_prompt"] or "")),
        key=key["system_prompt"],
    )
    temperature = st.slider(
        t(lang, "temperature"),
        0.0,
        2.0,
        step=0.1,
        value=1.0 if current["temperature"] is None else float(current["temperature"]),
        key=key["temperature"],
    )
    served = server_modes(visit, model)
    cache_mode = cache_mode_choice(
        lang, model, alias, current["cache_mode"], key["cache_mode"], served
    )
    allowed = options(model, alias, cache_mode)
    thinking = thinking_choice(lang, allowed, current["thinking"], key["thinking"])
    thinking_note(visit)
    effort = _effort(lang, allowed, current["reasoning_effort"], key["effort"])
    web_search = st.toggle(
        t(lang, "web_search"),
        value=current["web_search"] and allowed.search_reason is None,
        disabled=allowed.search_reason is not None,
        help=t(lang, "web_search_help"),
        key=key["web_search"],
    )
    _notes(lang, allowed, cache_mode)
    if st.button(t(lang, "save"), type="primary", key=f"settings-save-{session.id}"):
        chosen = {
            "model": model or visit.settings.model,
            "model_alias": alias,
            "system_prompt": system_prompt,
            "temperature": temperature,
            "thinking": thinking,
            "cache_mode": cache_mode,
            "reasoning_effort": effort,
            "web_search": web_search,
        }
        _save(visit, store, session, current, chosen)


def thinking_choice(lang: str, allowed, current: str, key: str) -> str:
    """The thinking modes the model takes, starting from the one it would be sent for
    `current`; those it lacks are named."""
    modes = list(allowed.thinking_modes)
    chosen = st.selectbox(
        t(lang, "thinking_mode"),
        modes,
        index=modes.index(allowed.thinking_for(current)),
        format_func=lambda mode: t(lang, f"thinking_{mode}"),
        key=key,
    )
    for mode in THINKING_MODES:
        if mode not in modes:
            st.caption(t(lang, THINKING_MODE_UNAVAILABLE, option=t(lang, f"thinking_{mode}")))
    return chosen


def cache_mode_choice(
    lang: str, model: str, alias: str | None, current: str, key: str, served: dict
) -> str:
    """The conversation modes the model and the server can use; those they cannot are
    named with why. The chat settings and the preferences both choose with it.

    While a generic server is still being asked whether it chains responses, the current
    mode stays on offer: a Save of anything else must not switch the chat away from it."""
    allowed = options(model, alias, current)
    modes = [
        mode
        for mode in CACHE_MODES
        if allowed.mode_allowed(mode)
        and (served[mode] is None or (mode == current and served[mode] == CHECKING))
    ]
    chosen = st.selectbox(
        t(lang, "cache_mode"),
        modes,
        index=modes.index(current) if current in modes else 0,
        format_func=lambda mode: t(lang, f"cache_{mode}"),
        key=key,
    )
    for mode in CACHE_MODES:
        reason = served[mode] or allowed.cache_modes[mode]  # the server's limit first
        if reason is not None:
            st.caption(t(lang, reason, option=t(lang, f"cache_{mode}")))
    return chosen


def _effort(lang: str, allowed, current: str | None, key: str) -> str | None:
    levels = [DEFAULT_EFFORT, *allowed.effort_levels]
    unavailable = allowed.effort_reason is not None
    chosen = st.selectbox(
        t(lang, "reasoning_effort"),
        levels,
        index=levels.index(current) if current in levels and not unavailable else 0,
        format_func=lambda level: t(lang, f"effort_{level}"),
        disabled=unavailable,
        key=key,
    )
    if unavailable:
        st.caption(t(lang, allowed.effort_reason))
    return None if unavailable or chosen == DEFAULT_EFFORT else chosen


def _notes(lang: str, allowed, cache_mode: str) -> None:
    """What a choice means before anything is sent."""
    if allowed.search_reason is not None:
        st.caption(t(lang, allowed.search_reason))
    if allowed.images_reason is not None:
        st.caption(t(lang, allowed.images_reason))
    if cache_mode == "context":
        st.caption(t(lang, "context_thinking_note"))
        st.caption(t(lang, "context_images_note"))


def _save(visit: Visit, store, session: Session, current: dict, chosen: dict) -> None:
    changes = _changes(session, current, chosen)
    if changes:
        try:
            store.update_settings(visit.owner, session.id, **changes)
        except ChatError as exc:
            feedback.error_here(visit.lang, exc)
            return
    for name in _keys(session.id, current).values():
        st.session_state.pop(name, None)  # the next draft starts from what is stored
    notify("settings_saved")
    st.rerun()


def _changes(session: Session, current: dict, chosen: dict) -> dict:
    """Only what the user changed, so an untouched temperature stays the model default
    and an untouched thinking mode the chat's own (shown as the model takes it)."""
    changes = {key: value for key, value in chosen.items() if value != current[key]}
    if current["temperature"] is None and chosen["temperature"] == 1.0:
        changes.pop("temperature", None)
    model, alias = chosen["model"], chosen["model_alias"]
    if chosen["thinking"] == sent_thinking(model, alias, current["thinking"]):
        changes.pop("thinking", None)
    if {"model", "model_alias"} & changes.keys():
        # Kept together, as the preferences keep them: a catalogue model stored without
        # its endpoint would pair with the next default endpoint, and an endpoint stored
        # without the model it serves would lose the one the default said.
        stored = {"model": session.model, "model_alias": session.model_alias}
        changes |= {name: chosen[name] for name, value in stored.items() if chosen[name] != value}
    return changes


def _current(session: Session, settings) -> dict:
    """The chat's settings as the model will use them (defaults filled in)."""
    chosen = {
        "reasoning_effort": session.reasoning_effort,
        "web_search": bool(session.web_search),
        "model_alias": session.model_alias,
    }
    return {**chosen, **effective(session, settings)}


def _keys(session_id: str, current: dict) -> dict[str, str]:
    """Each widget's key names the stored value its draft started from. Streamlit keeps
    a keyed widget's state and ignores a new `value=`, so when another tab or the
    preferences change a setting, its widget gets a new key and starts again from the
    stored value: a Save never writes a stale draft back over it."""
    return {
        name: f"settings-{name}-{session_id}-{_digest(current[setting])}"
        for name, setting in FIELDS.items()
    }


def _digest(value) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=6).hexdigest()
