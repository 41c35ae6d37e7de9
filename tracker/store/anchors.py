"""Find a quote in a document's text: exactly, then with whitespace, quote style and
punctuation forgiven, and map what was found back to offsets in the original text.

Three levels, tried in order, the first that finds anything wins:

- `exact`: the quote as typed.
- `typographic`: runs of whitespace are one space; curly quotes, dashes, ellipses,
  non-breaking and zero-width spaces and compatibility forms (NFKC) are folded.
- `loose`: also case-folded, apostrophes dropped and every other punctuation or markdown mark
  (`> `, `- `, `*`, `#`) read as a word break, so a quote copied from a rendered page matches
  the markdown-flavoured `body_text`.

Re-anchoring after an edit uses the first two levels only: a looser match could land on a
different sentence that merely shares the words (hypothesis/client#7571).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Level = Literal["exact", "typographic", "loose"]
LEVELS: tuple[Level, ...] = ("exact", "typographic", "loose")
CONTEXT = 32
"""Characters of prefix and suffix kept around a quote (as Hypothesis does)."""

_SPACES = {"\u00a0", "\u2007", "\u202f", "\u3000"}
_INVISIBLE = {"\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}
_SINGLE_QUOTES = set("\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a`\u00b4")
_DOUBLE_QUOTES = set("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb")
_DASHES = set("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d")
_APOSTROPHES = {"'"}
_HINT_MAX_QUOTE = 600  # fuzzy "closest text" hints cost O(quote × text); cap both sides
_HINT_MAX_TEXT = 400_000


@dataclass(frozen=True)
class Found:
    """A quote located in a text: `text[start:end]`, found at `level`."""

    start: int
    end: int
    level: Level


@dataclass(frozen=True)
class Hint:
    """The text most like a quote that was not found, and how alike (0–100)."""

    start: int
    end: int
    similarity: float


def context(text: str, start: int, end: int) -> tuple[str, str]:
    """The prefix and suffix of `text[start:end]`, `CONTEXT` characters each."""
    return text[max(0, start - CONTEXT) : start], text[end : end + CONTEXT]


def normalise(text: str, level: Level) -> tuple[str, list[int]]:
    """The text folded for `level`, and for each character of it the offset it came from."""
    if level == "exact":
        return text, list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    space = True  # drops leading space and collapses runs
    for i, ch in enumerate(text):
        for piece in _fold(ch, level):
            if piece == " ":
                if space:
                    continue
                space = True
            else:
                space = False
            out.append(piece)
            origin.append(i)
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


def _fold(ch: str, level: Level) -> str:
    if ch.isascii():
        if level == "loose" and not ch.isalnum():
            return "" if ch in _APOSTROPHES else " "
        folded = " " if ch.isspace() else ch
        return folded.lower() if level == "loose" else folded
    if ch in _INVISIBLE:
        return ""
    if ch.isspace() or ch in _SPACES:
        return " "
    if ch in _SINGLE_QUOTES:
        return "" if level == "loose" else "'"
    if ch in _DOUBLE_QUOTES:
        return " " if level == "loose" else '"'
    if ch in _DASHES:
        return " " if level == "loose" else "-"
    folded = unicodedata.normalize("NFKC", ch)
    if level == "loose":
        # Letters, digits, marks and symbols (emoji) are words; punctuation and spaces are not.
        return "".join(" " if c.isascii() and not c.isalnum() or unicodedata.category(c)[0]
                       in "PZC" else c.casefold() for c in folded)
    return folded


def find_all(text: str, quote: str, level: Level) -> list[Found]:
    """Every place `quote` occurs in `text` at `level` (overlapping ones included)."""
    haystack, origin = normalise(text, level)
    needle, _ = normalise(quote, level)
    if not needle or len(needle) > len(haystack):
        return []
    found: list[Found] = []
    at = haystack.find(needle)
    while at >= 0:
        start, end = origin[at], origin[at + len(needle) - 1] + 1
        found.append(Found(start, end, level))
        at = haystack.find(needle, at + 1)
    return _distinct(found)


def _distinct(found: Sequence[Found]) -> list[Found]:
    """Folding can map two needle positions onto one span; keep each span once."""
    seen: set[tuple[int, int]] = set()
    out = []
    for item in found:
        if (item.start, item.end) not in seen:
            seen.add((item.start, item.end))
            out.append(item)
    return out


def locate(text: str, quote: str, levels: Sequence[Level] = LEVELS) -> list[Found]:
    """The occurrences of `quote` at the strictest of `levels` that finds any."""
    for level in levels:
        found = find_all(text, quote, level)
        if found:
            return found
    return []


def choose(text: str, found: Sequence[Found], *, prefix: str = "", suffix: str = "",
           near: int | None = None) -> Found | None:
    """The occurrence whose surroundings best match `prefix`/`suffix`, then nearest `near`.

    Returns None when several occurrences tie and `near` cannot break the tie.
    """
    if len(found) == 1:
        return found[0]
    if not found:
        return None
    scored = sorted(((_context_score(text, f, prefix, suffix), f) for f in found),
                    key=lambda pair: -pair[0])
    best = scored[0][0]
    tied = [f for score, f in scored if score == best]
    if len(tied) == 1:
        return tied[0]
    if near is None:
        return None
    return min(tied, key=lambda f: (abs(f.start - near), f.start))


def _context_score(text: str, found: Found, prefix: str, suffix: str) -> int:
    """Characters of the given prefix (read backwards) and suffix that the text agrees with."""
    before, after = context(text, found.start, found.end)
    left = normalise(before, "loose")[0][::-1]
    want_left = normalise(prefix, "loose")[0][::-1]
    right = normalise(after, "loose")[0]
    want_right = normalise(suffix, "loose")[0]
    return _common_prefix(left, want_left) + _common_prefix(right, want_right)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def too_long(text: str, quote: str) -> bool:
    """Whether the quote cannot fit in the text even with whitespace and punctuation folded."""
    return len(normalise(quote, "loose")[0]) > len(normalise(text, "loose")[0])


def closest(text: str, quote: str) -> Hint | None:
    """Where the text is most like `quote` (for "did you mean" in an error), if anywhere."""
    needle, _ = normalise(quote, "loose")
    if not needle or len(needle) > _HINT_MAX_QUOTE or len(text) > _HINT_MAX_TEXT:
        return None
    from rapidfuzz import fuzz

    haystack, origin = normalise(text, "loose")
    if not haystack:
        return None
    match = fuzz.partial_ratio_alignment(needle, haystack)
    if match is None or match.score < 60 or match.dest_end <= match.dest_start:
        return None
    return Hint(origin[match.dest_start], origin[match.dest_end - 1] + 1, match.score)
