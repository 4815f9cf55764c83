"""Preparing model output for Streamlit's Markdown renderer (which never runs raw HTML).

- Models often write LaTeX as `\\( … \\)` and `\\[ … \\]`; Streamlit renders `$ … $` and
  `$$ … $$`. A `$` that cannot be maths by Pandoc's rule ("$5 or $10") is escaped.
- An image in Markdown makes the browser fetch its URL as soon as it is drawn: the
  classic way injected text exfiltrates a conversation (the URL carries it) or an
  imported chat tracks its reader. Images become plain links, unless their source is
  a raster `data:` URI or a file this app serves (`/media/…`, `/app/static/…`). What
  comes out is parsed as CommonMark with footnotes and maths (markdown-it-py, reading
  it as the browser's renderer does) and when any other image is still there, every
  `![` is broken up: nothing in the output can be an image then, not even in code.
- Code (fenced or inline) is otherwise left exactly as it is.

`stream_blocks()` cuts a reply into the pieces that streaming draws once each.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin

_CODE = re.compile(r"(```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`)", re.DOTALL)
# LaTeX delimiters and what Streamlit's renderer takes instead.
_LATEX = ((r"\[", r"\]", "$$", False), (r"\(", r"\)", "$", True))
# A "$" on its own: not escaped, not part of "$$".
_SINGLE_DOLLAR = re.compile(r"(?<![\\$])\$(?!\$)")
# Where a "$" is never maths and a backslash would show: a bare URL, an indented line
# (a code block, or a list's own lines, left as they are).
_NO_MATHS = re.compile(r"https?://[^\s<>()\[\]]+|^(?: {4}|\t).*$", re.MULTILINE)
# ":" and "@" too: in a button's label, an escaped colon or at sign is what stops a URL
# or e-mail address from being taken whole, backslashes included; "&" stops an entity.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:@&])")
# ![alt](source "title") and ![alt][ref] / ![alt][] / ![ref]: any "!" before a link
# (alt text may hold one level of brackets: ![a [b] c](source)).
_IMAGE = re.compile(
    r"!(\[(?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*\])(\((?:[^()\\]|\\.)*\)|\[[^\]]*\])?"
)
_INLINE_SOURCE = re.compile(r"\(\s*<?([^\s>)]*)")
_LOCAL_SOURCE = re.compile(
    r"(?:data:image/(?:png|jpeg|gif|webp)[;,]|/(?:media|app/static)/[A-Za-z0-9_./-]+$)", re.I
)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
MAX_CHECKED_IMAGES = 200  # more "![" than this left in a text: all are broken up unread
STREAM_BLOCK_CHARS = 4000  # a growing piece longer than this is cut, so redraws stay small
_WORD_JOINER = "\u2060"
_LINK_PARTS = re.compile(r"([.@])")
_ICON = re.compile(r":(?=material/)", re.IGNORECASE)  # where an icon's name starts
# A pipe after an even number of backslashes (none included) is not escaped.
_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")


@lru_cache(maxsize=256)  # every rerun draws the same messages again
def for_display(text: str) -> str:
    """Model output ready for `st.markdown`: outside code, LaTeX delimiters converted,
    dollars that cannot be maths escaped and remote images made links."""
    parts = _CODE.split(text)
    for index in range(0, len(parts), 2):  # even parts are outside code
        part = parts[index]
        for opening, closing, math, strip in _LATEX:
            part = _replace_delimited(part, opening, closing, math, strip)
        part = "\n\n".join(_money_dollars(paragraph) for paragraph in part.split("\n\n"))
        parts[index] = _IMAGE.sub(_image_or_link, part)
    shown = "".join(parts)
    left = shown.count("![")  # parsing text full of them would take seconds: no image then
    if left and (left > MAX_CHECKED_IMAGES or _fetches_remote_image(shown)):
        # Code the split above got wrong, or an image it could not read: no "!"
        # directly before a "[" is left anywhere (a word joiner shows as nothing).
        shown = shown.replace("![", "!" + _WORD_JOINER + "[")
    return shown


def escape(text: str) -> str:
    """Text that a button's label shows literally (labels make no links).

    Escaping is not enough for `:material/…:`, which Streamlit draws as an icon even
    escaped: an invisible word joiner (U+2060) after its `:` breaks it up without
    changing what the reader sees.
    """
    return _MARKDOWN_SPECIALS.sub(r"\\\1", _ICON.sub(":" + _WORD_JOINER, text))


def literal(text: str) -> str:
    """Text that a Markdown element (a notice, a caption) shows exactly as it is.

    Escaping is not enough there: Streamlit still turns a bare URL or e-mail address
    into a link, `:smile:` into an emoji and `:red[...]` into colour. A word joiner
    before each `.` and `@` and after each `:` breaks those up too.
    """
    text = _LINK_PARTS.sub(_WORD_JOINER + r"\1", text).replace(":", ":" + _WORD_JOINER)
    return escape(text)


def table(columns: Mapping[str, Sequence[str]], *, right: Collection[str] = ()) -> str:
    """A Markdown (GFM) table of `columns`, title to cells, each cell already Markdown;
    the columns titled in `right` (figures) are aligned right.

    A cell's unescaped `|` would end it early and a line break would end the row, so
    pipes are escaped and breaks become spaces."""
    rule = ["---:" if title in right else "---" for title in columns]
    rows = [list(columns), rule, *zip(*columns.values(), strict=True)]
    return "\n".join("| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows)


def _cell(text: str) -> str:
    return _UNESCAPED_PIPE.sub(r"\1\\|", " ".join(str(text).splitlines()))


def blocks(text: str) -> list[str]:
    """`text` cut at blank lines outside fenced code, each block drawn as its own
    Markdown element. While a reply streams, every block but the last is final, so each
    is sent to the page once and only the last one is redrawn as text arrives."""
    found, current, fenced = [], [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        if not line.strip() and not fenced and current:
            found.append("\n".join(current))
            current = []
            continue
        current.append(line)
    found.append("\n".join(current))
    return found


def stream_blocks(text: str, limit: int = STREAM_BLOCK_CHARS) -> list[str]:
    """`blocks(text)`, with any block longer than `limit` cut into pieces of at most
    about `limit` characters, so a long code listing or a paragraph without breaks is
    not redrawn whole every time it grows.

    A piece ends inside fenced code gets a closing fence, and the next piece reopens it
    with the same opening line. Pieces depend only on the text before them, so a piece
    stays the same as the text grows: every piece but the last is final.
    """
    return [piece for block in blocks(text) for piece in _cut(block, limit)]


def _cut(block: str, limit: int) -> list[str]:
    if len(block) <= limit:
        return [block]
    pieces, current, size, fence = [], [], 0, None
    for line in _lines_within(block, limit):
        if current and size + len(line) > limit:
            pieces.append("\n".join(current + ([_closing(fence)] if fence else [])))
            current, size = ([fence] if fence else []), len(fence or "")
        current.append(line)
        size += len(line) + 1
        if _FENCE.match(line):
            fence = None if fence else line
    pieces.append("\n".join(current))
    return pieces


def _lines_within(block: str, limit: int):
    """The block's lines, a line longer than `limit` cut into `limit`-sized parts."""
    for line in block.split("\n"):
        yield from (line[i : i + limit] for i in range(0, max(len(line), 1), limit))


def _closing(opening: str) -> str:
    return _FENCE.match(opening).group(1)


def _image_or_link(match: re.Match) -> str:
    label, target = match.group(1), match.group(2) or ""
    source = _INLINE_SOURCE.match(target)
    if source and _is_local(source.group(1)):
        return match.group(0)
    return f"{label}{target}"  # the same link, without the "!" that fetches it


def _is_local(source: str) -> bool:
    """A raster image `data:` URI, or a file this app serves: a plain path under
    `/media/` or `/app/static/` (no escapes, entities or `..` that could make it
    another host or route once decoded)."""
    return bool(_LOCAL_SOURCE.match(source)) and ".." not in source


def _replace_delimited(text: str, opening: str, closing: str, math: str, strip: bool) -> str:
    """`text` with each `opening … closing` (something in between) written `math … math`.
    One pass with `str.find`: a text full of openers and no closer stays linear."""
    out, at = [], 0
    while (start := text.find(opening, at)) != -1:
        end = text.find(closing, start + len(opening) + 1)
        if end == -1:
            break  # no closer after this opener, so none after any later one
        inner = text[start + len(opening) : end]
        out += [text[at:start], math, inner.strip() if strip else inner, math]
        at = end + len(closing)
    out.append(text[at:])
    return "".join(out)


def _money_dollars(text: str) -> str:
    """`text` with every single `$` that cannot open or close inline maths escaped, by
    Pandoc's rule: an opening `$` has a non-space after it, a closing one a non-space
    before it and no digit after it. Streamlit's renderer pairs any two, so "costs $5
    or $10" showed "5 or " as maths; now it shows as written."""
    kept = [match.span() for match in _NO_MATHS.finditer(text)]  # in order, apart
    starts = [start for start, _ in kept]

    def in_kept(at: int) -> bool:
        index = bisect.bisect_right(starts, at) - 1
        return index >= 0 and at < kept[index][1]

    singles = [m.start() for m in _SINGLE_DOLLAR.finditer(text) if not in_kept(m.start())]
    closers = [
        at
        for at in singles
        if at and not text[at - 1].isspace() and not text[at + 1 : at + 2].isdigit()
    ]
    plain, index = [], 0
    while index < len(singles):
        at = singles[index]
        after = bisect.bisect_right(closers, at)
        if text[at + 1 : at + 2].strip() and after < len(closers):  # a pair: maths
            end = bisect.bisect_left(singles, closers[after])
            plain += singles[index + 1 : end]  # a "$" inside is the maths' own
            index = end + 1
            continue
        plain.append(at)
        index += 1
    cuts = [0, *plain, len(text)]
    return "\\".join(text[start:end] for start, end in itertools.pairwise(cuts))


def _fetches_remote_image(text: str) -> bool:
    """Whether a reading of `text` as the page may read it (see `_parser`) holds an
    image whose source is not local. Read with maths and without: the page's renderer
    reads `$` as maths only in some texts (not across a line break, say), and an image
    hidden in maths for one reading is an image for the other."""
    return any(
        not _is_local(image.attrs.get("src", ""))
        for maths in (True, False)
        for image in _images(text, maths)
    )


def _images(text: str, maths: bool):
    tokens = list(_parser(maths).parse(text))
    while tokens:
        token = tokens.pop()
        if token.type == "image":
            yield token
        tokens += token.children or ()


def _parser(maths: bool) -> MarkdownIt:
    """CommonMark with what Streamlit's renderer adds that can hide or reveal an image:
    GFM tables, strikethrough and footnotes, and (with `maths`) maths in `$` and `$$`
    (text in maths is no Markdown). One per call: cheap, and nothing is shared between
    threads."""
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(footnote_plugin)
    return parser.use(dollarmath_plugin, double_inline=True) if maths else parser
