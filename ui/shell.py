"""The frame around every page: settings, language, identity and the store of this
run, the pages the navigation offers, and the sidebar parts every page shares.

`streamlit_app.py` builds the frame, then runs the page the navigation picked. Each
page (a thin file in `app_pages/`) reads the run's `Visit` with `this_visit()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from . import preferences_view
from .runtime import (
    Visit,
    language,
    owner_or_stop,
    settings_or_stop,
    store_or_stop,
    viewer_or_none,
)
from .sidebar import render_shared
from .style import page_style
from .text import t

VISIT = "_visit"
PAGE_PATH = "_page_path"  # the URL path of the page this run draws
CAME_FROM = "_came_from"  # the URL path of the page the run before drew
SHARED = "shared"  # the URL path of the page a share link opens


@dataclass(frozen=True)
class Frame:
    """What is known before the page is picked: the settings and the language."""

    settings: object
    lang: str


# The tab's icon, drawn inline: without one, Streamlit shows the page's Material icon,
# which the browser fetches from Google; an emoji loads Streamlit's emoji catalogue
# (~0.4 s) and a raster image NumPy and PIL (~0.2 s), all before the first page.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#3b5bdb" '
    'd="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 '
    '2-2z"/></svg>'
)


def open_frame() -> Frame:
    st.set_page_config(page_title="Ark Chat", page_icon=FAVICON, layout="wide")
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
        st.Page(
            "app_pages/links.py",
            title=t(lang, "page_links"),
            icon=":material/share:",
            url_path="links",
        ),
        # What a share link opens: reached by its link only.
        st.Page(
            "app_pages/shared.py",
            title=t(lang, "page_shared"),
            url_path=SHARED,
            visibility="hidden",
        ),
    ]


def enter(frame: Frame, page) -> Visit:
    """The visitor of this run and the store, opened; remembered for the page with
    `this_visit()`. Every page but a shared link's stops with a message when nobody
    usable is identified; a shared link's page gets owner None then (a link for anyone
    opens without a login)."""
    owner = viewer_or_none() if page.url_path == SHARED else owner_or_stop(frame.lang)
    # A store that cannot open says so and stops the run here, before the preferences
    # would try it again (an unreachable server then costs one connect timeout, not two).
    store_or_stop(frame.settings, frame.lang)
    settings = preferences_view.for_visit(frame.settings, frame.lang, owner)
    visit = Visit(settings, owner, frame.lang)
    page_style()
    st.session_state[VISIT] = visit
    st.session_state[CAME_FROM] = st.session_state.get(PAGE_PATH)
    st.session_state[PAGE_PATH] = page.url_path
    return visit


def app_url() -> str:
    """The app's own address as the browser sees it. `st.context.url` ends with the
    current page's path (`…/links`), which is cut off."""
    url = (st.context.url or "").rstrip("/")
    path = st.session_state.get(PAGE_PATH)
    return url.removesuffix(f"/{path}") if path else url


def entered_page() -> bool:
    """Whether this run opened its page (the run before drew another, or none)."""
    return st.session_state.get(CAME_FROM) != st.session_state.get(PAGE_PATH)


def this_visit() -> Visit:
    """The visitor of the current run, as `enter()` found it."""
    return st.session_state[VISIT]


def shared_sidebar(visit: Visit) -> None:
    """What the sidebar shows on every page, below the page's own parts."""
    if visit.owner is None:  # a shared link's viewer who is not signed in
        return
    with st.sidebar:
        render_shared(visit)
