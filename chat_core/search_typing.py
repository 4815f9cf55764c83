"""Search as you type: when a query typed so far is worth sending to the store."""

from __future__ import annotations

import re

# Kana, CJK ideographs and Hangul: scripts in which one character is a word.
_WORD_CHARACTER = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def worth_searching(query: str) -> bool:
    """Whether to search for `query` while it is typed. A single letter, digit or mark
    matches nearly every word that starts with it: too many hits to help, and the
    slowest search there is, so the search waits for a second character. A single CJK
    character is a word and is searched at once."""
    typed = "".join(query.split())
    if len(typed) >= 2:
        return True
    return bool(_WORD_CHARACTER.fullmatch(typed))
