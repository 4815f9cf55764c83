"""Coalescing a token stream for the UI.

`st.write_stream` re-sends the whole text with every chunk, so thousands of one-token
chunks cost O(n²). Joining tokens into chunks about every 50 ms keeps it linear; the
first chunk is passed on at once so coalescing never delays the first visible token.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

INTERVAL_SECONDS = 0.05


def coalesce(
    chunks: Iterable[str], interval: float = INTERVAL_SECONDS, clock=time.monotonic
) -> Iterator[str]:
    """Yield the first chunk at once, then the rest joined every `interval` seconds."""
    buffer: list[str] = []
    last = None
    for chunk in chunks:
        if not chunk:
            continue
        buffer.append(chunk)
        now = clock()
        if last is None or now - last >= interval:
            yield "".join(buffer)
            buffer.clear()
            last = now
    if buffer:
        yield "".join(buffer)
