"""A temporary chat on the Chat page (`?temporary=1`): never written to the database.

Its messages live in this browser session (`st.session_state`), so a reload or a closed
tab drops them, as the page says. Replies stream on the page's own run through the Ark
layer (`chat_core.temporary`); Stop ends the run, and the reply keeps what arrived.
"Save as a chat" writes it as a normal chat and opens that.
"""

from __future__ import annotations

import contextlib
import time

import streamlit as st

from chat_core.ark import ContentDelta, ReasoningDelta
from chat_core.errors import ChatError
from chat_core.images import prepare_images
from chat_core.temporary import TemporaryChat

from . import feedback
from .chat_view import REFILL as CHAT_REFILL
from .media import IMAGES, held, hold, message_input, release, takes_images
from .messages import render_message
from .runtime import Visit, client, prices, select_session, shared_runner
from .sidebar import render_sidebar
from .text import t
from .watch import BlockPainter

PARAM = "temporary"
INPUT = "temporary_input"
REFILL = "temporary_refill"  # text a refused message leaves in the input
REFUSED = "temporary_refused"  # that text, until a message is sent (Save takes it along)
PAINT_SECONDS = 0.05  # the growing answer is redrawn at most this often


def temporary_requested() -> bool:
    """Whether the page is to show a temporary chat (and no stored one)."""
    return st.query_params.get(PARAM) == "1" and "session" not in st.query_params


def temporary_toggle(lang: str, *, on: bool) -> None:
    """The switch between the chat and a temporary one."""
    key = _toggle_key(on)
    st.toggle(
        t(lang, "temporary_chat"),
        value=on,
        key=key,
        help=t(lang, "temporary_help"),
        on_change=_switch,
        args=(key, not on),
    )


def _toggle_key(on: bool) -> str:
    return f"temporary_toggle_{'on' if on else 'off'}"


def _switch(key: str, on: bool) -> None:
    # Streamlit also calls this when the switch comes back unchanged after a run that
    # did not draw it (leaving the page with the Share menu open does): only a switch
    # that really moved counts.
    if st.session_state.get(key) != on:
        return
    if on:
        st.query_params.pop("session", None)
        st.query_params[PARAM] = "1"
    else:  # back to the chat this tab showed (see `ui.app.current_session`)
        st.query_params.pop(PARAM, None)


def temporary_page(visit: Visit, store) -> None:
    """The Chat page for a temporary chat."""
    with feedback.guard(visit.lang):
        chat = _chat(visit)
        _header(visit, store, chat)
        st.session_state[IMAGES] = chat.images  # drawn with their messages
        for message in chat.messages:
            render_message(message, visit.lang, prices(visit.settings))
        sent = _input(visit, chat)
        if sent is not None:
            _answer(visit, chat, *sent)
        render_sidebar(visit, store, chat.session)


def _chat(visit: Visit) -> TemporaryChat:
    """This tab's temporary chat of the visitor (each owner has their own)."""
    key = _chat_key(visit)
    if key not in st.session_state:
        st.session_state[key] = TemporaryChat(visit.owner)
    return st.session_state[key]


def _chat_key(visit: Visit) -> str:
    """The visitor's temporary chat's key: in the tab's session, and for the images of
    its refused message (see `ui.media.hold`)."""
    return f"temporary_chat:{visit.owner}"


def _header(visit: Visit, store, chat: TemporaryChat) -> None:
    lang = visit.lang
    title, controls = st.columns([0.7, 0.3], vertical_alignment="bottom")
    with title.container(key="chat_title"):
        st.text(t(lang, "temporary_chat"))
    title.caption(t(lang, "temporary_note"))
    with controls:
        temporary_toggle(lang, on=True)
        if chat.messages and not chat.busy:
            st.button(
                t(lang, "temporary_save"),
                key="temporary_save",
                icon=":material/save:",
                on_click=_save,
                args=(visit, store, chat),
            )


def _save(visit: Visit, store, chat: TemporaryChat) -> None:
    """Save the chat and open it, with a refused message's text and images (say, over
    the images a temporary chat keeps) waiting in its input."""
    try:
        saved = chat.save(store)
    except ChatError as exc:
        feedback.error(exc)
        return
    st.session_state.pop(_chat_key(visit), None)
    hold(saved.id, held(_chat_key(visit)))
    release(_chat_key(visit))
    if refused := st.session_state.pop(REFUSED, None):
        st.session_state[CHAT_REFILL] = refused
    select_session(saved.id)
    feedback.notice("temporary_saved")


def _input(visit: Visit, chat: TemporaryChat) -> tuple[str, list] | None:
    """The text sent and its image files (as on the chat page); None when nothing was."""
    lang = visit.lang
    placeholder = t(lang, "temporary_placeholder") if visit.has_key else t(lang, "input_disabled")
    if refill := st.session_state.pop(REFILL, None):
        st.session_state[INPUT] = refill
    with st.bottom:
        feedback.show(lang)
        text, files = message_input(
            placeholder,
            key=INPUT,
            disabled=not visit.has_key,
            with_images=takes_images(visit.settings, chat.session),
            lang=lang,
            chat_key=_chat_key(visit),
        )
    return None if text is None else (text, files)


def _answer(visit: Visit, chat: TemporaryChat, prompt: str, files: list) -> None:
    """Send `prompt` with its image `files` and stream the reply here; the next run
    draws both from memory."""
    settings = visit.settings
    images = []
    with contextlib.ExitStack() as running:
        try:
            chosen = [(file.name, file.getvalue()) for file in files]
            images = prepare_images(chosen, kept=held(_chat_key(visit)))
            # Counted with the replies of stored chats, within the same limits (after
            # the images are read, so a refused message keeps them for the next).
            running.enter_context(shared_runner(settings).counted(visit.owner))
            reply = chat.send(
                settings, client(visit), prompt, max_chars=settings.max_message_chars, images=images
            )
        except ChatError as exc:
            feedback.error(exc)
            st.session_state[REFILL] = st.session_state[REFUSED] = prompt  # back in the input
            hold(_chat_key(visit), images)  # and its images wait for the next message
            st.rerun()
        release(_chat_key(visit))
        st.session_state.pop(REFUSED, None)
        render_message(chat.messages[-1], visit.lang, prices(settings))
        _stream(visit, reply)
    st.rerun()


def _stream(visit: Visit, reply) -> None:
    """Draw `reply` as it streams."""
    with st.chat_message("assistant"), reply:
        reasoning, answer = st.empty(), BlockPainter()
        painted_at = 0.0
        try:
            for event in reply:
                if time.monotonic() - painted_at < PAINT_SECONDS:
                    continue
                painted_at = time.monotonic()
                if isinstance(event, ReasoningDelta):
                    reasoning.caption(t(visit.lang, "thinking"))
                elif isinstance(event, ContentDelta):
                    reasoning.empty()
                    answer.paint(reply.text)
        except ChatError:
            pass  # kept with the reply: its message shows it on the next run
