"""Rules of the layout that code review would otherwise have to remember."""

import ast
import re
from pathlib import Path

from chat_core.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_chat_core_never_imports_streamlit():
    offenders = [
        p for p in (ROOT / "chat_core").rglob("*.py") if "streamlit" in imported_modules(p)
    ]
    assert offenders == []


def test_only_the_ark_package_imports_the_sdk():
    offenders = [
        p.relative_to(ROOT)
        for folder in ("chat_core", "ui")
        for p in (ROOT / folder).rglob("*.py")
        if "volcenginesdkarkruntime" in imported_modules(p) and "ark" not in p.parent.name
    ]
    offenders += [
        p for p in [ROOT / "streamlit_app.py"] if "volcenginesdkarkruntime" in imported_modules(p)
    ]
    assert offenders == []


def test_ui_reaches_the_database_only_through_the_store_contract():
    backend_modules = re.compile(r"chat_core\.store\.(sqlite|postgres|sql\b|first_version)")
    offenders = [
        p.name
        for p in [*(ROOT / "ui").rglob("*.py"), ROOT / "streamlit_app.py"]
        if backend_modules.search(p.read_text())
        or re.search(r"\.backend\b|sqlite3|psycopg", p.read_text())
    ]
    assert offenders == []


def test_ui_has_no_sql():
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b\s")
    offenders = [p for p in (ROOT / "ui").rglob("*.py") if sql.search(p.read_text())]
    assert offenders == []


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in SETTINGS if f"`{name}`" not in readme]
    assert missing == []


def test_every_setting_read_by_config_is_listed():
    source = (ROOT / "chat_core" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'source\.\w+\("([A-Z_]+)"', source))
    assert read == set(SETTINGS)


def test_every_ui_text_is_used():
    import locales

    source = "".join(p.read_text() for p in (ROOT / "ui").glob("*.py") if p.name != "text.py")
    # Looked up by a computed key.
    prefixes = ("group_", "cache_", "thinking_", "effort_", "unavailable_")
    quoted = ('"{}"', "'{}'")
    keys = [k.removeprefix("ui.") for k in locales.catalogue("en") if k.startswith("ui.")]
    unused = [
        k
        for k in keys
        if not any(q.format(k) in source for q in quoted) and not k.startswith(prefixes)
    ]
    assert unused == []


def test_the_core_holds_no_translated_text():
    """Every sentence a user reads lives in locales/; the core raises codes. The frozen
    sentences older versions stored are the one exception (they are data to map)."""
    cjk = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and Han: words, not punctuation
    offenders = []
    for path in (ROOT / "chat_core").rglob("*.py"):
        if path.name == "legacy_errors.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        offenders += [
            f"{path.name}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and cjk.search(node.value)
        ]
    assert offenders == []


def _is_fragment(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target) == "st.fragment"


def _guards_everything(function: ast.FunctionDef) -> bool:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return (
        len(body) == 1
        and isinstance(body[0], ast.With)
        and any(
            isinstance(item.context_expr, ast.Call)
            and ast.unparse(item.context_expr.func) == "feedback.guard"
            for item in body[0].items
        )
    )


def test_every_fragment_runs_inside_its_own_error_guard():
    """A widget in a fragment reruns the fragment alone, outside the page's guard: an
    error raised there must still be a message, not Streamlit's exception box."""
    sources = [*(ROOT / "ui").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py")]
    fragments = {
        f"{path.relative_to(ROOT)}:{node.name}": _guards_everything(node)
        for path in [*sources, ROOT / "streamlit_app.py"]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and any(map(_is_fragment, node.decorator_list))
    }
    assert "ui/chat_view.py:chat_area" in fragments  # the scan finds fragments
    assert [name for name, guarded in fragments.items() if not guarded] == []


def test_every_error_the_page_shows_is_drawn_by_feedback():
    """One way to report a `ChatError`: queued (`feedback.error`), in place
    (`feedback.error_here`) or by a guard, all rendered by ui/feedback.py."""
    sources = [*(ROOT / "ui").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py")]
    callers = {
        str(path.relative_to(ROOT))
        for path in [*sources, ROOT / "streamlit_app.py"]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("error_message")
    }
    assert callers == {"ui/feedback.py"}
