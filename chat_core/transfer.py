"""Export a session as Markdown or JSON, and import that JSON as a new session.

Import never overwrites: ids in the file are ignored and a new session is created for
the importing owner, so a file can be imported twice, or by someone else, safely.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ImportFormatError
from .store import MESSAGE_STATUSES, Session, Store, utc_now
from .text import clean_text, make_title

FORMAT = "ark-chat-session"
VERSION = 1
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_MESSAGES = 20_000
_MESSAGE_FIELDS = (
    "role",
    "content",
    "reasoning_content",
    "status",
    "created_at",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "latency_ms",
    "error",
)
_INT_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "latency_ms",
)
_STATUS_LABELS = {"interrupted": "interrupted", "error": "failed", "streaming": "incomplete"}


def export_json(store: Store, owner: str, session_id: str) -> str:
    """The session and its messages as a JSON document (UTF-8 text)."""
    session = store.get_session(owner, session_id)
    messages = store.get_messages(session)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utc_now(),
        "session": {
            "id": session.id,
            "title": session.title,
            "created_at": session.created_at,
            **{
                key: getattr(session, key)
                for key in ("model", "system_prompt", "temperature", "thinking", "cache_mode")
            },
        },
        "messages": [
            {"id": m.id, **{key: getattr(m, key) for key in _MESSAGE_FIELDS}} for m in messages
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def export_markdown(store: Store, owner: str, session_id: str) -> str:
    """The session as a readable Markdown transcript."""
    session = store.get_session(owner, session_id)
    lines = [f"# {session.title or 'New chat'}", "", f"_Exported {utc_now()[:19]} UTC_", ""]
    for message in store.get_messages(session):
        lines += _markdown_message(message)
    return "\n".join(lines).rstrip() + "\n"


def import_json(store: Store, owner: str, data: bytes | str) -> Session:
    """Create a new session for `owner` from an `export_json` document.

    Raises `ImportFormatError` with a clear message for anything malformed; nothing is
    written then.
    """
    document = _parse(data)
    session = document.get("session")
    session = {} if session is None else session
    if not isinstance(session, dict):
        raise _format_error("“session” must be an object.", "“session” 必须是对象。")
    messages = [_message(raw, index) for index, raw in enumerate(document.get("messages"))]
    title = session.get("title")
    title = make_title(title, max_chars=200) if isinstance(title, str) else None
    if not title:
        title = next((make_title(m["content"]) for m in messages if m["role"] == "user"), None)
    return store.import_session(owner, title, messages)


def _parse(data: bytes | str) -> dict[str, Any]:
    size = len(data.encode("utf-8", "replace") if isinstance(data, str) else data)
    if size > MAX_IMPORT_BYTES:
        raise _format_error(
            f"The file is too large ({size:,} bytes); the limit is {MAX_IMPORT_BYTES:,}.",
            f"文件过大（{size:,} 字节），上限为 {MAX_IMPORT_BYTES:,} 字节。",
        )
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _format_error("The file is not valid JSON.", "该文件不是有效的 JSON。") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _format_error(
            "The file is not an Ark Chat session export.", "该文件不是 Ark Chat 会话导出文件。"
        )
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _format_error("The file holds no messages.", "该文件中没有消息。")
    if len(messages) > MAX_IMPORT_MESSAGES:
        raise _format_error(
            f"The file holds too many messages (limit {MAX_IMPORT_MESSAGES:,}).",
            f"文件中的消息过多（上限 {MAX_IMPORT_MESSAGES:,} 条）。",
        )
    return document


def _message(raw: object, index: int) -> dict[str, Any]:
    where_en, where_zh = f"Message {index + 1}", f"第 {index + 1} 条消息"
    if not isinstance(raw, dict):
        raise _format_error(f"{where_en} is not an object.", f"{where_zh}不是对象。")
    if raw.get("role") not in ("user", "assistant"):
        raise _format_error(f"{where_en} has an unknown role.", f"{where_zh}的角色无效。")
    if not isinstance(raw.get("content"), str):
        raise _format_error(f"{where_en} has no text.", f"{where_zh}没有文本内容。")
    message = {key: raw.get(key) for key in _MESSAGE_FIELDS}
    for key in ("content", "reasoning_content", "model", "error"):
        value = message[key]
        message[key] = clean_text(value) if isinstance(value, str) else None
    message["content"] = message["content"] or ""
    for key in _INT_FIELDS:
        value = message[key]
        message[key] = value if isinstance(value, int) and not isinstance(value, bool) else None
    if message["status"] not in MESSAGE_STATUSES or message["status"] == "streaming":
        message["status"] = "complete" if message["status"] is None else "interrupted"
    if not isinstance(message["created_at"], str):
        message["created_at"] = utc_now()
    return message


def _markdown_message(message) -> list[str]:
    speaker = "User" if message.role == "user" else "Assistant"
    label = _STATUS_LABELS.get(message.status)
    header = f"## {speaker}" + (f" ({label})" if label else "")
    lines = [header, ""]
    if message.reasoning_content:
        lines += ["> **Reasoning**", ">"]
        lines += [f"> {line}" for line in message.reasoning_content.splitlines()] + [""]
    lines += [message.content, ""]
    return lines


def _format_error(en: str, zh: str) -> ImportFormatError:
    return ImportFormatError(f"Cannot import: {en}", f"无法导入：{zh}")
