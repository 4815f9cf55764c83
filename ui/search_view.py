"""Search in the sidebar, as you type: every matching message, under its chat's title,
with the match marked in its snippet. A hit opens its chat on that message.

The box and its hits are a fragment, so a keystroke reruns only them (the box commits
after a short pause in typing); while a query is typed, the chat list under it hides.
"""

from __future__ import annotations

import streamlit as st

from chat_core.errors import ChatError
from chat_core.highlight import highlighted
from chat_core.markdown import escape, literal
from chat_core.search_typing import worth_searching
from chat_core.store.rules import search_terms

from . import feedback, landing
from .runtime import Visit, shared_store
from .text import t

QUERY = "search"
OPENED = "search_opened"  # a hit was clicked: the whole page opens its chat
TYPING_PAUSE = "250ms"
HIDE_LIST = "<style>.st-key-chat_list { display: none; }</style>"


@st.fragment
def search_panel(visit: Visit, current_id: str) -> None:
    with feedback.guard(visit.lang):  # a keystroke reruns this fragment alone
        _search_panel(visit, current_id)


def _search_panel(visit: Visit, current_id: str) -> None:
    if st.session_state.pop(OPENED, False):
        st.rerun()  # the page opens the chat the hit named
    query = st.text_input(
        t(visit.lang, "search"),
        key=QUERY,
        icon=":material/search:",
        placeholder=t(visit.lang, "search"),
        label_visibility="collapsed",
        live=TYPING_PAUSE,
    )
    if not query.strip():
        return
    st.html(HIDE_LIST)
    if not worth_searching(query):
        st.caption(t(visit.lang, "search_more"))
        return
    with st.container(key="search_results"):
        _hits(visit, query, current_id)


def _hits(visit: Visit, query: str, current_id: str) -> None:
    store = shared_store(visit.settings)
    hits = store.search(visit.owner, query)
    if not hits:
        st.caption(t(visit.lang, "search_none", query=literal(query[:80])))
        return
    terms = search_terms(query)
    for hit in hits:
        st.button(
            escape(hit.title or t(visit.lang, "untitled")),
            key=f"hit-{hit.session_id}-{hit.message_id or 'title'}",
            width="stretch",
            type="primary" if hit.session_id == current_id else "secondary",
            on_click=_open,
            args=(visit, hit.session_id, hit.message_id),
        )
        if hit.snippet and (hit.message_id is not None or hit.snippet != hit.title):
            st.caption(highlighted(hit.snippet, terms))


def _open(visit: Visit, session_id: str, message_id: int | None) -> None:
    store = shared_store(visit.settings)
    try:
        session = store.get_session(visit.owner, session_id)
        landing.open_at(store, session, message_id)
    except ChatError as exc:  # deleted meanwhile, say in another tab
        feedback.error(exc)
        return
    st.session_state[OPENED] = True
