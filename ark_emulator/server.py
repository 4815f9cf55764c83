"""`ArkEmulator`: a loopback Ark server for tests, benchmarks and trying the app without a key."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable

from .backend import Backend
from .contexts import ContextStore
from .faults import DEFAULT_RANDOM_KINDS, FaultPlan
from .generic import DEFAULT_N_CTX, LIKE
from .http_server import EmulatorHTTPServer
from .log import InFlight, RecordedRequest, RequestLog
from .modes import ARK, GENERIC
from .records import ContextRecord, ResponseRecord
from .responses_api import ResponseStore


@dataclasses.dataclass
class _Running:
    server: EmulatorHTTPServer
    thread: threading.Thread


class ArkEmulator:
    """Speaks the Ark HTTP API (chat, Context, Responses) the way the real SDK sees it, or,
    with `generic=True`, a strict OpenAI-compatible server like llama.cpp's (see `generic`).

    These settings are plain attributes, read at each request, so a test may change them at
    any time:

    * `api_key`: the key clients must send as `Authorization: Bearer <key>`.
    * `ttft`: seconds from a request's arrival to its first token.
    * `token_delay`: seconds between tokens (non-stream answers wait as long in total).
    * `reply_tokens`: give every reply exactly N content tokens "w1 ... wN" (None: echo).
    * `output_limit`: the model's own output limit: an answer longer than N content tokens
      is cut there with `finish_reason` "length" (None: no limit but the request's).
    * `reasoning`: True reasons before every answer, False never does, None (the default)
      follows the request's `thinking.type` (see `replies`).
    * `reject_concurrent_context_use`: answer 403 OperationDenied.InvalidState while a
      session context is serving another request.
    * `n_ctx`: the context size generic mode reports at GET /props; it refuses longer prompts.
    * `stores_responses`: generic mode stores responses and chains them by
      `previous_response_id` (as vLLM can), instead of refusing it (as llama.cpp does).
    * `like`: which server generic mode reports its sizes as: "llama.cpp" (`n_ctx` at
      GET /props) or "vllm" (no /props; `max_model_len` in GET /v1/models).
    * `search_seconds`: how long a web search takes (the stream pauses while it searches).
    * `props_refused`: an HTTP status that GET /props answers instead, as a gateway that
      passes only the API's own routes does (None: it answers).
    * `verbose`: log each request to stderr.
    * `clock`: the time source of `created` stamps and expiry; tests may replace it.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        ttft: float = 0.0,
        token_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        *,
        reply_tokens: int | None = None,
        output_limit: int | None = None,
        reasoning: bool | None = None,
        reject_concurrent_context_use: bool = False,
        generic: bool = False,
        n_ctx: int = DEFAULT_N_CTX,
        stores_responses: bool = False,
        like: str = "llama.cpp",
        verbose: bool = False,
    ) -> None:
        self.api_key = api_key
        self.ttft = ttft
        self.token_delay = token_delay
        self.reply_tokens = reply_tokens
        self.output_limit = output_limit
        self.reasoning = reasoning
        self.reject_concurrent_context_use = reject_concurrent_context_use
        self.n_ctx = n_ctx
        self.stores_responses = stores_responses
        if like not in LIKE:
            raise ValueError(f"like must be one of {LIKE}")
        self.like = like
        self.search_seconds = 0.0
        self.props_refused: int | None = None
        self.verbose = verbose
        self.clock: Callable[[], float] = time.time
        self._host = host
        self._port = port
        self._seed = seed
        self._mode = GENERIC if generic else ARK
        self._log = RequestLog()
        self._in_flight = InFlight()
        self._faults = FaultPlan()
        self._faults.random_faults(0.0, (), seed)
        self._contexts = ContextStore(self.now)
        self._responses = ResponseStore(self.now)
        self._running: _Running | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> ArkEmulator:
        """Listen and serve in a daemon thread; `port=0` picks a free port."""
        if self._running is not None:
            raise RuntimeError("the emulator is already running")
        server = EmulatorHTTPServer((self._host, self._port), self._backend())
        self._port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ark-emulator-{self._port}",
            daemon=True,
        )
        thread.start()
        self._running = _Running(server, thread)
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections; stopping twice is harmless."""
        running, self._running = self._running, None
        if running is None:
            return
        running.server.shutdown()
        running.server.server_close()
        running.server.close_connections()
        running.thread.join(timeout=5)

    def __enter__(self) -> ArkEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What clients pass as `base_url`: http://host:port/api/v3 (generic: .../v1)."""
        if self._running is None:
            raise RuntimeError("start() the emulator first")
        return f"http://{self._host}:{self._port}{self._mode.prefix}"

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port asked for, or once started the one listened on."""
        return self._port

    @property
    def seed(self) -> int:
        """The default seed of `random_faults`."""
        return self._seed

    @property
    def generic(self) -> bool:
        """True when serving as a strict generic OpenAI-compatible server instead of Ark."""
        return self._mode is GENERIC

    def now(self) -> float:
        """The emulator's time: `clock()`, looked up at each call."""
        return self.clock()

    # --- the request log ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (a copy; see `clear_requests`)."""
        return self._log.snapshot()

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        self._log.clear()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being served, including one whose client went away
        mid-answer; False if that takes longer than `timeout` seconds."""
        return self._in_flight.wait_idle(timeout)

    # --- faults ---------------------------------------------------------------------------

    def fail_next(self, kind: str, n: int = 1, after_tokens: int = 0) -> None:
        """Make the next `n` model requests fail with `kind` (a `Fault` or its value).
        Reply faults (content_filter, stream_error, drop) strike after `after_tokens`
        content tokens and wait for a route that replies."""
        self._faults.fail_next(kind, n, after_tokens)

    def random_faults(
        self,
        rate: float = 0.1,
        kinds: Iterable[str] = DEFAULT_RANDOM_KINDS,
        seed: int | None = None,
        after_tokens: int | None = None,
    ) -> None:
        """Fail each model request with probability `rate` (0 disables) with one of `kinds`.
        `seed` defaults to the emulator's; reply faults strike after `after_tokens` tokens,
        or a random 0 to 8 when None."""
        chosen_seed = self._seed if seed is None else seed
        self._faults.random_faults(rate, kinds, chosen_seed, after_tokens)

    def clear_faults(self) -> None:
        """Forget queued faults and switch random faults off."""
        self._faults.clear()

    @property
    def faults_injected(self) -> int:
        """How many faults have been served, queued and random."""
        return self._faults.injected

    # --- stored state ---------------------------------------------------------------------

    @property
    def contexts(self) -> dict[str, ContextRecord]:
        """Copies of every context created, by id, expired ones included."""
        return self._contexts.snapshot()

    @property
    def responses(self) -> dict[str, ResponseRecord]:
        """Copies of every stored response, by id, expired ones included."""
        return self._responses.snapshot()

    def expire_contexts(self) -> None:
        """Expire every context, as Ark does after its TTL: using one then answers 404."""
        self._contexts.expire_all()

    def expire_responses(self) -> None:
        """Expire every stored response: chaining to or fetching one then answers 404."""
        self._responses.expire_all()

    # --- wiring ---------------------------------------------------------------------------

    def _backend(self) -> Backend:
        return Backend(
            settings=self,
            mode=self._mode,
            # Looked up per request, so bench/e2e_probe.py can wrap `_record` to time arrivals.
            record=lambda request: self._record(request),
            in_flight=self._in_flight,
            faults=self._faults,
            contexts=self._contexts,
            responses=self._responses,
        )

    def _record(self, request: RecordedRequest) -> None:
        self._log.add(request)
