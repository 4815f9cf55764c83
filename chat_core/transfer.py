"""Export a session as Markdown or JSON, and import that JSON as a new session.

Import checks the whole file before it writes anything, and never overwrites:

- Refused, with an `ImportFormatError` naming what is wrong: a file over
  `MAX_IMPORT_BYTES`; JSON nested deeper than `MAX_DEPTH` (found by a scan before the
  parser, which recurses once per level, ever sees it); more than `MAX_IMPORT_MESSAGES`
  messages (over all its chats, for a bundle); anything that is not an export;
  a title or a setting of the wrong type, or a setting out of range (temperature 0 to 2,
  thinking and cache mode among the app's choices); a message that is not an object, or
  has an unknown role or status, or text fields that are not text, or a text longer than
  the store's `max_message_chars` (measured with `len` before any text is cleaned,
  hashed or written, so a huge message is refused fast).
- Cleaned, because they only describe a message: a token count or latency that is not
  a whole number within 0..10**9 is dropped (None, never negative); a timestamp that is
  not ISO 8601, or before 1900 or from 9000 on, becomes the import time; a model name
  (or the name of the model a reply's endpoint served) that is not short text is
  dropped, and so is a finish reason the app does not know;
  error parameters that are not a small object of strict JSON (no NaN or Infinity,
  which Python's parser takes) are dropped. Text that cannot be stored (NUL characters,
  lone UTF-16 surrogates, which JSON's `\\ud800` escapes make) is cleaned as typed text
  is, in error parameters (names and values) too.
- Cut: a title longer than `MAX_TITLE_CHARS` is cut with an ellipsis, as a rename is.

The settings of the chat (model, system prompt, temperature, thinking, cache mode) are
restored, and so is whether the user chose its title by renaming it (`title_by_user`,
true or false, else the file is refused), so a later edit of the first message keeps
that title. Ids in the file are ignored: the new chat's id is derived from the importing
owner and the chat's content, so importing the same file again finds the chat it made
and raises `ImportDuplicateError` (with that chat's id and title) instead of making a
silent copy. Once that chat is deleted the file imports again, and another owner
importing it gets a chat of their own.

A failed reply's error travels as its code and parameters. A file of an older version
holds the error as a sentence instead; import turns the sentences the app wrote back
into codes, and keeps any other text as it is.

The Markdown transcript shows a user's text exactly as typed, in a code fence (so it
can make no speaker's turn, list or link), answers as the Markdown they are, and a
failed reply's error as the chat shows it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import locales

from .ark.events import FINISH_REASONS  # the SDK stays unloaded
from .config import CACHE_MODES, REASONING_EFFORTS, THINKING_MODES
from .errors import ImportDuplicateError, ImportFormatError, SessionExistsError, is_error_code
from .markdown import escape
from .store import MESSAGE_STATUSES, SESSION_SETTINGS, Session, Store, legacy_errors, utc_now
from .store.rules import MAX_PREFERENCE_CHARS
from .text import clean_text, make_title
from .transfer_media import (
    check_media,
    exported_media,
    fingerprint,
    imported_media,
    markdown_media,
)

FORMAT = "ark-chat-session"
VERSION = 1
MAX_IMPORT_BYTES = 64 * 1024 * 1024  # room for the images a chat carries
MAX_IMPORT_MESSAGES = 20_000
# An export nests four levels deep (document, messages, message, error parameters).
MAX_DEPTH = 32
MAX_TITLE_CHARS = 200  # as a rename allows
MAX_MODEL_CHARS = 200  # as the settings form allows
# A reply's tokens or milliseconds beyond a billion are no real usage; below it, the
# Usage page's sums of millions of replies stay exact on both databases.
MAX_COUNT = 10**9
MAX_ERROR_CODE_CHARS = 100
MAX_ERROR_PARAMS_CHARS = 4_000
_MESSAGE_FIELDS = (
    "role",
    "content",
    "reasoning_content",
    "status",
    "created_at",
    "model",
    "model_alias",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "tier_prompt_tokens",
    "tier_completion_tokens",
    "latency_ms",
    "first_token_ms",
    "error",
    "error_code",
    "error_params",
    "finish_reason",
)
_TEXT_FIELDS = ("content", "reasoning_content", "error")
_INT_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "tier_prompt_tokens",
    "tier_completion_tokens",
    "latency_ms",
    "first_token_ms",
)
# A JSON string; an unterminated one runs to the end, so every match attempt succeeds
# and the scan stays linear.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+\\?(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_ONE_KIND = str.maketrans("[]{}", "()()")
_BACKTICKS = re.compile("`+")


@dataclass(frozen=True)
class Chat:
    """The chat an export document makes, checked and cleaned but not yet written."""

    session_id: str
    title: str | None
    title_by_user: bool
    settings: dict[str, Any]
    messages: list[dict[str, Any]]

    def store_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `Store.import_session` that write this chat."""
        return {
            "title": self.title,
            "messages": self.messages,
            "session_id": self.session_id,
            "settings": self.settings,
            "title_by_user": self.title_by_user,
        }


def export_json(store: Store, owner: str, session_id: str) -> str:
    """The session and its messages as a JSON document (UTF-8 text)."""
    session = store.get_session(owner, session_id)
    messages = store.get_messages(session)
    media = exported_media(store, session, messages)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utc_now(),
        "session": {
            "id": session.id,
            "title": session.title,
            "title_by_user": session.title_by_user,
            "created_at": session.created_at,
            **{key: getattr(session, key) for key in SESSION_SETTINGS},
        },
        "messages": [_exported_message(m, media.get(m.id, {})) for m in messages],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def export_markdown(store: Store, owner: str, session_id: str, lang: str = "en") -> str:
    """The session as a readable Markdown transcript, labelled in `lang`."""
    session = store.get_session(owner, session_id)
    title = session.title or _label(lang, "untitled")
    lines = [f"# {title}", "", _label(lang, "exported", time=utc_now()[:19]), ""]
    messages = store.get_messages(session)
    images = store.attachments(session, [m.id for m in messages if m.role == "user"])
    label = partial(_label, lang)
    for message in messages:
        lines += _markdown_message(message, lang)
        lines += markdown_media(message, images.get(message.id, []), label)
    return "\n".join(lines).rstrip() + "\n"


def import_json(store: Store, owner: str, data: bytes | str) -> Session:
    """Create a new session for `owner` from an `export_json` document.

    Raises `ImportFormatError` for anything malformed and `ImportDuplicateError` when
    this owner already has the chat this file makes; nothing is written then.
    """
    return _create(store, owner, prepared(store, owner, parsed(data)))


def prepared(store: Store, owner: str, document: object) -> Chat:
    """The chat an export document makes, checked and cleaned but not written.
    Raises `ImportFormatError`."""
    document = _checked_document(document)
    session = _session_object(document)
    settings = _settings(session, store.max_message_chars)
    named = _title_by_user(session)
    raw_messages = document["messages"]
    for index, raw in enumerate(raw_messages):  # every check before any costly work
        _check_message(raw, index + 1, store.max_message_chars)
        check_media(raw, index + 1)
    title = _title(session.get("title"))
    messages = [
        {**_cleaned(raw), **imported_media(raw, number)}
        for number, raw in enumerate(raw_messages, start=1)
    ]
    named = named and title is not None  # a title made here is no title the user chose
    title = title or next((make_title(m["content"]) for m in messages if m["role"] == "user"), None)
    session_id = _session_id(owner, title, named, settings, messages)
    # A version of 2026-12-03 counted the tier lengths even when absent (and knew no
    # reply's alias): a file it imported keeps the id it gave.
    then = _session_id(
        owner, title, named, settings, messages, later=("finish_reason", "model_alias")
    )
    if then != session_id and store.find_session(owner, then) is not None:
        session_id = then
    now = utc_now()  # after the id, so the id does not depend on when
    for message in messages:
        message["created_at"] = message["created_at"] or now
    return Chat(session_id, title, named, settings, messages)


# --- reading the file --------------------------------------------------------------------


def parsed(data: bytes | str) -> Any:
    """The JSON in an import file, read within the file limits (size, depth)."""
    size = len(data.encode("utf-8", "replace") if isinstance(data, str) else data)
    if size > MAX_IMPORT_BYTES:
        raise ImportFormatError("import_too_large", size=size, limit=MAX_IMPORT_BYTES)
    text = _text(data)
    _check_depth(text)  # before the parser, which recurses once per level
    try:
        document = json.loads(text)
    except ValueError:
        raise ImportFormatError("import_not_json") from None
    except RecursionError:  # the scan allows far less than this; a guard, never reached
        raise ImportFormatError("import_too_deep", limit=MAX_DEPTH) from None
    return document


def _checked_document(document: object) -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ImportFormatError("import_not_export")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ImportFormatError("import_no_messages")
    if len(messages) > MAX_IMPORT_MESSAGES:
        raise ImportFormatError("import_too_many_messages", limit=MAX_IMPORT_MESSAGES)
    return document


def _text(data: bytes | str) -> str:
    """The file as text, in the encoding JSON allows (UTF-8, -16 or -32)."""
    if isinstance(data, str):
        return data
    try:
        return data.decode(json.detect_encoding(data))
    except UnicodeDecodeError:
        raise ImportFormatError("import_not_json") from None


def _check_depth(text: str) -> None:
    """Refuse JSON nested deeper than `MAX_DEPTH`, in linear time and without recursion.

    Dropping strings and other text leaves only the brackets. Each pass removes the
    innermost pairs, one level of nesting, so the passes count the depth (and stop past
    the limit); a run of openers is as deep as it is long. Openers never closed (bad
    JSON anyway) count as levels too.
    """
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text)).translate(_ONE_KIND)
    too_deep = "(" * (MAX_DEPTH + 1)
    levels = 0
    while levels <= MAX_DEPTH and too_deep not in brackets:
        shorter = brackets.replace("()", "")
        if len(shorter) == len(brackets):
            break
        brackets, levels = shorter, levels + 1
    if levels + brackets.count("(") > MAX_DEPTH:
        raise ImportFormatError("import_too_deep", limit=MAX_DEPTH)


def _session_object(document: dict[str, Any]) -> dict[str, Any]:
    session = document.get("session")
    if session is None:
        return {}
    if not isinstance(session, dict):
        raise ImportFormatError("import_session_not_object")
    return session


def _settings(session: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """The chat's settings found in the file; a wrong type or value refuses the file."""
    settings = {}
    for name in SESSION_SETTINGS:
        value = session.get(name)
        if value is None:
            continue
        if not _is_setting(name, value, max_chars):
            raise ImportFormatError("import_bad_setting", name=name)
        settings[name] = float(value) if name == "temperature" else value
    return settings


def _is_setting(name: str, value: object, max_chars: int) -> bool:
    if name == "temperature":
        return _is_number(value) and 0 <= value <= 2
    if name == "thinking":
        return value in THINKING_MODES
    if name == "cache_mode":
        return value in CACHE_MODES
    if name == "reasoning_effort":
        return value in REASONING_EFFORTS
    if name == "web_search":
        return isinstance(value, bool)
    limit = MAX_MODEL_CHARS if name in ("model", "model_alias") else max_chars
    if name == "system_prompt":  # as long as the settings form lets it be
        limit = max(max_chars, MAX_PREFERENCE_CHARS)
    return isinstance(value, str) and len(value) <= limit


def _title_by_user(session: dict[str, Any]) -> bool:
    """Whether the file says the user chose the title (absent in older files: no)."""
    value = session.get("title_by_user", False)
    if not isinstance(value, bool):
        raise ImportFormatError("import_bad_setting", name="title_by_user")
    return value


def _title(value: object) -> str | None:
    """The file's title cut to `MAX_TITLE_CHARS` (as a rename is), or None."""
    if value is not None and not isinstance(value, str):
        raise ImportFormatError("import_bad_title")
    # Only a bounded slice is cleaned: a title of megabytes is cut anyway.
    return make_title(value[: MAX_TITLE_CHARS * 20], max_chars=MAX_TITLE_CHARS) if value else None


# --- messages ----------------------------------------------------------------------------


def _check_message(raw: object, number: int, max_chars: int) -> None:
    """Refuse a message this app could not have exported. Texts are only measured here,
    so an oversize one is refused before any work is spent on it."""
    if not isinstance(raw, dict):
        raise ImportFormatError("import_message_not_object", number=number)
    if raw.get("role") not in ("user", "assistant"):
        raise ImportFormatError("import_message_bad_role", number=number)
    if not isinstance(raw.get("content"), str):
        raise ImportFormatError("import_message_no_text", number=number)
    status = raw.get("status")
    if status is not None and status not in MESSAGE_STATUSES:
        raise ImportFormatError("import_message_bad_status", number=number)
    # A user message has the store's limit; a reply is not cut while it streams, so
    # its texts are bounded only by the file's size (a backup must import again).
    limit = max_chars if raw["role"] == "user" else MAX_IMPORT_BYTES
    for field in _TEXT_FIELDS:
        value = raw.get(field)
        if value is not None and not isinstance(value, str):
            raise ImportFormatError("import_message_bad_field", number=number, field=field)
        if value is not None and len(value) > limit:
            raise ImportFormatError(
                "import_message_too_long", number=number, length=len(value), limit=limit
            )


def _cleaned(raw: dict[str, Any]) -> dict[str, Any]:
    """A checked message as the store takes it; describing values that do not fit are
    dropped, and a timestamp that is not ISO 8601 is left for the import time (None)."""
    message = {key: raw.get(key) for key in _MESSAGE_FIELDS}
    for key in _TEXT_FIELDS:
        message[key] = clean_text(message[key]) if message[key] is not None else None
    message["content"] = message["content"] or ""
    for key in ("model", "model_alias"):
        message[key] = _model_name(message[key])
    for key in _INT_FIELDS:
        message[key] = _count(message[key])
    message["finish_reason"] = _finish_reason(message["finish_reason"])
    # A reply still streaming when it was exported was cut off there.
    message["status"] = {None: "complete", "streaming": "interrupted"}.get(
        message["status"], message["status"]
    )
    message["created_at"] = _timestamp(message["created_at"])
    message.update(_error(message))
    return message


def _model_name(value: object) -> str | None:
    """A model or endpoint id as long as the settings form allows, else None."""
    short = isinstance(value, str) and len(value) <= MAX_MODEL_CHARS
    return (clean_text(value) or None) if short else None


def _finish_reason(value: object) -> str | None:
    """A finish reason the app knows ("length": the answer was cut), else None."""
    return value if isinstance(value, str) and value in FINISH_REASONS else None


def _count(value: object) -> int | None:
    """A token count or latency in 0..MAX_COUNT, else None (`bool` is no count)."""
    return value if type(value) is int and 0 <= value <= MAX_COUNT else None


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _timestamp(value: object) -> str | None:
    """An ISO 8601 time as the store writes it (UTC, microseconds), or None: also for a
    time no chat has (before 1900 or from 9000 on), which a database showing times in
    another zone could not read back near year 1 or 9999."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not ISO 8601, or out of range once in UTC
        return None
    return moment.isoformat(timespec="microseconds") if 1900 <= moment.year < 9000 else None


def _error(message: dict[str, Any]) -> dict[str, Any]:
    """The message's error as a code and parameters, or as text when it is a sentence
    this app never wrote (a file of an older version holds only the text)."""
    code, params, text = message["error_code"], message["error_params"], message["error"]
    if is_error_code(code) and len(code) <= MAX_ERROR_CODE_CHARS:
        return {"error_code": code, "error_params": _error_params(params)}
    legacy = legacy_errors.parse(text)
    if legacy is not None:
        return {"error_code": legacy[0], "error_params": legacy[1], "error": None}
    return {"error_code": None, "error_params": None}


def _error_params(params: object) -> dict[str, Any]:
    """Parameters only fill in an error's text: anything but a small object of strict
    JSON is dropped (NaN and Infinity, which Python's parser takes, would make the next
    export invalid JSON), and the text in one is cleaned. (Their nesting is already
    bounded by the depth scan.)"""
    if not isinstance(params, dict):
        return {}
    try:
        text = json.dumps(params, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:  # a number that is not finite
        return {}
    return _clean_json(params) if len(text) <= MAX_ERROR_PARAMS_CHARS else {}


def _clean_json(value: Any) -> Any:
    """`value` (parsed JSON) with every string in it, names of members too, cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _clean_json(item) for key, item in value.items()}
    return value


# --- writing the chat --------------------------------------------------------------------


def _session_id(
    owner: str,
    title: str | None,
    title_by_user: bool,
    settings: dict,
    messages: list[dict],
    **counted_as,
) -> str:
    """32 hex digits (the shape of the ids `Store` issues) from the owner and the chat's
    content: the same file imported again by the same owner gives the same id. A title
    the user chose counts as a setting, only when chosen: a file of an older version,
    which does not say, still finds the chat it made."""
    counted = {**settings, "title_by_user": True} if title_by_user else settings
    content = [owner, title, counted, [fingerprint(m, **counted_as) for m in messages]]
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _create(store: Store, owner: str, chat: Chat) -> Session:
    """Write the chat with its settings and messages in one transaction."""
    existing = store.find_session(owner, chat.session_id)
    if existing is not None:
        raise _duplicate(existing)
    try:
        return store.import_session(owner, **chat.store_arguments())
    except SessionExistsError:
        existing = store.find_session(owner, chat.session_id)  # imported at the same moment
        if existing is None:
            raise
        raise _duplicate(existing) from None


def _duplicate(session: Session) -> ImportDuplicateError:
    return ImportDuplicateError(
        "import_duplicate", session_id=session.id, title=session.title or ""
    )


# --- JSON export -------------------------------------------------------------------------


def _exported_message(message, media: dict) -> dict[str, Any]:
    fields = {key: getattr(message, key) for key in _MESSAGE_FIELDS}
    if fields["error_params"]:  # as an import keeps them: never NaN, which is no JSON
        fields["error_params"] = _error_params(fields["error_params"])
    return {"id": message.id, **fields, **media}


# --- Markdown ----------------------------------------------------------------------------


def _markdown_message(message, lang: str) -> list[str]:
    speaker = _label(lang, "user" if message.role == "user" else "assistant")
    if message.status != "complete":
        status = _label(lang, f"status_{message.status}")
        speaker = _label(lang, "with_status", speaker=speaker, status=status)
    lines = [f"## {speaker}", ""]
    if message.reasoning_content:
        lines += [f"> **{_label(lang, 'reasoning')}**", ">"]
        lines += [*_quoted(message.reasoning_content), ""]
    if message.role == "user":
        lines += _typed(message.content)
    elif message.content:
        lines += [message.content, ""]
    if message.error_code or message.error:
        lines += [*_quoted(_error_text(lang, message)), ""]
    return lines


def _typed(text: str) -> list[str]:
    """A user's text shown exactly as typed: in a code fence longer than any run of
    backticks in it, nothing in it can end the fence, or make a heading (a speaker's
    turn), a list or a link, and its line breaks stay."""
    if not text:
        return []
    fence = "`" * max(3, 1 + max((len(run) for run in _BACKTICKS.findall(text)), default=0))
    return [fence, *text.split("\n"), fence, ""]


def _error_text(lang: str, message) -> str:
    """A failed reply's error as the chat shows it: from its code, or the text an older
    version stored, literally."""
    if message.error_code:
        return locales.error_text(lang, message.error_code, message.error_params, quote=escape)
    return escape(message.error)


def _quoted(text: str) -> list[str]:
    return [f"> {line}" for line in text.splitlines()]


def _label(lang: str, key: str, **params: object) -> str:
    return locales.text(lang, f"export.{key}", **params)
