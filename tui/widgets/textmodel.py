"""The reader's text model: a body split into blocks, wrapped lines and sentences, lazily.

Not a widget: `DocumentView` draws it. Every wrapped line keeps its `[start, end)` offsets into
the body, so a selection or a claim mark maps to body offsets exactly. Work is incremental (a
200k-word post is ~1.3M characters, ~15k lines at 110 columns): the view wraps the first
screenful at once and the rest in chunks, and sentences are found only as far as asked.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from rich.cells import cell_len, split_graphemes

from tracker.tui.widgets.markup import Inline, scan_inline

# One line's markdown-flavoured lead: indent, quote markers, then a heading, a list item or a
# footnote definition (the shapes `tracker.ingest.html` writes).
_LEAD = re.compile(
    r"(?P<indent>[ \t]*)(?P<quote>(?:>[ \t]?)+)?[ \t]*"
    r"(?:(?P<head>#{1,6})[ \t]+|(?P<item>(?:[-*+]|\d{1,9}[.)])[ \t]+)"
    r"|(?P<note>\[\^[^\]\s]{1,20}\]:[ \t]*))?"
)
# A horizontal rule: `---`, `* * *`, `___`, or the `<hr/>` that markdown sources keep.
_RULE = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*"
                   r"(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|<hr\s*/?>)[ \t]*",
                   re.IGNORECASE)
# A sentence ends at . ! ? … (then closing quotes/brackets, emphasis and footnote refs) before
# a space.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]*_]*(?:\[\^[^\]\s]{1,20}\])*(?=\s)")
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "mr.", "mrs.", "ms.", "dr.", "vs.", "cf.", "st.",
                            "no.", "fig.", "al.", "approx.", "ca."})
_MAX_SENTENCE = 2000  # characters scanned per step for a boundary; longer runs are cut
_MIN_WIDTH = 8
# Characters one cell wide: Latin, Greek, Cyrillic and general punctuation (dashes, curly
# quotes, ellipsis), so common prose keeps the fast path.
_NARROW = frozenset(
    ch for low, high in ((0x20, 0x7E), (0xA0, 0x2FF), (0x370, 0x482), (0x2010, 0x205E))
    for ch in map(chr, range(low, high + 1)) if cell_len(ch) == 1)


@dataclass(frozen=True, slots=True)
class Block:
    """One source line of the body (a paragraph, heading, list item, quote line...)."""

    start: int
    end: int
    """Offset of its newline (or of the body's end)."""
    kind: str
    """text | blank | h1..h6 | item | note | code | fence | rule"""
    quoted: bool
    marker: int
    """How many characters at `start` are markup (`## `, `- `, `> `, `[^1]: `)."""
    lead: str
    """What continuation lines show before their text (an indent, quote bars)."""
    inline: Inline | None = None
    """Its inline markup (hidden and styled ranges, links); None: plain text."""


@dataclass(frozen=True, slots=True)
class Line:
    """One wrapped line: `body[start:end]` shown after `lead` (display only)."""

    start: int
    end: int
    block: int
    """Index of its block."""
    lead: str
    first: bool
    """The first line of its block (the one holding the markers)."""


class TextModel:
    """Blocks, wrapped lines and sentences of one body at one width, built on demand."""

    def __init__(self, body: str, width: int) -> None:
        self.body = body
        self.width = max(_MIN_WIDTH, width)
        self.blocks: list[Block] = []
        self.block_starts: list[int] = []
        self._block_pos = 0  # where the next block starts
        self._fenced = False
        self.lines: list[Line] = []
        self.line_starts: list[int] = []
        self._wrap_block = 0  # the block being wrapped, and where in it
        self._wrap_pos = 0
        self._shown: tuple[int, str, list[int]] = (-1, "", [])  # a block's drawn text, offsets
        self.sentences: list[tuple[int, int]] = []
        self.sentence_starts: list[int] = []
        self._sent_block = 0
        self._sent_pos = -1  # -1: the block's sentences have not started

    # --- blocks -------------------------------------------------------------------------------

    @property
    def blocks_done(self) -> bool:
        """Every block of the body is known."""
        return self._block_pos > len(self.body)

    def _ensure_block(self, index: int) -> bool:
        """Scan blocks until `index` exists; False when the body has fewer."""
        while len(self.blocks) <= index:
            if self.blocks_done:
                return False
            block = self._next_block()
            self.blocks.append(block)
            self.block_starts.append(block.start)
        return True

    def block_at(self, offset: int) -> int:
        """The index of the block holding `offset` (scanning blocks as far as needed)."""
        while (not self.blocks or self.blocks[-1].end < offset) and not self.blocks_done:
            self._ensure_block(len(self.blocks))
        return max(0, bisect_right(self.block_starts, offset) - 1)

    def _next_block(self) -> Block:
        body, start = self.body, self._block_pos
        end = body.find("\n", start)
        end = len(body) if end < 0 else end
        self._block_pos = end + 1
        text = body[start:end]
        stripped = text.strip()
        if stripped.startswith("```"):
            self._fenced = not self._fenced
            return Block(start, end, "fence", False, end - start, "")
        if self._fenced:
            return Block(start, end, "code", False, 0, "")
        if not stripped:
            return Block(start, end, "blank", False, end - start, "")
        if _RULE.fullmatch(body, start, end):
            return Block(start, end, "rule", False, end - start, "",
                         Inline(((start, end),), (), ()))
        return _classify(body, start, end, self.width)

    # --- wrapping -----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Every line of the body is wrapped."""
        return not self._ensure_block(self._wrap_block)

    def wrap(self, count: int) -> int:
        """Wrap up to `count` more lines; the number added."""
        added = 0
        while added < count and self._ensure_block(self._wrap_block):
            block = self.blocks[self._wrap_block]
            first = self._wrap_pos <= block.start
            pos = block.start if first else self._wrap_pos
            lead = "" if first else block.lead
            end, following = self._cut_block(self._wrap_block, pos, self.width - len(lead))
            self.lines.append(Line(pos, end, self._wrap_block, lead, first))
            self.line_starts.append(pos)
            added += 1
            if following >= block.end:
                self._wrap_block += 1
                self._wrap_pos = -1
            else:
                self._wrap_pos = following
        return added

    def _cut_block(self, index: int, pos: int, width: int) -> tuple[int, int]:
        """`_cut` over what block `index` draws (its hidden markup takes no cells)."""
        block = self.blocks[index]
        if block.kind == "rule":
            return block.end, block.end
        if block.inline is None or not block.inline.hidden:
            return _cut(self.body, pos, block.end, width)
        shown, offsets = self._shown_text(index)
        first = bisect_left(offsets, pos)
        stop, following = _cut(shown, first, len(shown), width)
        if stop >= len(shown):
            return block.end, block.end
        end = self._past_hidden(block.inline, offsets[stop - 1] + 1)
        return end, max(end, offsets[following - 1] + 1)

    def _shown_text(self, index: int) -> tuple[str, list[int]]:
        """Block `index`'s drawn characters and the body offset of each (plus its end)."""
        if self._shown[0] != index:
            block = self.blocks[index]
            ranges = visible_ranges(block, block.start, block.end)
            offsets = [i for start, end in ranges for i in range(start, end)]
            offsets.append(block.end)
            shown = "".join(self.body[start:end] for start, end in ranges)
            self._shown = (index, shown, offsets)
        return self._shown[1], self._shown[2]

    @staticmethod
    def _past_hidden(inline: Inline, offset: int) -> int:
        """`offset`, moved past a hidden range starting there (a closing `_` or `](url)`)."""
        for start, end in inline.hidden:
            if start == offset:
                return end
            if start > offset:
                break
        return offset

    def shown(self, start: int, end: int) -> str:
        """What `body[start:end]` draws (within one block): its characters less hidden markup."""
        block = self.blocks[self.block_at(start)]
        return "".join(self.body[a:b] for a, b in visible_ranges(block, start, end))

    def wrap_through(self, offset: int) -> None:
        """Wrap until the line holding body offset `offset` exists."""
        while not self.done and self._frontier() <= offset:
            self.wrap(500)

    def _frontier(self) -> int:
        """Where the next line to wrap starts (its block exists: not `done`)."""
        return max(self._wrap_pos, self.blocks[self._wrap_block].start)

    def wrap_lines(self, count: int) -> None:
        """Wrap until at least `count` lines exist (or the body ends)."""
        while len(self.lines) < count and not self.done:
            self.wrap(max(500, count - len(self.lines)))

    def line_at(self, offset: int) -> int:
        """The index of the wrapped line holding `offset` (wrapping as far as needed)."""
        self.wrap_through(offset)
        return max(0, bisect_right(self.line_starts, offset) - 1)

    # --- sentences ----------------------------------------------------------------------------

    @property
    def sentences_done(self) -> bool:
        """Every sentence of the body is known."""
        return not self._ensure_block(self._sent_block)

    def sentences_through(self, offset: int) -> None:
        """Find sentences until one ends past `offset` (or the body ends)."""
        while (not self.sentences or self.sentences[-1][1] <= offset) \
                and not self.sentences_done:
            self._scan_sentence()

    def sentences_until(self, count: int) -> None:
        """Find sentences until `count` exist (or the body ends)."""
        while len(self.sentences) < count and not self.sentences_done:
            self._scan_sentence()

    def sentence_at(self, offset: int) -> int:
        """The sentence holding `offset`, or the next one after it; -1 when there is none."""
        self.sentences_through(offset)
        if not self.sentences:
            return -1
        index = max(0, bisect_right(self.sentence_starts, offset) - 1)
        if self.sentences[index][1] <= offset and index + 1 < len(self.sentences):
            return index + 1
        return index

    def _scan_sentence(self) -> None:
        """Advance the scan by one sentence (or past one block without any)."""
        block = self.blocks[self._sent_block]
        if block.kind in ("blank", "fence", "rule"):
            self._next_sentence_block()
            return
        pos = block.start + block.marker if self._sent_pos < 0 else self._sent_pos
        pos = _skip_space(self.body, pos, block.end)
        if pos >= block.end:
            self._next_sentence_block()
            return
        end = block.end if block.kind in ("code", "h1", "h2", "h3", "h4", "h5", "h6") \
            else _sentence_end(self.body, pos, block.end)
        self.sentences.append((pos, _trim_end(self.body, pos, end)))
        self.sentence_starts.append(pos)
        self._sent_pos = end
        if end >= block.end:
            self._next_sentence_block()

    def _next_sentence_block(self) -> None:
        self._sent_block += 1
        self._sent_pos = -1


# --- helpers ----------------------------------------------------------------------------------


def _classify(body: str, start: int, end: int, width: int) -> Block:
    """A non-blank line outside a code fence, by its lead."""
    match = _LEAD.match(body, start, end)
    assert match is not None  # every group is optional
    quoted = match.group("quote") is not None
    if match.group("head"):
        kind = f"h{len(match.group('head'))}"
    elif match.group("note"):
        kind = "note"
    elif match.group("item"):
        kind = "item"
    else:
        kind = "text"
    marker = match.end() - start
    lead = "" if kind.startswith("h") else \
        "".join("▌" if ch == ">" else " " for ch in body[start:match.end()])
    hide = ((match.start("head"), match.end()),) if match.group("head") else ()
    inline = None if kind == "code" else scan_inline(body, match.end(), end, hide)
    return Block(start, end, kind, quoted, marker, lead[: width // 2], inline)


def visible_ranges(block: Block, start: int, end: int) -> list[tuple[int, int]]:
    """The parts of `[start, end)` that block `block` draws (its hidden markup left out)."""
    if block.inline is None or not block.inline.hidden:
        return [(start, end)] if end > start else []
    ranges, pos = [], start
    for low, high in block.inline.hidden:
        if high <= pos:
            continue
        if low >= end:
            break
        if low > pos:
            ranges.append((pos, low))
        pos = max(pos, high)
    if pos < end:
        ranges.append((pos, end))
    return ranges


def _cut(body: str, pos: int, end: int, width: int) -> tuple[int, int]:
    """Where a line starting at `pos` ends and where the next one starts (spaces between are
    nobody's), wrapping at `width` cells, at a space where there is one."""
    width = max(1, width)
    window = body[pos:min(end, pos + width + 1)]
    if window.isascii() or _NARROW.issuperset(window):  # the fast path: a character a cell
        if end - pos <= width:
            return end, end
        cut = body.rfind(" ", pos + 1, pos + width + 1)
        if cut <= pos:
            return pos + width, pos + width
        return cut, _skip_space(body, cut, end)
    return _cut_wide(body, pos, end, width)


def _cut_wide(body: str, pos: int, end: int, width: int) -> tuple[int, int]:
    """`_cut` for text with wide (CJK, emoji) or zero-width characters, by grapheme."""
    size = width + 8  # most graphemes take a cell or two: rarely read twice
    while True:
        stop = min(end, pos + size)
        graphemes, total = split_graphemes(body[pos:stop])
        if total > width or stop >= end:
            break
        size *= 2
    if total <= width:
        return end, end
    cells, space, cut = 0, -1, pos
    for first, last, length in graphemes:
        if cells + length > width:
            break
        if body[pos + first] == " ":
            space = pos + first
        cells += length
        cut = pos + last
    if space > pos:
        return space, _skip_space(body, space, end)
    if cut == pos:  # one grapheme wider than the line still goes somewhere
        cut = pos + graphemes[0][1]
    return cut, cut


def _skip_space(body: str, pos: int, end: int) -> int:
    while pos < end and body[pos] in " \t":
        pos += 1
    return pos


def _trim_end(body: str, start: int, end: int) -> int:
    while end > start and body[end - 1] in " \t":
        end -= 1
    return end


def _sentence_end(body: str, pos: int, end: int) -> int:
    """Where the sentence starting at `pos` ends, within its block `[.., end)`."""
    limit = min(end, pos + _MAX_SENTENCE)
    search_from = pos
    while True:
        match = _BOUNDARY.search(body, search_from, limit)
        if match is None:
            break
        if _is_boundary(body, pos, match.start(), match.end(), end):
            return match.end()
        search_from = match.end()
    if limit >= end:
        return end
    space = body.rfind(" ", pos + 1, limit)  # no boundary in _MAX_SENTENCE characters
    return space if space > pos else limit


def _is_boundary(body: str, pos: int, stop: int, after: int, end: int) -> bool:
    """Not an abbreviation ("e.g.", "J.") and not followed by a lowercase word."""
    word = body[max(pos, body.rfind(" ", pos, stop) + 1):stop + 1].lower()
    if word in _ABBREVIATIONS or (len(word) == 2 and word[0].isalpha()):
        return False
    following = _skip_space(body, after, end)
    return following >= end or not body[following].islower()
