"""`ArkEmulator`: a loopback Ark server for tests, benchmarks and trying the app without a key."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer

from .contexts import ContextStore
from .faults import DEFAULT_RANDOM_KINDS, FaultPlan
from .handler import API_PREFIX, ArkRequestHandler, RecordedRequest
from .records import ContextRecord, ResponseRecord
from .responses_api import ResponseStore


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A thread per connection; remembers open connections so `stop` can close them."""

    daemon_threads = True
    request_queue_size = 128  # many browser users and soak tests connect at once

    def __init__(self, address: tuple[str, int], emulator: ArkEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, ArkRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        # A client closing a keep-alive connection is normal; anything else is a bug.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class ArkEmulator:
    """Speaks the Ark HTTP API (chat, Context, Responses) the way the real SDK sees it.

    `ttft`, `token_delay`, `reply_tokens` and `clock` may be changed at any time.
    See `replies.py` for the deterministic reply rules.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        ttft: float = 0.0,
        token_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        self.api_key = api_key
        self.ttft = ttft
        self.token_delay = token_delay
        self.host = host
        self.port = port
        self.seed = seed
        self.reply_tokens: int | None = None
        # Opt-in: answer 403 OperationDenied.InvalidState while a session context is in use.
        self.reject_concurrent_context_use = False
        self.verbose = False  # log each request to stderr
        self.clock: Callable[[], float] = time.time
        self.requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._faults = FaultPlan()
        self._faults.random_faults(0.0, (), seed)
        self._contexts = ContextStore(lambda: self.clock())
        self._responses = ResponseStore(lambda: self.clock())
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> ArkEmulator:
        """Listen and serve in a daemon thread; `port=0` picks a free port."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = EmulatorHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ark-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ArkEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the emulator first")
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    # --- the request log ------------------------------------------------------------------

    def clear_requests(self) -> None:
        with self._requests_lock:
            self.requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._requests_lock:
            self.requests.append(request)

    # --- faults ---------------------------------------------------------------------------

    def fail_next(self, kind: str, n: int = 1, after_tokens: int = 0) -> None:
        """Make the next `n` model requests fail with `kind` (a `Fault` or its value)."""
        self._faults.fail_next(kind, n, after_tokens)

    def random_faults(
        self,
        rate: float = 0.1,
        kinds: Iterable[str] = DEFAULT_RANDOM_KINDS,
        seed: int | None = None,
    ) -> None:
        """Fail each model request with probability `rate` (0 disables); `seed` defaults to
        the emulator's seed."""
        self._faults.random_faults(rate, kinds, self.seed if seed is None else seed)

    def clear_faults(self) -> None:
        """Forget queued faults and switch random faults off."""
        self._faults.clear()

    @property
    def faults_injected(self) -> int:
        return self._faults.injected

    # --- stored state ---------------------------------------------------------------------

    @property
    def contexts(self) -> dict[str, ContextRecord]:
        return self._contexts.records

    @property
    def responses(self) -> dict[str, ResponseRecord]:
        return self._responses.records

    def expire_contexts(self) -> None:
        self._contexts.expire_all()

    def expire_responses(self) -> None:
        self._responses.expire_all()
