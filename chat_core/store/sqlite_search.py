"""Search in SQLite: two FTS5 indexes per searchable column (see sqlite_schema).

- A trigram index matches any substring of three or more characters, so Chinese words
  are found inside sentences (the default tokenizer takes a run of CJK text as one word).
- A "chars" index serves terms shorter than a trigram (such as 天气): it holds the text
  with every CJK character as its own token, so a short CJK term is an exact phrase of
  characters, and a short Latin term matches words that start with it.

A query with a long term uses the trigram index and filters its other terms with `LIKE`;
terms of punctuation alone fall back to `LIKE`. The "chars" index only narrows the
rows: it drops punctuation (C# would find "cats"), strips accents and lets separators
part a term's characters, so each short term is also checked in the text, as PostgreSQL
matches it. `LIKE` ignores case for ASCII letters only, so a term with other cased
letters (мы, É) is checked by a Python function instead. User input is never passed to
FTS5 as query syntax: every term is quoted, so quotes, `AND`, `NEAR`, `*` and unbalanced
parentheses are searched for literally. Only final messages are indexed: a reply that
is still streaming is found once it ends.
"""

from __future__ import annotations

from .records import SearchHit
from .rules import folded, like_pattern, merged, snippet
from .sqlite_tokens import CHAR_INDEXES, HOLDS_LOWERED_FUNCTION, char_tokens

_TRIGRAM = 3


def search(tx, owner: str, terms: list[str], limit: int) -> list[SearchHit]:
    """Up to `limit` hits of `owner` matching every term (see `merged`)."""
    return merged(
        _title_hits(tx, owner, terms, limit), _message_hits(tx, owner, terms, limit), limit
    )


def _title_hits(tx, owner, terms, limit):
    index, match, checked = _plan(terms, "chat_session")
    source = "chat_session s"
    if index:
        # CROSS JOIN keeps the index lookup first; otherwise SQLite may walk every session
        # in list order and probe the index once per row.
        source = f"{index} CROSS JOIN chat_session s ON s.seq = {index}.rowid"
    where, params = _where(owner, index, "s.title", match, checked)
    rows = tx.query(
        f"SELECT s.id, s.title FROM {source} WHERE {where} "
        "ORDER BY s.pinned DESC, s.updated_at DESC LIMIT ?",
        [*params, limit],
    )
    return [SearchHit(row["id"], row["title"], snippet(row["title"], terms)) for row in rows]


def _message_hits(tx, owner, terms, limit):
    index, match, checked = _plan(terms, "chat_message")
    if index:
        # Walking the index in rowid order lets SQLite stop at the limit.
        source = f"{index} CROSS JOIN chat_message m ON m.id = {index}.rowid"
        order = f"{index}.rowid"
    else:
        # Newest messages first, so a common term stops at the limit early.
        source, order = "chat_message m CROSS", "m.id"
    where, params = _where(owner, index, "m.content", match, checked)
    rows = tx.query(
        f"SELECT m.id, m.session_id, m.content, s.title FROM {source} "
        f"JOIN chat_session s ON s.id = m.session_id "
        f"WHERE {where} AND m.status <> 'streaming' ORDER BY {order} DESC LIMIT ?",
        [*params, limit],
    )
    return [
        SearchHit(row["session_id"], row["title"], snippet(row["content"], terms), row["id"])
        for row in rows
    ]


def _plan(terms: list[str], table: str) -> tuple[str | None, str | None, list[str]]:
    """Which index to use, its MATCH expression, and the terms to check in the text."""
    long_terms = [term for term in terms if len(term) >= _TRIGRAM]
    if long_terms:
        # The trigram index matches a long term exactly, ignoring case in any script.
        match = " AND ".join(_quoted(term) for term in long_terms)
        return f"{table}_fts", match, [term for term in terms if len(term) < _TRIGRAM]
    wordy = [term for term in terms if any(ch.isalnum() for ch in term)]
    if wordy:
        match = " AND ".join(_char_phrase(term) for term in wordy)
        return CHAR_INDEXES[table][0], match, terms
    return None, None, terms


def _char_phrase(term: str) -> str:
    """A short term's query of the chars index: its words, the last one as a prefix,
    unless ASCII punctuation ends it (C# then skips every word that starts with c)."""
    phrase = _quoted(char_tokens(term).strip())
    last = term[-1]
    return phrase if last.isascii() and not last.isalnum() else phrase + " *"


def _quoted(text: str) -> str:
    """An FTS5 string: every character literal (`""` is an escaped quote)."""
    return '"' + text.replace('"', '""') + '"'


def _where(owner, index, column, match, checked) -> tuple[str, list]:
    where, params = "s.owner = ?", [owner]
    if match:
        where += f" AND {index} MATCH ?"
        params.append(match)
    for term in checked:
        condition, param = _holds(column, term)
        where += f" AND {condition}"
        params.append(param)
    return where, params


def _holds(column: str, term: str) -> tuple[str, str]:
    """SQL true when `column` holds `term`, ignoring case as PostgreSQL's ILIKE does."""
    if any(not ch.isascii() and ch.lower() != ch.upper() for ch in term):
        return f"{HOLDS_LOWERED_FUNCTION}({column}, ?)", folded(term)
    return f"{column} LIKE ? ESCAPE '\\'", like_pattern(term)
