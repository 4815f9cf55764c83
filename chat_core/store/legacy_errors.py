"""The error sentences older versions stored in `chat_message.error`, mapped to the
error codes and parameters that replaced them.

Until migrations m007 (SQLite) and p003 (PostgreSQL), a failed reply was saved with
its message already rendered, in English or Chinese, with " (request id: ...)" or
" (请求 ID: ...)" appended when the service gave one. Those migrations, and the import
of old export files, turn what they can back into codes so it shows in the reader's
language. Frozen like a shipped migration: these are the sentences old versions
wrote, never today's texts (those live in `locales/`), so never change them.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from typing import Any

from ..text import clean_text

# Exact sentences (English, Chinese) of the errors a reply could fail with.
SENTENCES: dict[str, str] = {
    "The Ark API key was refused. Check ARK_API_KEY or the key you entered.": "api_key_refused",
    "方舟 API Key 无效或已被拒绝。请检查 ARK_API_KEY 或您输入的 Key。": "api_key_refused",
    "The model or endpoint was not found, or this key cannot use it. Check ARK_MODEL "
    "(a model id or an ep-... endpoint id) and ARK_BASE_URL.": "model_not_found",
    "找不到该模型或推理接入点，或当前 Key 无权使用。请检查 ARK_MODEL（模型 ID 或 ep-... "
    "接入点 ID）和 ARK_BASE_URL。": "model_not_found",
    "Your account has not activated this model. Activate it in the Ark console "
    "(model activation page) and try again.": "model_not_open",
    "您的账号尚未开通该模型。请在方舟控制台的「开通管理」中开通后重试。": "model_not_open",
    "The model service is receiving too many requests. Wait a moment and try again.": (
        "rate_limited"
    ),
    "请求过于频繁，已超出模型服务的限流。请稍后重试。": "rate_limited",
    "The account is out of quota, over its spending limit or overdue. Check billing in the "
    "Ark console.": "quota_exceeded",
    "账号额度已用尽、超出自设上限或已欠费。请在方舟控制台检查费用与额度。": "quota_exceeded",
    "The message or the reply was blocked by content moderation. Rephrase and try again.": (
        "content_blocked"
    ),
    "消息或回复触发了内容安全审核，已被拦截。请修改措辞后重试。": "content_blocked",
    "The cached conversation is still being updated by another request. Wait a moment and "
    "try again.": "context_busy",
    "缓存的对话上下文正在被另一个请求更新。请稍后重试。": "context_busy",
    "The account may not use this resource. Check the key's permissions in the Ark "
    "console.": "permission_denied",
    "当前账号无权访问该资源。请在方舟控制台检查 Key 的权限。": "permission_denied",
    "The model service rejected the request.": "request_rejected",
    "模型服务拒绝了该请求。": "request_rejected",
    "The model service had an internal error. Try again in a moment.": "service_error",
    "模型服务内部出错。请稍后重试。": "service_error",
    "The model service did not answer in time. Try again, or raise ARK_TIMEOUT.": (
        "service_timeout"
    ),
    "模型服务响应超时。请重试，或调大 ARK_TIMEOUT。": "service_timeout",
    "Could not reach the model service. Check the network and ARK_BASE_URL.": (
        "service_unreachable"
    ),
    "无法连接模型服务。请检查网络和 ARK_BASE_URL。": "service_unreachable",
    "The reply broke off before it finished. The text received so far was kept.": (
        "stream_interrupted"
    ),
    "回复在完成前中断。已保留目前收到的内容。": "stream_interrupted",
    "The model service call failed.": "service_failed",
    "调用模型服务失败。": "service_failed",
    "The reply was stopped by content moderation.": "reply_filtered",
    "回复因内容审核而被中止。": "reply_filtered",
}

_REPR = r"(?P<model>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
# Sentences with a part that varies, which becomes a parameter.
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"The model service rejected the request: (?P<detail>.+)", re.S),
        "request_rejected",
    ),
    (re.compile(r"模型服务拒绝了该请求：(?P<detail>.+)", re.S), "request_rejected"),
    (
        re.compile(
            r"Context caching \(ARK_CACHE=context\) needs an endpoint id like "
            rf"ep-20250120174411-xxxxx, not the model id {_REPR}\. Set ARK_MODEL to an "
            r'endpoint id, or switch the cache mode to "responses" or "off"\.',
            re.S,
        ),
        "endpoint_required",
    ),
    (
        re.compile(
            r"上下文缓存（ARK_CACHE=context）需要推理接入点 ID（例如 ep-20250120174411-xxxxx），"
            rf"不能使用模型 ID {_REPR}。请将 ARK_MODEL 设为接入点 ID，"
            r'或把缓存模式改为 "responses" 或 "off"。',
            re.S,
        ),
        "endpoint_required",
    ),
    (re.compile(r"Unexpected failure: (?P<kind>\w+)\."), "unexpected_failure"),
]
_REQUEST_ID = re.compile(r"(?P<text>.*) \((?:request id|请求 ID): (?P<request_id>[^()]*)\)", re.S)


def parse(text: object) -> tuple[str, dict[str, Any]] | None:
    """The code and parameters an old error sentence stands for, or None when it is not
    one this app wrote."""
    if not isinstance(text, str):
        return None
    params: dict[str, Any] = {}
    if suffixed := _REQUEST_ID.fullmatch(text):
        text, params["request_id"] = suffixed["text"], suffixed["request_id"]
    if text in SENTENCES:
        return SENTENCES[text], params
    for pattern, code in PATTERNS:
        found = pattern.fullmatch(text)
        values = _values(found) if found else None
        if values is not None:
            return code, {**values, **params}
    return None


def coded_rows(rows: Iterable[tuple[int, str]]) -> list[tuple[str, str, int]]:
    """`(error_code, error_params as JSON, id)` for each `(id, error)` row whose text
    maps to a code; rows that do not map are left out (they keep their text)."""
    updates = []
    for row_id, text in rows:
        parsed = parse(text)
        if parsed is not None:
            code, params = parsed
            updates.append((code, json.dumps(params, ensure_ascii=False), row_id))
    return updates


def _values(found: re.Match[str]) -> dict[str, Any] | None:
    """The varying parts of a matched sentence; None when its model id is no literal
    the app could have written (text from a file may hold any escape)."""
    values = found.groupdict()
    if "model" in values:
        try:
            model = ast.literal_eval(values["model"])  # it was written with !r
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None  # such as '\N{nope}' or '\x'
        # An escape such as '\ud800' decodes to a lone surrogate, which cannot be stored.
        values["model"] = clean_text(model)
    return values
