"""Turn SDK and transport exceptions into `ChatError`s a user can read.

Each failure maps to a fixed code, read from the status, the error body and the path
the request went to. Server text is only kept for bad requests (as the `detail`
parameter), and then with anything that looks like a secret masked, so an API key never
reaches an error. The request id travels separately in `ChatError.request_id`.

A 404 means "model not found" only when the body says so: Ark's model codes, or a
message about the model (Ollama, vLLM). Any other 404 with no code names the path the
server does not have (llama.cpp answers "File Not Found" for the Context API's routes).
"""

from __future__ import annotations

import re

import httpx
from volcenginesdkarkruntime._exceptions import (
    ArkAPIConnectionError,
    ArkAPIError,
    ArkAPIStatusError,
    ArkAPITimeoutError,
    ArkError,
)

from .. import errors
from ..text import clean_text

QUOTA_CODES = frozenset({"QuotaExceeded", "SetLimitExceeded", "AccountOverdueError"})
CONTEXT_BUSY_CODE = "OperationDenied.InvalidState"
MODEL_NOT_OPEN_CODE = "ModelNotOpen"
MODEL_NOT_FOUND_PREFIX = "InvalidEndpointOrModel"
DETAIL_LIMIT = 300

# What each failure becomes: an error class (callers catch classes) and its code.
_Template = tuple[type[errors.ChatError], str]

AUTH = (errors.AuthenticationError, "api_key_refused")
MODEL_NOT_FOUND = (errors.ModelNotFoundError, "model_not_found")
MODEL_NOT_OPEN = (errors.ModelNotOpenError, "model_not_open")
RATE_LIMIT = (errors.RateLimitError, "rate_limited")
QUOTA = (errors.QuotaError, "quota_exceeded")
CONTENT_FILTER = (errors.ContentFilterError, "content_blocked")
CONTEXT_BUSY = (errors.ContextBusyError, "context_busy")
PERMISSION = (errors.PermissionDeniedError, "permission_denied")
BAD_REQUEST = (errors.BadRequestError, "request_rejected")
SERVER = (errors.ServerError, "service_error")
TIMEOUT = (errors.ServiceTimeoutError, "service_timeout")
CONNECTION = (errors.ServiceConnectionError, "service_unreachable")
INTERRUPTED = (errors.StreamInterruptedError, "stream_interrupted")
UNKNOWN = (errors.ModelError, "service_failed")
ROUTE_NOT_FOUND = (errors.RouteNotFoundError, "route_not_found")

# Long mixed letter+digit runs (API keys, tokens) and bearer credentials.
_SECRET = re.compile(
    r"(?i)bearer\s+\S+|(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}"
)
_REQUEST_ID_TAIL = re.compile(r"[\s.,;]*request id\s*:.*$", re.IGNORECASE | re.DOTALL)


def to_chat_error(
    exc: BaseException, *, partial: str = "", partial_reasoning: str = ""
) -> errors.ChatError:
    """Map an SDK or httpx exception to the matching `ChatError` subclass.

    `partial`/`partial_reasoning` carry the text that had streamed before the failure.
    """
    if isinstance(exc, errors.ChatError):
        exc.partial = exc.partial or partial
        exc.partial_reasoning = exc.partial_reasoning or partial_reasoning
        return exc
    kind, code = _template_for(exc)
    error = kind(
        code, request_id=_request_id(exc), partial=partial, partial_reasoning=partial_reasoning
    )
    if kind is errors.BadRequestError and (detail := _safe_detail(exc)):
        error.params["detail"] = detail  # the service's reason, secrets masked
    if kind is errors.RouteNotFoundError:
        error.params["path"] = _path(exc)
    return error


def interrupted_error() -> errors.StreamInterruptedError:
    """The error for a stream that ended without saying it was done."""
    kind, code = INTERRUPTED
    return kind(code)


def is_content_filter_code(code: str | None) -> bool:
    """Whether an Ark error code means content moderation blocked the text."""
    if not code:
        return False
    return (
        "SensitiveContent" in code
        or code.endswith("RiskDetection")
        or code == "ContentSecurityDetectionError"
    )


def names_missing_model(exc: BaseException) -> bool:
    """Whether a 404 is about the model or endpoint (not a cached resource)."""
    code = error_code(exc)
    return code.startswith(MODEL_NOT_FOUND_PREFIX) or code == MODEL_NOT_OPEN_CODE


def error_code(exc: BaseException) -> str:
    """The Ark error code of `exc`, or "" when it has none."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else ""


def _template_for(exc: BaseException) -> _Template:
    if isinstance(exc, ArkAPITimeoutError | httpx.TimeoutException):
        return TIMEOUT
    if isinstance(exc, ArkAPIConnectionError):
        return CONNECTION
    if isinstance(exc, ArkAPIError):
        return _template_for_api_error(exc)
    if isinstance(exc, httpx.TransportError):
        return INTERRUPTED  # the connection dropped while the reply streamed
    if isinstance(exc, ArkError):
        return UNKNOWN
    raise TypeError(f"not an Ark or transport error: {type(exc).__name__}")


def _template_for_api_error(exc: ArkAPIError) -> _Template:
    code = error_code(exc)
    if is_content_filter_code(code):
        return CONTENT_FILTER
    if code in QUOTA_CODES:
        return QUOTA
    if not isinstance(exc, ArkAPIStatusError):
        return INTERRUPTED  # an error event inside an already started stream
    if exc.status_code == 404:
        return _template_for_404(exc, code)
    return _template_for_status(exc.status_code, code)


def _template_for_404(exc: ArkAPIStatusError, code: str) -> _Template:
    if code == MODEL_NOT_OPEN_CODE:
        return MODEL_NOT_OPEN
    if code.startswith(MODEL_NOT_FOUND_PREFIX) or _message_names_model(exc):
        return MODEL_NOT_FOUND
    if code:
        return BAD_REQUEST  # another Ark resource, such as an expired context
    return ROUTE_NOT_FOUND  # a path this server does not serve (often a wrong base URL)


def _template_for_status(status: int, code: str) -> _Template:
    if status == 401:
        return AUTH
    if status == 403:
        return CONTEXT_BUSY if code == CONTEXT_BUSY_CODE else PERMISSION
    if status == 429:
        return RATE_LIMIT
    if status >= 500:
        return SERVER
    return BAD_REQUEST


def _message_names_model(exc: ArkAPIStatusError) -> bool:
    """Whether the error body's message is about the model ("model 'x' not found")."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else body
    return isinstance(message, str) and "model" in message.lower()


def _path(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    try:
        return request.url.path if request is not None else ""
    except RuntimeError:  # an exception built without a request
        return ""


def _safe_detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    text = body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str):
        text = error_code(exc)
    text = _REQUEST_ID_TAIL.sub("", clean_text(text)).strip()
    return _SECRET.sub("***", text)[:DETAIL_LIMIT]


def _request_id(exc: BaseException) -> str | None:
    # The SDK's id is the X-Client-Request-Id it generated, which Ark support can trace.
    request_id = getattr(exc, "request_id", None)
    return request_id if isinstance(request_id, str) and request_id else None
