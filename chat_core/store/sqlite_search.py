"""Search in SQLite: two FTS5 indexes per searchable column (see sqlite_schema).

- A trigram index matches any substring of three or more characters, so Chinese words
  are found inside sentences (the default tokenizer takes a run of CJK text as one word).
- A "chars" index serves terms shorter than a trigram (such as 天气): it holds the text
  with every CJK character as its own token, so a short CJK term is an exact phrase of
  characters, and a short Latin term matches words that start with it.

A query with a long term uses the trigram index and filters its other terms with `LIKE`;
terms of punctuation alone fall back to `LIKE`. User input is never passed to FTS5 as
query syntax: every term is quoted, so quotes, `AND`, `NEAR`, `*` and unbalanced
parentheses are searched for literally. Only final messages are indexed: a reply that
is still streaming is found once it ends.
"""

from __future__ import annotations

from .records import SearchHit
from .rules import like_pattern, merged, snippet
from .sqlite_tokens import CHAR_INDEXES, char_tokens

_TRIGRAM = 3


def search(tx, owner: str, terms: list[str], limit: int) -> list[SearchHit]:
    """Up to `limit` hits of `owner` matching every term (see `merged`)."""
    return merged(
        _title_hits(tx, owner, terms, limit), _message_hits(tx, owner, terms, limit), limit
    )


def _title_hits(tx, owner, terms, limit):
    index, match, likes = _plan(terms, "chat_session")
    source = "chat_session s"
    if index:
        # CROSS JOIN keeps the index lookup first; otherwise SQLite may walk every session
        # in list order and probe the index once per row.
        source = f"{index} CROSS JOIN chat_session s ON s.seq = {index}.rowid"
    where, params = _where(owner, index, "s.title", match, likes)
    rows = tx.query(
        f"SELECT s.id, s.title FROM {source} WHERE {where} "
        "ORDER BY s.pinned DESC, s.updated_at DESC LIMIT ?",
        [*params, limit],
    )
    return [SearchHit(row["id"], row["title"], snippet(row["title"], terms)) for row in rows]


def _message_hits(tx, owner, terms, limit):
    index, match, likes = _plan(terms, "chat_message")
    if index:
        # Walking the index in rowid order lets SQLite stop at the limit.
        source = f"{index} CROSS JOIN chat_message m ON m.id = {index}.rowid"
        order = f"{index}.rowid"
    else:
        # Newest messages first, so a common term stops at the limit early.
        source, order = "chat_message m CROSS", "m.id"
    where, params = _where(owner, index, "m.content", match, likes)
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
    """Which index to use, its MATCH expression, and LIKE patterns for the other terms."""
    long_terms = [term for term in terms if len(term) >= _TRIGRAM]
    if long_terms:
        match = " AND ".join(_quoted(term) for term in long_terms)
        rest = [term for term in terms if len(term) < _TRIGRAM]
        return f"{table}_fts", match, [like_pattern(term) for term in rest]
    wordy = [term for term in terms if any(ch.isalnum() for ch in term)]
    if wordy:
        match = " AND ".join(_quoted(char_tokens(term).strip()) + " *" for term in wordy)
        rest = [term for term in terms if term not in wordy]
        return CHAR_INDEXES[table][0], match, [like_pattern(term) for term in rest]
    return None, None, [like_pattern(term) for term in terms]


def _quoted(text: str) -> str:
    """An FTS5 string: every character literal (`""` is an escaped quote)."""
    return '"' + text.replace('"', '""') + '"'


def _where(owner, index, column, match, likes) -> tuple[str, list]:
    where, params = "s.owner = ?", [owner]
    if match:
        where += f" AND {index} MATCH ?"
        params.append(match)
    for pattern in likes:
        where += f" AND {column} LIKE ? ESCAPE '\\'"
        params.append(pattern)
    return where, params
