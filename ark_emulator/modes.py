"""The two servers the emulator can be: Ark, or a strict generic OpenAI-compatible server.

A `Mode` says which routes exist under which prefix, how a request body is read, and how
errors are worded; the HTTP handler follows it and knows nothing else about either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import errors, generic
from .chat import chat_completions, context_chat_completions
from .contexts import create_context
from .responses_api import create_response, delete_response, get_response


@dataclass(frozen=True)
class Route:
    """A method and path pattern, and the function that answers them."""

    method: str
    pattern: re.Pattern
    action: Callable[..., None]
    model_call: bool = False  # fault injection applies
    generates_reply: bool = False  # reply-shaping faults (content_filter, drop...) apply


@dataclass(frozen=True)
class Mode:
    """One kind of server: its routes, how it reads bodies and how it words errors."""

    prefix: str  # the API prefix of `ArkEmulator.base_url`
    prefix_required: bool  # False: routes answer with or without the prefix
    routes: tuple[Route, ...]
    prepare_body: Callable[[dict], dict]  # the body routes see
    not_found: Callable[[str], errors.ApiError]
    unauthorized: Callable[[], errors.ApiError]
    error_body: Callable[[errors.ApiError, str], dict]  # (error, request id) -> JSON body

    def route_path(self, path: str) -> str | None:
        """`path` without the prefix; None if the prefix is required and missing."""
        if path.startswith(self.prefix + "/"):
            return path[len(self.prefix) :]
        return None if self.prefix_required else path

    def match(self, method: str, path: str) -> tuple[Route | None, dict]:
        """The route for `method` and `path`, with the parameters taken from the path."""
        route_path = self.route_path(path)
        if route_path is None:
            return None, {}
        for route in self.routes:
            found = route.pattern.fullmatch(route_path)
            if found and route.method == method:
                return route, found.groupdict()
        return None, {}


def drop_nulls(value):
    """The SDK sends every unset parameter as null; Ark treats null as absent."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def _ark_error_body(error: errors.ApiError, request_id: str) -> dict:
    return error.body(request_id)


ARK = Mode(
    prefix="/api/v3",
    prefix_required=True,
    routes=(
        Route("POST", re.compile(r"/chat/completions"), chat_completions, True, True),
        Route("POST", re.compile(r"/context/create"), create_context, True, False),
        Route(
            "POST", re.compile(r"/context/chat/completions"), context_chat_completions, True, True
        ),
        Route("POST", re.compile(r"/responses"), create_response, True, True),
        Route("GET", re.compile(r"/responses/(?P<response_id>[^/]+)"), get_response),
        Route("DELETE", re.compile(r"/responses/(?P<response_id>[^/]+)"), delete_response),
    ),
    prepare_body=drop_nulls,
    not_found=errors.route_not_found,
    unauthorized=errors.authentication_error,
    error_body=_ark_error_body,
)

# llama-server answers these with or without /v1; /props lives at the root.
GENERIC = Mode(
    prefix="/v1",
    prefix_required=False,
    routes=(
        Route("POST", re.compile(r"/chat/completions"), generic.chat, True, True),
        Route("POST", re.compile(r"/responses"), generic.responses, True, True),
        Route("GET", re.compile(r"/props"), generic.props),
        Route("GET", re.compile(r"/models"), generic.models),
    ),
    prepare_body=lambda body: body,  # nulls stay, for the routes to refuse
    not_found=generic.file_not_found,
    unauthorized=generic.invalid_api_key,
    error_body=generic.error_body,
)
