"""The one way the page tells the user what happened.

Any action (a button callback, the sidebar, the chat) queues a notice or an error; the
chat area draws the queue above the input on its next run, in the page's language, so
an error kept from an earlier run follows a language switch. An action reports success
only after it has succeeded. `guard()` is the error boundary that the page and every
fragment run inside: a `ChatError` becomes a message in place, never a traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

import locales
from chat_core.errors import ChatError
from chat_core.markdown import literal

from .text import error_message, t

QUEUE = "feedback"


def notice(key: str, **values: object) -> None:
    """Queue a notice (a UI text key and its values) for the next drawing."""
    _queue().append(("notice", key, values))


def error(problem: ChatError | dict) -> None:
    """Queue an error, kept as its code and parameters until it is drawn."""
    kept = problem.as_dict() if isinstance(problem, ChatError) else problem
    _queue().append(("error", kept, {}))


def error_here(lang: str, problem: ChatError | dict, icon: str = ":material/error:") -> None:
    """Draw an error now, where it happened (a refused form, a page that cannot open)."""
    st.error(error_message(lang, problem), icon=icon)


def show(lang: str) -> None:
    """Draw and clear the queue."""
    for kind, what, values in st.session_state.pop(QUEUE, []):
        if kind == "error":
            error_here(lang, what)
        else:
            # Values may be user text (a title): shown literally, never as Markdown.
            plain = {k: literal(v) if isinstance(v, str) else v for k, v in values.items()}
            st.info(t(lang, what, **plain), icon=":material/info:")


@contextlib.contextmanager
def guard(lang: str) -> Iterator[None]:
    """Show a `ChatError` raised inside as a message where it happened."""
    try:
        yield
    except ChatError as exc:
        error_here(lang, exc)


def _queue() -> list:
    return st.session_state.setdefault(QUEUE, [])


def exported(lang: str, build) -> str:
    """What `build()` exports; or, when it cannot (the chat deleted in another tab, the
    database away), a file that says why: a download built on click has no page to
    show a message on."""
    try:
        return build()
    except ChatError as exc:
        return locales.describe(lang, exc) + "\n"
