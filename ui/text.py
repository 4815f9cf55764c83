"""UI text, from the shared catalogue in `locales/` (one TOML file per language).

`t(lang, key, **values)` formats a text of the page; `error_message` and
`stored_error` render errors, kept as codes and parameters, in the language the page
is drawn in, so switching the language changes old errors too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import locales
from chat_core.markdown import escape
from chat_core.store import Message


def t(lang: str, key: str, **values: object) -> str:
    """The page's text for `key` in `lang`, formatted with `values`."""
    return locales.text(lang, f"ui.{key}", **values)


def error_message(lang: str, error) -> str:
    """A `ChatError`, or one kept as `ChatError.as_dict()`, as Markdown-safe text."""
    if isinstance(error, Mapping):
        return locales.error_text(lang, error.get("code"), error.get("params"), quote=escape)
    return locales.describe(lang, error, quote=escape)


def stored_error(lang: str, message: Message) -> str:
    """A failed reply's error: rendered from its code, or the text an older version
    stored, shown literally."""
    if message.error_code:
        return locales.error_text(lang, message.error_code, message.error_params, quote=escape)
    return escape(message.error or "")


def language_for(locale: str | None, chosen: str = "auto") -> str:
    """The UI language: the chosen one, else the browser's when a catalogue speaks it,
    else English."""
    available = locales.languages()
    if chosen in available:
        return chosen
    browser = re.split(r"[-_]", (locale or "").lower())[0]
    return browser if browser in available else locales.DEFAULT
