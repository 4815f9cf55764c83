"""Every text Ark Chat shows or prints, in every language it speaks.

Each language is one TOML catalogue in this folder (`en.toml`, `zh.toml`, ...) with the
same keys; adding a language means adding a file. Keys are dotted paths into the file:
`ui.new_chat`, `errors.rate_limited`, `copy.summary`.

- `text(lang, key, **params)` renders a UI or command-line text.
- `error_text(lang, code, params)` renders an error stored or raised as a code and
  parameters (a `chat_core.errors.ChatError`, or a saved reply's `error_code` and
  `error_params`), with the request id appended when the parameters hold one.
- `describe(lang, error)` does the same for an exception.

Rendering never raises on parameters: a missing one renders as nothing, one that does
not fit its format spec renders as plain text. Lists are joined with the language's
separator, and a parameter that is itself an error (`{"code": ..., "params": ...}`, a
cause) renders as that error's text.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

FOLDER = Path(__file__).resolve().parent
DEFAULT = "en"
ERRORS = "errors."
UNKNOWN_ERROR = "unknown"

Quote = Callable[[str], str]


@cache
def languages() -> tuple[str, ...]:
    """The languages with a catalogue, English first, then by code (looked up once per
    process, like the catalogues)."""
    found = sorted(path.stem for path in FOLDER.glob("*.toml"))
    return tuple(sorted(found, key=lambda lang: lang != DEFAULT))


def language_name(lang: str) -> str:
    """The language's own name for itself ("English", "中文")."""
    return text(lang, "language_name")


def text(lang: str, key: str, **params: object) -> str:
    """The text for `key` in `lang` (English when `lang` lacks it), formatted with
    `params`. An unknown key is a bug and raises `KeyError`."""
    return _render(lang, _template(lang, key), params)


def error_text(
    lang: str, code: str, params: Mapping[str, Any] | None = None, *, quote: Quote | None = None
) -> str:
    """The message for error `code` in `lang`, with a `request_id` parameter appended
    as "(request id: ...)". An unknown code gets a generic message naming it.

    `quote` is applied to every parameter's text, e.g. to escape Markdown: parameters
    can hold stored or imported data, the catalogue cannot.
    """
    params = dict(params) if isinstance(params, Mapping) else {}  # stored data may be odd
    request_id = params.pop("request_id", None)
    key = ERRORS + code if isinstance(code, str) else None
    if key is None or key not in catalogue(DEFAULT):
        key, params = ERRORS + UNKNOWN_ERROR, {"code": str(code)}
    message = _render(lang, _template(lang, key), params, quote)
    if request_id:
        request_id = quote(str(request_id)) if quote else str(request_id)
        wrapper = _template(lang, "request_id")
        message = _render(lang, wrapper, {"message": message, "request_id": request_id})
    return message


def describe(lang: str, error: Any, *, quote: Quote | None = None) -> str:
    """The message of an exception carrying `code`, `params` and `request_id`."""
    params = {**error.params, "request_id": error.request_id}
    return error_text(lang, error.code, params, quote=quote)


def error_codes() -> frozenset[str]:
    """Every error code the catalogues know."""
    return frozenset(key[len(ERRORS) :] for key in catalogue(DEFAULT) if key.startswith(ERRORS))


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Every text of `lang` by dotted key (read once per process; never changed)."""
    with (FOLDER / f"{lang}.toml").open("rb") as file:
        return MappingProxyType(_flattened(tomllib.load(file)))


# --- rendering ---------------------------------------------------------------------------


class _Missing:
    """What a parameter that was not given renders as: nothing, whatever the spec."""

    def __format__(self, spec: str) -> str:
        return ""


_MISSING = _Missing()


class _Formatter(string.Formatter):
    """`str.format` that never raises on a parameter (see the module docstring)."""

    def __init__(self, lang: str, quote: Quote | None) -> None:
        self.lang, self.quote = lang, quote

    def get_field(self, field_name, args, kwargs):
        try:
            return super().get_field(field_name, args, kwargs)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return _MISSING, field_name

    def convert_field(self, value, conversion):
        return value if value is _MISSING else super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        if value is _MISSING:
            return ""
        if isinstance(value, Mapping) and isinstance(value.get("code"), str):
            return error_text(self.lang, value["code"], value.get("params"), quote=self.quote)
        if isinstance(value, list | tuple):
            value = _template(self.lang, "list_separator").join(str(item) for item in value)
        try:
            rendered = format(value, format_spec)
        except (TypeError, ValueError):  # e.g. "{count:,}" given text
            rendered = str(value)
        return self.quote(rendered) if self.quote else rendered


def _render(
    lang: str, template: str, params: Mapping[str, object], quote: Quote | None = None
) -> str:
    try:
        rendered = _Formatter(lang, quote).vformat(template, (), params)
    except (ValueError, IndexError):  # a malformed template: show it as written
        rendered = template
    return rendered.rstrip()  # a missing last parameter leaves a trailing space


def _template(lang: str, key: str) -> str:
    found = catalogue(lang if lang in languages() else DEFAULT).get(key)
    return catalogue(DEFAULT)[key] if found is None else found


def _flattened(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flattened(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat
