"""Export a session as Markdown or JSON, and import that JSON as a new session.

Import never overwrites: ids in the file are ignored and a new session is created for
the importing owner, so a file can be imported twice, or by someone else, safely.

A failed reply's error travels as its code and parameters. A file of an older version
holds the error as a sentence instead; import turns the sentences the app wrote back
into codes, and keeps any other text as it is.
"""

from __future__ import annotations

import json
from typing import Any

import locales

from .errors import ImportFormatError, is_error_code
from .store import MESSAGE_STATUSES, Session, Store, legacy_errors, utc_now
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
    "error_code",
    "error_params",
)
_INT_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "latency_ms",
)


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


def export_markdown(store: Store, owner: str, session_id: str, lang: str = "en") -> str:
    """The session as a readable Markdown transcript, labelled in `lang`."""
    session = store.get_session(owner, session_id)
    title = session.title or _label(lang, "untitled")
    lines = [f"# {title}", "", _label(lang, "exported", time=utc_now()[:19]), ""]
    for message in store.get_messages(session):
        lines += _markdown_message(message, lang)
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
        raise ImportFormatError("import_session_not_object")
    messages = [_message(raw, index) for index, raw in enumerate(document.get("messages"))]
    title = session.get("title")
    title = make_title(title, max_chars=200) if isinstance(title, str) else None
    if not title:
        title = next((make_title(m["content"]) for m in messages if m["role"] == "user"), None)
    return store.import_session(owner, title, messages)


def _parse(data: bytes | str) -> dict[str, Any]:
    size = len(data.encode("utf-8", "replace") if isinstance(data, str) else data)
    if size > MAX_IMPORT_BYTES:
        raise ImportFormatError("import_too_large", size=size, limit=MAX_IMPORT_BYTES)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ImportFormatError("import_not_json") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ImportFormatError("import_not_export")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ImportFormatError("import_no_messages")
    if len(messages) > MAX_IMPORT_MESSAGES:
        raise ImportFormatError("import_too_many_messages", limit=MAX_IMPORT_MESSAGES)
    return document


def _message(raw: object, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ImportFormatError("import_message_not_object", number=index + 1)
    if raw.get("role") not in ("user", "assistant"):
        raise ImportFormatError("import_message_bad_role", number=index + 1)
    if not isinstance(raw.get("content"), str):
        raise ImportFormatError("import_message_no_text", number=index + 1)
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
    message.update(_error(message))
    return message


def _error(message: dict[str, Any]) -> dict[str, Any]:
    """The message's error as a code and parameters, or as text when it is a sentence
    this app never wrote (a file of an older version holds only the text)."""
    code, params, text = message["error_code"], message["error_params"], message["error"]
    if is_error_code(code):
        return {"error_code": code, "error_params": params if isinstance(params, dict) else {}}
    legacy = legacy_errors.parse(text)
    if legacy is not None:
        return {"error_code": legacy[0], "error_params": legacy[1], "error": None}
    return {"error_code": None, "error_params": None}


def _markdown_message(message, lang: str) -> list[str]:
    speaker = _label(lang, "user" if message.role == "user" else "assistant")
    if message.status != "complete":
        status = _label(lang, f"status_{message.status}")
        speaker = _label(lang, "with_status", speaker=speaker, status=status)
    lines = [f"## {speaker}", ""]
    if message.reasoning_content:
        lines += [f"> **{_label(lang, 'reasoning')}**", ">"]
        lines += [f"> {line}" for line in message.reasoning_content.splitlines()] + [""]
    lines += [message.content, ""]
    return lines


def _label(lang: str, key: str, **params: object) -> str:
    return locales.text(lang, f"export.{key}", **params)
