"""The per-session settings popover. A draft session keeps what is chosen here until its
first message, because the settings live on the session row."""

from __future__ import annotations

import streamlit as st

from chat_core.chat import effective
from chat_core.config import CACHE_MODES, THINKING_MODES
from chat_core.errors import ChatError
from chat_core.store import Session

from .runtime import Visit, notify
from .text import error_message, t


def render_settings(visit: Visit, store, session: Session) -> None:
    lang = visit.lang
    current = effective(session, visit.settings)
    with st.popover(t(lang, "settings"), icon=":material/tune:"), st.form(f"settings-{session.id}"):
        model = st.text_input(t(lang, "model"), value=current["model"], max_chars=200)
        system_prompt = st.text_area(
            t(lang, "system_prompt"), value=current["system_prompt"] or "", max_chars=20_000
        )
        temperature = st.slider(
            t(lang, "temperature"),
            0.0,
            2.0,
            step=0.1,
            value=1.0 if current["temperature"] is None else float(current["temperature"]),
        )
        thinking = st.selectbox(
            t(lang, "thinking_mode"),
            THINKING_MODES,
            index=THINKING_MODES.index(current["thinking"]),
            format_func=lambda mode: t(lang, f"thinking_{mode}"),
        )
        cache_mode = st.selectbox(
            t(lang, "cache_mode"),
            CACHE_MODES,
            index=CACHE_MODES.index(current["cache_mode"]),
            format_func=lambda mode: t(lang, f"cache_{mode}"),
        )
        st.caption(t(lang, "context_thinking_note"))
        if not st.form_submit_button(t(lang, "save"), type="primary"):
            return
    changes = _changes(
        current,
        model=model.strip() or visit.settings.model,
        system_prompt=system_prompt,
        temperature=temperature,
        thinking=thinking,
        cache_mode=cache_mode,
    )
    if changes:
        try:
            store.update_settings(visit.owner, session.id, **changes)
        except ChatError as exc:
            st.error(error_message(lang, exc))
            return
    notify("settings_saved")
    st.rerun()


def _changes(current: dict, **chosen) -> dict:
    """Only what the user changed, so an untouched temperature stays the model default."""
    changes = {key: value for key, value in chosen.items() if value != current[key]}
    if current["temperature"] is None and chosen["temperature"] == 1.0:
        changes.pop("temperature", None)
    return changes
