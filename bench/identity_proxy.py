"""A small authenticating reverse proxy for tests and benchmarks.

    with IdentityProxy("http://127.0.0.1:8501") as proxy:
        context.add_cookies([identity_cookie(proxy.url, "alice@example.com")])
        page.goto(proxy.url)

It stands where the README's authenticating proxy stands: it removes every
`X-Forwarded-Email` header a client sends and sets it from the `test_identity` cookie
instead (no cookie, no header). Chromium does not send a context's extra HTTP headers
on the WebSocket upgrade, and Streamlit reads `st.user` from exactly that request; a
cookie goes with every request, so the identity reaches the app.

The proxy rewrites only the request head and then copies bytes both ways, so request
bodies, responses, the WebSocket handshake (the upstream's `Sec-WebSocket-Protocol`
answer included) and its frames pass through untouched. Each connection carries one
request (`Connection: close`), so the next request always gets a head to rewrite. The
`Host` header passes unchanged: Streamlit accepts a WebSocket only when `Origin` matches
`Host`, and the browser's `Origin` names the proxy. Only the standard library is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from urllib.parse import urlsplit

HEADER = "X-Forwarded-Email"
COOKIE = "test_identity"
MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024
# Rewritten by the proxy: the identity, and the hop-by-hop connection headers.
DROPPED = {"connection", "keep-alive", "proxy-connection"}
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def identity_cookie(proxy_url: str, owner: str) -> dict[str, str]:
    """The Playwright cookie (`context.add_cookies([...])`) that makes `owner` sign in."""
    return {"name": COOKIE, "value": owner, "url": proxy_url}


def rewrite_head(head: bytes, header: str = HEADER, cookie: str = COOKIE) -> bytes | None:
    """The request head to send upstream, or None for a head the proxy refuses.

    A bare LF ends a line here as it does in lenient servers, so a header behind it is
    seen (and stripped); line folding and a bare CR are refused, since another parser
    could read either as a header line this proxy never saw."""
    lines = re.split(r"\r?\n", head.decode("latin-1").removesuffix("\r\n\r\n"))
    if any("\r" in line or line[:1] in (" ", "\t") for line in lines):
        return None
    request_line, fields = lines[0], [_split_field(line) for line in lines[1:] if line]
    identity = _cookie_value(fields, cookie)
    kept = [(name, value) for name, value in fields if not _is_dropped(name, header)]
    upgrade = any(name.strip().lower() == "upgrade" for name, _ in kept)
    kept.append(("Connection", "Upgrade" if upgrade else "close"))
    if identity:
        kept.append((header, identity))
    text = "\r\n".join([request_line, *(f"{name}: {value}" for name, value in kept)])
    return (text + "\r\n\r\n").encode("latin-1")


def _split_field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value.strip()


def _is_dropped(name: str, header: str) -> bool:
    """Header names compare without case, and `_` as `-`: some servers read
    `X_Forwarded_Email` as the same header, so a client must not get it through either."""
    normal = name.strip().lower().replace("_", "-")
    return normal in DROPPED or normal == header.lower()


def _cookie_value(fields: list[tuple[str, str]], cookie: str) -> str | None:
    for name, value in fields:
        if name.strip().lower() != "cookie":
            continue
        for pair in value.split(";"):
            key, _, found = pair.strip().partition("=")
            if key == cookie:
                return found
    return None


class IdentityProxy:
    """The proxy on a free loopback port, served by its own event loop in a thread."""

    def __init__(self, upstream_url: str, header: str = HEADER, cookie: str = COOKIE) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.header, self.cookie = header, cookie
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._handlers: set[asyncio.Task] = set()
        self._streams: set[asyncio.StreamWriter] = set()  # both ends of open connections
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> IdentityProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> IdentityProxy:
        """Listen (the port is bound before this returns) and serve in the background."""
        listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(listener),), name="identity-proxy", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the identity proxy did not start")
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then end the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        self._thread = None

    async def _serve(self, listener: socket.socket) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._handle, sock=listener, limit=MAX_HEAD)
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()
            # Cut the connections rather than cancel the handlers: the pipes see the end,
            # the handlers return, and asyncio logs no cancelled client callbacks.
            for writer in list(self._streams):
                writer.transport.abort()
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, client_reader, client_writer) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        self._streams.add(client_writer)
        try:
            await self._forward(client_reader, client_writer)
        except asyncio.CancelledError:
            pass  # a connection accepted as the loop shut down; end it quietly and close it
        finally:
            self._handlers.discard(task)
            self._streams.discard(client_writer)
            await _close(client_writer)

    async def _forward(self, client_reader, client_writer) -> None:
        """One request: rewrite its head, then copy both ways until the upstream is done."""
        try:
            head = await client_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            return
        rewritten = rewrite_head(head, self.header, self.cookie)
        if rewritten is None:
            client_writer.write(BAD_REQUEST)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.write(BAD_GATEWAY)
            return
        self._streams.add(upstream_writer)
        upstream_writer.write(rewritten)
        to_upstream = asyncio.create_task(_pipe(client_reader, upstream_writer))
        try:
            # The upstream closes after its response, or when the WebSocket ends.
            await _pipe(upstream_reader, client_writer)
        finally:
            to_upstream.cancel()
            await asyncio.gather(to_upstream, return_exceptions=True)
            self._streams.discard(upstream_writer)
            await _close(upstream_writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until end of stream, then pass the end on (a half close).

    Either side may vanish meanwhile (a closed tab); the caller then closes both."""
    with contextlib.suppress(OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
