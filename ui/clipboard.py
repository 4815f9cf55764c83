"""Copying a message's text to the clipboard.

Streamlit has no clipboard call, so a Copy click queues the text, and the next run (a
few milliseconds later, well within the browser's allowance after a click) hands it to
a small page script that writes it. Without the Clipboard API (a page served over plain
HTTP on a network) it copies through a hidden text area instead.
"""

from __future__ import annotations

import itertools

import streamlit as st

from .text import t

QUEUED = "clipboard_text"
_numbers = itertools.count(1)

COPY_JS = """
export default function (component) {
  const order = component.data;
  if (!order || !order.nonce) return;
  const done = window.arkCopied || (window.arkCopied = new Set());
  if (done.has(order.nonce)) return;
  done.add(order.nonce);
  const viaTextArea = () => {
    const area = document.createElement('textarea');
    area.value = order.text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    try { document.execCommand('copy'); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(order.text).catch(viaTextArea);
  } else {
    viaTextArea();
  }
}
"""

_copier = st.components.v2.component("ark_chat_copy", js=COPY_JS)


def queue_copy(text: str) -> None:
    """Copy `text` in the next run (a button's callback calls this)."""
    st.session_state[QUEUED] = (next(_numbers), text)


def flush(lang: str) -> None:
    """Hand a queued text to the page (once), and say so."""
    queued = st.session_state.pop(QUEUED, None)
    if queued is None:
        return
    nonce, text = queued
    _copier(key="clipboard", data={"nonce": nonce, "text": text}, height=0)
    st.toast(t(lang, "copied"), icon=":material/content_copy:")
