"""Preferences that follow the user: read for every run (one query) and layered over the
operator's settings, and set in a dialog. The language chosen in the sidebar is one of
them, so it survives a reload."""

from __future__ import annotations

import streamlit as st

import locales
from chat_core import preferences
from chat_core.capabilities import options
from chat_core.config import Settings
from chat_core.errors import ChatError
from chat_core.preferences import Preferences

from . import feedback
from .runtime import LANG_CHOICE, PREFERRED_LANGUAGE, Visit, settings_or_stop, shared_store
from .server_modes import choose_model, server_modes, thinking_note
from .settings_view import cache_mode_choice, thinking_choice
from .text import t

FIELD = "preference-{}"
DIALOG_OPEN = "preferences_open"


def for_visit(settings: Settings, lang: str, owner: str | None) -> Settings:
    """`settings` with the owner's preferences over them (the operator's stay beneath).

    The preferred language is read once per browser session: when it is not the one
    this first run was drawn in, the page is drawn again in it. A database that cannot
    be read leaves the operator's settings (the page says why in its own place)."""
    if owner is None:
        return settings
    try:
        chosen = preferences.read(shared_store(settings).preferences(owner))
    except ChatError:
        return settings
    if PREFERRED_LANGUAGE not in st.session_state:
        st.session_state[PREFERRED_LANGUAGE] = chosen.language
        if chosen.language not in (None, lang) and LANG_CHOICE not in st.session_state:
            st.rerun()
    return preferences.apply(settings, chosen)


def remember_language(visit: Visit) -> None:
    """The sidebar's language choice becomes the owner's preference (its callback)."""
    chosen = st.session_state.get(LANG_CHOICE)
    if chosen not in locales.languages():
        return
    st.session_state[PREFERRED_LANGUAGE] = chosen
    try:
        shared_store(visit.settings).set_preferences(visit.owner, {"language": chosen})
    except ChatError as exc:
        feedback.error(exc)  # a callback: said when the page is drawn


def preferences_button(visit: Visit) -> None:
    """The button, and the dialog while it is open: it stays open through full runs of
    the page (another tab's reply, a notice) until it is saved or dismissed."""
    st.button(
        t(visit.lang, "preferences"),
        key="open_preferences",
        icon=":material/settings:",
        width="stretch",
        on_click=st.session_state.__setitem__,
        args=(DIALOG_OPEN, True),
    )
    if st.session_state.get(DIALOG_OPEN):
        dialog = st.dialog(t(visit.lang, "preferences"), width="large", on_dismiss=_dismissed)
        dialog(_dialog)(visit)


def _dismissed() -> None:
    st.session_state.pop(DIALOG_OPEN, None)


def _dialog(visit: Visit) -> None:
    lang, operator = visit.lang, visit.settings
    st.caption(t(lang, "preferences_note"))
    languages = locales.languages()
    language = st.selectbox(
        t(lang, "language"),
        languages,
        index=languages.index(lang),
        format_func=locales.language_name,
        key=FIELD.format("language"),
    )
    model, alias = choose_model(
        visit,
        operator.model,
        operator.model_alias,
        key=FIELD.format("model"),
        alias_key=FIELD.format("alias"),
    )
    # The modes this server can serve with this model (the Context API needs an endpoint).
    served = server_modes(visit, model)
    mode = cache_mode_choice(lang, model, alias, operator.cache, FIELD.format("mode"), served)
    system_prompt = st.text_area(
        t(lang, "system_prompt"),
        value=operator.system_prompt,
        # The operator's may be longer: kept whole (saved unchanged, it is no preference).
        max_chars=max(preferences.MAX_SYSTEM_PROMPT_CHARS, len(operator.system_prompt or "")),
        key=FIELD.format("system_prompt"),
    )
    allowed = options(model, alias, mode)
    thinking = thinking_choice(lang, allowed, operator.thinking, FIELD.format("thinking"))
    if thinking == allowed.thinking_for(operator.thinking):
        thinking = operator.thinking  # only shown as what this model takes: left alone
    thinking_note(visit)
    own_temperature = st.toggle(
        t(lang, "preferences_temperature"),
        value=operator.temperature is not None,
        key=FIELD.format("own_temperature"),
    )
    temperature = st.slider(
        t(lang, "temperature"),
        0.0,
        2.0,
        step=0.1,
        value=1.0 if operator.temperature is None else float(operator.temperature),
        disabled=not own_temperature,
        key=FIELD.format("temperature"),
    )
    titles = st.toggle(
        t(lang, "preferences_titles"),
        value=operator.generated_titles,
        help=t(lang, "preferences_titles_help"),
        key=FIELD.format("titles"),
    )
    if st.button(t(lang, "save"), type="primary", key="save_preferences"):
        values = Preferences(
            language=language,
            model=model or None,
            mode=mode,
            system_prompt=system_prompt,
            thinking=thinking,
            temperature=temperature if own_temperature else preferences.MODEL_DEFAULT,
            generated_titles=titles,
            model_alias=alias,
        )
        defaults = preferences.operator_defaults(settings_or_stop())
        stored = preferences.differences(values, defaults)
        # Effort and web search are set per chat: a dialog that does not show them
        # leaves them as they are. The language box has no "automatic" entry, so the
        # language is saved only when changed: left alone, it stays as it was (the
        # operator's, while the user never chose one).
        for name in ("reasoning_effort", "web_search"):
            stored.pop(name)
        if language == lang:
            stored.pop("language")
        if _save(visit, stored, defaults):
            if language != lang:
                st.session_state[PREFERRED_LANGUAGE] = language
                st.session_state.pop(LANG_CHOICE, None)  # the preference decides now
            st.session_state.pop(DIALOG_OPEN, None)
            feedback.notice("preferences_saved")
            st.rerun()


def _save(visit: Visit, values: dict, defaults: dict) -> bool:
    """Store the preferences; a refusal is said in the dialog, which stays open."""
    try:
        shared_store(visit.settings).set_preferences(visit.owner, values, defaults)
    except ChatError as exc:
        feedback.error_here(visit.lang, exc)
        return False
    return True
