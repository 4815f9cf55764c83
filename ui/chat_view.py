"""The chat area: a window of recent messages, the reply actions, the input, streaming.

It runs as a fragment, so sending a message reruns only this part of the page, not the
sidebar. A fragment run opens its own store (it runs on its own thread).
"""

from __future__ import annotations

import time

import streamlit as st

from chat_core import chat
from chat_core.ark import ReasoningDelta
from chat_core.errors import ChatError
from chat_core.markdown import for_display
from chat_core.streaming import coalesce

from .messages import render_message
from .runtime import Visit, client, open_store, prices, rerun_fragment_or_page
from .text import t

WINDOW = 50
REASONING_PAINT_SECONDS = 0.25
PENDING = "pending_action"
EDITING = "editing_last"
UNSAVED_ERROR = "unsaved_error"


@st.fragment
def chat_area(visit: Visit, session_id: str) -> None:
    with open_store(visit.settings) as store:
        session = store.find_session(visit.owner, session_id)
        if session is None:  # deleted from another tab
            st.rerun()
        price_table = prices(visit.settings)
        messages = _history(store, session, visit.lang, price_table)
        if unsaved := st.session_state.pop(UNSAVED_ERROR, None):
            st.error(unsaved, icon=":material/error:")
        action = st.session_state.pop(PENDING, None)
        prompt = _input(visit, session)
        if prompt is not None:
            st.session_state.pop(EDITING, None)
            _answer(
                visit,
                store,
                session,
                lambda c: chat.send(store, visit.settings, session, c, prompt),
                prompt,
            )
        elif action is not None:
            _answer(
                visit,
                store,
                session,
                lambda c: _ACTIONS[action[0]](store, visit.settings, session, c, *action[1:]),
            )
        elif not st.session_state.get(EDITING):
            _reply_actions(visit, messages)
        else:
            _edit_form(visit, messages)


def _history(store, session, lang, prices):
    key = f"window-{session.id}"
    window = st.session_state.get(key, WINDOW)
    messages = store.get_messages(session, limit=window + 1)
    if len(messages) > window:
        messages = messages[1:]
        hidden = store.count_messages(session) - window
        if st.button(t(lang, "show_earlier", count=hidden), key="show_earlier"):
            st.session_state[key] = window + WINDOW
            rerun_fragment_or_page()
    for message in messages:
        render_message(message, lang, prices)
    return messages


def _input(visit: Visit, session) -> str | None:
    model = session.model or visit.settings.model
    placeholder = (
        t(visit.lang, "input_placeholder", model=model)
        if visit.has_key
        else t(visit.lang, "input_disabled")
    )
    with st.bottom:
        return st.chat_input(
            placeholder, key="chat_input", submit_mode="stop", disabled=not visit.has_key
        )


def _reply_actions(visit: Visit, messages) -> None:
    if not messages or not visit.has_key:
        return
    last = messages[-1]
    row = st.container(horizontal=True, gap="small")
    if last.role == "assistant" and last.status == "error":
        row.button(
            t(visit.lang, "retry"),
            key="retry",
            icon=":material/refresh:",
            on_click=_queue,
            args=("regenerate",),
        )
    elif last.role == "assistant":
        row.button(
            t(visit.lang, "regenerate"),
            key="regenerate",
            icon=":material/autorenew:",
            on_click=_queue,
            args=("regenerate",),
        )
    else:  # the user's message has no reply yet (it was cut off before one started)
        row.button(
            t(visit.lang, "retry"),
            key="retry",
            icon=":material/refresh:",
            on_click=_queue,
            args=("answer",),
        )
    if any(m.role == "user" for m in messages[-2:]):
        row.button(
            t(visit.lang, "edit"),
            key="edit_last",
            icon=":material/edit:",
            on_click=st.session_state.__setitem__,
            args=(EDITING, True),
        )


def _edit_form(visit: Visit, messages) -> None:
    last_user = next((m for m in reversed(messages) if m.role == "user"), None)
    if last_user is None:
        st.session_state.pop(EDITING, None)
        return
    with st.form("edit_form"):
        text = st.text_area(t(visit.lang, "edit_label"), value=last_user.content, key="edit_text")
        left, right = st.columns(2)
        resend = left.form_submit_button(t(visit.lang, "resend"), type="primary")
        cancel = right.form_submit_button(t(visit.lang, "cancel"))
    if resend or cancel:
        st.session_state.pop(EDITING, None)
        if resend:
            _queue("edit", text)
        rerun_fragment_or_page()


def _queue(action: str, *args) -> None:
    st.session_state[PENDING] = (action, *args)


def _answer(visit: Visit, store, session, make_reply, prompt: str | None = None) -> None:
    """Start a reply and stream it into the page; the store keeps it whatever happens."""
    first_turn = not session.is_used
    try:
        reply = make_reply(client(visit))
        reply.lang = visit.lang
    except ChatError as exc:
        st.error(exc.message(visit.lang), icon=":material/error:")
        return
    if prompt is not None:
        with st.chat_message("user"):
            st.markdown(prompt)
    with st.chat_message("assistant"):
        thinking = st.empty()
        try:
            with reply:
                st.write_stream(coalesce(_content(reply, thinking, visit.lang)))
        except ChatError as exc:
            # Normally saved with status "error" and shown from the store after the rerun;
            # a failure the store could not record is shown once instead.
            if not reply.saved:
                st.session_state[UNSAVED_ERROR] = exc.message(visit.lang)
    # Re-render from the store: usage, status and actions appear in one place. A first
    # turn gives the session its title, which the sidebar must show.
    if first_turn:
        st.rerun()
    rerun_fragment_or_page()


def _content(reply, thinking, lang):
    """Reply text for `write_stream`; reasoning goes to a collapsed expander."""
    reasoning, painted_at, reasoning_done = [], 0.0, False
    for event in reply:
        if isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
            if time.monotonic() - painted_at >= REASONING_PAINT_SECONDS:
                _paint(thinking, reasoning, lang)
                painted_at = time.monotonic()
            continue
        if reasoning and not reasoning_done:
            _paint(thinking, reasoning, lang)  # the complete reasoning, once
            reasoning_done = True
        yield event.text
    if reasoning and not reasoning_done:
        _paint(thinking, reasoning, lang)


def _paint(slot, reasoning, lang) -> None:
    with (
        slot.container(),
        st.expander(t(lang, "thinking"), expanded=False, icon=":material/psychology:"),
    ):
        st.markdown(for_display("".join(reasoning)))


_ACTIONS = {
    "regenerate": chat.regenerate,
    "answer": chat.reply_to_last,
    "edit": chat.edit_last,
}
