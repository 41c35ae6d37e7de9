"""Split a document's normalised text into passages that follow paragraphs and headings.

A passage is a span `[start, end)` of `body_text`, so a hit can be shown in place and a claim
anchored to it. Paragraphs (blocks between blank lines) are packed greedily up to
`max_words`; a heading starts a new passage once the current one has `min_words`; a block
longer than `max_words` is cut at sentence ends, and a sentence longer than that at words.
A passage left under `min_words` then joins its smaller neighbour (a join past `max_words` is
cut again near its middle), so only a document shorter than `min_words` has a shorter one.
all-MiniLM-L6-v2 reads 256 word pieces, about 190 English words, so the default 200-word
ceiling with the title in front loses at most a sentence or two to truncation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

CHUNKER_VERSION = "2"  # 2: passages under min_words join a neighbour
MAX_WORDS = 200
MIN_WORDS = 100

_BLOCK = re.compile(r"\S(?:.*?\S)?(?=\n[ \t]*\n|\s*\Z)", re.DOTALL)
_HEADING = re.compile(r"#{1,6} ")
# Han, kana and Hangul are written without spaces: each character counts as a word.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_SENTENCE_END = re.compile(r"(?<=[.!?:;。！？])[\"'”’)\]]*\s+|(?<=[。！？])")


@dataclass(frozen=True)
class Span:
    """A passage of a text: `text[start:end]`, its position among the passages."""

    ordinal: int
    start: int
    end: int


def word_count(text: str) -> int:
    """Words, counting each CJK character as one."""
    return sum(1 for _ in _WORD.finditer(text))


def split_passages(
    text: str, *, max_words: int = MAX_WORDS, min_words: int = MIN_WORDS
) -> list[Span]:
    """The passages of `text`; an empty text gives one empty passage (the title carries it)."""
    pieces = list(_pieces(text, max_words))
    if not pieces:
        return [Span(0, 0, 0)]
    spans: list[tuple[int, int, int]] = []  # start, end, words
    for start, end, words, heading in pieces:
        if spans:
            s, e, w = spans[-1]
            starts_section = heading and w >= min_words
            if not starts_section and w + words <= max_words:
                spans[-1] = (s, end, w + words)
                continue
        spans.append((start, end, words))
    spans = _merge_short(text, _merge_short_tail(spans, max_words), min_words, max_words)
    return [Span(i, s, e) for i, (s, e, _) in enumerate(spans)]


def _merge_short_tail(
    spans: list[tuple[int, int, int]], max_words: int
) -> list[tuple[int, int, int]]:
    """A last passage of a few words joins the one before (up to 1.25 × max_words)."""
    if len(spans) >= 2:
        (s0, _, w0), (_, e1, w1) = spans[-2], spans[-1]
        if w1 < max_words // 5 and w0 + w1 <= max_words * 5 // 4:
            spans[-2:] = [(s0, e1, w0 + w1)]
    return spans


def _merge_short(text: str, spans: list[tuple[int, int, int]], min_words: int,
                 max_words: int) -> list[tuple[int, int, int]]:
    """Each passage under `min_words` joins its smaller neighbour; a join past `max_words` is
    cut again near its middle when both halves keep `min_words`."""
    spans = list(spans)
    while len(spans) > 1:
        short = next((i for i, span in enumerate(spans) if span[2] < min_words), None)
        if short is None:
            break
        if short == 0 or (short < len(spans) - 1
                          and spans[short + 1][2] < spans[short - 1][2]):
            first = short
        else:
            first = short - 1
        start, end = spans[first][0], spans[first + 1][1]
        spans[first : first + 2] = _balanced(text, start, end, min_words, max_words)
    return spans


def _balanced(text: str, start: int, end: int, min_words: int,
              max_words: int) -> list[tuple[int, int, int]]:
    """`text[start:end]` as one passage, or as two near-equal ones when it is too long."""
    matches = list(_WORD.finditer(text, start, end))
    total = len(matches)
    if total <= max_words:
        return [(start, end, total)]
    # Prefer a sentence end near the middle; else cut between the two middle words.
    ends = {start + m.end() for m in _SENTENCE_END.finditer(text[start:end])}
    starts = [m.start() for m in matches]
    middle = total // 2
    cut = min((i for i in range(1, total) if starts[i] in ends
               and min_words <= i and min_words <= total - i and i <= max_words
               and total - i <= max_words),
              key=lambda i: abs(i - middle), default=middle)
    if cut < min_words or total - cut < min_words:
        return [(start, end, total)]
    left_end = _rstrip(text, start, starts[cut])
    return [(start, left_end, cut), (starts[cut], end, total - cut)]


def _pieces(text: str, max_words: int) -> Iterator[tuple[int, int, int, bool]]:
    """Blocks of at most `max_words`: (start, end, words, is a heading)."""
    for block in _BLOCK.finditer(text):
        start, end = block.span()
        words = word_count(block[0])
        heading = bool(_HEADING.match(block[0]))
        if words <= max_words:
            yield start, end, words, heading
            continue
        for s, e in _split_long(text, start, end, max_words):
            yield s, e, word_count(text[s:e]), heading and s == start


def _split_long(text: str, start: int, end: int, max_words: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long block at sentence ends, packing sentences up to `max_words`."""
    cuts = [start]
    cuts += [start + m.end() for m in _SENTENCE_END.finditer(text[start:end])
             if start + m.end() < end]
    cuts.append(end)
    piece_start, words = start, 0
    for left, right in zip(cuts, cuts[1:], strict=False):
        n = word_count(text[left:right])
        if words and words + n > max_words:
            yield piece_start, _rstrip(text, piece_start, left)
            piece_start, words = left, 0
        if n > max_words:
            yield from _split_words(text, left, right, max_words)
            piece_start, words = right, 0
            continue
        words += n
    if piece_start < end and word_count(text[piece_start:end]):
        yield piece_start, end


def _split_words(text: str, start: int, end: int, max_words: int) -> Iterator[tuple[int, int]]:
    """Cut a sentence with no usable ends every `max_words` words."""
    matches = list(_WORD.finditer(text, start, end))
    for i in range(0, len(matches), max_words):
        group = matches[i : i + max_words]
        yield group[0].start(), group[-1].end()


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def embedding_text(title: str, text: str) -> str:
    """What is embedded for a passage: its title (or its post's) as context, then the text."""
    if title and text:
        return f"{title}\n\n{text}"
    return title or text
