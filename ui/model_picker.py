"""Choosing a model: a searchable list of the catalogue's models that also takes any id
typed in (an endpoint `ep-…`, a model the catalogue does not list), and, for an id the
catalogue does not know, which catalogue model it serves (for its prices and abilities).
Used by the chat settings and by the defaults for new chats."""

from __future__ import annotations

import streamlit as st

from chat_core.catalogue import find_model, models

from .text import t

MAX_MODEL_CHARS = 200  # as the settings have always allowed


def model_picker(
    lang: str, current: str, *, key: str, served: tuple[str, ...] | None = None
) -> str:
    """The chosen model id: one of the catalogue's, or the id the user typed. `served`
    (another OpenAI-compatible server's own models) replaces the catalogue's list."""
    current = (current or "").strip()
    ids = [model.id for model in models()] if served is None else list(served)
    known = find_model(current) if served is None else None
    if known is not None and known.id != current and current not in ids:
        ids.insert(0, current)  # another version of a listed model: keep it as it is
    elif known is None and current and current not in ids:
        ids.insert(0, current)
    typed = st.session_state.get(key)
    if isinstance(typed, str) and typed and typed not in ids:
        ids.insert(0, typed)  # typed in before: offered again while it is the draft
    chosen = st.selectbox(
        t(lang, "model" if served is None else "model_on_server"),
        ids,
        index=ids.index(current) if current in ids else 0,
        format_func=(lambda model_id: model_label(lang, model_id)) if served is None else str,
        key=key,
        accept_new_options=True,
        help=t(lang, "model_help" if served is None else "model_help_server"),
    )
    return (chosen or current or "").strip()[:MAX_MODEL_CHARS]


def alias_picker(lang: str, model: str, current: str | None, *, key: str) -> str | None:
    """For an id the catalogue does not know, which catalogue model it serves (None:
    not said); nothing is asked for a catalogue model."""
    if find_model(model) is not None:
        return None
    choices = [None, *(info.id for info in models())]
    chosen = st.selectbox(
        t(lang, "model_alias"),
        choices,
        index=choices.index(current) if current in choices else 0,
        format_func=lambda model_id: (
            t(lang, "model_alias_unknown") if model_id is None else model_label(lang, model_id)
        ),
        key=key,
        help=t(lang, "model_alias_help"),
    )
    return chosen


def model_label(lang: str, model_id: str) -> str:
    """`Doubao Seed 2.1 Pro · doubao-seed-2-1-pro-260628`, or the id alone."""
    info = find_model(model_id)
    if info is None:
        return t(lang, "model_custom", model=model_id)
    return t(lang, "model_entry", name=info.name, model=model_id)
