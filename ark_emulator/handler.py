"""The HTTP side: read a request, record it, check the key, route it, and turn errors into
error bodies. Nothing here may kill the server thread silently."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import errors
from .call import Call
from .log import RecordedRequest

if TYPE_CHECKING:
    from .backend import Backend
    from .http_server import EmulatorHTTPServer


class ArkRequestHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, so it may serve many requests in turn."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes must not wait for ACKs
    server_version = "ArkEmulator/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections give their thread back eventually
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            with contextlib.suppress(ConnectionError):
                super().finish()
        finally:
            self.server.untrack(self.connection)

    def handle(self) -> None:
        # A client going away, mid-stream or between requests, is normal: stay quiet.
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def do_POST(self) -> None:
        backend = self.server.backend
        with backend.in_flight.serving():
            self._serve(backend)

    do_GET = do_POST
    do_DELETE = do_POST

    def log_message(self, format: str, *args) -> None:
        if self.server.backend.settings.verbose:
            super().log_message(format, *args)

    def _serve(self, backend: Backend) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        raw = self._read_body()  # always: unread bytes would be taken for the next request
        body, parse_error = _parse_body(raw) if self.command == "POST" else (None, None)
        headers = {name.lower(): value for name, value in self.headers.items()}
        logged_path = backend.mode.route_path(path) or path
        backend.record(RecordedRequest(self.command, logged_path, headers, body))
        call = Call(backend, self, backend.mode.prepare_body(body or {}), started)
        try:
            self._dispatch(call, path, parse_error)
        except errors.ApiError as error:
            self._answer_error(call, error)
        except (ConnectionError, TimeoutError):
            raise
        except Exception:
            print(f"ArkEmulator: error serving {self.command} {self.path}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            self._answer_error(call, errors.internal_error())

    def _dispatch(self, call: Call, path: str, parse_error: errors.ApiError | None) -> None:
        backend = call.backend
        route, params = backend.mode.match(self.command, path)
        if route is None:
            raise backend.mode.not_found(path)
        if self.headers.get("Authorization", "").strip() != f"Bearer {backend.settings.api_key}":
            raise backend.mode.unauthorized()
        if parse_error is not None:
            raise parse_error
        if route.model_call:
            call.injection = backend.faults.draw(route.generates_reply)
            error = call.injection and call.injection.http_error(call.model, call.wants_stream)
            if error:
                raise error
        route.action(call, **params)

    def _answer_error(self, call: Call, error: errors.ApiError) -> None:
        if call.headers_sent:
            self.close_connection = True  # too late for a status: end the body abruptly
        else:
            call.send_error(error)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""


def _parse_body(raw: bytes) -> tuple[dict | None, errors.ApiError | None]:
    if not raw.strip():
        return {}, None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, errors.invalid_parameter("body", "the request body is not valid JSON")
    if not isinstance(body, dict):
        return None, errors.invalid_parameter("body", "the request body must be a JSON object")
    return body, None
