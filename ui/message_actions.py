"""Each message of a chat, with its actions: copy (the text as Markdown), edit (the
user's messages, in place), regenerate (answers), delete (with the branch below it,
after a confirmation), and `‹ 2 / 3 ›` under a message with other versions.

On a desktop the actions show while the pointer is over the message; on a touch screen
(no hover) they always show, as they do under the chat's last message. An edit or a
regenerate asked for while the branch's reply is still being written is refused with
a message (see `chat.regenerate`).

Edit and regenerate start a reply, so they are queued for the chat fragment, which
starts replies (see `chat_view`); switching versions and deleting change the history
at once, and the page is drawn again.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from chat_core.errors import ChatError
from chat_core.store import Message, Session

from . import clipboard, feedback
from .messages import render_message
from .runtime import Visit, prices, rerun_fragment_or_page, shared_store
from .text import t

PENDING = "pending_action"  # (action, *args) for the chat fragment to start
EDITING = "editing_message"  # the id of the user message edited in place
EDIT_REFILL = "edit_refill"  # the text of a refused edit, back in its editor
CONFIRMING = "confirming_delete"  # the id of the message whose delete asks first
REDRAW = "redraw_history"  # the history changed: the page is drawn again
# (chat id, the last message id the page showed at the end of its last run, or None)
SHOWN_END = "branch_shown"

CSS = """
<style>
[class*="st-key-actions-"] { opacity: 0; transition: opacity 0.15s; min-height: 2rem; }
[class*="st-key-msg-"]:hover [class*="st-key-actions-"],
[class*="st-key-actions-"]:focus-within,
[class*="st-key-actions-last"], [class*="st-key-actions-end"] { opacity: 1; }
@media (hover: none) { [class*="st-key-actions-"] { opacity: 1; } }
[class*="st-key-actions-"] button { padding: 0.1rem 0.45rem; min-height: 1.9rem; }
</style>
"""


@dataclass(frozen=True)
class Thread:
    """What drawing a chat's messages needs to know once: the chat, its messages'
    versions and the last message of its branch."""

    visit: Visit
    session: Session
    versions: dict[int, list[int]]
    leaf_id: int | None

    @classmethod
    def of(cls, visit: Visit, store, session: Session, branch_end: list[Message]):
        """`branch_end`: the latest messages of the current branch, oldest first."""
        leaf_id = branch_end[-1].id if branch_end else None
        return cls(visit, session, store.versions(session, branch_end), leaf_id)


def style() -> None:
    st.html(CSS)


def draw(thread: Thread, messages: list[Message]) -> None:
    """Draw `messages`, each with its actions (the branch's last one's always shown)."""
    table = prices(thread.visit.settings, thread.session)
    for message in messages:
        with st.container(key=f"msg-{message.id}"):
            if message.id == st.session_state.get(EDITING) and message.role == "user":
                _edit_form(thread, message)
            else:
                render_message(message, thread.visit.lang, table)
            kind = "actions-last" if message.id == thread.leaf_id else "actions"
            _actions(thread, message, st.container(**_row(f"{kind}-{message.id}")))


def end_row(message: Message):
    """A row under the chat for the branch's last message (always shown): its actions
    when a watcher drew it, and what only a last message offers."""
    return st.container(**_row(f"actions-end-{message.id}"))


def last_actions(thread: Thread, message: Message, row) -> None:
    """The actions of a last message a watcher drew, in `row`."""
    _actions(thread, message, row)


def queue(action: str, *args) -> None:
    st.session_state[PENDING] = (action, *args)


# --- the actions --------------------------------------------------------------------------


def _row(key: str) -> dict:
    return {"horizontal": True, "gap": "small", "vertical_alignment": "center", "key": key}


def _actions(thread: Thread, message: Message, row) -> None:
    if message.status == "streaming":
        return
    lang, mid = thread.visit.lang, message.id
    if st.session_state.get(CONFIRMING) == mid:
        _confirm_delete(thread, message, row)
        return
    locked = not thread.visit.has_key
    row.button(
        "",
        key=f"copy-{mid}",
        icon=":material/content_copy:",
        help=t(lang, "copy"),
        on_click=clipboard.queue_copy,
        args=(message.content,),
    )
    if message.role == "user":
        row.button(
            "",
            key=f"edit-{mid}",
            icon=":material/edit:",
            help=t(lang, "edit"),
            disabled=locked,
            on_click=_start_editing,
            args=(mid,),
        )
    if message.role == "assistant" or mid == thread.leaf_id:
        _regenerate_button(thread, message, row, locked)
    row.button(
        "",
        key=f"remove-{mid}",
        icon=":material/delete:",
        help=t(lang, "delete_message"),
        on_click=st.session_state.__setitem__,
        args=(CONFIRMING, mid),
    )
    _versions(thread, message, row)


def _regenerate_button(thread: Thread, message: Message, row, locked: bool) -> None:
    """Regenerate (an answer), Retry (a failed answer, or a question left without one
    at the end of the branch). Retry answers the message it is under, in the chat as
    the page shows it: when the chat went on in another tab since, it is refused."""
    if message.role == "user":
        key, icon, label = "retry", ":material/refresh:", "retry"
        click, args = queue, ("answer", message.id)
    elif message.status == "error":
        key, icon, label = "retry", ":material/refresh:", "retry"
        click, args = _queue_retry, (thread.session.id, message.id)
    else:
        key, icon, label = "regenerate", ":material/autorenew:", "regenerate"
        click, args = queue, ("regenerate", message.id)
    row.button(
        "",
        key=f"{key}-{message.id}",
        icon=icon,
        help=t(thread.visit.lang, label),
        disabled=locked,
        on_click=click,
        args=args,
    )


def _versions(thread: Thread, message: Message, row) -> None:
    """`‹ 2 / 3 ›` between the versions of a message (edits, or answers to a question)."""
    versions = thread.versions.get(message.id)
    if not versions:
        return
    index = versions.index(message.id)
    for step, icon in ((-1, ":material/chevron_left:"), (1, ":material/chevron_right:")):
        if step == 1:
            row.caption(f"{index + 1} / {len(versions)}")
        target = index + step
        row.button(
            "",
            key=f"{'prev' if step < 0 else 'next'}-{message.id}",
            icon=icon,
            help=t(thread.visit.lang, "previous_version" if step < 0 else "next_version"),
            disabled=not 0 <= target < len(versions),
            on_click=_switch,
            args=(thread.visit, thread.session, versions[max(0, min(target, len(versions) - 1))]),
        )


def _confirm_delete(thread: Thread, message: Message, row) -> None:
    lang = thread.visit.lang
    row.warning(t(lang, "delete_message_confirm"), icon=":material/delete:")
    row.button(
        t(lang, "delete_yes"),
        key=f"remove_yes-{message.id}",
        type="primary",
        on_click=_delete,
        args=(thread.visit, thread.session, message.id),
    )
    row.button(
        t(lang, "cancel"),
        key=f"remove_no-{message.id}",
        on_click=st.session_state.pop,
        args=(CONFIRMING, None),
    )


def reopen_editor(message_id: int, text: str) -> None:
    """Open the editor of a message again with `text` (an edit that was refused)."""
    st.session_state[EDITING] = message_id
    st.session_state[EDIT_REFILL] = text


def _edit_form(thread: Thread, message: Message) -> None:
    """The message's text in an editor, where the message was (or the text of an edit
    that was refused)."""
    lang = thread.visit.lang
    refill = st.session_state.pop(EDIT_REFILL, None)
    if refill is not None:
        st.session_state.pop("edit_text", None)  # the editor starts from the refused text
    with st.form("edit_form"):
        text = st.text_area(t(lang, "edit_label"), value=refill or message.content, key="edit_text")
        left, right = st.columns(2)
        resend = left.form_submit_button(t(lang, "resend"), type="primary")
        cancel = right.form_submit_button(t(lang, "cancel"))
    if resend or cancel:
        st.session_state.pop(EDITING, None)
        if resend:
            queue("edit", message.id, text)
        rerun_fragment_or_page()


# --- callbacks ----------------------------------------------------------------------------


def _queue_retry(session_id: str, message_id: int) -> None:
    """Retry the failed answer `message_id`, with the chat's last message as the page
    shows it when clicked (a button an earlier run drew may have newer messages below)."""
    shown_chat, shown_end = st.session_state.get(SHOWN_END, (None, None))
    queue("regenerate", message_id, shown_end if shown_chat == session_id else None)


def _start_editing(message_id: int) -> None:
    st.session_state.pop("edit_text", None)  # the editor starts from this message's text
    st.session_state[EDITING] = message_id


def _switch(visit: Visit, session: Session, message_id: int) -> None:
    _change(visit, lambda store: store.switch_branch(session, message_id))


def _delete(visit: Visit, session: Session, message_id: int) -> None:
    st.session_state.pop(CONFIRMING, None)
    if _change(visit, lambda store: store.delete_message(session, message_id)):
        feedback.notice("message_deleted")


def _change(visit: Visit, change) -> bool:
    """Apply a change to the history; the page is drawn again (a click inside the chat
    fragment reruns only the fragment, which then reruns the page)."""
    try:
        change(shared_store(visit.settings))
    except ChatError as exc:
        feedback.error(exc)
        return False
    st.session_state[REDRAW] = True
    return True
