"""The frame around every page: settings, language, identity and the store of this
run, the pages the navigation offers, and the sidebar parts every page shares.

`streamlit_app.py` builds the frame, then runs the page the navigation picked. Each
page (a thin file in `app_pages/`) reads the run's `Visit` with `this_visit()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from . import preferences_view
from .runtime import Visit, language, owner_or_stop, settings_or_stop, store_or_stop
from .sidebar import render_shared
from .style import page_style
from .text import t

VISIT = "_visit"


@dataclass(frozen=True)
class Frame:
    """What is known before the page is picked: the settings and the language."""

    settings: object
    lang: str


def open_frame() -> Frame:
    # Streamlit's own favicon: a Material icon would make the browser fetch it from
    # Google, an emoji loads Streamlit's emoji catalogue (~0.4 s) and an image NumPy
    # and PIL (~0.2 s), all before the first page.
    st.set_page_config(page_title="Ark Chat", layout="wide")
    settings = settings_or_stop()
    return Frame(settings, language(settings))


def pages(frame: Frame) -> list:
    """The pages of the app. The chat is the default page, at the root URL, so chat
    links (`/?session=…`) keep working. Page files are loaded only when opened: the
    chat page never imports what the usage page draws with."""
    lang = frame.lang
    return [
        st.Page(
            "app_pages/chat.py",
            title=t(lang, "page_chat"),
            icon=":material/chat:",
            default=True,
        ),
        st.Page(
            "app_pages/usage.py",
            title=t(lang, "page_usage"),
            icon=":material/monitoring:",
            url_path="usage",
        ),
    ]


def enter(frame: Frame) -> Visit:
    """The visitor of this run (stops with a message when nobody usable is identified)
    and the store, opened; remembered for the page with `this_visit()`."""
    owner = owner_or_stop(frame.lang)
    settings = preferences_view.for_visit(frame.settings, frame.lang, owner)
    visit = Visit(settings, owner, frame.lang)
    store_or_stop(frame.settings, frame.lang)  # a clear message if it cannot open
    page_style()
    st.session_state[VISIT] = visit
    return visit


def this_visit() -> Visit:
    """The visitor of the current run, as `enter()` found it."""
    return st.session_state[VISIT]


def shared_sidebar(visit: Visit) -> None:
    """What the sidebar shows on every page, below the page's own parts."""
    with st.sidebar:
        render_shared(visit)
