"""What the SQLite backend needs on every connection and at every open, kept apart
from the migrations: those import sqlite-utils, and with it pandas and numpy, which an
app that only opens its file need not wait for.
"""

from __future__ import annotations

import re
import unicodedata

from .rules import folded

# (short-term index, column, rowid column) of each searchable table.
CHAR_INDEXES = {
    "chat_message": ("chat_message_chars", "content", "id"),
    "chat_session": ("chat_session_chars", "title", "seq"),
}
# Scripts written without spaces (Han, kana, Hangul): each character becomes a token.
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])")
CHAR_TOKENS_FUNCTION = "chat_char_tokens"
HOLDS_LOWERED_FUNCTION = "chat_holds_lowered"
STARTS_WORD_FUNCTION = "chat_starts_word"
# What the chars index's tokenizer (unicode61) keeps in a word: letters, digits, marks
# and private-use characters; anything else parts words.
_WORD_CATEGORIES = ("L", "N", "M", "Co")


def char_tokens(text: object) -> str:
    """`text` with each CJK character set apart, so each becomes its own token."""
    # Called from triggers: it must never raise, whatever a column holds.
    return _CJK.sub(r" \1 ", text if isinstance(text, str) else str(text or ""))


def stands_alone(char: str) -> bool:
    """Whether `char_tokens` makes `char` a token of its own (a CJK character)."""
    return _CJK.fullmatch(char) is not None


def register_functions(conn) -> None:
    """SQL functions the search triggers and queries call: every connection has them."""
    conn.create_function(CHAR_TOKENS_FUNCTION, 1, char_tokens, deterministic=True)
    conn.create_function(HOLDS_LOWERED_FUNCTION, 2, holds_lowered, deterministic=True)
    conn.create_function(STARTS_WORD_FUNCTION, 2, starts_word, deterministic=True)


def holds_lowered(text: str | None, folded_term: str) -> bool:
    """Whether `text` holds `folded_term` (see `rules.folded`) ignoring case in any
    script, as PostgreSQL's ILIKE lowers both sides (casefold() would also make ß match
    ss)."""
    return text is not None and folded_term in folded(text)


def starts_word(text: str | None, folded_term: str) -> bool:
    """Whether `text` holds `folded_term` (see `rules.folded`) where a word starts, as
    the chars index parts words: first in the text, after a character that is not part
    of a word, or after a CJK character (each one a word)."""
    if text is None:
        return False
    text = folded(text)
    at = text.find(folded_term)
    while at > 0 and not _parts_words(text[at - 1]):
        at = text.find(folded_term, at + 1)
    return at >= 0


def _parts_words(char: str) -> bool:
    category = unicodedata.category(char)
    return stands_alone(char) or not category.startswith(_WORD_CATEGORIES)


# Every migration of `sqlite_schema`, in order (a test checks they agree): a file that
# has them all is opened without importing the migrations.
MIGRATION_NAMES = (
    "m001_create_tables",
    "m002_one_unused_session_per_owner",
    "m003_full_text_search",
    "m004_short_term_search",
    "m005_message_ids_never_reused",
    "m006_index_final_text_only",
    "m007_error_codes",
    "m008_reply_heartbeat",
    "m009_message_tree",
    "m010_reply_details",
    "m011_attachments",
    "m012_preferences_and_shares",
    "m013_usage_index",
    "m014_price_tier_lengths",
    "m015_reply_model_alias",
)
MIGRATIONS_TABLE = "_sqlite_migrations"
MIGRATION_SET = "chat_core"
