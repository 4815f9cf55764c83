"""Full-text search over session titles and message content.

Two FTS5 indexes per searchable column:
- a trigram index, which matches any substring of three or more characters, so Chinese
  words are found inside sentences (the default tokenizer takes a run of CJK text as
  one word);
- a "chars" index for queries shorter than three characters, which trigrams cannot
  match (such as 天气): the text is stored with every CJK character as its own token,
  so a short CJK term is an exact phrase of characters, and a short Latin term matches
  words that start with it.
A query that has a long term uses the trigram index and filters its other terms with
`LIKE`; terms of punctuation alone fall back to `LIKE`. User input is never passed to
FTS5 as query syntax: every term is quoted, so quotes, `AND`, `NEAR`, `*` and
unbalanced parentheses are searched for literally.
"""

from __future__ import annotations

import re

import sqlite_utils

from .records import SearchHit
from .text import clean_text

MAX_QUERY_CHARS = 200
SNIPPET_RADIUS = 40
_TRIGRAM = 3
# Han, kana, Hangul and CJK punctuation-free blocks: scripts written without spaces.
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])")
# (table, column, rowid column) of each base table and its short-term index.
CHAR_INDEXES = {
    "chat_message": ("chat_message_chars", "content", "id"),
    "chat_session": ("chat_session_chars", "title", "seq"),
}


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
    index, match, likes = _plan(terms, "chat_session")
    source = "chat_session s"
    if index:
        # CROSS JOIN keeps the index lookup first; otherwise SQLite may walk every session
        # in list order and probe the index once per row.
        source = f"{index} CROSS JOIN chat_session s ON s.seq = {index}.rowid"
    where, params = _where(owner, index, "s.title", match, likes)
    rows = db.query(
        f"SELECT s.id, s.title FROM {source} WHERE {where} "
        "ORDER BY s.pinned DESC, s.updated_at DESC LIMIT ?",
        [*params, limit],
    )
    return [SearchHit(row["id"], row["title"], _snippet(row["title"], terms)) for row in rows]


def _message_hits(db, owner, terms, limit):
    index, match, likes = _plan(terms, "chat_message")
    if index:
        # Walking the index in rowid order lets SQLite stop at the limit.
        source = f"{index} CROSS JOIN chat_message m ON m.id = {index}.rowid"
        order = f"{index}.rowid"
    else:
        # Newest messages first, so a common term stops at the limit early.
        source, order = "chat_message m CROSS", "m.id"
    where, params = _where(owner, index, "m.content", match, likes)
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


def _plan(terms: list[str], table: str) -> tuple[str | None, str | None, list[str]]:
    """Which index to use, its MATCH expression, and LIKE patterns for the other terms."""
    long_terms = [term for term in terms if len(term) >= _TRIGRAM]
    if long_terms:
        match = " AND ".join(_quoted(term) for term in long_terms)
        rest = [term for term in terms if len(term) < _TRIGRAM]
        return f"{table}_fts", match, _likes(rest)
    wordy = [term for term in terms if any(ch.isalnum() for ch in term)]
    if wordy:
        match = " AND ".join(_quoted(char_tokens(term).strip()) + " *" for term in wordy)
        rest = [term for term in terms if term not in wordy]
        return CHAR_INDEXES[table][0], match, _likes(rest)
    return None, None, _likes(terms)


def _quoted(text: str) -> str:
    """An FTS5 string: every character literal (`""` is an escaped quote)."""
    return '"' + text.replace('"', '""') + '"'


def _likes(terms: list[str]) -> list[str]:
    return [
        "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for term in terms
    ]


def _where(owner, index, column, match, likes) -> tuple[str, list]:
    where, params = "s.owner = ?", [owner]
    if match:
        where += f" AND {index} MATCH ?"
        params.append(match)
    for pattern in likes:
        where += f" AND {column} LIKE ? ESCAPE '\\'"
        params.append(pattern)
    return where, params


# --- the short-term ("chars") index, kept up to date by the store ----------------------


def char_tokens(text: str | None) -> str:
    """`text` with each CJK character set apart, so each becomes its own token."""
    return _CJK.sub(r" \1 ", text or "")


def index_message(db: sqlite_utils.Database, message_id: int, content: str) -> None:
    _reindex(db, "chat_message_chars", "content", message_id, content)


def index_title(db: sqlite_utils.Database, session_id: str, title: str | None) -> None:
    row = db.execute("SELECT seq FROM chat_session WHERE id = ?", [session_id]).fetchone()
    if row:
        _reindex(db, "chat_session_chars", "title", row[0], title)


def rebuild_char_indexes(db: sqlite_utils.Database) -> None:
    """Fill the short-term indexes from scratch (after a migration or a bulk load)."""
    for table, (index, column, key) in CHAR_INDEXES.items():
        db.execute(f"DELETE FROM {index}")
        rows = db.execute(f"SELECT {key}, {column} FROM {table}")
        db.conn.executemany(
            f"INSERT INTO {index} (rowid, {column}) VALUES (?, ?)",
            ((rowid, char_tokens(text)) for rowid, text in rows),
        )


def _reindex(db, index: str, column: str, rowid: int, text: str | None) -> None:
    db.execute(f"DELETE FROM {index} WHERE rowid = ?", [rowid])
    db.execute(f"INSERT INTO {index} (rowid, {column}) VALUES (?, ?)", [rowid, char_tokens(text)])


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
