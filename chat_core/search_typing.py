"""Search as you type: when a query typed so far is worth sending to the store."""

from __future__ import annotations

import re

# Kana, CJK ideographs and Hangul: scripts in which one character is a word (the
# characters the SQLite search index holds one by one, see store.sqlite_tokens).
_WORD_CHARACTER = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def worth_searching(query: str) -> bool:
    """Whether to search for `query` while it is typed: once one of its terms narrows
    the search (see `narrows`). A letter or digit alone matches nearly every word that
    starts with it, too many hits to help, and one or two marks or emoji are in no index,
    so the search waits for one more character. A single CJK character is a word and is
    searched at once."""
    return any(narrows(term) for term in query.split())


def narrows(term: str) -> bool:
    """Whether a search index can find the few messages that may hold `term`: one of
    three characters or more, of two with a letter or digit, or a CJK character. Other
    terms (a letter alone, one or two marks or emoji) match almost anything or no index
    holds them, so they are only checked in the messages other terms found."""
    if len(term) >= 3 or _WORD_CHARACTER.search(term):
        return True
    return len(term) == 2 and any(ch.isalnum() for ch in term)
