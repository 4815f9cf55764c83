"""Full-text search over session titles and message content.

The FTS5 indexes use the trigram tokenizer (see migrations.py), which matches any
substring of three or more characters, so Chinese words are found inside sentences.
User input is never passed to FTS5 as query syntax: every term is quoted, so quotes,
`AND`, `NEAR`, `*` and unbalanced parentheses are searched for literally. Terms shorter
than three characters (such as 天气) cannot use a trigram index and are matched with
`LIKE` instead.
"""

from __future__ import annotations

import sqlite_utils

from .records import SearchHit
from .text import clean_text

MAX_QUERY_CHARS = 200
SNIPPET_RADIUS = 40
_TRIGRAM = 3


def search(db: sqlite_utils.Database, owner: str, query: object, *, limit: int = 20):
    """Up to `limit` sessions of `owner` matching every term of `query`, newest first."""
    terms = _terms(query)
    if not terms:
        return []
    hits: dict[str, SearchHit] = {}
    for hit in _title_hits(db, owner, terms, limit):
        hits.setdefault(hit.session_id, hit)
    if len(hits) < limit:
        for hit in _message_hits(db, owner, terms, limit * 3):
            hits.setdefault(hit.session_id, hit)
            if len(hits) >= limit:
                break
    return list(hits.values())[:limit]


def _terms(query: object) -> list[str]:
    if not isinstance(query, str):
        return []
    query = clean_text(query)[:MAX_QUERY_CHARS]
    return list(dict.fromkeys(query.split()))


def _title_hits(db, owner, terms, limit):
    match, likes = _split(terms)
    source = "chat_session s"
    if match:
        # CROSS JOIN keeps the index lookup first; otherwise SQLite may walk every session
        # in list order and probe the index once per row.
        source = "chat_session_fts CROSS JOIN chat_session s ON s.seq = chat_session_fts.rowid"
    where, params = _where(owner, "chat_session_fts", "s.title", match, likes)
    rows = db.query(
        f"SELECT s.id, s.title FROM {source} WHERE {where} "
        "ORDER BY s.pinned DESC, s.updated_at DESC LIMIT ?",
        [*params, limit],
    )
    return [SearchHit(row["id"], row["title"], _snippet(row["title"], terms)) for row in rows]


def _message_hits(db, owner, terms, limit):
    match, likes = _split(terms)
    if match:
        # Walking the index in rowid order lets SQLite stop at the limit.
        source = "chat_message_fts CROSS JOIN chat_message m ON m.id = chat_message_fts.rowid"
        order = "chat_message_fts.rowid"
    else:
        # Newest messages first, so a common short term stops at the limit early.
        source, order = "chat_message m CROSS", "m.id"
    where, params = _where(owner, "chat_message_fts", "m.content", match, likes)
    rows = db.query(
        f"SELECT m.id, m.session_id, m.content, s.title FROM {source} "
        f"JOIN chat_session s ON s.id = m.session_id WHERE {where} "
        f"ORDER BY {order} DESC LIMIT ?",
        [*params, limit],
    )
    return [
        SearchHit(row["session_id"], row["title"], _snippet(row["content"], terms), row["id"])
        for row in rows
    ]


def _split(terms: list[str]) -> tuple[str | None, list[str]]:
    """An FTS5 query of quoted terms long enough for trigrams, and LIKE patterns for the
    rest. Quoting makes every character literal: `""` is FTS5's escaped quote."""
    long_terms = [term for term in terms if len(term) >= _TRIGRAM]
    match = " AND ".join('"' + term.replace('"', '""') + '"' for term in long_terms) or None
    likes = [
        "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for term in terms
        if len(term) < _TRIGRAM
    ]
    return match, likes


def _where(owner, fts_table, column, match, likes) -> tuple[str, list]:
    where, params = "s.owner = ?", [owner]
    if match:
        where += f" AND {fts_table} MATCH ?"
        params.append(match)
    for pattern in likes:
        where += f" AND {column} LIKE ? ESCAPE '\\'"
        params.append(pattern)
    return where, params


def _snippet(text: str | None, terms: list[str]) -> str:
    text = " ".join((text or "").split())
    lowered = text.lower()
    positions = [lowered.find(term.lower()) for term in terms]
    start = min((p for p in positions if p >= 0), default=0)
    begin = max(start - SNIPPET_RADIUS, 0)
    end = min(start + SNIPPET_RADIUS * 2, len(text))
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + text[begin:end] + suffix
