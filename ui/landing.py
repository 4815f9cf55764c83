"""Opening a chat on one of its messages (a search hit): its branch becomes the current
one, the page draws enough of the latest messages to include it, and the view scrolls
to it and marks it, instead of opening on the chat's latest messages."""

from __future__ import annotations

import itertools

import streamlit as st

from chat_core.store import Session

from .runtime import select_session

# How many of a chat's latest messages a page draws at first ("Show earlier" adds as
# many again): every drawn message is a share of each full run of the page, such as
# the one a version switch makes.
WINDOW = 20
LANDING = "land_on"  # (chat id, message id, a number that is new for each landing)
_numbers = itertools.count(1)

# Scroll to the message once it is drawn, after the view follower has opened the chat
# on its latest messages (see `style.follow_chat`), and stop following the bottom.
LAND_JS = """
export default function (component) {
  const target = component.data;
  if (!target || !target.nonce) return;
  const done = window.arkLanded || (window.arkLanded = new Set());
  if (done.has(target.nonce)) return;
  done.add(target.nonce);
  const started = Date.now();
  const land = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    const message = document.querySelector('.st-key-msg-' + target.message);
    const follower = main && main.arkFollower;
    if (!message || (follower && follower.chat !== target.chat)) {
      if (Date.now() - started < 5000) setTimeout(land, 50);
      return;
    }
    if (follower) follower.following = false;
    requestAnimationFrame(() => message.scrollIntoView({ block: 'center' }));
  };
  land();
}
"""
HIGHLIGHT = """
<style>
.st-key-msg-{id} [data-testid="stChatMessage"] {{
    box-shadow: 0 0 0 2px rgba(245, 166, 35, 0.9);
    background-color: rgba(245, 166, 35, 0.12);
    border-radius: 0.5rem;
}}
</style>
"""

_lander = st.components.v2.component("ark_chat_land", js=LAND_JS)


def window_key(session_id: str) -> str:
    """Where a tab keeps how many of a chat's latest messages it draws."""
    return f"window-{session_id}"


def open_at(store, session: Session, message_id: int | None) -> None:
    """Open `session` on `message_id` (its title alone when None). Raises
    `MessageNotFoundError` when the message is gone."""
    if message_id is not None:
        session = store.switch_branch(session, message_id)
        after = store.messages_after(session, message_id) or 0
        key = window_key(session.id)
        needed = -(-(after + 1) // WINDOW) * WINDOW  # whole pages, as Show earlier adds
        st.session_state[key] = max(st.session_state.get(key, WINDOW), needed)
        st.session_state[LANDING] = (session.id, message_id, next(_numbers))
    select_session(session.id)


def land(session_id: str) -> None:
    """Scroll to and mark the message a search opened the chat on (once)."""
    target = st.session_state.get(LANDING)
    if not target or target[0] != session_id:
        return
    st.session_state.pop(LANDING)
    _, message_id, number = target
    st.html(HIGHLIGHT.format(id=int(message_id)))
    _lander(
        key="landing",
        data={"chat": session_id, "message": int(message_id), "nonce": number},
        height=0,
    )
