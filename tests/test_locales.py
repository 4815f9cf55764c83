"""The catalogues in locales/: one per language with the same keys, a text for every
error code the core can raise, and rendering that never raises."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import locales
from chat_core import errors
from chat_core.store import copy as copy_command
from chat_core.store import legacy_errors
from ui.text import language_for

ROOT = Path(__file__).resolve().parent.parent
GENERIC = {"unknown"}  # shown for a code the catalogues do not know


def error_classes() -> set[str]:
    """Names of every `ChatError` class (the copy command adds its own)."""
    assert copy_command.CopyError
    found, pending = set(), [errors.ChatError]
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending += cls.__subclasses__()
    return found


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def raised_codes() -> dict[str, str]:
    """Every error code written in the core, with where: the first argument of a
    `SomeError("code", ...)` call, a `(SomeError, "code")` template pair, or a code
    stored without an exception (`{"error_code": "code"}`)."""
    classes = error_classes()
    codes: dict[str, str] = {}
    for path in (ROOT / "chat_core").rglob("*.py"):
        if path.name == "legacy_errors.py":  # data: sentences of older versions
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) in classes and node.args:
                first = node.args[0]
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                if _name(node.elts[0]) not in classes:
                    continue
                first = node.elts[1]
            elif isinstance(node, ast.Dict):
                stored = [
                    value
                    for key, value in zip(node.keys, node.values, strict=True)
                    if isinstance(key, ast.Constant) and key.value == "error_code"
                ]
                if not stored:
                    continue
                first = stored[0]
            else:
                continue
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes[first.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return codes


def dynamic_constructions() -> list[str]:
    """`ChatError`s built with a code that is not written in place (the scan above
    cannot see those). Only `errors_map` does, from its template pairs."""
    classes = error_classes()
    found = []
    for path in (ROOT / "chat_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            built = _name(node.func) in classes or _name(node.func) == "kind"
            if built and not isinstance(node.args[0], ast.Constant):
                found.append(f"{path.name}:{_name(node.func)}")
    return found


def test_the_scan_finds_the_codes_it_should():
    codes = raised_codes()
    assert len(codes) > 60
    for code in ("message_too_long", "rate_limited", "database_busy", "copy_stopped"):
        assert code in codes
    assert set(dynamic_constructions()) == {"errors_map.py:kind"}


def test_every_code_the_core_raises_has_a_text_in_every_catalogue():
    for lang in locales.languages():
        known = {k.removeprefix("errors.") for k in locales.catalogue(lang) if k[:7] == "errors."}
        missing = {code: where for code, where in raised_codes().items() if code not in known}
        assert missing == {}, lang


def test_every_error_text_is_for_a_code_the_core_raises():
    assert locales.error_codes() - set(raised_codes()) == GENERIC


def test_every_code_of_an_old_sentence_has_a_text():
    mapped = set(legacy_errors.SENTENCES.values()) | {c for _, c in legacy_errors.PATTERNS}
    assert mapped <= locales.error_codes()


def test_every_code_is_snake_case():
    assert all(errors.is_error_code(code) for code in raised_codes())
    with pytest.raises(ValueError):
        errors.ChatError("The message is empty.")


def test_the_catalogues_have_identical_keys_and_no_empty_text():
    english = set(locales.catalogue("en"))
    assert locales.languages()[0] == "en" and len(locales.languages()) >= 2
    for lang in locales.languages():
        assert set(locales.catalogue(lang)) == english, lang
        assert all(value.strip() for value in locales.catalogue(lang).values()), lang


@pytest.mark.parametrize("lang", locales.languages())
def test_rendering_never_raises_on_missing_or_odd_parameters(lang):
    odd = {"length": "many", "limit": None, "allowed": [], "cause": {"code": 5}, "size": [1]}
    for code in locales.error_codes():
        for params in ({}, odd, None, ["not", "a", "mapping"]):
            assert locales.error_text(lang, code, params)
    assert locales.error_text(lang, "no_such_code").strip()


def test_a_missing_parameter_renders_as_nothing():
    text = locales.error_text("en", "message_too_long", {"limit": 100})
    assert text == "The message is too long:  characters, the limit is 100."
    assert locales.error_text("en", "request_rejected") == "The model service rejected the request."


def test_parameters_lists_causes_and_the_request_id():
    params = {"name": "ARK_CACHE", "value": "x", "allowed": ["off", "context"]}
    assert "off, context" in locales.error_text("en", "setting_not_choice", params)
    assert "off、context" in locales.error_text("zh", "setting_not_choice", params)
    cause = errors.DatabaseLockedError("database_busy").as_dict()
    stopped = locales.error_text("en", "copy_stopped", {"cause": cause})
    assert stopped.startswith("The copy stopped: The chat database is busy.")
    limited = errors.RateLimitError("rate_limited", request_id="r-1")
    assert locales.describe("en", limited).endswith(" (request id: r-1)")
    assert locales.describe("zh", limited).endswith("（请求 ID：r-1）")


def test_quote_applies_to_parameters_not_to_the_catalogue():
    shout = str.upper
    text = locales.error_text(
        "en", "endpoint_required", {"model": "m", "request_id": "r"}, quote=shout
    )
    assert "model id “M”" in text and "Context caching" in text and text.endswith("(request id: R)")


def test_str_of_an_error_is_its_code_and_parameters_for_logs():
    error = errors.InvalidInputError("message_too_long", length=12, limit=10)
    assert str(error) == "message_too_long(length=12, limit=10)"
    assert error.as_dict() == {"code": "message_too_long", "params": {"length": 12, "limit": 10}}
    assert str(errors.RateLimitError("rate_limited", request_id="r")) == (
        "rate_limited [request id r]"
    )


def test_adding_a_language_is_adding_a_catalogue(tmp_path, monkeypatch):
    for source in locales.FOLDER.glob("*.toml"):
        shutil.copy(source, tmp_path)
    french = (tmp_path / "en.toml").read_text(encoding="utf-8")
    french = french.replace('language_name = "English"', 'language_name = "Français"')
    french = french.replace('new_chat = "New chat"', 'new_chat = "Nouvelle discussion"')
    (tmp_path / "fr.toml").write_text(french, encoding="utf-8")
    monkeypatch.setattr(locales, "FOLDER", tmp_path)
    locales.languages.cache_clear()
    locales.catalogue.cache_clear()
    try:
        assert locales.languages() == ("en", "fr", "zh")
        assert locales.language_name("fr") == "Français"
        assert language_for("fr-FR") == "fr" and language_for("de-DE") == "en"
        assert locales.text("fr", "ui.new_chat") == "Nouvelle discussion"
    finally:
        monkeypatch.undo()
        locales.languages.cache_clear()
        locales.catalogue.cache_clear()


def test_language_choice():
    assert language_for("zh-CN") == "zh" and language_for("zh_TW") == "zh"
    assert language_for("en-GB") == "en" and language_for(None) == "en"
    assert language_for("zh-CN", chosen="en") == "en"
    assert language_for("en-US", chosen="xx") == "en"
