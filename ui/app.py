"""The Chat page: the chat in `?session=` (history, input, header) and its sidebar."""

from __future__ import annotations

import streamlit as st

from chat_core.chat import effective
from chat_core.errors import DatabaseError
from chat_core.markdown import literal

from . import feedback
from .chat_view import chat_area, history_area, stop_reply
from .costs import chat_costs
from .runtime import (
    Visit,
    notify,
    prices,
    select_session,
    shared_store,
    warm_up_model_layer,
)
from .settings_view import render_settings
from .share_view import share_menu
from .shell import this_visit
from .sidebar import render_sidebar
from .style import follow_chat, on_stop
from .temporary_view import temporary_page, temporary_requested, temporary_toggle
from .text import t

OPEN_CHAT = "open_chat"  # the chat this tab showed last


def chat_page() -> None:
    """The Chat page, inside the frame `streamlit_app.py` draws (see `ui.shell`)."""
    visit = this_visit()
    lang, store = visit.lang, shared_store(visit.settings)
    if temporary_requested():  # a chat never written to the database
        temporary_page(visit, store)
        return
    with feedback.guard(lang):
        session = current_session(visit, store)
        on_stop(lambda sent: stop_reply(visit, session.id, sent))
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
    """The session in `?session=`, if it is the visitor's; without one, the chat this
    browser tab showed last (back from another page); else their unused one."""
    requested = st.query_params.get("session")
    session = store.find_session(visit.owner, requested) if requested else None
    if requested and session is None:
        notify("unknown_session")
    if session is None and not requested:
        session = store.find_session(visit.owner, st.session_state.get(OPEN_CHAT))
    if session is None:
        session = _unused_or_latest(visit, store)
    if session.id != requested:
        select_session(session.id)
    st.session_state[OPEN_CHAT] = session.id
    return session


def _unused_or_latest(visit: Visit, store):
    """The visitor's unused chat; when the database cannot be written now (locked,
    read-only, a full disk) and none exists, their latest chat, so the chats can still
    be read, with the reason said."""
    try:
        session, _ = store.new_session(visit.owner)
    except DatabaseError as exc:
        latest = store.list_sessions(visit.owner, limit=1)
        if not latest:
            raise
        feedback.error(exc)
        return latest[0]
    return session


def render_header(visit: Visit, store, session) -> None:
    chosen = effective(session, visit.settings)
    title, controls = st.columns([0.8, 0.2], vertical_alignment="bottom")
    with title.container(key="chat_title"):
        st.text(session.title or t(visit.lang, "untitled"))  # plain text, as typed
    # A model id may come from an imported file or a server: shown as text, never drawn.
    details = [literal(chosen["model"]), t(visit.lang, "cache_" + chosen["cache_mode"])]
    if session.is_used:
        table = prices(visit.settings, session)
        details += chat_costs(visit.lang, store, session, visit.settings, table)
    title.caption(" · ".join(details))
    with controls:
        render_settings(visit, store, session)
        share_menu(visit, session)
        temporary_toggle(visit.lang, on=False)
