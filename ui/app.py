"""The page: settings, identity and the store for this run, then sidebar and chat."""

from __future__ import annotations

import streamlit as st

from chat_core.chat import chat_cost, effective

from . import feedback
from .chat_view import chat_area, history_area, stop_reply
from .runtime import (
    Visit,
    language,
    notify,
    owner_or_stop,
    prices,
    select_session,
    settings_or_stop,
    store_or_stop,
    warm_up_model_layer,
)
from .settings_view import render_settings
from .sidebar import render_sidebar
from .style import follow_chat, on_stop, page_style
from .text import t


def main() -> None:
    # Streamlit's own favicon: a Material icon would make the browser fetch it from
    # Google, an emoji loads Streamlit's emoji catalogue (~0.4 s) and an image NumPy
    # and PIL (~0.2 s), all before the first page.
    st.set_page_config(page_title="Ark Chat", layout="wide")
    settings = settings_or_stop()
    lang = language(settings)
    visit = Visit(settings, owner_or_stop(lang), lang)
    store = store_or_stop(settings, lang)
    page_style()
    with feedback.guard(lang):
        session = current_session(visit, store)
        on_stop(lambda: stop_reply(visit, session.id))
        header = st.container()
        # The chat (with its input) is drawn before the header and sidebar, so the input
        # is on the page even while the rest of the run is still to come.
        history_area(visit, store, session)
        chat_area(visit, session.id)
        follow_chat(session.id)
        with header:
            render_header(visit, store, session)
        render_sidebar(visit, store, session)
    warm_up_model_layer()


def current_session(visit: Visit, store):
    """The session in `?session=`, if it is the visitor's; else their unused one."""
    requested = st.query_params.get("session")
    session = store.find_session(visit.owner, requested) if requested else None
    if requested and session is None:
        notify("unknown_session")
    if session is None:
        session, _ = store.new_session(visit.owner)
        select_session(session.id)
    return session


def render_header(visit: Visit, store, session) -> None:
    chosen = effective(session, visit.settings)
    title, controls = st.columns([0.8, 0.2], vertical_alignment="bottom")
    with title.container(key="chat_title"):
        st.text(session.title or t(visit.lang, "untitled"))  # plain text, as typed
    details = [chosen["model"], t(visit.lang, "cache_" + chosen["cache_mode"])]
    if session.is_used:
        spent = chat_cost(store, session, prices(visit.settings))
        if spent.total:
            key = "session_cost" if spent.complete else "session_cost_partial"
            details.append(t(visit.lang, key, cost=f"{spent.total:.4f}"))
    title.caption(" · ".join(details))
    with controls:
        render_settings(visit, store, session)
