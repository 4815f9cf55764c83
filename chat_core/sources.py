"""Web pages a reply cites (from a web search), cleaned before they are kept or shown:
only http(s) links, short titles, a bounded number."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from .text import clean_text

MAX_SOURCES = 50
MAX_URL_CHARS = 2048
MAX_TITLE_CHARS = 300
MAX_SITE_CHARS = 100


def clean_sources(items: Iterable[Any]) -> list[dict[str, str]]:
    """The usable sources of `items`, in order, each `{"url", "title"[, "site"]}`;
    anything else (another scheme, such as `javascript:`, a missing or huge URL, a value
    that is not an object, a URL holding whitespace, a control character or a
    surrogate) is dropped, and so are repeats of a URL."""
    sources: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in items:
        source = _source(item)
        if source is not None and source["url"] not in seen:
            seen.add(source["url"])
            sources.append(source)
        if len(sources) == MAX_SOURCES:
            break
    return sources


def _source(item: Any) -> dict[str, str] | None:
    if not isinstance(item, dict):
        return None
    url = item.get("url")
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        return None
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or not _is_link_text(url):
        return None
    title = item.get("title")
    title = clean_text(title).strip()[:MAX_TITLE_CHARS] if isinstance(title, str) else ""
    source = {"url": url, "title": title or url}
    site = item.get("site")
    if isinstance(site, str) and site.strip():
        source["site"] = clean_text(site).strip()[:MAX_SITE_CHARS]
    return source


def _is_link_text(url: str) -> bool:
    """No whitespace, control character (NUL among them) or surrogate: a URL holding
    one is no link, and a lone surrogate cannot even be written as UTF-8."""
    return not any(c.isspace() or unicodedata.category(c) in ("Cc", "Cs") for c in url)
