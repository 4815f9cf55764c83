"""The chat area: a window of recent messages, the reply actions, the input, and the
reply being written.

It runs as a fragment, so sending a message reruns only this part of the page. Replies
are written by the process's reply runner, not by the page: the page starts a reply,
then watches it. Leaving the page never stops a reply; the Stop button does, and the
chat keeps exactly the text that was on screen.
"""

from __future__ import annotations

import streamlit as st

from chat_core import chat, continuation
from chat_core.conversation import is_cut
from chat_core.errors import ChatError, MessageNotFoundError
from chat_core.images import prepare_images
from chat_core.runner import stop_elsewhere

from . import clipboard, feedback, landing, media, message_actions
from .landing import WINDOW, window_key
from .message_actions import EDITING, PENDING, REDRAW, SHOWN_END, Thread
from .runtime import (
    Visit,
    client,
    prices,
    rerun_fragment_or_page,
    select_session,
    shared_runner,
    shared_store,
)
from .text import t
from .watch import SHOWN, say_failed_continue, show_unsaved, watch_elsewhere, watch_live

REFILL = "refill_input"  # text a refused message leaves in the input
INPUT = "chat_input"
SHOWED_EMPTY = "showed_empty_chat"
RECEIVED = "input_received"  # the text of the last message this page received
DRAWN = "history_drawn"  # (chat id, the last message id the full run drew)


def history_area(visit: Visit, store, session) -> None:
    """The chat's latest window of messages, drawn by the page's full run only: sending a
    message reruns the chat fragment below, which adds the new exchange without sending
    the history to the browser again."""
    st.session_state.pop(REDRAW, None)  # this run draws the history anew
    key = window_key(session.id)
    window = st.session_state.get(key, WINDOW)
    messages = store.get_messages(session, limit=window + 1)
    if len(messages) > window:
        messages = messages[1:]
        hidden = store.count_messages(session) - window
        st.button(
            t(visit.lang, "show_earlier", count=hidden),
            key="show_earlier",
            on_click=st.session_state.__setitem__,
            args=(key, window + WINDOW),
        )
    live = shared_runner(visit.settings).live(session.id)
    drawn = _settled(messages, live)
    message_actions.style()
    media.prefetch(store, session, drawn)
    message_actions.draw(Thread.of(visit, store, session, messages), drawn)
    landing.land(session.id)
    clipboard.flush(visit.lang)
    st.session_state[DRAWN] = (session.id, drawn[-1].id if drawn else 0)


@st.fragment
def chat_area(visit: Visit, session_id: str) -> None:
    with feedback.guard(visit.lang):
        _chat(visit, session_id)


def _chat(visit: Visit, session_id: str) -> None:
    store, replies = shared_store(visit.settings), shared_runner(visit.settings)
    session = store.find_session(visit.owner, session_id)
    if session is None:  # deleted in another tab: the page opens another chat and says so
        typed = st.session_state.get(INPUT)
        text = typed if isinstance(typed, str) else getattr(typed, "text", None)
        if text:
            st.session_state[REFILL] = text  # a message sent to it waits in the input
        st.rerun()
    if st.session_state.pop(REDRAW, False):
        st.rerun()  # a version switched or a message deleted: draw the history again
    clipboard.flush(visit.lang)
    live = replies.live(session.id)
    prompt, files = _input(visit, session)
    action = None if prompt is not None else st.session_state.pop(PENDING, None)
    # A reply on another version of the chat (switched to while it streams) is not
    # drawn under this one.
    watching = live is not None and not live.progress.done and _writes_here(store, session, live)
    if prompt is not None or action is not None:
        st.session_state.pop(EDITING, None)
        live = _start(visit, store, replies, session, prompt, action, files)
        watching = True  # even if it already ended: its end is shown here
        if live.session_id != session.id:  # another tab had started this chat
            select_session(live.session_id)
            feedback.notice("moved_to_new_chat")
            st.rerun()
        if action is not None:  # every action's reply: its question may show Retry
            live.begun()  # a new version is the branch's leaf once its row is written
            st.rerun()  # they change messages the history shows: draw it again
    price_table = prices(visit.settings, session)
    messages = _new_messages(visit, store, session, live if watching else None)
    if watching:
        _watch(visit, store, session, live, price_table)
        return
    if messages and messages[-1].status == "streaming":
        if show_unsaved(messages[-1], live, visit.lang):  # this process's, its end unsaved
            _after_reply(visit, store, session)
            return
        # Written by another process.
        shown = watch_elsewhere(store, session, messages[-1], visit.lang, price_table)
        _after_reply(visit, store, session, watched=shown)
        return
    if live is not None:  # ended before this run could watch it
        say_failed_continue(live, visit.lang)
    _after_reply(visit, store, session)


def _new_messages(visit: Visit, store, session, live):
    """Draw the messages stored since the page's full run drew the history (a sent
    message, an earlier reply of this fragment); returns them, streaming one included."""
    drawn_chat, drawn_up_to = st.session_state.get(DRAWN, (session.id, 0))
    if drawn_chat != session.id:
        st.rerun()  # the history on the page is another chat's
    branch_end = store.get_messages(session, limit=WINDOW)
    if drawn_up_to and not _on_branch(store, session, branch_end, drawn_up_to):
        st.rerun()  # another tab switched the chat to another version: draw that one
    st.session_state[SHOWN_END] = (session.id, branch_end[-1].id if branch_end else None)
    messages = [m for m in branch_end if m.id > drawn_up_to]
    if messages:
        thread = Thread.of(visit, store, session, branch_end)
        media.prefetch(store, session, messages)
        message_actions.draw(thread, _settled(messages, live))
    # What the reader saw: a first message sent from an empty chat must not join a
    # conversation another tab has started in it since (see `_start`). A started chat
    # whose messages were all deleted takes the next one as any started chat does.
    empty = not drawn_up_to and not messages and live is None and not session.is_used
    st.session_state[SHOWED_EMPTY] = session.id if empty else None
    return messages


def _on_branch(store, session, branch_end, message_id: int) -> bool:
    """Whether message `message_id` is on the chat's current branch (`branch_end` being
    its latest messages)."""
    if any(m.id == message_id for m in branch_end):
        return True
    return store.messages_after(session, message_id) is not None


def _writes_here(store, session, live) -> bool:
    """Whether the live reply is on the chat's current branch (one with no row yet has
    just started on it)."""
    message = live.progress.message
    return message is None or _on_branch(store, session, (), message.id)


def _shown_end(session_id: str) -> int | None:
    """The last message this page shows of the chat (None: it shows none)."""
    shown_chat, shown_end = st.session_state.get(SHOWN_END, (None, None))
    return shown_end if shown_chat == session_id else None


def _settled(messages, live):
    """The messages to draw as they are: not the reply a watcher draws (the live one,
    or a reply still streaming with no writer here)."""
    if live is not None:
        watched = live.begun()
        messages = [m for m in messages if not (watched and m.id == watched.id)]
    if messages and messages[-1].status == "streaming":
        messages = messages[:-1]
    return messages


def _start(visit, store, replies, session, prompt, action, files=()):
    """Start the reply a message or an action asks for. A refusal reruns the chat with
    the reason shown, the typed text back in the input and its images kept for the
    next message (images kept from a refused one go first); a message that was stored
    and could not be taken back stays in the chat instead, for Retry to answer."""
    images = []
    if prompt is not None:
        st.session_state[RECEIVED] = prompt
    try:
        if prompt is not None:
            chosen = [(file.name, file.getvalue()) for file in files]
            images = prepare_images(chosen, kept=media.held(session.id))
        replies.check_room(visit.owner, session.id)  # before anything is written
        make = _ACTIONS[action[0]] if action else None
        if make is not None:
            reply = make(store, visit.settings, session, client(visit), *action[1:])
        elif st.session_state.get(SHOWED_EMPTY) == session.id:  # the page showed it empty
            reply = chat.send_first(
                store, visit.settings, session, client(visit), prompt, images=images
            )
        else:
            # After the last message shown, whichever version another tab switched to.
            after = _shown_end(session.id)
            reply = chat.send(
                store, visit.settings, session, client(visit), prompt, images=images, after=after
            )
        live = replies.start(reply, visit.owner)
        if prompt is not None:  # sent with this message (an action sends none)
            media.release(session.id)
        return live
    except ChatError as exc:
        feedback.error(exc)
        if isinstance(exc, MessageNotFoundError):
            st.session_state[REDRAW] = True  # deleted in another tab: show what is left
        if exc.kept_message is not None:  # in the chat, unanswered: Retry answers it
            feedback.notice("message_kept")
            if prompt is not None:
                media.release(session.id)  # stored with it
        elif action and action[0] == "edit":  # the editor opens again where it was
            message_actions.reopen_editor(action[1], action[-1])
        elif prompt is not None:  # a message of images alone has no text
            if prompt:
                st.session_state[REFILL] = prompt
            media.hold(session.id, images)
        rerun_fragment_or_page()


def _watch(visit, store, session, live, price_table) -> None:
    first_turn = not session.is_used
    final = watch_live(live, visit.lang, price_table)
    if first_turn and final is not None:
        st.rerun()  # the sidebar and the header show the chat's new title
    _after_reply(visit, store, session, watched=final)


def _after_reply(visit, store, session, *, watched=None) -> None:
    """Under the chat, for the branch's last message: its actions when a watcher drew
    it (a drawn message shows its own), and what only a last message offers."""
    _reply_actions(visit, store, session, store.get_messages(session, limit=2), watched)


def _input(visit: Visit, session) -> tuple[str | None, list]:
    """The chat input, pinned at the bottom with the notices above it: the text sent
    (None when nothing was) and the image files attached to it, chosen or pasted. A
    model known to read text only takes no files. While a run goes on (such as watching
    a reply) its send button is Stop."""
    model = session.model or visit.settings.model
    placeholder = (
        t(visit.lang, "input_placeholder", model=model)
        if visit.has_key
        else t(visit.lang, "input_disabled")
    )
    if refill := st.session_state.pop(REFILL, None):
        st.session_state[INPUT] = refill
    with st.bottom:
        feedback.show(visit.lang)
        return media.message_input(
            placeholder,
            key=INPUT,
            disabled=not visit.has_key,
            with_images=media.takes_images(visit.settings, session),
            lang=visit.lang,
            chat_key=session.id,
        )


def stop_reply(visit: Visit, session_id: str, sent: str | None = None) -> None:
    """Stop the chat's reply, keeping exactly the text that was on screen: one this
    process writes, or one another process writes that this page followed. `sent`, the
    text last sent from the input, goes back to the input unless this page received
    it: a message sent while the page followed a reply waited for it, and Stop dropped
    it."""
    live = shared_runner(visit.settings).live(session_id)
    shown = st.session_state.get(SHOWN)
    store = shared_store(visit.settings)
    try:
        session = store.find_session(visit.owner, session_id)
        if session is None:
            return
        if live is not None and not live.progress.done:
            message = live.progress.message
            live.stop(shown[1] if shown and message and shown[0] == message.id else None)
        elif shown:
            stop_elsewhere(store, session, *shown)
        if sent and sent.strip() != (st.session_state.get(RECEIVED) or "").strip():
            st.session_state[REFILL] = sent
    except ChatError as exc:
        feedback.error(exc)


def _reply_actions(visit: Visit, store, session, messages, watched) -> None:
    if not messages:
        return
    last = messages[-1]
    if last.status == "streaming":
        return
    row = message_actions.end_row(last)
    if is_cut(last):  # stopped at the token limit: the model can go on
        row.button(
            t(visit.lang, "continue"),
            key="continue",
            icon=":material/play_arrow:",
            type="primary",
            on_click=_queue,
            args=("continue", last.id),  # this answer: the chat may go on in another tab
        )
    if watched is not None and watched.id == last.id:  # drawn by a watcher, bare
        message_actions.last_actions(Thread.of(visit, store, session, messages), last, row)


_queue = message_actions.queue


_ACTIONS = {
    "regenerate": chat.regenerate,
    "answer": chat.reply_to_last,
    "edit": chat.edit,
    "continue": continuation.continue_reply,
}
