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
from chat_core.text import clean_text

from .messages import render_message, render_status, usage_line
from .runtime import Visit, client, prices, rerun_fragment_or_page, shared_store
from .text import error_message, t

WINDOW = 50
REASONING_PAINT_SECONDS = 0.25
PENDING = "pending_action"
EDITING = "editing_last"
UNSAVED_ERROR = "unsaved_error"


@st.fragment
def chat_area(visit: Visit, session_id: str) -> None:
    store = shared_store(visit.settings)
    session = store.find_session(visit.owner, session_id)
    if session is None:  # deleted from another tab
        st.rerun()
    # The input is drawn first: a run stopped part-way (the Stop button) must still
    # leave it on the page.
    prompt = _input(visit, session)
    action = None if prompt is not None else st.session_state.pop(PENDING, None)
    if prompt is not None:
        st.session_state.pop(EDITING, None)
    price_table = prices(visit.settings)
    messages = _history(store, session, visit.lang, price_table, action)
    if unsaved := st.session_state.pop(UNSAVED_ERROR, None):
        st.error(error_message(visit.lang, unsaved), icon=":material/error:")
    if prompt is not None:
        send = lambda c: chat.send(store, visit.settings, session, c, prompt)  # noqa: E731
        _answer(visit, store, session, price_table, send, prompt)
    elif action is not None:
        act = lambda c: _ACTIONS[action[0]](store, visit.settings, session, c, *action[1:])  # noqa: E731
        _answer(visit, store, session, price_table, act, _new_text(action))
    elif not st.session_state.get(EDITING):
        _reply_actions(visit, messages)
    else:
        _edit_form(visit, messages)


def _history(store, session, lang, prices, action=None):
    """The latest window of messages, without those the pending action replaces."""
    key = f"window-{session.id}"
    window = st.session_state.get(key, WINDOW)
    messages = store.get_messages(session, limit=window + 1)
    if len(messages) > window:
        messages = messages[1:]
        hidden = store.count_messages(session) - window
        if st.button(t(lang, "show_earlier", count=hidden), key="show_earlier"):
            st.session_state[key] = window + WINDOW
            rerun_fragment_or_page()
    for message in _kept(messages, action):
        render_message(message, lang, prices)
    return messages


def _kept(messages, action):
    if action is None or not messages:
        return messages
    if action[0] == "edit":
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        return messages if last_user is None else messages[:last_user]
    if action[0] == "regenerate" and messages[-1].role == "assistant":
        return messages[:-1]
    return messages


def _new_text(action) -> str | None:
    return action[1] if action[0] == "edit" else None


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
    if last.role == "assistant" and last.status == "error":
        key, icon, action = "retry", ":material/refresh:", "regenerate"
    elif last.role == "assistant":
        key, icon, action = "regenerate", ":material/autorenew:", "regenerate"
    else:  # the user's message has no reply yet (it was cut off before one started)
        key, icon, action = "retry", ":material/refresh:", "answer"
    row = st.container(horizontal=True, gap="small")
    row.button(t(visit.lang, key), key=key, icon=icon, on_click=_queue, args=(action,))
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


def _answer(visit: Visit, store, session, prices, make_reply, prompt=None) -> None:
    """Start a reply and stream it into the page; the store keeps it whatever happens.

    The finished reply is completed in place (status, usage, actions) rather than by a
    rerun, so there is no redraw during which Stop could cut the page short. Only a
    first turn reruns the page, to show the new title in the sidebar.
    """
    first_turn = not session.is_used
    try:
        reply = make_reply(client(visit))
    except ChatError as exc:
        st.error(error_message(visit.lang, exc), icon=":material/error:")
        return
    if prompt is not None:
        with st.chat_message("user"):
            st.markdown(for_display(clean_text(prompt)))  # as stored
    failure = None
    with st.chat_message("assistant"):
        thinking, answer = st.empty(), st.empty()
        try:
            with reply, answer.container():
                st.write_stream(coalesce(_content(reply, thinking, visit.lang)))
        except ChatError as exc:
            failure = exc
        if reply.text:  # LaTeX delimiters are converted once the text is whole
            answer.markdown(for_display(reply.text))
        if reply.saved:
            render_status(reply.message, visit.lang)
            if reply.message.status == "complete":
                st.caption(usage_line(reply.message, visit.lang, prices))
    if failure and not reply.saved:  # the store could not record it: say so once
        st.session_state[UNSAVED_ERROR] = failure.as_dict()  # drawn in the next run's language
        rerun_fragment_or_page()
    if first_turn:
        st.rerun()
    _reply_actions(visit, store.get_messages(session, limit=2))


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
