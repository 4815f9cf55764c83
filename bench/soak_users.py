"""Simulated users for the soak benchmark: one Playwright browser context (one owner) each.

A user loops over random actions until its deadline and writes what it did to a shared
`SoakLog`: every message it submitted (and whether the page showed it, which is what
"sent" means), renames, sessions and message tags it saw, exceptions and TTFTs the page
reported. The checker compares that log with the database afterwards.

Each user reaches the server through its own `IdentityProxy`, which turns the context's
identity cookie into the `X-Forwarded-Email` header the server trusts (chromium does not
send a context's extra HTTP headers on the WebSocket request, where `st.user` is read).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from pathlib import Path

from identity_proxy import HEADER as HEADER  # soak.py configures the server with it
from identity_proxy import IdentityProxy, identity_cookie
from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from soak_log import Sent, SoakLog
from soak_page import (
    INIT_SCRIPT,
    TAG,
    clear_search,
    click_stop,
    failure_reason,
    has_chat_input,
    rename_chat,
    search_and_open,
    session_of,
    sidebar_sessions,
    turn_outcome,
    visible_tags,
    wait_idle,
    wait_reply_started,
    wait_running,
    wait_script_idle,
    wait_session,
    wait_turn_done,
    wait_user_message,
)

STEP_MS = 30_000  # one UI step (click, page load, message showing up) on a loaded machine
REPLY_MS = 90_000  # a whole reply, SDK retries included
WORDS = (
    "alpha",
    "bravo",
    "cache",
    "delta",
    "echo",
    "fjord",
    "gamma",
    "harbor",
    "index",
    "jolt",
    "kite",
    "lemon",
    "mango",
    "nylon",
    "orbit",
    "pixel",
    "quartz",
    "river",
)
# Relative weights of the actions (method names of SimUser).
ACTIONS = {
    "chat": 30,
    "stop_then_send": 8,
    "new_chat_mid_stream": 7,
    "switch_mid_stream": 7,
    "switch": 9,
    "new_chat": 7,
    "reload": 7,
    "close_tab": 6,
    "search": 8,
    "rename": 5,
    "peek": 3,
}


class SimUser:
    """One owner with one tab at a time, acting at random until the deadline."""

    def __init__(
        self, index: int, url: str, log: SoakLog, seed: int, shots: Path | None = None
    ) -> None:
        self.index, self.log, self.shots = index, log, shots
        self.proxy = IdentityProxy(url)
        self.url = ""  # the proxy's, once open
        self.owner = f"user{index:02d}@soak.test"
        log.owners.add(self.owner)
        self.rng = random.Random(seed)
        self.seq = 0
        self.doing = ""  # the current action and message, for reports about stuck users
        self.context: BrowserContext | None = None
        self.page: Page | None = None

    async def open(self, browser: Browser) -> None:
        self.url = (await asyncio.to_thread(self.proxy.start)).url
        self.context = await browser.new_context(
            locale="en-US", viewport={"width": 1280, "height": 900}
        )
        await self.context.add_cookies([identity_cookie(self.url, self.owner)])
        self.context.set_default_timeout(STEP_MS)
        await self.context.expose_function("__soakReport", self._report)
        await self.context.add_init_script(INIT_SCRIPT)
        self.page = await self.context.new_page()
        await self._recover()  # opens the app; a first load can time out on a busy machine

    async def run(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            name = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
            self.log.actions[name] += 1
            self.doing = name
            try:
                await getattr(self, name)()
                await self._observe()
            except PlaywrightError as exc:
                self._driver_error(name, exc)
                await self._screenshot(name)
                await self._recover()
            await asyncio.sleep(self.rng.uniform(0.1, 0.8))

    async def close(self) -> None:
        if self.context is not None:
            await self.context.close()
        await asyncio.to_thread(self.proxy.stop)

    # --- actions -------------------------------------------------------------------------

    async def chat(self) -> None:
        sent = await self._send()
        if sent.confirmed:
            await self._finish(sent)

    async def stop_then_send(self) -> None:
        """Stop a streaming reply with the chat input's stop button, then send again."""
        if await self._long_reply_started() and await click_stop(self.page, STEP_MS):
            await wait_script_idle(self.page, STEP_MS)
            if not await has_chat_input(self.page):
                # A stop that lands in the rerun after a reply can leave the page with no
                # chat input (often no messages either); a user's way out is to reload.
                self.log.blank_pages.append(f"{self.owner} at {self.page.url}")
                await self._screenshot("blank-after-stop")
                await self.page.reload()
        await wait_idle(self.page, STEP_MS)
        await self.chat()

    async def new_chat_mid_stream(self) -> None:
        await self._long_reply_started()
        await self.new_chat()
        await self.chat()

    async def switch_mid_stream(self) -> None:
        await self._long_reply_started()
        await self.switch()
        await self.chat()

    async def switch(self) -> None:
        current = session_of(self.page)
        others = [sid for sid in await sidebar_sessions(self.page) if sid != current]
        if not others:
            await self.new_chat()
            return
        target = self.rng.choice(others)
        await self.page.locator(f".st-key-session-{target} button").click()
        await self.page.wait_for_url(re.compile(f"session={target}"))
        await wait_idle(self.page, STEP_MS)

    async def new_chat(self) -> None:
        await self.page.locator(".st-key-new_chat button").click()
        await wait_running(self.page)
        await wait_idle(self.page, STEP_MS)
        await wait_session(self.page, STEP_MS)

    async def reload(self) -> None:
        if self.rng.random() < 0.5:
            await self._long_reply_started()
        await self.page.reload()
        await wait_idle(self.page, STEP_MS)
        await wait_session(self.page, STEP_MS)

    async def close_tab(self) -> None:
        """Close the tab while a reply streams; reopen the same chat or the bare URL."""
        await self._long_reply_started()
        session = session_of(self.page)
        await self.page.close()
        await self._open_page(session if self.rng.random() < 0.6 else None)

    async def search(self) -> None:
        mine = [s for s in self.log.sent if s.owner == self.owner and s.confirmed]
        if not mine:
            return
        target = self.rng.choice(mine)
        if not await search_and_open(self.page, target.tag, target.session, STEP_MS):
            self.log.search_misses.append(f"{self.owner}: {target.tag} in {target.session}")
        await clear_search(self.page, STEP_MS)
        await wait_running(self.page)
        await wait_idle(self.page, STEP_MS)

    async def rename(self) -> None:
        session = session_of(self.page) or await wait_session(self.page, STEP_MS)
        title = f"Renamed {self._next_tag()}"
        await rename_chat(self.page, session, title, STEP_MS)
        entry = self.page.locator(f".st-key-session-{session}")
        try:
            await entry.filter(has_text=title).wait_for(state="visible", timeout=STEP_MS)
            shown = True
        except PlaywrightError:
            shown = False
        self.log.renames.append((self.owner, session, title, shown))
        await wait_idle(self.page, STEP_MS)

    async def peek(self) -> None:
        """Open another owner's chat by its URL: the app must not show it (`_observe`
        then records the session shown instead, and any foreign message)."""
        foreign = sorted({s.session for s in self.log.sent if s.owner != self.owner})
        if not foreign:
            return
        await self.page.goto(f"{self.url}/?session={self.rng.choice(foreign)}")
        await wait_idle(self.page, STEP_MS)
        await wait_session(self.page, STEP_MS)

    # --- steps ---------------------------------------------------------------------------

    async def _send(self, long: bool = False) -> Sent:
        tag = self._next_tag()
        words = " ".join(self.rng.choices(WORDS, k=self.rng.randint(2, 8)))
        tokens = self.rng.randint(300, 600) if long else self.rng.choice((0, 0, 12, 40, 90))
        text = f"{tag} {words}" + (f" #tokens={tokens}" if tokens else "")
        box = self.page.get_by_test_id("stChatInputTextArea")
        await box.fill(text)  # waits until the input is enabled
        session = session_of(self.page) or ""
        sent = Sent(self.owner, tag, text, session)
        self.doing += f" {tag} in {session}"
        self.log.sent.append(sent)  # logged before Enter: a submit may land however it ends
        await box.press("Enter")
        sent.confirmed = await wait_user_message(self.page, tag, STEP_MS)
        return sent

    async def _finish(self, sent: Sent) -> None:
        """Wait for the reply; after a failure, sometimes press Retry."""
        turn = await wait_turn_done(self.page, sent.tag, REPLY_MS)
        sent.seen, retries = turn_outcome(turn), 0
        while sent.seen == "failed":
            self.log.surfaced += 1
            self.log.failure_kinds[failure_reason(turn)] += 1
            if retries >= 2 or self.rng.random() < 0.5:
                return
            retries += 1
            self.log.retried += 1
            await self.page.locator(".st-key-retry button").click()
            await wait_running(self.page)
            turn = await wait_turn_done(self.page, sent.tag, REPLY_MS)
            sent.seen = turn_outcome(turn)

    async def _long_reply_started(self) -> bool:
        """Send a message with a long reply and wait for its first words (plus a little)."""
        sent = await self._send(long=True)
        if not sent.confirmed:
            return False
        try:
            await wait_reply_started(self.page, sent.tag, REPLY_MS)
        except PlaywrightError:
            return False
        await asyncio.sleep(self.rng.uniform(0.0, 0.5))
        return True

    async def _observe(self) -> None:
        """Note the sessions this owner can see, and any other user's message tag."""
        if self.page is None or self.page.is_closed():
            return
        if session := session_of(self.page):
            self.log.seen_sessions.add((self.owner, session))
        for sid in await sidebar_sessions(self.page):
            self.log.seen_sessions.add((self.owner, sid))
        for tag in await visible_tags(self.page):
            if int(tag[1:3]) != self.index:
                self.log.foreign_tags.append(f"{self.owner} saw {tag} at {self.page.url}")

    async def _open_page(self, session: str | None = None) -> None:
        """A new tab on the app (the current tab from then on, even if loading fails)."""
        self.page = await self.context.new_page()
        await self.page.goto(self.url + (f"/?session={session}" if session else "/"))
        await wait_idle(self.page, STEP_MS)
        await wait_session(self.page, STEP_MS)

    async def _recover(self) -> None:
        """After a failed step: a fresh tab on the same chat. If even that fails, the
        next action fails on the closed tab and we come back here."""
        session = session_of(self.page) if not self.page.is_closed() else None
        try:
            if not self.page.is_closed():
                await self.page.close()
            await self._open_page(session)
        except PlaywrightError as exc:
            self._driver_error("open" if session is None else "recover", exc)
            await self._screenshot("open")
            await asyncio.sleep(1.0)

    async def _screenshot(self, step: str) -> None:
        """With --keep, keep a picture of the page where a step failed."""
        if self.shots is None or self.page.is_closed():
            return
        path = self.shots / f"{self.log.mode}-{self.owner}-{self.seq:04d}-{step}.png"
        with contextlib.suppress(PlaywrightError):
            await self.page.screenshot(path=path)

    def _driver_error(self, step: str, exc: Exception) -> None:
        first_line = (str(exc).strip().splitlines() or ["?"])[0]
        self.log.driver_errors.append(f"{self.owner} {step}: {first_line[:200]}")

    def _next_tag(self) -> str:
        self.seq += 1
        return f"k{self.index:02d}n{self.seq:04d}z"

    def _report(self, kind: str, key: str, value) -> None:
        """Called from the page (see `soak_page.INIT_SCRIPT`)."""
        if kind == "exception":
            self.log.exceptions.append(f"{self.owner} at {key}: {value}")
        elif kind == "ttft" and TAG.fullmatch(key):
            self.log.ttft_ms[key] = float(value)
