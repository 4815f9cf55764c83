"""How the page looks and moves: a little CSS, the view that follows a reply, and the
Stop button's meaning.

Streamlit keeps the view where it was while content grows below it, and opens a chat
at its top. `follow_chat()` mounts a small script that does what chat apps do: a chat
opens on its latest messages, and while a reply grows the view follows it if the
reader was at (or near) the bottom, and stays put if they scrolled up to read.
"""

from __future__ import annotations

import streamlit as st

CSS = """
<style>
/* Streamlit's running-man status and its second Stop button are developer chrome. */
[data-testid="stStatusWidget"] { display: none !important; }
/* The view follows a growing reply itself (see follow_chat). */
[data-testid="stMain"] { overflow-anchor: none; }
/* Titles and snippets are plain text (st.text): sized like a heading or a caption. */
.st-key-chat_title [data-testid="stText"] {
    font-size: 1.5rem; font-weight: 600; line-height: 1.3; overflow-wrap: anywhere;
}
.st-key-search_results [data-testid="stText"] {
    font-size: 0.8rem; opacity: 0.7; overflow-wrap: anywhere;
}
</style>
"""

FOLLOW_JS = """
export default function (component) {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return;
  const content = main.querySelector('[data-testid="stMainBlockContainer"]') || main;
  let follower = main.arkFollower;
  if (!follower) {
    follower = { following: true, chat: null, watched: null, touched: 0 };
    const nearBottom = () => main.scrollHeight - main.scrollTop - main.clientHeight < 80;
    // Only the reader's own scrolling decides: redraws and scroll anchoring move the
    // view too, and must not stop it from following.
    const touched = () => { follower.touched = Date.now(); };
    for (const kind of ['wheel', 'touchmove', 'keydown', 'pointerdown']) {
      main.addEventListener(kind, touched, { passive: true });
    }
    main.addEventListener('scroll', () => {
      if (Date.now() - follower.touched < 1000) follower.following = nearBottom();
    }, { passive: true });
    follower.resize = new ResizeObserver(() => {
      if (follower.following) main.scrollTop = main.scrollHeight;
    });
    main.arkFollower = follower;
  }
  if (follower.watched !== content) {  // Streamlit may replace the container
    follower.resize.disconnect();
    follower.resize.observe(content);
    follower.watched = content;
  }
  const chat = component.data && component.data.chat;
  if (chat !== follower.chat) {  // a chat was opened: show its latest messages
    follower.chat = chat;
    follower.following = true;
    main.scrollTop = main.scrollHeight;
  }
}
"""

# Streamlit's own Stop (the chat input's send button while a run goes on) stops the
# page's run, but a reply is written by the server, not by the run. Clicking it also
# tells the app (a click after the run has stopped) to stop the reply itself, with the
# text last sent from the input: a message sent while the tab followed a reply waits
# for that run to end, and Stop drops it, so the app puts it back.
STOP_JS = """
export default function (component) {
  const hook = window.arkStopHook || (window.arkStopHook = {});
  hook.tell = component.setTriggerValue;
  if (hook.installed) return;
  hook.installed = true;
  const INPUT = '[data-testid="stChatInputTextArea"]';
  document.addEventListener('keydown', (event) => {
    const input = event.target.closest && event.target.closest(INPUT);
    if (input && event.key === 'Enter' && !event.shiftKey) hook.sent = input.value;
  }, true);
  document.addEventListener('click', (event) => {
    if (event.target.closest('[data-testid="stChatInputSubmitButton"]')) {
      hook.sent = (document.querySelector(INPUT) || {}).value;
    }
    if (event.target.closest('[data-testid="stChatInputStopButton"]')) {
      const sent = hook.sent || null;
      hook.sent = null;
      setTimeout(() => hook.tell('stopped', { at: Date.now(), sent }), 150);
    }
  }, true);
}
"""

_follower = st.components.v2.component("ark_chat_follow", js=FOLLOW_JS)
_stop_hook = st.components.v2.component("ark_chat_stop", js=STOP_JS)


def page_style() -> None:
    st.html(CSS)


def on_stop(stop) -> None:
    """Call `stop(sent)` (in the next run) when the reader presses Stop, `sent` being
    the text last sent from the chat input (None if unknown)."""
    _stop_hook(key="stop_hook", on_stopped_change=lambda: stop(_last_sent()), height=0)


def _last_sent() -> str | None:
    stopped = (st.session_state.get("stop_hook") or {}).get("stopped")
    sent = stopped.get("sent") if isinstance(stopped, dict) else None
    return sent if isinstance(sent, str) and sent.strip() else None


def follow_chat(session_id: str) -> None:
    """Keep the view on the latest messages of `session_id` (see the module doc)."""
    _follower(key="follow_chat", data={"chat": session_id}, height=0)
