"""Take the README's screenshot: the app (against the emulator) showing a chat with
Markdown and code among a few others in the sidebar, in headless chromium.

    python bench/screenshot.py [docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from e2e_harness import (
    ROOT,
    launched_browser,
    open_chat,
    running,
    server_env,
    start_streamlit,
    wait_for_app_run,
)

from ark_emulator import ArkEmulator
from chat_core.store import connect

OWNER = "local"  # the owner of an app run without a login
MODEL = "doubao-seed-2-0-lite-260428"
EARLIER = ["Plan a weekend in Hangzhou", "Explain Rust lifetimes", "Summarize this paper"]
QUESTION = "Write a Python function that checks whether a string is a palindrome."
ANSWER = """Here is a short version that ignores case, spaces and punctuation:

```python
def is_palindrome(text: str) -> bool:
    letters = [c.lower() for c in text if c.isalnum()]
    return letters == letters[::-1]
```

- `c.isalnum()` keeps letters and digits only;
- `letters[::-1]` is the list reversed.

`is_palindrome("A man, a plan, a canal: Panama")` returns **True**."""


def seed(db: Path) -> str:
    """The chats of the screenshot; returns the id of the one shown."""
    with connect(db) as store:
        for title, answer in [*((t, "…") for t in EARLIER), (QUESTION, ANSWER)]:
            session, _ = store.new_session(OWNER)
            store.start_turn(session, title)
            reply = store.begin_reply(session, MODEL)
            usage = {"prompt_tokens": 31, "completion_tokens": 96, "cached_tokens": 0}
            store.save_reply(
                session,
                reply.id,
                content=answer,
                status="complete",
                usage=usage,
                latency_ms=1840,
                first_token_ms=410,
            )
    return session.id


def take(path: Path, work: Path) -> None:
    emulator = ArkEmulator(api_key="shot").start()
    db = work / "chat.db"
    shown = seed(db)
    env = server_env(
        {
            "ARK_API_KEY": "shot",
            "ARK_BASE_URL": emulator.base_url,
            "ARK_MODEL": MODEL,
            "CHAT_DB": str(db),
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    try:
        server = start_streamlit(ROOT / "streamlit_app.py", env, work, "shot")
        with running(server) as (app,), launched_browser() as browser:
            page = open_chat(browser, f"{app.url}/?session={shown}")
            page.get_by_text("returns").wait_for(timeout=30_000)
            wait_for_app_run(page)
            page.mouse.move(640, 880)  # away from the messages: no hover actions
            page.screenshot(path=str(path))
    finally:
        emulator.stop()
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=ROOT / "docs" / "screenshot.png")
    folder = Path(tempfile.mkdtemp(prefix="screenshot-"))
    try:
        take(parser.parse_args().path.resolve(), folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
