"""Preparing model output for Streamlit's Markdown renderer (which never runs raw HTML).

- Models often write LaTeX as `\\( … \\)` and `\\[ … \\]`; Streamlit renders `$ … $` and
  `$$ … $$`. A `$` that cannot be maths by Pandoc's rule ("$5 or $10") is escaped.
- An image in Markdown makes the browser fetch its URL as soon as it is drawn: the
  classic way injected text exfiltrates a conversation (the URL carries it) or an
  imported chat tracks its reader. Images become plain links, unless their source is
  a raster `data:` URI or a file this app serves (`/media/…`, `/app/static/…`). No
  parser reads every text as the browser's renderer does (what is code, where alt text
  ends, where a directive's `:::` closes a fence), so none is trusted to tell that a
  "![" left is no image: each is broken up by an invisible word joiner, in code too,
  unless it starts a plain image this app serves.
- Code (fenced, indented or inline) is otherwise left exactly as it is.

`stream_blocks()` cuts a reply into the pieces that streaming draws once each.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin

Span = tuple[int, int]  # where a part of a text starts and ends

# Any of what `for_display` changes: "\(", "\[", "$" or "![".
_CHANGEABLE = re.compile(r"\\[(\[]|\$|!\[")
# What code needs: a backtick, a fence of tildes, or indentation.
_MAY_HOLD_CODE = re.compile(r"`|~~~|    |\t")
# Where markdown-it ends a line (it reads "\r" and "\r\n" as "\n").
_LINE_END = re.compile(r"\r\n?|\n")
# A run of backticks and the backslashes right before it (an odd number escapes one).
# (Each run read from its start: read from inside one, a long run costs quadratic time.)
_BACKTICKS = re.compile(r"(?<!\\)(\\*)(`+)")
_BLANK_LINE = re.compile(r"(\n[ \t]*\n)")
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
# What pairs brackets: an escaped character (skipped), an opening bracket with the "!"
# of an image or without, a closing one, a blank line (no label goes past it).
_BRACKETS = re.compile(r"\\.|!?\[|\]|\n[ \t]*\n", re.DOTALL)
# A source the app serves is short: read no further (a text of "![a](" repeated would
# read each to the end of the line, quadratic time).
_INLINE_SOURCE = re.compile(r"\(\s*<?([^\s>)]{0,2048})")
_LOCAL_SOURCE = re.compile(
    r"(?:data:image/(?:png|jpeg|gif|webp)[;,]|/(?:media|app/static)/[A-Za-z0-9_./-]+$)", re.I
)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NO_NESTING_LIMIT = 1_000_000  # markdown-it's default (20) drops what is nested deeper
_IMAGE_START = re.compile(r"!\[")
# An image this app serves, written so that no reader can take any of it for something
# else: plain alt text (no code, maths, link or escape that could hold its "]") and an
# inline source alone.
_PLAIN_LOCAL_IMAGE = re.compile(r"!\[[\w ,-]*\]\(([^\s()<>\\`$\[\]]+)\)")
STREAM_BLOCK_CHARS = 4000  # a growing piece longer than this is cut, so redraws stay small
_WORD_JOINER = "\u2060"
_LINK_PARTS = re.compile(r"([.@])")
_ICON = re.compile(r":(?=material/)", re.IGNORECASE)  # where an icon's name starts
# A pipe after an even number of backslashes (none included) is not escaped.
_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")


@lru_cache(maxsize=256)  # every rerun draws the same messages again
def for_display(text: str) -> str:
    """Model output ready for `st.markdown`: outside code, LaTeX delimiters converted,
    dollars that cannot be maths escaped and remote images made links; no other "!"
    before a "[" that could start a remote image is left (see `_unless_local`)."""
    if not _CHANGEABLE.search(text):
        return text  # no need to find its code
    code = _code_spans(text)
    parts = _split_at_code(text, code, _remote_image_marks(text, code))
    for index, part in enumerate(parts):
        if index % 2 == 0:  # parts alternate: outside code, code, outside, …
            part = _maths_converted(part)
        parts[index] = _IMAGE_START.sub(_unless_local, part)  # code may be read as text
    return "".join(parts)


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


def _split_at_code(text: str, code: list[Span], left_out: list[int]) -> list[str]:
    """`text` cut where `code` starts and ends (outside code, code, outside, …), without
    the characters at `left_out` (in order, all outside code)."""
    parts, at = [], 0
    for start, end in [*code, (len(text), len(text))]:
        first, last = (bisect.bisect_left(left_out, edge) for edge in (at, start))
        cuts = [at - 1, *left_out[first:last], start]
        parts += ["".join(text[cut + 1 : next_cut] for cut, next_cut in itertools.pairwise(cuts))]
        parts += [text[start:end]]
        at = end
    return parts[:-1]


def _code_spans(text: str) -> list[Span]:
    """Where the page's renderer shows code, in order: code blocks (fenced or indented,
    found by markdown-it) and code spans in the text of the other blocks."""
    if not _MAY_HOLD_CODE.search(text):
        return []  # reading blocks takes time: ~0.2 s for 100,000 characters
    starts = [0, *(match.end() for match in _LINE_END.finditer(text)), len(text)]
    try:
        tokens = _block_parser().parse(text)
    except RecursionError:
        return [(0, len(text))]  # nested too deep to read: all left as it is
    spans, read = [], set()
    for token in tokens:
        if token.map is None or tuple(token.map) in read:  # table cells share their row
            continue
        start, end = (starts[min(line, len(starts) - 1)] for line in token.map)
        if token.type in ("fence", "code_block"):
            spans.append((start, end))
        elif token.type == "inline":
            read.add(tuple(token.map))
            spans += _inline_code(text, start, end)
    return sorted(spans)


def _inline_code(text: str, start: int, end: int) -> list[Span]:
    """The code spans in `text[start:end]`, one block's text: each from a run of
    backticks to the next run as long, whatever is in between (line breaks included).
    A backslash escapes a backtick outside code only."""
    runs = list(_BACKTICKS.finditer(text, start, end))
    starts_by_length: dict[int, list[int]] = {}
    for run in runs:
        starts_by_length.setdefault(len(run.group(2)), []).append(run.start(2))
    spans, at = [], start  # `at`: where text outside code resumes
    for match in runs:
        opening, run_end = match.start(2), match.end(2)
        if opening < at:
            continue  # inside the code span found last
        if (opening - max(match.start(1), at)) % 2:
            opening += 1  # its first backtick is escaped
        closings = starts_by_length.get(run_end - opening, [])
        index = bisect.bisect_right(closings, opening)
        if opening < run_end and index < len(closings):
            at = closings[index] + run_end - opening
            spans.append((opening, at))
        else:
            at = run_end  # no run as long after it: literal backticks
    return spans


def _remote_image_marks(text: str, code: list[Span]) -> list[int]:
    """Where the "!" is, in order, of each image outside `code` whose source is not
    local: left out, it leaves the same link, which the browser does not fetch. Brackets
    nest to any depth in a label (brackets in code do not count)."""
    opened, marks = [], []  # each "[" still open: where its "!" is, or -1
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if _within(code, match.start()):
            continue
        if token.endswith("["):
            opened.append(match.start() if token == "![" else -1)
        elif token == "]" and opened:
            at = opened.pop()
            if at >= 0 and not _local_target(text, match.end()):
                marks.append(at)
        elif token[0] == "\n":
            opened.clear()
    return sorted(marks)


def _within(spans: list[Span], at: int) -> bool:
    """Whether `at` is in one of `spans` (in order, apart)."""
    index = bisect.bisect_right(spans, at, key=lambda span: span[0]) - 1
    return index >= 0 and at < spans[index][1]


def _local_target(text: str, at: int) -> bool:
    """Whether the link target at `at` (after a label's "]") is an inline source this
    app serves."""
    source = _INLINE_SOURCE.match(text, at)
    return bool(source) and _is_local(source.group(1))


def _is_local(source: str) -> bool:
    """A raster image `data:` URI, or a file this app serves: a plain path under
    `/media/` or `/app/static/` (no escapes, entities or `..` that could make it
    another host or route once decoded)."""
    return bool(_LOCAL_SOURCE.match(source)) and ".." not in source


def _maths_converted(text: str) -> str:
    """`text` (no code in it) with LaTeX delimiters converted and each dollar that
    cannot be maths escaped. Maths never spans a blank line: a "\\(" in one paragraph
    and a "\\)" in a later one are two brackets, not a formula."""
    paragraphs = _BLANK_LINE.split(text)  # paragraphs, and the blank lines between them
    for index in range(0, len(paragraphs), 2):
        paragraph = paragraphs[index]
        for opening, closing, math, strip in _LATEX:
            paragraph = _replace_delimited(paragraph, opening, closing, math, strip)
        paragraphs[index] = _money_dollars(paragraph)
    return "".join(paragraphs)


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


def _unless_local(match: re.Match) -> str:
    """A "!" and "[" where an image could start, broken up by a word joiner (which shows
    as nothing) unless a plain image this app serves starts there."""
    local = _PLAIN_LOCAL_IMAGE.match(match.string, match.start())
    if local and _is_local(local.group(1)):
        return match.group()
    return "!" + _WORD_JOINER + "["


def _block_parser() -> MarkdownIt:
    """Blocks as the page's renderer reads them: CommonMark with GFM tables and
    footnotes. One per call: cheap, and nothing is shared between threads.

    markdown-it's default limit of 20 levels would leave out what is nested deeper
    (quotes, lists); this one goes as deep as Python's recursion. Footnotes stay where
    they are defined, in order, referenced or not."""
    parser = MarkdownIt("commonmark", {"maxNesting": _NO_NESTING_LIMIT}).enable("table")
    return parser.use(footnote_plugin).disable(["footnote_tail", "inline"])
