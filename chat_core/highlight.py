"""Search snippets with the matching text marked, for Streamlit's Markdown.

The snippet is user (or model) text, so every part of it is shown literally
(`markdown.literal`); only the marks around the matches are Markdown.
"""

from __future__ import annotations

import re

from .markdown import literal

MARK = ":orange-background[{}]"


def highlighted(text: str, terms: list[str]) -> str:
    """`text` as Markdown with every case-insensitive occurrence of a term marked."""
    words = sorted({term for term in terms if term}, key=len, reverse=True)
    if not words:
        return literal(text)
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
    parts, position = [], 0
    for match in pattern.finditer(text):
        parts.append(literal(text[position : match.start()]))
        parts.append(MARK.format(literal(match.group())))
        position = match.end()
    parts.append(literal(text[position:]))
    return "".join(parts)
