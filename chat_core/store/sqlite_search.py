"""Search in SQLite: two FTS5 indexes per searchable column (see sqlite_schema).

- A trigram index matches any substring of three or more characters, so Chinese words
  are found inside sentences (the default tokenizer takes a run of CJK text as one word).
- A "chars" index serves terms shorter than a trigram (such as 天气): it holds the text
  with every CJK character as its own token, so a short CJK term is an exact phrase of
  characters, and any other short term matches words that start with it.

A query walks one index, newest first, and stops at the limit: the chars index when its
short terms match few rows, else the trigram index, so a term found in nearly every
message does not lead the walk. The other terms are checked in each row's text, and when
the trigram index is walked, a two-character term that starts with a letter or digit
(outside CJK) is also checked where a word starts, as the chars index parts words. The
chars index only narrows: it drops punctuation (C# would find "cats"), strips accents
and lets separators part a term's characters, so each short term is also checked in the
text, as PostgreSQL matches it. A term no index narrows (see `narrows`: a letter alone,
one or two marks or emoji) is only looked for, anywhere, in the rows the other terms
found; a query of such terms alone finds nothing rather than read every message. `LIKE`
ignores case for ASCII letters only, so a term with other cased letters (мы, É) is
checked by a Python function instead. User input is never passed to FTS5 as query
syntax: every term is quoted, so quotes, `AND`, `NEAR`, `*` and unbalanced parentheses
are searched for literally. Only final messages are indexed: a reply that is still
streaming is found once it ends.
"""

from __future__ import annotations

from typing import NamedTuple

from ..search_typing import narrows
from .records import SearchHit
from .rules import folded, like_pattern, merged, snippet
from .sqlite_tokens import (
    CHAR_INDEXES,
    HOLDS_LOWERED_FUNCTION,
    STARTS_WORD_FUNCTION,
    char_tokens,
    stands_alone,
)

_TRIGRAM = 3
# Short terms matching fewer rows than this lead the walk: checking that many rows costs
# a few milliseconds, while walking a common term's rows soon meets the others.
_FEW_ROWS = 2_000


class _Plan(NamedTuple):
    index: str  # the index walked
    match: str
    checked: list[str]  # terms each row's text must hold
    word_starts: list[str]  # terms that must also start a word there


def search(tx, owner: str, terms: list[str], limit: int) -> list[SearchHit]:
    """Up to `limit` hits of `owner` matching every term (see `merged`)."""
    return merged(
        _title_hits(tx, owner, terms, limit), _message_hits(tx, owner, terms, limit), limit
    )


def _title_hits(tx, owner, terms, limit):
    plan = _plan(tx, terms, "chat_session")
    if plan is None:
        return []
    # CROSS JOIN keeps the index lookup first; otherwise SQLite may walk every session
    # in list order and probe the index once per row.
    source = f"{plan.index} CROSS JOIN chat_session s ON s.seq = {plan.index}.rowid"
    where, params = _where(owner, plan, "s.title")
    rows = tx.query(
        f"SELECT s.id, s.title FROM {source} WHERE {where} "
        "ORDER BY s.pinned DESC, s.updated_at DESC LIMIT ?",
        [*params, limit],
    )
    return [SearchHit(row["id"], row["title"], snippet(row["title"], terms)) for row in rows]


def _message_hits(tx, owner, terms, limit):
    plan = _plan(tx, terms, "chat_message")
    if plan is None:
        return []
    # Walking the index in rowid order lets SQLite stop at the limit.
    source = f"{plan.index} CROSS JOIN chat_message m ON m.id = {plan.index}.rowid"
    where, params = _where(owner, plan, "m.content")
    rows = tx.query(
        f"SELECT m.id, m.session_id, m.content, s.title FROM {source} "
        f"JOIN chat_session s ON s.id = m.session_id "
        f"WHERE {where} AND m.status <> 'streaming' ORDER BY {plan.index}.rowid DESC LIMIT ?",
        [*params, limit],
    )
    return [
        SearchHit(row["session_id"], row["title"], snippet(row["content"], terms), row["id"])
        for row in rows
    ]


def _plan(tx, terms: list[str], table: str) -> _Plan | None:
    """Which index to walk and which terms to check; None when no term narrows the
    search."""
    long_terms = [term for term in terms if len(term) >= _TRIGRAM]
    short_terms = [term for term in terms if len(term) < _TRIGRAM and narrows(term)]
    if short_terms:
        chars = CHAR_INDEXES[table][0], " AND ".join(_char_phrase(t) for t in short_terms)
        if not long_terms or _count_up_to(tx, *chars, _FEW_ROWS) < _FEW_ROWS:
            return _Plan(*chars, terms, [])
    if not long_terms:
        return None
    # The trigram index matches a long term exactly, ignoring case in any script.
    trigram = " AND ".join(_quoted(term) for term in long_terms)
    others = [term for term in terms if term not in long_terms]
    # Walked through another index, a short term must start a word as the chars index
    # would have it.
    return _Plan(f"{table}_fts", trigram, others, [t for t in others if _word_like(t)])


def _count_up_to(tx, index: str, match: str, most: int) -> int:
    (row,) = tx.query(
        f"SELECT count(*) AS n FROM (SELECT 1 FROM {index} WHERE {index} MATCH ? LIMIT ?)",
        [match, most],
    )
    return row["n"]


def _char_phrase(term: str) -> str:
    """A short term's query of the chars index: its words, the last one as a prefix,
    unless ASCII punctuation ends it (C# then skips every word that starts with c). A
    character before a CJK one may end a longer word (5 in 25日): only the CJK one is
    looked up."""
    if len(term) == 2 and stands_alone(term[1]) and not stands_alone(term[0]):
        term = term[1:]
    phrase = _quoted(char_tokens(term).strip())
    last = term[-1]
    return phrase if last.isascii() and not last.isalnum() else phrase + " *"


def _quoted(text: str) -> str:
    """An FTS5 string: every character literal (`""` is an escaped quote)."""
    return '"' + text.replace('"', '""') + '"'


def _where(owner, plan: _Plan, column) -> tuple[str, list]:
    where, params = f"s.owner = ? AND {plan.index} MATCH ?", [owner, plan.match]
    # Every term's LIKE before any word-start check: SQLite tests them in order, and a
    # Python function costs more per row.
    conditions = [_holds(column, term) for term in plan.checked]
    conditions += [_starts_word(column, term) for term in plan.word_starts]
    for condition, param in conditions:
        where += f" AND {condition}"
        params.append(param)
    return where, params


def _word_like(term: str) -> bool:
    """Whether `term` must start a word: a short term the chars index narrows that
    starts with a letter or digit, outside CJK (held a character at a time). A letter
    alone is looked for anywhere: that is cheap in SQL, where a Python check of every
    row that holds it would read many."""
    if len(term) >= _TRIGRAM or not narrows(term) or not term[0].isalnum():
        return False
    return not any(map(stands_alone, term))


def _starts_word(column: str, term: str) -> tuple[str, str]:
    return f"{STARTS_WORD_FUNCTION}({column}, ?)", folded(term)


def _holds(column: str, term: str) -> tuple[str, str]:
    """SQL true when `column` holds `term`, ignoring case as PostgreSQL's ILIKE does."""
    if any(not ch.isascii() and ch.lower() != ch.upper() for ch in term):
        return f"{HOLDS_LOWERED_FUNCTION}({column}, ?)", folded(term)
    return f"{column} LIKE ? ESCAPE '\\'", like_pattern(term)
