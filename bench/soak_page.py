"""Page helpers for the soak benchmark (async Playwright): probes, waits and readings.

Every page gets an init script that reports to Python through an exposed function
(`__soakReport`), so nothing is lost when a tab reloads or closes:

* `exception`: the text of any `stException` that ever appears (checked on every DOM change);
* `ttft`: for a prompt sent with Enter, ms from the keydown to the first visible reply
  text in the assistant message that follows the prompt's user message.

Prompts carry a unique tag (`k03n0017z`), which is how both sides find "their" messages.
"""

from __future__ import annotations

import contextlib
import re

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

TAG = re.compile(r"k\d{2}n\d{4}z")
SESSION_IN_URL = re.compile(r"[?&]session=(\w+)")
INPUT = "stChatInputTextArea"
STOP = "stChatInputStopButton"

# Shared JS: `turn(tag)` reads the user message carrying `tag` and the reply after it.
# Elements in stale containers (left over from an earlier run) are ignored.
_JS_HELPERS = r"""
const soakFresh = (el) => !el.closest('[data-stale="true"]');
const soakIsUser = (m) => m.querySelector('[data-testid="stChatMessageAvatarUser"]') !== null;
// A user's message shows as typed (stText), a reply as Markdown.
const soakText = (m) => [...m.querySelectorAll(
    '[data-testid="stMarkdownContainer"], [data-testid="stText"]')]
  .filter((el) => !el.closest('[data-testid="stAlert"]')
    && !el.closest('[data-testid="stExpander"]'))
  .map((el) => el.innerText).join('\n').trim();
window.__soakTurn = (tag) => {
  const all = [...document.querySelectorAll('[data-testid="stChatMessage"]')].filter(soakFresh);
  let at = -1;
  for (let i = all.length - 1; i >= 0; i--) {
    if (soakIsUser(all[i]) && soakText(all[i]).includes(tag)) { at = i; break; }
  }
  if (at < 0) return null;
  const next = all[at + 1];
  if (!next || soakIsUser(next)) return {reply: null};
  const alerts = [...next.querySelectorAll('[data-testid="stAlert"]')]
    .map((a) => a.innerText.trim());
  const caption = next.querySelector('[data-testid="stCaptionContainer"]') !== null;
  return {reply: {text: soakText(next), alerts, final: caption || alerts.length > 0}};
};
"""

INIT_SCRIPT = (
    _JS_HELPERS
    + r"""
(() => {
  const seen = new Set();
  let pending = null;
  window.addEventListener('keydown', (event) => {
    const box = event.target;
    if (event.key !== 'Enter' || event.shiftKey || !box || !box.getAttribute) return;
    if (box.getAttribute('data-testid') !== 'stChatInputTextArea') return;
    const tag = (box.value.match(/k\d{2}n\d{4}z/) || [null])[0];
    if (tag) pending = {tag, t0: performance.now()};
  }, true);  // capture phase: before Streamlit's own handler submits
  const check = () => {
    for (const ex of document.querySelectorAll('[data-testid="stException"]')) {
      const text = ex.innerText.slice(0, 2000);
      if (seen.has(text)) continue;
      seen.add(text);
      window.__soakReport('exception', location.href, text);
    }
    if (pending === null) return;
    const turn = window.__soakTurn(pending.tag);
    if (turn && turn.reply && turn.reply.text.length > 0) {
      window.__soakReport('ttft', pending.tag, performance.now() - pending.t0);
      pending = null;
    }
  };
  const options = {childList: true, subtree: true, characterData: true};
  new MutationObserver(check).observe(document, options);
})();
"""
)

# True once the app is connected and has not been running a script for 300 ms.
_IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app && app.dataset.testScriptState === 'notRunning'
    && app.dataset.testConnectionState === 'CONNECTED';
  if (!idle) { window.__soakIdleSince = null; return false; }
  window.__soakIdleSince = window.__soakIdleSince || performance.now();
  return performance.now() - window.__soakIdleSince > 300;
}"""

_SIDEBAR_IDS = r"""() => [...document.querySelectorAll(
    '[data-testid="stSidebar"] [class*="st-key-"]')]
  .flatMap((el) => [...el.classList]).map((c) => c.match(/^st-key-(?:session|hit)-(\w+)$/))
  .filter(Boolean).map((m) => m[1])"""

_VISIBLE_TAGS = r"""() => [...document.querySelectorAll(
    '[data-testid="stChatMessage"], [data-testid="stSidebar"]')]
  .flatMap((el) => el.innerText.match(/k\d{2}n\d{4}z/g) || [])"""


def session_of(page: Page) -> str | None:
    match = SESSION_IN_URL.search(page.url)
    return match.group(1) if match else None


async def wait_idle(page: Page, timeout_ms: int) -> None:
    """Connected, no script running (stable for 300 ms), and the chat input present."""
    await wait_script_idle(page, timeout_ms)
    await page.get_by_test_id(INPUT).wait_for(state="visible", timeout=timeout_ms)


async def wait_script_idle(page: Page, timeout_ms: int) -> None:
    await page.wait_for_function(_IDLE, polling=100, timeout=timeout_ms)


async def has_chat_input(page: Page, timeout_ms: int = 3_000) -> bool:
    try:
        await page.get_by_test_id(INPUT).wait_for(state="visible", timeout=timeout_ms)
        return True
    except PlaywrightTimeout:
        return False


async def wait_session(page: Page, timeout_ms: int) -> str:
    await page.wait_for_url(SESSION_IN_URL, timeout=timeout_ms)
    return session_of(page) or ""


async def wait_running(page: Page, timeout_ms: int = 3_000) -> None:
    """Give a just-triggered rerun a moment to start (it may also be over already)."""
    running = page.locator("[data-testid='stApp'][data-test-script-state='running']")
    with contextlib.suppress(PlaywrightTimeout):
        await running.wait_for(state="attached", timeout=timeout_ms)


async def wait_user_message(page: Page, tag: str, timeout_ms: int) -> bool:
    """Whether the user message carrying `tag` shows up: our definition of "sent"."""
    try:
        await page.wait_for_function(
            "(tag) => window.__soakTurn(tag) !== null", arg=tag, polling=100, timeout=timeout_ms
        )
        return True
    except PlaywrightTimeout:
        return False


async def wait_reply_started(page: Page, tag: str, timeout_ms: int) -> None:
    await page.wait_for_function(
        "(tag) => { const t = window.__soakTurn(tag); return !!(t && t.reply && t.reply.text); }",
        arg=tag,
        polling=50,
        timeout=timeout_ms,
    )


async def wait_turn_done(page: Page, tag: str, timeout_ms: int) -> dict | None:
    """Wait until the reply to `tag` is rendered from the store (usage line or a status
    box) and the app is idle; the turn as read from the page."""
    await page.wait_for_function(
        "(tag) => { const t = window.__soakTurn(tag); return !!(t && t.reply && t.reply.final); }",
        arg=tag,
        polling=100,
        timeout=timeout_ms,
    )
    await wait_idle(page, timeout_ms)
    return await read_turn(page, tag)


async def read_turn(page: Page, tag: str) -> dict | None:
    return await page.evaluate("(tag) => window.__soakTurn(tag)", tag)


def turn_outcome(turn: dict | None) -> str:
    """complete | failed | interrupted | incomplete | no_reply | missing, as shown."""
    if turn is None:
        return "missing"
    reply = turn.get("reply")
    if reply is None:
        return "no_reply"
    alerts = " ".join(reply["alerts"])
    for label, outcome in (
        ("Reply failed", "failed"),
        ("Reply interrupted", "interrupted"),
        ("Reply incomplete", "incomplete"),
    ):
        if label in alerts:
            return outcome
    return "complete" if reply["final"] else "streaming"


def failure_reason(turn: dict | None) -> str:
    """The first sentence of a "Reply failed: ..." box, to tally what users were told."""
    alerts = " ".join(((turn or {}).get("reply") or {}).get("alerts", []))
    reason = alerts.partition("Reply failed:")[2].strip()
    return reason.split(". ")[0][:60] or "?"


async def sidebar_sessions(page: Page) -> list[str]:
    """Session ids listed in the sidebar (entries and search hits)."""
    return list(dict.fromkeys(await page.evaluate(_SIDEBAR_IDS)))


async def visible_tags(page: Page) -> set[str]:
    """Message tags visible in chat messages and the sidebar."""
    return set(await page.evaluate(_VISIBLE_TAGS))


async def click_stop(page: Page, timeout_ms: int) -> bool:
    """Click the chat input's stop button if a run is still going; whether it was."""
    stop = page.get_by_test_id(STOP)
    try:  # short: the button goes away as soon as the reply ends by itself
        await stop.click(timeout=min(timeout_ms, 2_000))
        return True
    except PlaywrightTimeout:
        return False


async def rename_chat(page: Page, session_id: str, title: str, timeout_ms: int) -> None:
    """Open the chat's ⋮ menu with a mouse click, type `title`, press Save."""
    field = page.get_by_test_id("stPopoverBody").get_by_label("Rename")
    if not await field.is_visible():  # the menu stays open after an earlier Save
        await page.locator(f".st-key-menu-{session_id} button").first.click(timeout=timeout_ms)
    await field.fill(title, timeout=timeout_ms)
    await (
        page.get_by_test_id("stPopoverBody")
        .get_by_role("button", name="Save")
        .click(timeout=timeout_ms)
    )


async def search_and_open(page: Page, query: str, session_id: str, timeout_ms: int) -> bool:
    """Search for `query`; click the hit for `session_id` if it shows. Whether it did."""
    box = page.locator(".st-key-search input")
    await box.fill(query, timeout=timeout_ms)
    await box.press("Enter", timeout=timeout_ms)
    hit = page.locator(f".st-key-hit-{session_id} button")
    try:
        await hit.wait_for(state="visible", timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    await hit.click(timeout=timeout_ms)
    await page.wait_for_url(re.compile(f"session={session_id}"), timeout=timeout_ms)
    return True


async def clear_search(page: Page, timeout_ms: int) -> None:
    box = page.locator(".st-key-search input")
    await box.fill("", timeout=timeout_ms)
    await box.press("Enter", timeout=timeout_ms)
