import re

import pytest

from chat_core.store import connect, sqlite_search
from chat_core.store.rules import search_terms, utc_now

HOSTILE_QUERIES = [
    '"',
    '""',
    "'",
    "*",
    "a*",
    "NEAR",
    "NEAR(a b)",
    ")",
    "(",
    "((",
    "-",
    "-x",
    "AND",
    "OR",
    "NOT",
    "a AND",
    "title:foo",
    "^x",
    "+",
    "\\",
    "%",
    "_",
    "\x00",
    "\ud800",
    "😀",
    "x" * 10_000,
    "   ",
    "",
    None,
    12,
]


@pytest.fixture
def chats(store):
    def add(owner, *texts):
        session, _ = store.new_session(owner)
        for text in texts:
            store.start_turn(session, text)
        return session

    return {
        "weather": add("alice", "明天北京的天气怎么样？", "还会下雨吗"),
        "quotes": add("alice", 'He said "hello" (loudly) AND left * NEAR the door - 50% off_x'),
        "python": add("alice", "How do I reverse a list in Python?"),
        "bob": add("bob", "Python secrets of bob"),
    }


def chat_with(store, text):
    session, _ = store.new_session("alice")
    store.start_turn(session, text)
    return session


def ids(hits):
    return [hit.session_id for hit in hits]


def test_cjk_word_inside_a_sentence_is_found(store, chats):
    assert ids(store.search("alice", "北京")) == [chats["weather"].id]
    assert ids(store.search("alice", "天气怎么")) == [chats["weather"].id]


def test_two_character_cjk_query_uses_the_fallback(store, chats):
    assert ids(store.search("alice", "天气")) == [chats["weather"].id]
    assert ids(store.search("alice", "下雨")) == [chats["weather"].id]


def test_latin_search_is_case_insensitive_and_scoped_to_owner(store, chats):
    assert ids(store.search("alice", "PYTHON")) == [chats["python"].id]
    assert ids(store.search("bob", "python")) == [chats["bob"].id]
    assert store.search("carol", "python") == []


def test_every_term_must_match(store, chats):
    assert ids(store.search("alice", "reverse python")) == [chats["python"].id]
    assert store.search("alice", "reverse 北京") == []


def test_title_match_comes_with_a_snippet(store, chats):
    store.rename("alice", chats["python"].id, "Lists and loops")
    (hit,) = store.search("alice", "loops")
    assert hit.session_id == chats["python"].id
    assert "loops" in hit.snippet and hit.message_id is None


def test_message_snippet_is_around_the_match(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "filler " * 50 + "needle" + " tail" * 50)
    (hit,) = store.search("alice", "needle")
    assert "needle" in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert len(hit.snippet) < 140


def test_a_snippet_finds_its_match_after_letters_that_lower_to_two(store):
    # İ lowers to i and a combining dot: each one moved the snippet a place off its match
    chat_with(store, "İSTANBUL İZMİR İNEGÖL İSKENDERUN " * 10 + "deniz kenarında güzel bir şehir")
    (hit,) = store.search("alice", "deniz")
    assert "deniz" in hit.snippet


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("Ο ΔΡΟΜΟΣ ΕΙΝΑΙ ΚΛΕΙΣΤΟΣ", "δρομος"),  # a final ς finds Σ
        ("Ο δρόμος είναι κλειστός", "ΚΛΕΙΣΤΌΣ"),  # Σ finds a final ς
        ("σας αρέσει", "ΣΑΣ"),
        ("ΑΣΤΡΟ", "ΑΣ"),  # lowered alone, ΑΣ ends in ς, the word goes on with σ
        ("ο αστρος", "ΑΣΤΡΟΣ"),
    ],
)
def test_greek_sigma_matches_in_every_form(store, text, query):
    in_message = chat_with(store, text)
    in_title = chat_with(store, "other")
    store.rename("alice", in_title.id, text)
    chat_with(store, re.sub("[Σσς]", "α", text))  # another letter where a sigma was
    assert sorted(ids(store.search("alice", query))) == sorted([in_message.id, in_title.id])


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_fts_syntax_and_odd_input_never_raise(store, chats, query):
    hits = store.search("alice", query)
    assert isinstance(hits, list)
    assert all(hit.session_id != chats["bob"].id for hit in hits)


@pytest.mark.parametrize(
    "query", ['"hello"', "(loudly)", "AND", "* NEAR", "NEAR", "- 50%", "off_x", "50%"]
)
def test_fts_syntax_characters_are_searched_literally(store, chats, query):
    assert ids(store.search("alice", query)) == [chats["quotes"].id]


def test_like_wildcards_are_literal(store, chats):
    assert store.search("alice", "5_%") == []


def test_every_matching_message_is_a_hit_newest_first(store):
    older, _ = store.new_session("alice")
    one = store.start_turn(older, "apple one")
    two = store.start_turn(older, "apple two")
    newer, _ = store.new_session("alice")
    three = store.start_turn(newer, "apple three")
    hits = store.search("alice", "apple")
    assert [(h.session_id, h.message_id) for h in hits] == [
        (newer.id, three.id),
        (older.id, two.id),
        (older.id, one.id),
    ]
    assert [h.message_id for h in store.search("alice", "apple", limit=1)] == [three.id]


def test_a_title_hit_is_listed_only_when_no_message_of_its_chat_matches(store):
    renamed, _ = store.new_session("alice")
    store.start_turn(renamed, "plain words")
    store.rename("alice", renamed.id, "apple notes")
    titled, _ = store.new_session("alice")
    message = store.start_turn(titled, "apple pie")  # its title is this message
    hits = store.search("alice", "apple")
    assert [(h.session_id, h.message_id) for h in hits] == [
        (renamed.id, None),
        (titled.id, message.id),
    ]


def test_archived_chats_are_still_found(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "hidden apple")
    store.set_archived("alice", session.id, True)
    assert ids(store.search("alice", "apple")) == [session.id]


def test_single_cjk_character_and_short_latin_word(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "AI 模型很强")
    assert ids(store.search("alice", "强")) == [session.id]
    assert ids(store.search("alice", "ai")) == [session.id]
    assert store.search("alice", "强模") == []  # characters must be adjacent, in order


def test_short_terms_follow_streamed_replies_renames_and_deletes(store):
    session, _ = store.new_session("alice")
    store.start_turn(session, "hello")
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content="正在")
    store.save_reply(session, reply.id, content="正在下雪", status="complete")
    assert ids(store.search("alice", "下雪")) == [session.id]
    assert store.search("alice", "正在下雨") == []
    store.rename("alice", session.id, "冬天")
    (hit,) = store.search("alice", "冬天")
    assert hit.message_id is None
    store.delete_session("alice", session.id)
    assert store.search("alice", "下雪") == []
    assert store.search("alice", "冬天") == []


@pytest.mark.parametrize("term", ["streaming", "流式", "st"])
def test_a_reply_is_found_once_it_ends_not_while_it_streams(store, term):
    session, _ = store.new_session("alice")
    store.start_turn(session, "hello")
    reply = store.begin_reply(session)
    store.save_reply(session, reply.id, content="streaming 流式 text")
    assert store.search("alice", term) == []
    store.save_reply(session, reply.id, content="streaming 流式 text", status="interrupted")
    assert ids(store.search("alice", term)) == [session.id]


def test_titles_matching_a_long_and_a_short_term_come_pinned_first_then_newest(store):
    def titled(owner, title):
        session, _ = store.new_session(owner)
        store.start_turn(session, "plain words")
        store.rename(owner, session.id, title)
        return session

    older = titled("alice", "Trip to 北京 in 2026")
    pinned = titled("alice", "trip notes 北京 2026")
    newer = titled("alice", "TRIP 北京 budget 2026")
    shanghai = titled("alice", "Trip to Shanghai 2026")  # lacks 北京
    titled("bob", "trip 北京 2026")  # another owner's
    store.set_pinned("alice", pinned.id, True)
    for query in ("TRIP 北京", "北京 trip 2026", "2026 北 rip"):
        assert ids(store.search("alice", query)) == [pinned.id, newer.id, older.id], query
    assert ids(store.search("alice", "trip 2026")) == [pinned.id, shanghai.id, newer.id, older.id]


@pytest.mark.parametrize("query", ["мы", "МЫ", "мы говорим", "говорим мы", "ГОВОРИМ мЫ"])
def test_short_terms_ignore_the_case_of_any_script(store, query):
    session = chat_with(store, "Мы говорим по-русски")
    assert ids(store.search("alice", query)) == [session.id]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("C#", "C# generics"),
        ("c#", "C# generics"),
        ("C#", "学C#很好"),
        ("$5", "It costs $5 now"),
        ("#1", "Issue #1 again"),
        ("a-", "Plan a-b testing"),
        ("C# 泛型", "C# generics 泛型"),
    ],
)
def test_short_terms_with_punctuation_match_it_exactly(store, query, found):
    # Each decoy holds a term's letters and digits without its punctuation.
    for decoy in ["I like cats", "5 apples", "Issue 1", "a plan", "泛型 in C"]:
        chat_with(store, decoy)
    session = chat_with(store, found)
    assert ids(store.search("alice", query)) == [session.id]


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("Élan vital", "el"),  # PostgreSQL keeps accents: el is not él
        ("明天，气温", "天气"),  # the characters must be adjacent, without the comma
        ("明天 气温", "天气"),
    ],
)
def test_short_terms_match_the_exact_text(store, text, query):
    chat_with(store, text)
    assert store.search("alice", query) == []


@pytest.fixture
def sqlite_store(db_path):
    with connect(str(db_path)) as store:
        yield store


def bulk(store, texts):
    """One chat of `texts`, written at once (a message at a time would take seconds)."""
    session, _ = store.new_session("alice")
    with store.backend.writing() as tx:
        tx.execute_many(
            "INSERT INTO chat_message (session_id, role, content, status, created_at) "
            "VALUES (?, 'user', ?, 'complete', ?)",
            [(session.id, text, utc_now()) for text in texts],
        )
    return session


def steps_of(store, query):
    """SQLite's work for a search, in hundreds of virtual machine steps."""
    steps = []
    with store.backend.reading() as tx:
        tx.conn.set_progress_handler(lambda: steps.append(1), 100)
        sqlite_search.search(tx, "alice", search_terms(query), 30)
        tx.conn.set_progress_handler(None, 0)
    return len(steps)


def test_a_rare_short_term_leads_the_search_past_a_common_long_one(sqlite_store):
    bulk(sqlite_store, ["python notes"] * 3000)
    rare = chat_with(sqlite_store, "python zz top")
    assert ids(sqlite_store.search("alice", "python zz")) == [rare.id]
    # "python" alone stops at the limit; "python zz" must not walk every python row
    assert steps_of(sqlite_store, "python zz") < steps_of(sqlite_store, "python")


@pytest.mark.parametrize("query", ["->", "!!", "😀😀", "s !!", "a b c d e", "s"])
def test_a_query_no_index_narrows_finds_nothing_rather_than_read_every_row(sqlite_store, query):
    bulk(sqlite_store, ["python notes"] * 3000)
    chat_with(sqlite_store, "s -> a b c d e !! 😀😀")
    assert sqlite_store.search("alice", query) == []
    assert steps_of(sqlite_store, query) < steps_of(sqlite_store, "python")


@pytest.mark.parametrize("common", [1, 3000])  # few rows lead with the chars index
def test_a_short_term_next_to_a_long_one_matches_where_a_word_starts(sqlite_store, common):
    bulk(sqlite_store, ["aim notes"] * common)
    said = chat_with(sqlite_store, "python said")
    aim = chat_with(sqlite_store, "python aim")
    dash = chat_with(sqlite_store, "python x->y")
    assert ids(sqlite_store.search("alice", "python ai")) == [aim.id]
    assert ids(sqlite_store.search("alice", "python m")) == [aim.id]  # a letter: anywhere
    assert ids(sqlite_store.search("alice", "python -> y")) == [dash.id]  # marks anywhere
    assert ids(sqlite_store.search("alice", "python sa")) == [said.id]
    assert sqlite_store.search("alice", "python id") == []


@pytest.mark.parametrize(
    ("text", "query"),
    [("2024年12月25日", "5日"), ("价格25元", "5元"), ("A股 and B股", "A股")],
)
def test_a_character_before_a_cjk_one_may_end_a_word(store, text, query):
    session = chat_with(store, text)
    assert ids(store.search("alice", query)) == [session.id]
