"""Watching a reply that a worker thread writes: the page shows what is saved, as it is
saved, with signs of life while it waits.

Drawing costs O(n) in the reply's length: the reply is cut into Markdown blocks, every
finished block is sent to the browser once, and only the block still growing is
redrawn. A reply written by another app process (several processes can share a
PostgreSQL database) is followed through the store instead.
"""

from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

from chat_core.markdown import for_display, stream_blocks
from chat_core.runner import LiveReply, Progress
from chat_core.store import Message

from . import feedback
from .media import show_sources
from .messages import render_status, usage_line
from .text import t

SHOWN = "reply_shown"  # (message id, text) last drawn: what Stop saves
SAID = "failed_continue_said"  # the Continue whose failure the page has said
# The end of a reply the store could not save: (its Progress, why, as an error dict).
UNSAVED = "reply_unsaved"
TICK_SECONDS = 0.25  # the page's refresh while nothing new arrives (elapsed seconds)
ELSEWHERE_POLL_SECONDS = 0.5
REASONING_PAINT_SECONDS = 0.5


class BlockPainter:
    """Draws growing Markdown: finished pieces once each, the last one redrawn; at the
    end, the whole text as one element when it was drawn in pieces (a list or a code
    listing cut in two renders whole again)."""

    def __init__(self) -> None:
        self._slot = st.empty()
        box = self._slot.container()
        self._finished, self._growing = box.container(), box.empty()
        self._drawn = 0
        self._tail = None

    def paint(self, text: str) -> None:
        *finished, growing = stream_blocks(text)
        for block in finished[self._drawn :]:
            with self._finished:
                st.markdown(for_display(block))
        self._drawn = max(self._drawn, len(finished))
        if growing != self._tail:
            self._growing.markdown(for_display(growing))
            self._tail = growing

    def finish(self, text: str) -> None:
        if self._drawn:
            self._slot.markdown(for_display(text))
        else:
            self.paint(text)


def watch_live(live: LiveReply, lang: str, prices) -> Message | None:
    """Draw `live` until it ends; returns its final row (None if it never began)."""
    with st.chat_message("assistant"):
        signs, reasoning, answer = SignsOfLife(lang), st.empty(), BlockPainter()
        progress, painted = live.progress, None
        thought_at = 0.0
        while True:
            signs.update(progress)
            message = progress.message
            if message is not None and message is not painted:
                if message.reasoning_content and time.monotonic() - thought_at > (
                    REASONING_PAINT_SECONDS
                ):
                    _paint_reasoning(reasoning, message.reasoning_content, progress, lang)
                    thought_at = time.monotonic()
                answer.paint(message.content)
                st.session_state[SHOWN] = (message.id, message.content)
                painted = message
            if progress.done:
                break
            progress = live.wait(progress.version, TICK_SECONDS)
        return _finish(live, progress, (signs, reasoning, answer), lang, prices)


def watch_elsewhere(store, session, message: Message, lang: str, prices) -> Message:
    """Follow a reply another process writes, through what it saves to the store."""
    with st.chat_message("assistant"):
        signs, reasoning, answer = st.empty(), st.empty(), BlockPainter()
        signs.caption(t(lang, "written_elsewhere"))
        thought = None
        while message.status == "streaming":
            thought = _paint_thought(reasoning, message.reasoning_content, thought, lang)
            answer.paint(message.content)
            st.session_state[SHOWN] = (message.id, message.content)
            time.sleep(ELSEWHERE_POLL_SECONDS)
            fresh = store.get_message(session, message.id)
            if fresh is None:  # deleted or replaced elsewhere
                break
            message = fresh
        signs.empty()
        st.session_state.pop(SHOWN, None)
        _paint_thought(reasoning, message.reasoning_content, thought, lang)
        answer.finish(message.content)
        show_sources(message, lang)
        render_status(message, lang)
        _usage(message, lang, prices)
    return message


def _finish(live, progress: Progress, slots, lang, prices) -> Message | None:
    signs, reasoning, answer = slots
    signs.update(progress)  # done: the sign goes
    message = progress.message
    # The final row (with usage) from the store: the page shows what is stored.
    final = message and live.stored(message)
    if final is not None and final.status == "streaming":
        # Its end could not be saved: all the text that arrived, and why, here and on
        # the page's next runs (the row stays as it was last saved).
        # The error as a dict: an exception would keep the frames it was raised through.
        why = progress.error.as_dict() if progress.error is not None else None
        st.session_state[UNSAVED] = (replace(progress, error=None), why)
        _draw_unsaved(reasoning, answer, progress, why, lang)
        return final
    if final is None:
        # The store could not record the reply: say why, once, here.
        if progress.error is not None:
            feedback.error_here(lang, progress.error)
        return final
    answer.finish(final.content)
    if final.reasoning_content:
        _paint_reasoning(reasoning, final.reasoning_content, progress, lang)
    st.session_state.pop(SHOWN, None)
    show_sources(final, lang)
    render_status(final, lang)
    say_failed_continue(live, lang, final)
    _usage(final, lang, prices)
    return final


def show_unsaved(row: Message, live: LiveReply | None, lang: str) -> bool:
    """Draw reply `row` as it ended if the store could not save its end (all the text
    that arrived, and why): as this process's runner keeps it (`live`, for any page),
    or as this page saw it end; False when it is not such a reply (another app process
    writes it)."""
    if live is not None and live.end_unsaved and live.progress.message.id == row.id:
        error = live.progress.error
        progress, why = live.progress, error.as_dict() if error is not None else None
    else:
        progress, why = st.session_state.get(UNSAVED, (None, None))
    if progress is None or progress.message.id != row.id:
        return False
    with st.chat_message("assistant"):
        _draw_unsaved(st.empty(), BlockPainter(), progress, why, lang)
    return True


def _draw_unsaved(reasoning, answer, progress: Progress, why: dict | None, lang: str) -> None:
    message = progress.message
    answer.finish(message.content)
    if message.reasoning_content:
        _paint_reasoning(reasoning, message.reasoning_content, progress, lang)
    if why is not None:
        feedback.error_here(lang, why)


def say_failed_continue(live: LiveReply, lang: str, final: Message | None = None) -> None:
    """Say why a Continue that failed before any new text did nothing, once: it leaves
    the answer as it was, complete, and its row says nothing of the failure."""
    progress = live.progress
    final = final or progress.message
    continued = live.reply.request.continue_from is not None
    if not (continued and progress.done and progress.error is not None):
        return
    if final is None or final.status != "complete" or st.session_state.get(SAID) == id(live):
        return
    st.session_state[SAID] = id(live)
    feedback.error_here(lang, progress.error)


class SignsOfLife:
    """Elapsed seconds while the reply waits for the model (SDK retries included) or
    thinks, sent to the page only when the text changes; nothing for a quick reply."""

    QUIET_SECONDS = 0.3  # a first token sooner than this needs no sign

    def __init__(self, lang: str) -> None:
        self.slot, self.lang, self.shown = st.empty(), lang, None

    def update(self, progress: Progress) -> None:
        now, phase, text = time.monotonic(), progress.phase, None
        if phase == "waiting" and now - progress.started >= self.QUIET_SECONDS:
            text = t(self.lang, "waiting_for_model", seconds=int(now - progress.started))
        elif phase == "thinking":
            text = t(self.lang, "thinking_for", seconds=int(now - progress.first_text_at))
        elif phase == "searching":
            text = t(self.lang, "searching_web", seconds=int(now - progress.searching_since))
        if text == self.shown:
            return
        if text is None:
            self.slot.empty()
        else:
            self.slot.caption(text)
        self.shown = text


def _paint_reasoning(slot, text: str, progress: Progress, lang: str) -> None:
    if progress.answer_at is not None and progress.first_text_at is not None:
        label = t(lang, "thought_for", seconds=int(progress.answer_at - progress.first_text_at))
    else:
        label = t(lang, "thinking")
    with (
        slot.container(),
        st.expander(label, expanded=False, icon=":material/psychology:"),
    ):
        st.markdown(for_display(text))


def _paint_thought(slot, text: str | None, shown: str | None, lang: str) -> str | None:
    """The reasoning of a reply another process writes, collapsed, drawn again only when
    it grew; returns what is shown."""
    if text and text != shown:
        with slot.container(), st.expander(t(lang, "thinking"), icon=":material/psychology:"):
            st.markdown(for_display(text))
    return text or shown


def _usage(message: Message, lang: str, prices) -> None:
    if message.status == "complete":
        st.caption(usage_line(message, lang, prices))
