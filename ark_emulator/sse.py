"""Server-sent events over a chunked HTTP body, paced by ttft and token_delay.

Routes describe a stream as `(kind, bytes)` pairs. Only TOKEN events are paced: the first
waits until `ttft` after the request arrived, the next ones `token_delay` apart. A WAIT
pair sends nothing: the stream pauses for the seconds its bytes give. With no delay,
events are batched into large chunked writes for throughput; each token is still its own
SSE event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import BinaryIO

EVENT, TOKEN, DROP, WAIT = 0, 1, 2, 3
DONE = b"data: [DONE]\n\n"
_BATCH_BYTES = 32 * 1024
# A chunk header announcing more bytes than ever arrive: the client's read fails mid-chunk.
_TRUNCATED_CHUNK = b'400\r\ndata: {"id'


def dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def sse_event(obj: object) -> bytes:
    return b"data: " + dumps(obj) + b"\n\n"


class ChunkedStream:
    """Writes chunked-encoding frames, batching small writes until `flush`."""

    def __init__(self, wfile: BinaryIO) -> None:
        self._wfile = wfile
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def add(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._wfile.write(b"%x\r\n%b\r\n" % (len(data), data))

    def end(self) -> None:
        self.flush()
        self._wfile.write(b"0\r\n\r\n")

    def truncate(self) -> None:
        """Send what is pending, then half a chunk; the caller closes the connection."""
        self.flush()
        self._wfile.write(_TRUNCATED_CHUNK)


def pump(
    wfile: BinaryIO,
    events: Iterable[tuple[int, bytes]],
    *,
    started: float,
    ttft: float,
    token_delay: float,
) -> bool:
    """Write `events`; False when a DROP event cut the body (the connection must close)."""
    out = ChunkedStream(wfile)
    first_token_at: float | None = None
    tokens_sent = 0
    for kind, data in events:
        if kind == TOKEN:
            if first_token_at is None:
                _sleep_until(out, started + ttft)
                first_token_at = time.monotonic()
            elif token_delay > 0:
                _sleep_until(out, first_token_at + tokens_sent * token_delay)
            tokens_sent += 1
        elif kind == DROP:
            out.truncate()
            return False
        elif kind == WAIT:  # a pause the server takes (a web search), `data` seconds
            _sleep_until(out, time.monotonic() + float(data))
            continue
        out.add(data)
        if kind == TOKEN and token_delay > 0:
            out.flush()
    out.end()
    return True


def _sleep_until(out: ChunkedStream, deadline: float) -> None:
    wait = deadline - time.monotonic()
    if wait > 0:
        out.flush()  # what came before the pause must reach the client now
        time.sleep(wait)
