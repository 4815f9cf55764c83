"""Reproduce a finding of the soak benchmark: Stop pressed just as a reply ends leaves the
page without a chat input (often without any messages too) until it is reloaded.

    python bench/soak_stop_repro.py [--tries 12]

One user, no load, no faults. Each try sends a 200-token prompt, waits until the last
token is painted (the reply is done, the rerun that re-renders it from the store has
not finished), clicks the chat input's stop button in that same frame, then counts what
is left. The browser signs in through `IdentityProxy`, as the soak's users do. The
stored replies are all `complete`, so no data is lost; the page is just stuck. Exit
status 1 if it happened at least once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path

from e2e_harness import CHROMIUM_ARGS, ROOT, server_env, start_streamlit, wait_healthy
from identity_proxy import HEADER, IdentityProxy, identity_cookie
from playwright.async_api import Page, async_playwright
from soak_page import INIT_SCRIPT, INPUT, wait_idle

from ark_emulator import ArkEmulator

# In the animation frame that paints the last token: click Stop if it is enabled.
STOP_AT_LAST_TOKEN = """(tag) => { const t = window.__soakTurn(tag);
  if (!(t && t.reply && t.reply.text.endsWith('w200'))) return null;
  const stop = document.querySelector('[data-testid="stChatInputStopButton"]');
  if (!stop || stop.disabled) return 'not clickable';
  stop.click();
  return 'clicked'; }"""


async def main(tries: int, work: Path) -> int:
    emulator = ArkEmulator(api_key="repro", ttft=0.05, token_delay=0.002).start()
    env = server_env(
        {
            "ARK_API_KEY": "repro",
            "ARK_BASE_URL": emulator.base_url,
            "ARK_MODEL": "ep-repro",
            "ARK_THINKING": "disabled",
            "CHAT_DB": str(work / "repro.db"),
            "NO_PROXY": "127.0.0.1,localhost",
            "STREAMLIT_SERVER_TRUSTED_USER_HEADERS": json.dumps({HEADER: "email"}),
        }
    )
    server = start_streamlit(ROOT / "streamlit_app.py", env, work, "stop-repro")
    try:
        wait_healthy(server)
        with IdentityProxy(server.url) as proxy:
            blank = await stop_tries(proxy.url, tries)
    finally:
        server.stop()
        emulator.stop()
    print(f"chat input gone after Stop: {blank} of {tries} tries")
    return 1 if blank else 0


async def stop_tries(url: str, tries: int) -> int:
    """One browser signed in through the proxy at `url`; how many tries left no input."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(locale="en-US")
        await context.add_cookies([identity_cookie(url, "repro@soak.test")])
        await context.expose_function("__soakReport", lambda *args: None)
        await context.add_init_script(INIT_SCRIPT)
        page = await context.new_page()
        await page.goto(url)
        await wait_idle(page, 30_000)
        blank = sum([await stop_at_the_end(page, f"k00n{i:04d}z") for i in range(1, tries + 1)])
        await browser.close()
    return blank


async def stop_at_the_end(page: Page, tag: str) -> bool:
    """One try; whether the chat input was gone (then reload to go on)."""
    box = page.get_by_test_id(INPUT)
    await box.fill(f"{tag} #tokens=200")
    await box.press("Enter")
    stop = await page.wait_for_function(STOP_AT_LAST_TOKEN, arg=tag, polling="raf")
    if await stop.json_value() != "clicked":  # the run ended first, or Stop was disabled
        print(f"{tag}: stop button not clickable")
        await wait_idle(page, 30_000)
        return False
    await page.wait_for_timeout(1_500)
    inputs = await page.get_by_test_id(INPUT).count()
    messages = await page.get_by_test_id("stChatMessage").count()
    print(f"{tag}: chat inputs {inputs}, messages shown {messages}")
    if inputs:
        return False
    await page.reload()
    await wait_idle(page, 30_000)
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=12)
    folder = Path(tempfile.mkdtemp(prefix="soak-stop-"))
    try:
        sys.exit(asyncio.run(main(parser.parse_args().tries, folder)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
