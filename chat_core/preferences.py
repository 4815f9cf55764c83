"""Preferences that follow a user: the UI language and the defaults of new chats.

They are kept per owner in the store (`Store.preferences`, name to text) and layered
over the operator's settings (environment variables and secrets), which stay the
defaults beneath them: a preference that is not set, or holds a value this version
cannot use (written by hand, or by a version with other choices), leaves the
operator's value in place. A chat's own settings still win over both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import locales

from .config import CACHE_MODES, REASONING_EFFORTS, THINKING_MODES, Settings

MAX_MODEL_CHARS = 200
MAX_SYSTEM_PROMPT_CHARS = 20_000
# A temperature preference meaning "the model's own default": no temperature is sent,
# whatever the operator set. Stored as this text, which a version that does not know
# it cannot read as a number and so ignores (the operator's value applies there).
MODEL_DEFAULT = "default"
_FLAGS = {"true": True, "false": False}


@dataclass(frozen=True)
class Preferences:
    """One owner's preferences; None means "as the operator set it"."""

    language: str | None = None
    model: str | None = None
    mode: str | None = None
    system_prompt: str | None = None
    thinking: str | None = None
    temperature: float | str | None = None  # a number, or MODEL_DEFAULT
    generated_titles: bool | None = None
    reasoning_effort: str | None = None
    model_alias: str | None = None
    web_search: bool | None = None


NAMES = tuple(field.name for field in dataclasses.fields(Preferences))


def read(stored: Mapping[str, str]) -> Preferences:
    """The preferences in `stored` (as the store keeps them), each checked; a value that
    is not valid counts as not set."""
    values = {name: _parse(name, stored.get(name)) for name in NAMES}
    return Preferences(**values)


def to_stored(preferences: Preferences) -> dict[str, str | None]:
    """Every preference as the text the store keeps; None removes it."""
    stored = {}
    for name in NAMES:
        value = getattr(preferences, name)
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, float):
            value = repr(value)
        stored[name] = value
    return stored


# The `Settings` field each preference lies over.
_SETTING = {
    "language": "lang",
    "model": "model",
    "mode": "cache",
    "system_prompt": "system_prompt",
    "thinking": "thinking",
    "temperature": "temperature",
    "generated_titles": "generated_titles",
    "reasoning_effort": "reasoning_effort",
    "model_alias": "model_alias",
    "web_search": "web_search",
}


def apply(settings: Settings, preferences: Preferences) -> Settings:
    """`settings` with the owner's preferences over the operator's defaults."""
    known = {field.name for field in dataclasses.fields(Settings)}
    changes = {
        _SETTING[name]: getattr(preferences, name)
        for name in NAMES
        if getattr(preferences, name) is not None and _SETTING[name] in known
    }
    if changes.get("temperature") == MODEL_DEFAULT:
        changes["temperature"] = None  # the settings' way of sending none
    return dataclasses.replace(settings, **changes)


def operator_defaults(operator: Settings) -> dict[str, str | None]:
    """The operator's settings as the preferences they stand beneath, stored alike. An
    operator who sets no temperature leaves the model's default: a user's choice of it
    is no difference."""
    defaults = to_stored(
        Preferences(**{name: getattr(operator, _SETTING[name], None) for name in NAMES})
    )
    if operator.temperature is None:
        defaults["temperature"] = MODEL_DEFAULT
    return defaults


# Chosen together: an endpoint, the catalogue model it serves and a mode it can run.
_TOGETHER = ("model", "model_alias", "mode")


def differences(chosen: Preferences, defaults: Mapping[str, str | None]) -> dict[str, str | None]:
    """`chosen` as the store keeps it, each value that the operator's `defaults` already
    give removed (None): a preference is what differs from the defaults, which stay
    beneath it, so a later change of the operator's reaches what the user left alone.
    The model, its alias and the mode are kept together when any of them differs, so a
    later default never pairs with a kept one it was not chosen with."""
    stored = to_stored(chosen)
    kept = {name for name, value in stored.items() if value != defaults.get(name)}
    if kept & set(_TOGETHER):
        kept |= set(_TOGETHER)
    return {name: value if name in kept else None for name, value in stored.items()}


def _parse(name: str, raw: str | None):
    if raw is None:
        return None
    parser = _PARSERS[name]
    try:
        return parser(raw)
    except (TypeError, ValueError):
        return None


def _choice(allowed):
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(raw)
        return raw

    return parse


def _short_text(limit: int):
    def parse(raw: str) -> str:
        text = raw.strip()
        if not text or len(text) > limit:
            raise ValueError(raw)
        return text

    return parse


def _system_prompt(raw: str) -> str:
    if len(raw) > MAX_SYSTEM_PROMPT_CHARS:
        raise ValueError("too long")
    return raw  # an empty prompt is a choice: none at all


def _temperature(raw: str) -> float | str:
    if raw == MODEL_DEFAULT:
        return raw
    value = float(raw)
    if not 0.0 <= value <= 2.0:
        raise ValueError(raw)
    return value


def _flag(raw: str) -> bool:
    if raw not in _FLAGS:
        raise ValueError(raw)
    return _FLAGS[raw]


def _language(raw: str) -> str:
    if raw not in locales.languages():
        raise ValueError(raw)
    return raw


_PARSERS = {
    "language": _language,
    "model": _short_text(MAX_MODEL_CHARS),
    "mode": _choice(CACHE_MODES),
    "system_prompt": _system_prompt,
    "thinking": _choice(THINKING_MODES),
    "temperature": _temperature,
    "generated_titles": _flag,
    "reasoning_effort": _choice(REASONING_EFFORTS),
    "model_alias": _short_text(MAX_MODEL_CHARS),
    "web_search": _flag,
}
