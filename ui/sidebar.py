"""The sidebar: New chat, search, the grouped session list, the current chat's actions,
import (the chat page's parts); language, API key and identity (every page's)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import streamlit as st

import locales
from chat_core.bundles import import_file
from chat_core.errors import ChatError
from chat_core.grouping import group_sessions, user_zone
from chat_core.markdown import escape, literal
from chat_core.store import Session
from chat_core.text import clean_text
from chat_core.transfer import export_json, export_markdown

from . import feedback, organise_view
from .preferences_view import preferences_button, remember_language
from .runtime import KEY_INPUT, LANG_CHOICE, Visit, notify, select_session, shared_store
from .search_view import search_panel
from .text import t

PAGE = 30
LIST_LIMIT = "list_limit"
CONFIRM_DELETE = "confirm_delete"


def render_sidebar(visit: Visit, store, current: Session) -> None:
    with st.sidebar:
        st.button(
            t(visit.lang, "new_chat"),
            key="new_chat",
            icon=":material/edit_square:",
            type="primary",
            width="stretch",
            on_click=_new_chat,
            args=(visit,),
        )
        search_panel(visit, current.id)
        with st.container(key="chat_list"):  # hidden while a search is typed
            organise_view.bulk_bar(visit)
            _session_list(visit, store, current)
            organise_view.select_toggle(visit)
            organise_view.archived_section(visit, store, current)
        st.divider()
        _import(visit, store)


def _new_chat(visit: Visit) -> None:
    try:
        session, is_new = shared_store(visit.settings).new_session(visit.owner)
    except ChatError as exc:
        feedback.error(exc)
        return
    if not is_new:
        notify("reused_notice")
    st.session_state.pop(CONFIRM_DELETE, None)
    select_session(session.id)


def _session_list(visit: Visit, store, current: Session) -> None:
    limit = st.session_state.get(LIST_LIMIT, PAGE)
    sessions = store.list_sessions(visit.owner, limit=limit + 1)
    zone = user_zone(st.context.timezone)
    now = datetime.now(UTC)
    for group, items in group_sessions(sessions[:limit], now, zone):
        st.caption(t(visit.lang, f"group_{group}"))
        for session in items:
            _entry(visit, store, session, session.id == current.id)
    if len(sessions) > limit:
        st.button(
            t(visit.lang, "show_more"),
            key="show_more_sessions",
            width="stretch",
            on_click=st.session_state.__setitem__,
            args=(LIST_LIMIT, limit + PAGE),
        )


def _entry(visit: Visit, store, session: Session, is_current: bool) -> None:
    """A chat's row: its title opens it, and its ⋮ menu holds its actions. The menu's
    content is drawn only while it is open, so a long list stays cheap."""
    row = st.container(  # one line: a long title is cut short, the menu stays beside it
        horizontal=True,
        wrap=False,
        gap="small",
        vertical_alignment="center",
        key=f"row-{session.id}",
    )
    if organise_view.selecting():
        organise_view.pick_box(row, session)
    row.button(
        _label(session, visit.lang),
        key=f"session-{session.id}",
        type="primary" if is_current else "secondary",
        width="stretch",
        on_click=select_session,
        args=(session.id,),
    )
    menu = row.popover("", icon=":material/more_vert:", key=f"menu-{session.id}", on_change="rerun")
    if menu.open:
        with menu:
            _actions(visit, store, session)


def _label(session: Session, lang: str) -> str:
    title = session.title or t(lang, "untitled")
    return (":material/keep: " if session.pinned else "") + escape(title)


def _actions(visit: Visit, store, session: Session) -> None:
    lang, owner, sid = visit.lang, visit.owner, session.id
    with st.form(f"rename-{sid}", border=False):
        title = st.text_input(t(lang, "rename"), value=session.title or "", max_chars=200)
        if st.form_submit_button(t(lang, "save")):
            _safely(lambda: store.rename(owner, sid, title), "renamed")
            st.rerun()
    pin_label = t(lang, "unpin" if session.pinned else "pin")
    if st.button(pin_label, key=f"pin-{sid}", icon=":material/keep:", width="stretch"):
        _safely(lambda: store.set_pinned(owner, sid, not session.pinned))
        st.rerun()
    name = (session.title or "chat")[:40]
    for key, export, suffix, mime in (
        ("export_md", partial(export_markdown, lang=lang), "md", "text/markdown"),
        ("export_json", export_json, "json", "application/json"),
    ):
        st.download_button(
            t(lang, key),
            key=f"{key}-{sid}",
            width="stretch",
            icon=":material/download:",
            data=lambda export=export: _export(visit, export, sid),
            file_name=f"{name}.{suffix}",
            mime=mime,
            on_click="ignore",
        )
    organise_view.archive_button(visit, session)
    _delete(visit, store, session)


def _export(visit: Visit, export, session_id: str) -> str:
    """Downloads are built on click, in a later run."""
    store = shared_store(visit.settings)
    return feedback.exported(visit.lang, lambda: export(store, visit.owner, session_id))


def _delete(visit: Visit, store, session: Session) -> None:
    lang, sid = visit.lang, session.id
    if st.session_state.get(CONFIRM_DELETE) != sid:
        st.button(
            t(lang, "delete"),
            key=f"delete-{sid}",
            icon=":material/delete:",
            width="stretch",
            on_click=st.session_state.__setitem__,
            args=(CONFIRM_DELETE, sid),
        )
        return
    st.warning(t(lang, "delete_confirm"))
    yes, cancel = st.columns(2)
    if yes.button(t(lang, "delete_yes"), key=f"delete_yes-{sid}", type="primary", width="stretch"):
        st.session_state.pop(CONFIRM_DELETE, None)
        deleted = _safely(lambda: store.delete_session(visit.owner, sid), "deleted")
        if deleted:
            organise_view.unselect([sid])  # no longer among the selected chats
        if deleted and st.query_params.get("session") == sid:  # the open chat is gone
            replacement, _ = store.new_session(visit.owner)
            select_session(replacement.id)
        st.rerun()
    cancel.button(
        t(lang, "cancel"),
        key=f"delete_no-{sid}",
        width="stretch",
        on_click=st.session_state.pop,
        args=(CONFIRM_DELETE, None),
    )


def _import(visit: Visit, store) -> None:
    with st.expander(t(visit.lang, "import"), icon=":material/upload_file:"):
        st.caption(t(visit.lang, "backup_note"))
        upload = st.file_uploader(
            t(visit.lang, "import"), type=["json"], key="import_file", label_visibility="collapsed"
        )
        if upload is None or st.session_state.get("imported_file") == upload.file_id:
            return
        st.session_state["imported_file"] = upload.file_id
        try:
            imported = import_file(store, visit.owner, upload.getvalue())
        except ChatError as exc:
            feedback.error_here(visit.lang, exc)
            return
        _open_imported(visit.lang, imported)


def _open_imported(lang: str, imported) -> None:
    """Open the (first) imported chat with a notice naming it, or saying how many
    chats came. A title comes from the file: the notice shows it literally (see
    `feedback.notice`). A chat imported before is opened as it is."""
    first = imported[0]
    select_session(first.session_id)
    if len(imported) > 1:
        made = sum(not chat.duplicate for chat in imported)
        notify("imported_many", count=made, skipped=len(imported) - made)
    else:
        notice = "import_duplicate" if first.duplicate else "imported"
        notify(notice, title=first.title or t(lang, "untitled"))
    st.rerun()


def render_shared(visit: Visit) -> None:
    """The parts every page shows (the entry point draws them): language, API key and
    who is signed in."""
    lang = visit.lang
    languages = locales.languages()  # every catalogue present
    # A select box: a segmented control looks its labels over for a leading emoji, and
    # a label such as 中文 loads Streamlit's emoji catalogue (~0.4 s) on the first page.
    st.selectbox(
        t(lang, "language"),
        languages,
        key=LANG_CHOICE,
        format_func=locales.language_name,
        index=languages.index(lang),
        on_change=remember_language,
        args=(visit,),
    )
    preferences_button(visit)
    if not visit.settings.has_key:
        st.text_input(
            t(lang, "api_key"), type="password", key=KEY_INPUT, help=t(lang, "api_key_help")
        )
        if not visit.has_key:
            st.info(t(lang, "setup_note"))
    if visit.owner != "local":
        # The person's email or name, not the owner key the chats are stored under.
        names = (st.user.get(key) for key in ("email", "name", "preferred_username"))
        shown = next((name for name in names if name), visit.owner)
        shown = clean_text(str(shown))  # a claim may hold half a character
        st.caption(t(lang, "signed_in_as", owner=literal(shown)))
        if st.user.get("is_logged_in"):
            st.button(t(lang, "log_out"), key="log_out", on_click=st.logout)
    if visit.settings.history_is_temporary:
        st.caption(t(lang, "cloud_notice"))


def _safely(action, done: str | None = None) -> bool:
    """Run a store action; queue its error, or (only once it succeeded) the notice
    `done`. True when it succeeded."""
    try:
        action()
    except ChatError as exc:
        feedback.error(exc)
        return False
    if done is not None:
        feedback.notice(done)
    return True
