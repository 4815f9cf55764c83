"""In-page timing: when does the newest chat message show the text we wait for?

All times are taken in the browser with `performance.now()`, so Python round trips do not
count. `arm` installs a MutationObserver before the action; the action (Enter in the
chat input, or a mouse button going down) sets t0; each marker's time is the first
animation frame after the newest `stChatMessage` contains it, i.e. the frame that paints it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from playwright.sync_api import Page

from ark_emulator import ArkEmulator
from ark_emulator.replies import last_user_text

_ARM = """([first, last]) => {
  const probe = {t0: null, first: null, last: null};
  window.__probe = probe;
  const frame = (key) => requestAnimationFrame(() => { probe[key] = performance.now(); });
  let seenFirst = false, seenLast = false;
  const observer = new MutationObserver(() => {
    if (probe.t0 === null) return;
    const all = document.querySelectorAll('[data-testid="stChatMessage"]');
    const text = all.length ? all[all.length - 1].textContent : "";
    if (!seenFirst && text.includes(first)) { seenFirst = true; frame("first"); }
    if (!seenLast && text.includes(last)) { seenLast = true; frame("last"); observer.disconnect(); }
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
  // Capture phase: t0 is set before Streamlit's own handler submits the message.
  window.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && probe.t0 === null) probe.t0 = performance.now();
  }, true);
  window.addEventListener("pointerdown", () => {
    if (probe.t0 === null) probe.t0 = performance.now();
  }, true);
}"""


@dataclass
class Timing:
    """Milliseconds from the action to the first and to the last marker being painted.

    `start_epoch`: the action's wall-clock time (s), to compare with server-side events;
    `request_ms`: action to the model request, where known; `rendered`: chat messages in
    the page, where the caller counted them."""

    first_ms: float
    last_ms: float
    start_epoch: float | None = None
    request_ms: float | None = None
    rendered: int = 0


def arm(page: Page, first: str, last: str) -> None:
    """Watch the newest chat message for `first`, then `last`."""
    page.evaluate(_ARM, [first, last])


def press_enter(page: Page, prompt: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(prompt)
    box.press("Enter")


def click(page: Page, selector: str) -> None:
    """A real mouse click; t0 is the pointer going down."""
    page.locator(selector).click()


def result(page: Page, timeout_ms: int) -> Timing:
    """Wait until the last marker is painted and return both times."""
    page.wait_for_function(
        "() => window.__probe && window.__probe.last !== null", polling=50, timeout=timeout_ms
    )
    probe = page.evaluate("() => ({...window.__probe, origin: performance.timeOrigin})")
    start_epoch = (probe["origin"] + probe["t0"]) / 1000
    return Timing(probe["first"] - probe["t0"], probe["last"] - probe["t0"], start_epoch)


def message_count(page: Page) -> int:
    return page.get_by_test_id("stChatMessage").count()


def watch_requests(emulator: ArkEmulator, arrivals: dict[str, float]) -> None:
    """Note when each model request reaches the emulator, by its last user message, to
    split a browser time into before and after the model call. Diagnostic only: it
    wraps a private hook and does nothing if that ever goes away."""
    record = getattr(emulator, "_record", None)
    if record is None:
        return

    def timed_record(request) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        messages = body.get("messages")
        if isinstance(messages, list):
            arrivals[last_user_text(messages)] = time.time()
        record(request)

    emulator._record = timed_record
