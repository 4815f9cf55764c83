"""Turn SDK and transport exceptions into `ChatError`s a user can read.

Messages come from fixed templates. Server text is only used for bad requests, and
then with anything that looks like a secret masked, so an API key never reaches a
message. The request id travels separately in `ChatError.request_id`.
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

QUOTA_CODES = frozenset({"QuotaExceeded", "SetLimitExceeded", "AccountOverdueError"})
CONTEXT_BUSY_CODE = "OperationDenied.InvalidState"
MODEL_NOT_OPEN_CODE = "ModelNotOpen"
MODEL_NOT_FOUND_PREFIX = "InvalidEndpointOrModel"
DETAIL_LIMIT = 300

_Template = tuple[type[errors.ChatError], str, str]

AUTH = (
    errors.AuthenticationError,
    "The Ark API key was refused. Check ARK_API_KEY or the key you entered.",
    "方舟 API Key 无效或已被拒绝。请检查 ARK_API_KEY 或您输入的 Key。",
)
MODEL_NOT_FOUND = (
    errors.ModelNotFoundError,
    "The model or endpoint was not found, or this key cannot use it. "
    "Check ARK_MODEL (a model id or an ep-... endpoint id) and ARK_BASE_URL.",
    "找不到该模型或推理接入点，或当前 Key 无权使用。"
    "请检查 ARK_MODEL（模型 ID 或 ep-... 接入点 ID）和 ARK_BASE_URL。",
)
MODEL_NOT_OPEN = (
    errors.ModelNotOpenError,
    "Your account has not activated this model. Activate it in the Ark console "
    "(model activation page) and try again.",
    "您的账号尚未开通该模型。请在方舟控制台的「开通管理」中开通后重试。",
)
RATE_LIMIT = (
    errors.RateLimitError,
    "The model service is receiving too many requests. Wait a moment and try again.",
    "请求过于频繁，已超出模型服务的限流。请稍后重试。",
)
QUOTA = (
    errors.QuotaError,
    "The account is out of quota, over its spending limit or overdue. "
    "Check billing in the Ark console.",
    "账号额度已用尽、超出自设上限或已欠费。请在方舟控制台检查费用与额度。",
)
CONTENT_FILTER = (
    errors.ContentFilterError,
    "The message or the reply was blocked by content moderation. Rephrase and try again.",
    "消息或回复触发了内容安全审核，已被拦截。请修改措辞后重试。",
)
CONTEXT_BUSY = (
    errors.ContextBusyError,
    "The cached conversation is still being updated by another request. "
    "Wait a moment and try again.",
    "缓存的对话上下文正在被另一个请求更新。请稍后重试。",
)
PERMISSION = (
    errors.PermissionDeniedError,
    "The account may not use this resource. Check the key's permissions in the Ark console.",
    "当前账号无权访问该资源。请在方舟控制台检查 Key 的权限。",
)
BAD_REQUEST = (
    errors.BadRequestError,
    "The model service rejected the request",
    "模型服务拒绝了该请求",
)
SERVER = (
    errors.ServerError,
    "The model service had an internal error. Try again in a moment.",
    "模型服务内部出错。请稍后重试。",
)
TIMEOUT = (
    errors.ServiceTimeoutError,
    "The model service did not answer in time. Try again, or raise ARK_TIMEOUT.",
    "模型服务响应超时。请重试，或调大 ARK_TIMEOUT。",
)
CONNECTION = (
    errors.ServiceConnectionError,
    "Could not reach the model service. Check the network and ARK_BASE_URL.",
    "无法连接模型服务。请检查网络和 ARK_BASE_URL。",
)
INTERRUPTED = (
    errors.StreamInterruptedError,
    "The reply broke off before it finished. The text received so far was kept.",
    "回复在完成前中断。已保留目前收到的内容。",
)
UNKNOWN = (
    errors.ModelError,
    "The model service call failed.",
    "调用模型服务失败。",
)

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
    kind, en, zh = _template_for(exc)
    if kind is errors.BadRequestError:
        en, zh = _with_detail(exc, en, zh)
    return kind(
        en,
        zh,
        request_id=_request_id(exc),
        partial=partial,
        partial_reasoning=partial_reasoning,
    )


def interrupted_error() -> errors.StreamInterruptedError:
    """The error for a stream that ended without saying it was done."""
    kind, en, zh = INTERRUPTED
    return kind(en, zh)


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
    return _template_for_status(exc.status_code, code)


def _template_for_status(status: int, code: str) -> _Template:
    if status == 401:
        return AUTH
    if status == 404:
        if code == MODEL_NOT_OPEN_CODE:
            return MODEL_NOT_OPEN
        if not code or code.startswith(MODEL_NOT_FOUND_PREFIX):
            return MODEL_NOT_FOUND  # no code at all: usually a wrong ARK_BASE_URL
        return BAD_REQUEST
    if status == 403:
        return CONTEXT_BUSY if code == CONTEXT_BUSY_CODE else PERMISSION
    if status == 429:
        return RATE_LIMIT
    if status >= 500:
        return SERVER
    return BAD_REQUEST


def _with_detail(exc: BaseException, en: str, zh: str) -> tuple[str, str]:
    detail = _safe_detail(exc)
    if not detail:
        return en + ".", zh + "。"
    return f"{en}: {detail}", f"{zh}：{detail}"


def _safe_detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    text = body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str):
        text = error_code(exc)
    text = _REQUEST_ID_TAIL.sub("", text).strip()
    return _SECRET.sub("***", text)[:DETAIL_LIMIT]


def _request_id(exc: BaseException) -> str | None:
    # The SDK's id is the X-Client-Request-Id it generated, which Ark support can trace.
    request_id = getattr(exc, "request_id", None)
    return request_id if isinstance(request_id, str) and request_id else None
