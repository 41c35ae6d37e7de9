"""Markdown inline markup of one body line, found with exact body offsets.

The reader draws a body's characters where they are: markup is never rewritten, only marked
hidden (`**`, `_`, `[`, `](url)`, backticks, escapes, inline HTML tags) or styled (emphasis,
strong, code, links, footnote references), so every drawn character keeps its body offset and
a selection is always `body[start:end]`. A simplified CommonMark: delimiter runs with the
flanking rules and the rule of 3, inline links and images, autolinks, code spans; `$TeX$` and
bare URLs are left alone inside (underscores there are not emphasis).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Any of these may start markup; a line without one (most HTML-derived prose) costs one search.
_TRIGGER = re.compile(r"[*_\[`\\<$]|://")
_FOOTREF = re.compile(r"\[\^[^\]\s]{1,20}\]")
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>", re.IGNORECASE)
_BARE_URL = re.compile(r"https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"*_]", re.IGNORECASE)
# Inline HTML that markdown sources keep: shown as nothing rather than as literal tags.
_HTML_TAG = re.compile(
    r"</?(?:br|sup|sub|span|em|strong|b|i|u|s|del|ins|mark|small|kbd|abbr|cite|q|wbr|a"
    r"|div|p|center|font|details|summary)(?:\s[^<>]{0,300})?/?>", re.IGNORECASE)
_MAX_LINK_TEXT = 1000  # characters searched for a link's `]`, so "[[[[" stays linear
_MAX_DESTINATION = 2000


@dataclass(frozen=True, slots=True)
class Inline:
    """What one line's inline markup hides and styles, in body offsets."""

    hidden: tuple[tuple[int, int], ...]
    """Sorted, disjoint ranges that are not drawn."""
    styles: tuple[tuple[int, int, str], ...]
    """Ranges drawn in a style: em | strong | code | link | footref."""
    links: tuple[tuple[int, int, str], ...]
    """A link's drawn text range and its destination as written."""


def scan_inline(body: str, start: int, end: int,
                hide: tuple[tuple[int, int], ...] = ()) -> Inline | None:
    """The inline markup of `body[start:end]` (plus ranges in `hide`); None when there is none."""
    if not _TRIGGER.search(body, start, end):
        return Inline(hide, (), ()) if hide else None
    scan = _Scan(body, start, end)
    scan.hidden.extend(hide)
    scan.run()
    return scan.result()


@dataclass(slots=True)
class _Delimiter:
    pos: int
    char: str
    length: int
    can_open: bool
    can_close: bool
    left: int = 0  # characters not yet used, counted from the run's inner side

    def __post_init__(self) -> None:
        self.left = self.length


@dataclass(slots=True)
class _Scan:
    body: str
    start: int
    end: int
    hidden: list[tuple[int, int]] = field(default_factory=list)
    styles: list[tuple[int, int, str]] = field(default_factory=list)
    links: list[tuple[int, int, str]] = field(default_factory=list)
    delimiters: list[_Delimiter] = field(default_factory=list)
    jumps: dict[int, int] = field(default_factory=dict)  # a link's `]` -> past its `(url)`

    def run(self) -> None:
        bare = {m.start(): m.end() for m in _BARE_URL.finditer(self.body, self.start, self.end)}
        i = self.start
        while i < self.end:
            if i in bare:
                self.links.append((i, bare[i], self.body[i:bare[i]]))
                self.styles.append((i, bare[i], "link"))
                i = bare[i]
            else:
                i = self._step(i, self.body[i])
        _match_emphasis(self.delimiters, self.hidden, self.styles)

    def _step(self, i: int, ch: str) -> int:
        """Handle the markup starting at `i`; where scanning goes on."""
        if ch == "\\":
            if i + 1 < self.end and _is_ascii_punct(self.body[i + 1]):
                self.hidden.append((i, i + 1))
                return i + 2
        elif ch == "`":
            return self._code(i)
        elif ch == "$":
            return self._math(i)
        elif ch == "[":
            return self._bracket(i)
        elif ch == "]" and i in self.jumps:
            return self.jumps.pop(i)
        elif ch == "<":
            return self._angle(i)
        elif ch in "*_":
            return self._delimiter(i, ch)
        return i + 1

    def _code(self, i: int) -> int:
        n = _run_length(self.body, i, self.end, "`")
        ticks = "`" * n
        close = self.body.find(ticks, i + n, self.end)
        while close >= 0 and _run_length(self.body, close, self.end, "`") != n:
            close = self.body.find(ticks, close + _run_length(self.body, close, self.end, "`"),
                                   self.end)
        if close < 0:
            return i + n
        self.hidden += [(i, i + n), (close, close + n)]
        self.styles.append((i + n, close, "code"))
        return close + n

    def _math(self, i: int) -> int:
        """`$TeX$` stays as written; its underscores and stars are not emphasis."""
        body = self.body
        if i + 1 >= self.end or body[i + 1] in " \t$":
            return i + 1
        close = body.find("$", i + 1, self.end)
        while close > 0 and (body[close - 1] in " \t\\"
                             or (close + 1 < self.end and body[close + 1].isdigit())):
            close = body.find("$", close + 1, self.end)
        return i + 1 if close < 0 else close + 1

    def _bracket(self, i: int) -> int:
        note = _FOOTREF.match(self.body, i, self.end)
        if note is not None:
            self.styles.append((i, note.end(), "footref"))
            return note.end()
        link = _link_at(self.body, i, self.end)
        if link is None:
            return i + 1
        close, destination, after = link
        opener = i - 1 if i > self.start and self.body[i - 1] == "!" else i  # an image
        self.hidden += [(opener, i + 1), (close, after)]
        self.styles.append((i + 1, close, "link"))
        self.links.append((i + 1, close, destination))
        self.jumps[close] = after
        return i + 1

    def _angle(self, i: int) -> int:
        auto = _AUTOLINK.match(self.body, i, self.end)
        if auto is not None:
            self.hidden += [(i, i + 1), (auto.end() - 1, auto.end())]
            self.styles.append((i + 1, auto.end() - 1, "link"))
            self.links.append((i + 1, auto.end() - 1, auto.group(1)))
            return auto.end()
        tag = _HTML_TAG.match(self.body, i, self.end)
        if tag is not None:
            self.hidden.append((i, tag.end()))
            return tag.end()
        return i + 1

    def _delimiter(self, i: int, ch: str) -> int:
        n = _run_length(self.body, i, self.end, ch)
        before = self.body[i - 1] if i > self.start else " "
        after = self.body[i + n] if i + n < self.end else " "
        left = not after.isspace() and (not _is_punct(after) or before.isspace()
                                        or _is_punct(before))
        right = not before.isspace() and (not _is_punct(before) or after.isspace()
                                          or _is_punct(after))
        if ch == "*":
            can_open, can_close = left, right
        else:  # snake_case words are not emphasis
            can_open = left and (not right or _is_punct(before))
            can_close = right and (not left or _is_punct(after))
        if can_open or can_close:
            self.delimiters.append(_Delimiter(i, ch, n, can_open, can_close))
        return i + n

    def result(self) -> Inline:
        return Inline(_merge(self.hidden), tuple(self.styles), tuple(self.links))


def _match_emphasis(delimiters: list[_Delimiter], hidden: list[tuple[int, int]],
                    styles: list[tuple[int, int, str]]) -> None:
    """CommonMark's "process emphasis": each closer takes the nearest fitting opener."""
    stack: list[_Delimiter] = []
    for closer in delimiters:
        while closer.can_close and closer.left:
            index = _opener_for(stack, closer)
            if index < 0:
                break
            opener = stack[index]
            use = 2 if opener.left >= 2 and closer.left >= 2 else 1
            inner = opener.pos + opener.left  # openers are used from their inner (right) end
            first = closer.pos + closer.length - closer.left
            hidden += [(inner - use, inner), (first, first + use)]
            styles.append((inner, first, "strong" if use == 2 else "em"))
            opener.left -= use
            closer.left -= use
            del stack[index + 1:]  # delimiters between the two can no longer match
            if not opener.left:
                del stack[index]
        if closer.can_open and closer.left:
            stack.append(closer)


def _opener_for(stack: list[_Delimiter], closer: _Delimiter) -> int:
    for index in range(len(stack) - 1, -1, -1):
        opener = stack[index]
        if opener.char != closer.char or not opener.left:
            continue
        both = opener.can_close or closer.can_open
        if both and (opener.length + closer.length) % 3 == 0 \
                and not (opener.length % 3 == 0 and closer.length % 3 == 0):
            continue  # the rule of 3: `*a**b*` is not strong
        return index
    return -1


def _link_at(body: str, i: int, end: int) -> tuple[int, str, int] | None:
    """For `[text](dest "title")` at `i`: the `]`, the destination and the offset past `)`."""
    depth, j, limit = 0, i + 1, min(end, i + _MAX_LINK_TEXT)
    while j < limit:
        ch = body[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            if depth == 0:
                break
            depth -= 1
        j += 1
    else:
        return None
    close = j
    if close + 1 >= end or body[close + 1] != "(":
        return None
    parsed = _destination(body, close + 2, min(end, close + 2 + _MAX_DESTINATION))
    if parsed is None:
        return None
    destination, after = parsed
    return close, destination, after


def _destination(body: str, j: int, end: int) -> tuple[str, int] | None:
    """`dest "title")` from `j`: the destination and the offset past `)`."""
    j = _skip_blank(body, j, end)
    if j < end and body[j] == "<":
        stop = body.find(">", j + 1, end)
        if stop < 0:
            return None
        destination, j = body[j + 1:stop], stop + 1
    else:
        first, depth = j, 0
        while j < end and not body[j].isspace():
            if body[j] == "(":
                depth += 1
            elif body[j] == ")":
                if depth == 0:
                    break
                depth -= 1
            j += 1
        destination = body[first:j]
    j = _skip_blank(body, j, end)
    if j < end and body[j] in "\"'(":
        closing = ")" if body[j] == "(" else body[j]
        stop = body.find(closing, j + 1, end)
        if stop < 0:
            return None
        j = _skip_blank(body, stop + 1, end)
    if j >= end or body[j] != ")":
        return None
    return destination, j + 1


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _run_length(body: str, i: int, end: int, ch: str) -> int:
    j = i
    while j < end and body[j] == ch:
        j += 1
    return j - i


def _skip_blank(body: str, j: int, end: int) -> int:
    while j < end and body[j] in " \t":
        j += 1
    return j


def _is_ascii_punct(ch: str) -> bool:
    return ch.isascii() and not ch.isalnum() and not ch.isspace() and ch.isprintable()


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"
