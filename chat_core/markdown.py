"""Preparing model output for Streamlit's Markdown renderer (which never runs raw HTML).

Models often write LaTeX as `\\( … \\)` and `\\[ … \\]`; Streamlit renders `$ … $` and
`$$ … $$`. Code (fenced or inline) is left exactly as it is.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"(```.*?(?:```|$)|`[^`\n]*`)", re.DOTALL)
_DISPLAY = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)
_INLINE = re.compile(r"\\\((.+?)\\\)", re.DOTALL)
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def for_display(text: str) -> str:
    """`text` with LaTeX delimiters converted outside code."""
    parts = _CODE.split(text)
    for index in range(0, len(parts), 2):  # even parts are outside code
        part = _DISPLAY.sub(lambda m: f"$${m.group(1)}$$", parts[index])
        parts[index] = _INLINE.sub(lambda m: f"${m.group(1).strip()}$", part)
    return "".join(parts)


def escape(text: str) -> str:
    """Plain text that Markdown shows literally (for titles and search snippets)."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
