"""Organising chats in the sidebar: select several to archive, export (one JSON file,
importable) or delete at once; archive a chat (hidden from the list, still found by
search) and restore it from the archived list."""

from __future__ import annotations

import streamlit as st

from chat_core.bundles import export_bundle
from chat_core.errors import ChatError
from chat_core.markdown import escape
from chat_core.store import Session
from chat_core.text import make_title

from . import feedback
from .runtime import Visit, select_session, shared_store
from .text import t

SELECTING = "selecting_chats"
CONFIRM_BULK_DELETE = "confirm_bulk_delete"
SHOW_ARCHIVED = "archived_shown"
PICK = "pick-{}"
ARCHIVED_PAGE = 50
ARCHIVED_LIMIT = "archived_limit"  # how many archived chats are listed


def selecting() -> bool:
    return bool(st.session_state.get(SELECTING))


def select_toggle(visit: Visit) -> None:
    """Select (several chats), or Done."""
    on = selecting()
    st.button(
        t(visit.lang, "select_done" if on else "select_chats"),
        key="select_chats",
        icon=":material/done_all:" if not on else ":material/close:",
        width="stretch",
        on_click=_toggle_selecting,
    )


def pick_box(row, session: Session) -> None:
    """The checkbox that selects a chat of the list (a chat with messages: the unused
    one has nothing to archive, export or delete)."""
    if not session.is_used:
        return
    row.checkbox(
        escape(session.title or "chat"),
        key=PICK.format(session.id),
        label_visibility="collapsed",
    )


def bulk_bar(visit: Visit) -> None:
    """What can be done with the selected chats."""
    if not selecting():
        return
    chosen = _chosen()
    lang = visit.lang
    st.caption(t(lang, "selected_count", count=len(chosen)))
    if not chosen:
        return
    row = st.container(horizontal=True, gap="small", key="bulk_actions")
    row.button(
        t(lang, "archive_selected"),
        key="archive_selected",
        icon=":material/archive:",
        on_click=_archive_all,
        args=(visit, chosen),
    )
    row.download_button(
        t(lang, "export_selected"),
        key="export_selected",
        icon=":material/download:",
        data=lambda: feedback.exported(
            lang, lambda: export_bundle(shared_store(visit.settings), visit.owner, chosen)
        ),
        file_name=f"ark-chat-{len(chosen)}-chats.json",
        mime="application/json",
        on_click="ignore",
    )
    if st.session_state.get(CONFIRM_BULK_DELETE) != chosen:
        row.button(
            t(lang, "delete_selected"),
            key="delete_selected",
            icon=":material/delete:",
            on_click=st.session_state.__setitem__,
            args=(CONFIRM_BULK_DELETE, chosen),
        )
        return
    st.warning(t(lang, "delete_selected_confirm", count=len(chosen)))
    yes, cancel = st.columns(2)
    yes.button(
        t(lang, "delete_yes"),
        key="delete_selected_yes",
        type="primary",
        width="stretch",
        on_click=_delete_all,
        args=(visit, chosen),
    )
    cancel.button(
        t(lang, "cancel"),
        key="delete_selected_no",
        width="stretch",
        on_click=st.session_state.pop,
        args=(CONFIRM_BULK_DELETE, None),
    )


def archive_button(visit: Visit, session: Session) -> None:
    """In a chat's ⋮ menu (a chat with messages only)."""
    if not session.is_used:
        return
    st.button(
        t(visit.lang, "archive"),
        key=f"archive-{session.id}",
        icon=":material/archive:",
        width="stretch",
        on_click=_archive,
        args=(visit, session.id),
    )


def archived_section(visit: Visit, store, current: Session) -> None:
    """The archived chats, behind a button: open one, or restore it to the list."""
    lang = visit.lang
    shown = bool(st.session_state.get(SHOW_ARCHIVED))
    st.button(
        t(lang, "archived_hide" if shown else "archived_show"),
        key="show_archived",
        icon=":material/inventory_2:",
        width="stretch",
        on_click=st.session_state.__setitem__,
        args=(SHOW_ARCHIVED, not shown),
    )
    if not shown:
        return
    limit = st.session_state.get(ARCHIVED_LIMIT, ARCHIVED_PAGE)
    archived = store.list_sessions(visit.owner, limit=limit + 1, archived=True)
    if not archived:
        st.caption(t(lang, "archived_none"))
    for session in archived[:limit]:
        row = st.container(horizontal=True, gap="small", vertical_alignment="center")
        row.button(
            escape(session.title or t(lang, "untitled")),
            key=f"archived-{session.id}",
            type="primary" if session.id == current.id else "secondary",
            width="stretch",
            on_click=select_session,
            args=(session.id,),
        )
        row.button(
            "",
            key=f"restore-{session.id}",
            icon=":material/unarchive:",
            help=t(lang, "restore"),
            on_click=_restore,
            args=(visit, session.id),
        )
    if len(archived) > limit:
        st.button(
            t(lang, "show_more"),
            key="show_more_archived",
            width="stretch",
            on_click=st.session_state.__setitem__,
            args=(ARCHIVED_LIMIT, limit + ARCHIVED_PAGE),
        )


# --- callbacks ----------------------------------------------------------------------------


def _toggle_selecting() -> None:
    on = not selecting()
    st.session_state[SELECTING] = on
    st.session_state.pop(CONFIRM_BULK_DELETE, None)
    if not on:
        for key in [k for k in st.session_state if str(k).startswith(PICK.format(""))]:
            del st.session_state[key]


def _chosen() -> list[str]:
    prefix = PICK.format("")
    return sorted(
        str(key)[len(prefix) :]
        for key, value in st.session_state.items()
        if str(key).startswith(prefix) and value
    )


def _archive_all(visit: Visit, session_ids: list[str]) -> None:
    # One transaction for them all: a locked database costs one wait and one error,
    # and never archives some of them only. They stay selected, to try again.
    try:
        done = shared_store(visit.settings).set_sessions_archived(visit.owner, session_ids, True)
    except ChatError as exc:
        feedback.error(exc)
        return
    unselect(session_ids)
    feedback.notice("archived", count=done)


def _archive(visit: Visit, session_id: str) -> None:
    try:
        shared_store(visit.settings).set_archived(visit.owner, session_id, True)
    except ChatError as exc:  # gone, or emptied in another tab
        feedback.error(exc)
        return
    unselect([session_id])
    feedback.notice("archived", count=1)


def _restore(visit: Visit, session_id: str) -> None:
    try:
        session = shared_store(visit.settings).set_archived(visit.owner, session_id, False)
    except ChatError as exc:
        feedback.error(exc)
        return
    feedback.notice("restored", title=make_title(session.title or "") or t(visit.lang, "untitled"))


def _delete_all(visit: Visit, session_ids: list[str]) -> None:
    store = shared_store(visit.settings)
    st.session_state.pop(CONFIRM_BULK_DELETE, None)
    try:
        deleted = store.delete_sessions(visit.owner, session_ids)
    except ChatError as exc:
        feedback.error(exc)
        return
    unselect(session_ids)
    feedback.notice("deleted_many", count=deleted)
    if st.query_params.get("session") in session_ids:  # the open chat went
        try:
            replacement, _ = store.new_session(visit.owner)
        except ChatError as exc:  # the chats are gone; the page says why none opens
            feedback.error(exc)
            return
        select_session(replacement.id)


def unselect(session_ids: list[str]) -> None:
    """Take the chats out of the selection (archived, deleted or done with)."""
    for session_id in session_ids:
        st.session_state.pop(PICK.format(session_id), None)
