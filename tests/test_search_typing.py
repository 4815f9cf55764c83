"""Search as you type waits for a term an index narrows: two characters with a letter or
digit, three of anything, or a CJK word of one."""

import pytest

from chat_core.search_typing import worth_searching
from tests.test_app import app, chat_of, close_clients, env  # noqa: F401 (fixtures)


@pytest.mark.parametrize(
    ("query", "worth"),
    [
        ("m", False),
        (" m ", False),
        ("7", False),
        ("?", False),
        ("", False),
        ("   ", False),
        ("ma", True),
        ("m a", False),  # letters alone, however many
        ("!!", False),  # no index holds two marks or emoji: they would read every message
        ("😀😀", False),
        ("s ->", False),
        ("!!!", True),
        ("python ->", True),
        ("5日", True),
        ("天", True),
        ("カ", True),
        ("한", True),
        ("é", False),
        ("é!", True),
    ],
)
def test_a_query_is_searched_once_a_term_narrows_it(query, worth):
    assert worth_searching(query) is worth


def hit_keys(at) -> list[str]:
    return [b.key for b in at.sidebar.button if b.key.startswith("hit-")]


@pytest.mark.usefixtures("env")
def test_the_sidebar_asks_for_one_more_character_then_searches(db_path):
    chat = chat_of(db_path, "local", "matrix garden 天气")
    at = app().run()
    at.sidebar.text_input(key="search").input("m").run()
    assert hit_keys(at) == []
    assert any("one more character" in c.value for c in at.sidebar.caption)
    at.sidebar.text_input(key="search").input("ma").run()
    assert hit_keys(at) and all(key.startswith(f"hit-{chat.id}-") for key in hit_keys(at))
    at.sidebar.text_input(key="search").input("天").run()
    assert hit_keys(at)
