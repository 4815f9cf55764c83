"""One HTTP request as the routes see it: the parsed body, ids, the fault to serve, and replies."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from . import sse
from .effort import reasoning_tokens, requested_effort
from .errors import ApiError, invalid_parameter, missing_parameter
from .faults import Injection
from .replies import Reply, ReplyLimits, plan_reply, wants_reasoning

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from .backend import Backend, Settings


def new_request_id() -> str:
    """A server request id shaped like real Ark's (ark-api.md §4.2, §7.1): "02", the time in
    milliseconds (13 digits), then 38 hex digits."""
    return f"02{int(time.time() * 1000):013d}{secrets.token_hex(19)}"


class Call:
    """The request being served. Routes read `body` and answer through the send_* methods."""

    def __init__(
        self,
        backend: Backend,
        handler: BaseHTTPRequestHandler,
        body: dict,
        started: float,
    ) -> None:
        self.backend = backend
        self.body = body
        self.started = started
        self.request_id = new_request_id()
        self.injection: Injection | None = None
        self.headers_sent = False
        self._handler = handler
        self._client_request_id = handler.headers.get("X-Client-Request-Id", "")

    @property
    def settings(self) -> Settings:
        return self.backend.settings

    # --- reading the body (Ark mode dropped its nulls already) ---------------------------

    def get(self, key: str, default=None):
        return self.body.get(key, default)

    def require(self, key: str):
        value = self.body.get(key)
        if value in (None, "", []):
            raise missing_parameter(key)
        return value

    def positive_int(self, key: str) -> int | None:
        value = self.body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid_parameter(key, f"{key} must be a positive integer")
        return value

    @property
    def model(self) -> str:
        return str(self.body.get("model") or "")

    @property
    def wants_stream(self) -> bool:
        return self.body.get("stream") is True

    def thinking_type(self) -> str | None:
        thinking = self.body.get("thinking")
        return thinking.get("type") if isinstance(thinking, dict) else None

    def plan_reply(self, prompt: str, limits: ReplyLimits, start: str | None = None) -> Reply:
        """The reply to `prompt` under the emulator's settings, this request's thinking type,
        `limits` and the fault drawn for this request; `start` is an answer to continue. The
        reasoning effort asked for shortens or drops the reasoning (see `effort`)."""
        reasons = self.settings.reasoning
        if reasons is None:
            reasons = wants_reasoning(self.thinking_type(), prompt)
        forced = self.settings.reply_tokens
        cap = self.settings.output_limit
        if cap is not None:  # the model's own limit, below whatever the request asks
            limits = replace(limits, answer=min(cap, limits.answer or cap))
        reply = plan_reply(prompt, reasons, forced, limits, self.injection, start)
        reply.reasoning = reasoning_tokens(requested_effort(self.body), reply.reasoning)
        return reply

    # --- answering -----------------------------------------------------------------------

    def send_json(self, status: int, obj: object) -> None:
        data = sse.dumps(obj)
        self._start(status, "application/json", {"Content-Length": str(len(data))})
        self._handler.wfile.write(data)

    def error_body(self, error: ApiError) -> dict:
        """`error` worded as this server answers: Ark's or the generic server's shape."""
        return self.backend.mode.error_body(error, self.request_id)

    def error_event(self, error: ApiError) -> bytes:
        """`error` as an SSE event, for a failure after the stream has started."""
        return sse.sse_event(self.error_body(error))

    def send_error(self, error: ApiError) -> None:
        self.send_json(error.status, self.error_body(error))

    def send_no_content(self) -> None:
        self._start(204, None, {"Content-Length": "0"})

    def send_truncated_json(self, obj: object) -> None:
        """Announce the whole body, send half of it and close: a "drop" on a non-stream call."""
        data = sse.dumps(obj)
        self._start(200, "application/json", {"Content-Length": str(len(data))})
        self._handler.wfile.write(data[: len(data) // 2])
        self._handler.close_connection = True

    def send_stream(self, events: Iterable[tuple[int, bytes]]) -> bool:
        """Stream SSE events; False if the stream was dropped on purpose."""
        self._start(200, "text/event-stream", {"Transfer-Encoding": "chunked"})
        finished = sse.pump(
            self._handler.wfile,
            events,
            started=self.started,
            ttft=self.settings.ttft,
            token_delay=self.settings.token_delay,
        )
        if not finished:
            self._handler.close_connection = True
        return finished

    def wait_for_generation(self, output_tokens: int) -> None:
        """Non-stream calls take as long as streaming the same reply would."""
        delay = self.settings.ttft + output_tokens * self.settings.token_delay
        remaining = self.started + delay - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def _start(self, status: int, content_type: str | None, headers: dict[str, str]) -> None:
        handler = self._handler
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        if self._client_request_id:
            handler.send_header("X-Client-Request-Id", self._client_request_id)
        handler.send_header("x-request-id", self.request_id)
        handler.end_headers()
        self.headers_sent = True
