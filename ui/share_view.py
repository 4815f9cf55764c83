"""Share links on the page: the chat header's Share menu, the owner's list of links
(the Shared links page), and the read-only view a link opens (the hidden `shared`
page, `/shared?link=<token>`).

The shared view shows the snapshot's messages and nothing else: no settings, system
prompt, usage or other chats. It renders them by the chat page's trust rules: the
user's text as typed (`st.text`) with its images, answers as Markdown through
`for_display` (no HTML, remote images as links), marked when cut short. A viewer may
continue the chat in their own history.
"""

from __future__ import annotations

import streamlit as st

from chat_core.errors import ChatError, ShareLinkError
from chat_core.markdown import for_display, literal
from chat_core.store.shares import AUDIENCES, SharedMessage, ShareLink

from . import feedback
from .media import THUMBNAIL_WIDTH
from .runtime import Visit, secrets, select_session, shared_store
from .shell import app_url, this_visit
from .text import t

SHARED_PAGE = "shared"
CHAT_PAGE = "app_pages/chat.py"
AUDIENCE_KEYS = {
    "owner": "share_audience_owner",
    "signed_in": "share_audience_signed_in",
    "anyone": "share_audience_anyone",
}


def link_url(token: str) -> str:
    """The link's address: the app's own URL (as the browser sees it) and the token."""
    return f"{app_url()}/{SHARED_PAGE}?link={token}"


# --- the owner's side --------------------------------------------------------------------


def share_menu(visit: Visit, session) -> None:
    """The chat header's Share menu, drawn only while it is open."""
    menu = st.popover(
        t(visit.lang, "share"),
        icon=":material/share:",
        key=f"share-{session.id}",
        on_change="rerun",
        disabled=not session.is_used,
        help=None if session.is_used else t(visit.lang, "share_empty"),
    )
    if menu.open:
        with menu:
            _share_panel(visit, session.id)


def _share_panel(visit: Visit, session_id: str) -> None:
    lang, store = visit.lang, shared_store(visit.settings)
    with st.form(f"share-form-{session_id}", border=False):
        audience = st.radio(
            t(lang, "share_audience"),
            AUDIENCES,
            index=AUDIENCES.index("signed_in"),
            format_func=lambda key: t(lang, AUDIENCE_KEYS[key]),
            key=f"share-audience-{session_id}",
        )
        st.caption(t(lang, "share_snapshot_note"))
        if st.form_submit_button(t(lang, "share_create"), icon=":material/add_link:"):
            try:
                store.create_share(visit.owner, session_id, audience)
            except ChatError as exc:
                feedback.error_here(lang, exc)
    for link in store.share_links(visit.owner, session_id=session_id):
        _link_row(visit, link, show_title=False)


def _link_row(visit: Visit, link: ShareLink, *, show_title: bool) -> None:
    lang = visit.lang
    with st.container(border=True, key=f"link-{link.token}"):
        if show_title:
            st.text(link.title or t(lang, "untitled"))  # the chat's title, as typed
        state = t(lang, "share_revoked_on", date=link.revoked_at[:10]) if link.revoked else ""
        details = [_audience_name(lang, link.audience), link.created_at[:16].replace("T", " ")]
        st.caption(" · ".join(part for part in (*details, state) if part))
        if link.revoked:
            return
        st.code(link_url(link.token), language=None, wrap_lines=True)
        actions = st.container(horizontal=True, gap="small")
        actions.link_button(
            t(lang, "share_open"), link_url(link.token), icon=":material/open_in_new:"
        )
        actions.button(
            t(lang, "share_revoke"),
            key=f"revoke-{link.token}",
            icon=":material/link_off:",
            on_click=_revoke,
            args=(visit, link.token),
        )


def _revoke(visit: Visit, token: str) -> None:
    try:
        shared_store(visit.settings).revoke_share(visit.owner, token)
    except ChatError as exc:
        feedback.error(exc)
        return
    feedback.notice("share_revoked_notice")


def links_page() -> None:
    """The Shared links page: every link of the visitor, newest first."""
    visit = this_visit()
    lang = visit.lang
    st.title(t(lang, "page_links"))
    with feedback.guard(lang):
        feedback.show(lang)
        links = shared_store(visit.settings).share_links(visit.owner)
        if not links:
            st.info(t(lang, "share_none"))
        for link in links:
            _link_row(visit, link, show_title=True)


# --- the viewer's side -------------------------------------------------------------------


def shared_page() -> None:
    """What a link opens: the snapshot, read-only, to anyone the link allows."""
    visit = this_visit()
    lang, store = visit.lang, shared_store(visit.settings)
    with feedback.guard(lang):
        try:
            link = store.open_share(st.query_params.get("link"), visit.owner, with_images=True)
        except ShareLinkError as exc:
            _refused(visit, exc)
            return
        with st.container(key="chat_title"):
            st.text(link.title or t(lang, "untitled"))  # as the owner typed it
        st.caption(t(lang, "shared_note", date=link.created_at[:10]))
        for message in link.messages:
            _shared_message(lang, message)
        _continue(visit, link)


def _shared_message(lang: str, message: SharedMessage) -> None:
    """A message of the snapshot, by the chat page's rules (see `ui.messages`)."""
    with st.chat_message(message.role):
        if message.role == "user":
            if message.content:
                st.text(message.content)
            if message.images:
                st.image(
                    [image.data for image in message.images],
                    width=THUMBNAIL_WIDTH,
                    caption=[literal(image.name or "") for image in message.images],
                )
            elif message.image_count:  # the owner deleted the message since
                st.caption(t(lang, "shared_images_gone", count=message.image_count))
            return
        st.markdown(for_display(message.content))
        if message.status == "interrupted":
            st.warning(t(lang, "interrupted"), icon=":material/content_cut:")
        elif message.finish_reason == "length":
            st.warning(t(lang, "reply_cut"), icon=":material/content_cut:")


def _refused(visit: Visit, problem: ShareLinkError) -> None:
    st.title(t(visit.lang, "page_shared"))
    feedback.error_here(visit.lang, problem, icon=":material/link_off:")
    if problem.code == "share_sign_in" and visit.owner is None and "auth" in secrets():
        _log_in(visit.lang)


def _continue(visit: Visit, link: ShareLink) -> None:
    lang = visit.lang
    if visit.owner is None:  # nobody signed in: nowhere to keep a copy
        st.caption(t(lang, "shared_sign_in_to_continue"))
        if "auth" in secrets():
            _log_in(lang)
        return
    if st.button(t(lang, "shared_continue"), key="shared_continue", icon=":material/forum:"):
        try:
            copy = shared_store(visit.settings).copy_share(link.token, visit.owner)
        except ChatError as exc:
            feedback.error_here(lang, exc)
            return
        select_session(copy.id)
        feedback.notice("shared_copied", title=copy.title or t(lang, "untitled"))
        st.switch_page(CHAT_PAGE, query_params={"session": copy.id})


def _log_in(lang: str) -> None:
    # Streamlit's login returns to the app's start page, not to this link.
    st.caption(t(lang, "shared_log_in_returns"))
    st.button(t(lang, "log_in"), on_click=st.login, key="shared_log_in")


def _audience_name(lang: str, audience: str) -> str:
    """Who may open a link; a value no version wrote (edited by hand) as it is."""
    return t(lang, AUDIENCE_KEYS[audience]) if audience in AUDIENCE_KEYS else literal(audience)
