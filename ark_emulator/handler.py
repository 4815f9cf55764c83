"""The HTTP side: read a request, record it, check the key, route it, and turn errors into
Ark error bodies. Nothing here may kill the server thread silently."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import errors
from .call import Call
from .chat import chat_completions, context_chat_completions
from .contexts import create_context
from .responses_api import create_response, delete_response, get_response

if TYPE_CHECKING:
    from .server import EmulatorHTTPServer

API_PREFIX = "/api/v3"


@dataclass(frozen=True)
class RecordedRequest:
    """A request as it arrived; `path` is without the /api/v3 prefix."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict | None  # parsed JSON, nulls kept; None for GET/DELETE or a body that is not JSON


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    action: Callable[..., None]
    model_call: bool = False  # fault injection applies
    generates_reply: bool = False  # reply-shaping faults (content_filter, drop...) apply


ROUTES = (
    Route("POST", re.compile(r"/chat/completions"), chat_completions, True, True),
    Route("POST", re.compile(r"/context/create"), create_context, True, False),
    Route("POST", re.compile(r"/context/chat/completions"), context_chat_completions, True, True),
    Route("POST", re.compile(r"/responses"), create_response, True, True),
    Route("GET", re.compile(r"/responses/(?P<response_id>[^/]+)"), get_response),
    Route("DELETE", re.compile(r"/responses/(?P<response_id>[^/]+)"), delete_response),
)


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
        self._serve()

    do_GET = do_POST
    do_DELETE = do_POST

    def log_message(self, format: str, *args) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def _serve(self) -> None:
        started = time.monotonic()
        emulator = self.server.emulator
        path = urlsplit(self.path).path
        route_path = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path
        raw = self._read_body()
        body, parse_error = _parse_body(raw) if self.command == "POST" else (None, None)
        headers = {name.lower(): value for name, value in self.headers.items()}
        emulator._record(RecordedRequest(self.command, route_path, headers, body))
        call = Call(emulator, self, _drop_nulls(body or {}), started)
        try:
            self._dispatch(call, path, route_path, parse_error)
        except errors.ApiError as error:
            self._answer_error(call, error)
        except (ConnectionError, TimeoutError):
            raise
        except Exception:
            print(f"ArkEmulator: error serving {self.command} {self.path}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            self._answer_error(call, errors.internal_error())

    def _dispatch(self, call: Call, path: str, route_path: str, parse_error) -> None:
        route, params = _match(self.command, path, route_path)
        if route is None:
            raise errors.route_not_found(path)
        emulator = call.emulator
        if self.headers.get("Authorization", "").strip() != f"Bearer {emulator.api_key}":
            raise errors.authentication_error()
        if parse_error is not None:
            raise parse_error
        if route.model_call:
            call.injection = emulator._faults.draw(route.generates_reply)
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


def _match(method: str, path: str, route_path: str) -> tuple[Route | None, dict]:
    if not path.startswith(API_PREFIX + "/"):
        return None, {}
    for route in ROUTES:
        match = route.pattern.fullmatch(route_path)
        if match and route.method == method:
            return route, match.groupdict()
    return None, {}


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


def _drop_nulls(value):
    """The SDK sends every unset parameter as null; Ark treats null as absent."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value
