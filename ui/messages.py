"""Rendering stored messages: the user's text as typed, Markdown answers, collapsed
reasoning, status and usage."""

from __future__ import annotations

import streamlit as st

from chat_core.conversation import is_cut, left_out
from chat_core.markdown import for_display, literal
from chat_core.store import Message

from .costs import reply_cost
from .media import show_images, show_sources
from .text import stored_error, t

STATUS_KEYS = {"interrupted": "interrupted", "streaming": "streaming_elsewhere"}


def render_message(message: Message, lang: str, prices) -> None:
    with st.chat_message(message.role):
        if message.reasoning_content:
            with st.expander(t(lang, "thinking"), expanded=False, icon=":material/psychology:"):
                st.markdown(for_display(message.reasoning_content))
        if message.content and message.role == "user":
            st.text(message.content)  # as typed: no headings, links or lists made of it
        elif message.content:
            st.markdown(for_display(message.content))
        if message.role == "user":
            show_images(message)
        else:
            show_sources(message, lang)
        render_status(message, lang)
        if message.role == "assistant" and message.status == "complete":
            st.caption(usage_line(message, lang, prices))


def render_status(message: Message, lang: str) -> None:
    if message.status == "error":
        reason = stored_error(lang, message)
        text = t(lang, "failed_reason", reason=reason) if reason else t(lang, "failed")
        st.error(text, icon=":material/error:")
    elif message.status in STATUS_KEYS:
        text = t(lang, STATUS_KEYS[message.status])
        if message.error_code:  # why it stopped, e.g. the app restarted
            text = f"{text}: {stored_error(lang, message)}"
        st.warning(text, icon=":material/content_cut:")
    elif is_cut(message):
        st.warning(t(lang, "reply_cut"), icon=":material/content_cut:")
    if left_out(message):
        st.caption(t(lang, "left_out"))


def usage_line(message: Message, lang: str, prices) -> str:
    parts = []
    if message.prompt_tokens is not None:
        parts.append(
            t(
                lang,
                "tokens",
                prompt=message.prompt_tokens,
                cached=message.cached_tokens or 0,
                completion=message.completion_tokens or 0,
            )
        )
        if message.reasoning_tokens:
            parts.append(t(lang, "reasoning_tokens", count=message.reasoning_tokens))
        parts += reply_cost(lang, message, prices)
    if message.latency_ms is not None:
        if message.latency_ms < 1000:
            parts.append(t(lang, "latency_ms", ms=message.latency_ms))
        else:
            parts.append(t(lang, "latency", seconds=message.latency_ms / 1000))
    if message.model:
        parts.append(literal(message.model))  # an imported or reported id, as text
    return " · ".join(parts)
