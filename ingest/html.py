"""HTML bodies to normalised, markdown-flavoured text and their links, from one parse.

The text is for display, search passages and quoting claims, so it keeps the words and drops
markup noise: emphasis becomes plain text, links keep only their anchor text, MathJax becomes
`$TeX$`, footnotes become `[^1]` markers with `[^1]: text` lines, and terminal control
sequences never survive (`clean_text`).
"""

from __future__ import annotations

import os.path
import re
from collections.abc import Callable
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from tracker.models import LinkCreate
from tracker.text import clean_text

from .links import classify_url

# Quote and list levels rendered as prefixes; deeper levels are flattened so that hostile
# nesting (thousands of <blockquote>s) cannot blow the output up quadratically.
_MAX_PREFIX_DEPTH = 24

_BLANK_RUN = re.compile(r"\n{3,}")

# Footnotes come in many dialects (markdown-it, CKEditor, Word, kramdown, WordPress): a marker is
# an in-page link labelled with a number whose target looks like a note; a back-link points
# the other way.
_FN_LABEL = re.compile(r"\[?\(?(\d{1,3})\)?\]?")
_FN_TARGET = re.compile(r"fn|ftn|foot|note|edn|en\d|ref|cite|^\d+$", re.IGNORECASE)
_FN_BACKREF = re.compile(
    r"(?:fn|ftn|edn|en)ref|(?<=.)ref(?:[-_:]?\d|$)|return|ret$|back", re.IGNORECASE
)
_FN_ITEM_ID = re.compile(r"(?:fn|footnote|_?ftn|_?edn)[-_:]?\w", re.IGNORECASE)

# fmt: off
_SKIP_TAGS = frozenset({
    "head", "style", "noscript", "svg", "template", "title", "xml", "iframe", "object", "embed",
    "canvas", "video", "audio", "noembed", "noframes", "select", "textarea", "meta", "link",
    "colgroup", "col",
})
_BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "figure",
    "figcaption", "address", "details", "summary", "center", "dl", "dt", "dd", "form",
    "fieldset", "legend", "caption", "hgroup",
})
_HEADINGS = {f"h{n}": "#" * n + " " for n in range(1, 7)}
# Inside <pre> and table cells these only separate words; they must not break the line.
_STRUCTURAL = _BLOCK_TAGS | _HEADINGS.keys() | {
    "ul", "ol", "li", "blockquote", "pre", "table", "tr", "td", "th", "hr",
}
# fmt: on

_SKIP = -1
_X_INLINE = 0
_X_BLOCK = 1
_X_LIST = 2
_X_ITEM = 3
_X_NOTE = 4
_X_QUOTE = 5
_X_HEADING = 6
_X_PRE = 7
_X_CODE = 8
_X_TABLE = 9
_X_ROW = 10
_X_CELL = 11
_X_ANCHOR = 12
_X_SPACE = 13


@dataclass(frozen=True)
class ParsedBody:
    """Normalised text of an HTML body and the citations found in its links."""

    text: str
    links: list[LinkCreate]


def html_to_text(html: str) -> str:
    """The normalised text of an HTML body."""
    return parse_body(html).text


def parse_body(html: str, base_url: str | None = None) -> ParsedBody:
    """Parse an HTML body once into normalised text and classified links."""
    if not html:
        return ParsedBody("", [])
    root = LexborHTMLParser(html).root
    if root is None:
        return ParsedBody("", [])
    renderer = _Renderer(base_url)
    _walk(root, renderer)
    return ParsedBody(renderer.finish(), renderer.links)


_SENTENCE_END = re.compile(r"[.!?…](?=[\s\"'”’)\]]|$)|\n")
_MAX_SENTENCE = 400  # characters each side of the anchor at most


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of `text` that holds `text[start:end]`, whitespace collapsed."""
    head = text[max(0, start - _MAX_SENTENCE) : start]
    cut = [m.end() for m in _SENTENCE_END.finditer(head)]
    begin = start - len(head) + (cut[-1] if cut else 0)
    tail = text[end : end + _MAX_SENTENCE]
    stop = _SENTENCE_END.search(tail)
    finish = end + (stop.end() if stop else len(tail))
    return " ".join(clean_text(text[begin:finish]).split())


def _walk(root: LexborNode, renderer: _Renderer) -> None:
    # Iterative depth-first walk with enter/leave events: deep nesting must not recurse.
    stack: list[tuple[LexborNode, int]] = []
    node = root.child
    while True:
        while node is None:
            if not stack:
                return
            parent, code = stack.pop()
            renderer.leave(parent, code)
            node = parent.next
        code = renderer.enter(node)
        if code != _SKIP:
            child = node.child
            if child is not None:
                stack.append((node, code))
                node = child
                continue
            renderer.leave(node, code)
        node = node.next


@dataclass(slots=True)
class _List:
    ordered: bool
    count: int
    pushed: bool
    nested: bool
    notes: bool


class _Renderer:
    """Streams enter/leave events into prefixed lines (quotes, lists) and collects links."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url
        self.lines: list[str] = []
        self.buf: list[str] = []
        self.flushes = 0
        self.segs: list[str] = []
        self.prefix = ""
        self.last_prefix = ""
        self.marker: tuple[int, str] | None = None
        self.lead = ""
        self.blank = False
        self.lists: list[_List] = []
        self.items = 0
        self.notes = 0
        self.pre = 0
        self.cell = 0
        self.cell_start = 0
        self.row: list[str] | None = None
        self.anchors: list[tuple[str, int, int]] = []
        self.links: list[LinkCreate] = []
        self.open_links: list[tuple[LinkCreate, int, int]] = []
        self.seen: set[tuple[str, str]] = set()

    # --- events ------------------------------------------------------------------------

    def enter(self, node: LexborNode) -> int:
        tag = node.tag
        if tag == "-text":
            text = node.text_content
            if self.pre:
                self.buf.append(text or "")
            elif text and (self.buf or not text.isspace()):
                # Whitespace between blocks would only cost an empty flush.
                self.buf.append(text.replace("\n", " "))
            return _SKIP
        if tag is None or tag[0] in "-!":
            return _SKIP
        handler = _ENTER.get(tag)
        if handler is None:
            return _X_INLINE
        if (self.pre or self.cell) and tag in _STRUCTURAL:
            return self._flat()
        return handler(self, node)

    def leave(self, node: LexborNode, code: int) -> None:
        if code == _X_INLINE:
            return
        if code == _X_BLOCK:
            self._close_block()
        elif code == _X_ANCHOR:
            self._leave_anchor(node)
        elif code in (_X_ITEM, _X_NOTE):
            self._leave_item(code)
        elif code == _X_LIST:
            self._leave_list()
        elif code == _X_QUOTE:
            self._flush()
            self._pop()
            self.blank = True
        elif code == _X_HEADING:
            self._flush()
            self.lead = ""
            self.blank = True
        else:
            self._leave_other(code)

    def _leave_other(self, code: int) -> None:
        if code == _X_CODE:
            if self.buf and self.buf[-1] == "`":
                self.buf.pop()
            else:
                self.buf.append("`")
        elif code == _X_SPACE:
            self.buf.append(" ")
        elif code == _X_PRE:
            self._leave_pre()
        elif code == _X_CELL:
            self._leave_cell()
        elif code == _X_ROW:
            self._leave_row()
        elif code == _X_TABLE:
            self._close_block()

    def finish(self) -> str:
        self._flush()
        text = _BLANK_RUN.sub("\n\n", "\n".join(self.lines)).strip("\n")
        return clean_text(text)

    # --- element handlers ----------------------------------------------------------------

    def _flat(self) -> int:
        if self.pre:
            return _X_INLINE
        self.buf.append(" ")
        return _X_SPACE

    def _enter_skip(self, node: LexborNode) -> int:
        return _SKIP

    def _enter_block(self, node: LexborNode) -> int:
        self._open_block()
        return _X_BLOCK

    def _enter_span(self, node: LexborNode) -> int:
        cls = node.attributes.get("class")
        if cls:
            if "mjx-chtml" in cls:
                self._enter_mathjax(node, cls)
                return _SKIP
            if "MathJax_Preview" in cls or "MJX_Assistive" in cls or "footnote-back" in cls:
                return _SKIP
        return _X_INLINE

    def _enter_a(self, node: LexborNode) -> int:
        href = (node.attributes.get("href") or "").strip()
        if not href:
            return _X_INLINE
        if href.startswith("#"):
            return self._enter_fragment_link(node, href[1:])
        if "#" in href and href[:6].lower() in ("about:", "file:/"):
            # Pasted documents keep note links into the author's disk or editor (about:blank).
            return self._enter_fragment_link(node, href.partition("#")[2])
        self.anchors.append((href, len(self.buf), self.flushes))
        return _X_ANCHOR

    def _enter_fragment_link(self, node: LexborNode, fragment: str) -> int:
        label = node.text(deep=True).strip()
        number = _FN_LABEL.fullmatch(label)
        backref = _FN_BACKREF.search(fragment) is not None
        if number and _FN_TARGET.search(fragment):
            if not backref:
                self.buf.append(f"[^{number.group(1)}]")
            elif not self.notes and not "".join(self.buf).strip():
                # A numbered back-link opening a paragraph starts a Word-style note.
                self.buf.append(f"[^{number.group(1)}]: ")
            return _SKIP
        if backref and len(label) <= 3 or label in ("[", "]") and _FN_TARGET.search(fragment):
            return _SKIP
        return _X_INLINE

    def _enter_list(self, node: LexborNode) -> int:
        self._flush()
        pushed = len(self.lists) > self.items
        nested = self.items > 0 or pushed
        ordered = node.tag == "ol"
        start = _int_attr(node.attributes.get("start"), 1) if ordered else 1
        # Kramdown/pandoc footnote lists are top-level <ol>s whose items link back to "#fnref…"
        # (top-level only: a subtree search per nested list would be quadratic).
        notes = ordered and not self.lists and node.css_first('a[href*="fnref"]') is not None
        self.lists.append(_List(ordered, start - 1, pushed, nested, notes))
        if pushed:
            self._push("  ")
        if nested:
            self.blank = False
        elif self.marker is None:
            self.blank = True
        return _X_LIST

    def _enter_li(self, node: LexborNode) -> int:
        self._flush()
        attrs = node.attributes
        lst = self.lists[-1] if self.lists else None
        number = 1
        if lst is not None:
            lst.count += 1
            number = lst.count
        self.items += 1
        if _is_note(attrs, lst):
            index = _int_attr(attrs.get("data-footnote-index"), number)
            self.notes += 1
            self._push("    ")
            self.marker = (len(self.segs) - 1, f"[^{index}]: ")
            return _X_NOTE
        self._push("  ")
        mark = f"{number}. " if lst is not None and lst.ordered else "- "
        self.marker = (len(self.segs) - 1, mark)
        return _X_ITEM

    def _enter_quote(self, node: LexborNode) -> int:
        self._open_block()
        self._push("> ")
        return _X_QUOTE

    def _enter_heading(self, node: LexborNode) -> int:
        self._open_block()
        self.lead = _HEADINGS[node.tag or "h1"]
        return _X_HEADING

    def _enter_pre(self, node: LexborNode) -> int:
        self._open_block()
        self.pre += 1
        return _X_PRE

    def _enter_code(self, node: LexborNode) -> int:
        if self.pre:
            return _X_INLINE
        self.buf.append("`")
        return _X_CODE

    def _enter_table(self, node: LexborNode) -> int:
        self._open_block()
        return _X_TABLE

    def _enter_tr(self, node: LexborNode) -> int:
        self._flush()
        self.row = []
        return _X_ROW

    def _enter_cell(self, node: LexborNode) -> int:
        if self.row is None:
            self.row = []
        self.cell += 1
        self.cell_start = len(self.buf)
        return _X_CELL

    def _enter_br(self, node: LexborNode) -> int:
        self.buf.append(" " if self.cell else "\n")
        return _SKIP

    def _enter_hr(self, node: LexborNode) -> int:
        self._open_block()
        if "footnotes-sep" not in (node.attributes.get("class") or ""):
            self._emit("---")
        self.blank = True
        return _SKIP

    def _enter_img(self, node: LexborNode) -> int:
        attrs = node.attributes
        alt = " ".join((attrs.get("alt") or "").split())
        if alt:
            cls = attrs.get("class") or ""
            formula = "ql-img-inline-formula" in cls or "latex" in cls.split()
            self.buf.append(f"${alt}$" if formula else f"[image: {alt}]")
        return _SKIP

    def _enter_script(self, node: LexborNode) -> int:
        kind = node.attributes.get("type") or ""
        if kind.startswith("math/tex"):
            self._put_math(node.text(deep=True), "mode=display" in kind)
        return _SKIP

    def _enter_mathml(self, node: LexborNode) -> int:
        attrs = node.attributes
        tex = _tex_annotation(node) or attrs.get("alttext")
        display = attrs.get("display") == "block"
        self._put_math_or_text(tex, display, node)
        return _SKIP

    def _enter_mjx_container(self, node: LexborNode) -> int:
        attrs = node.attributes
        tex = _tex_annotation(node)
        if tex is None and (math := node.css_first("math[alttext]")) is not None:
            tex = math.attributes.get("alttext")
        display = attrs.get("display") in ("true", "block")
        self._put_math_or_text(tex or attrs.get("aria-label"), display, node)
        return _SKIP

    def _enter_mathjax(self, node: LexborNode, cls: str) -> None:
        child = node.child
        tex = child.attributes.get("aria-label") if child is not None else None
        if tex is None and (labelled := node.css_first("[aria-label]")) is not None:
            tex = labelled.attributes.get("aria-label")
        self._put_math_or_text(tex, "MJXc-display" in cls, node)

    # --- leave handlers ------------------------------------------------------------------

    def _leave_anchor(self, node: LexborNode) -> None:
        href, start, flushes = self.anchors.pop()
        if flushes == self.flushes and start <= len(self.buf):
            text = "".join(self.buf[start:])
        else:
            text = node.text(deep=True)
        anchor = " ".join(clean_text(text).split())
        link = classify_url(clean_text(href), self.base_url, anchor)
        if link is not None and (link.url, anchor) not in self.seen:
            self.seen.add((link.url, anchor))
            self.links.append(link)
            if flushes == self.flushes and start <= len(self.buf):
                # The sentence is known once its block ends: remember where the anchor sits.
                offset = sum(len(piece) for piece in self.buf[:start])
                self.open_links.append((link, offset, offset + len(text)))

    def _leave_item(self, code: int) -> None:
        self._flush()
        self._pop()
        self.marker = None
        self.items -= 1
        self.blank = False
        if code == _X_NOTE:
            self.notes -= 1

    def _leave_list(self) -> None:
        self._flush()
        lst = self.lists.pop()
        if lst.pushed:
            self._pop()
        self.blank = not lst.nested

    def _leave_pre(self) -> None:
        self.pre -= 1
        if self.pre:
            return
        raw = clean_text("".join(self.buf)).strip("\n")
        self.buf.clear()
        self.flushes += 1
        if raw.strip():
            self._emit("```")
            for line in raw.split("\n"):
                self._emit(line)
            self._emit("```")
        self.blank = True

    def _leave_cell(self) -> None:
        text = " ".join(clean_text("".join(self.buf[self.cell_start :])).split())
        del self.buf[self.cell_start :]
        self.flushes += 1
        self.cell -= 1
        if self.row is not None:
            self.row.append(text)

    def _leave_row(self) -> None:
        self._flush()
        cells, self.row = self.row or [], None
        if any(cells):
            self._emit(" | ".join(cells))

    # --- output --------------------------------------------------------------------------

    def _put_math_or_text(self, tex: str | None, display: bool, node: LexborNode) -> None:
        if tex and tex.strip():
            self._put_math(tex, display)
        else:
            self.buf.append(" ".join(node.text(deep=True).split()))

    def _put_math(self, tex: str, display: bool) -> None:
        tex = " ".join(tex.split())
        if not tex:
            return
        if display and not (self.cell or self.pre):
            self._open_block()
            self.buf.append(f"$${tex}$$")
            self._close_block()
        else:
            self.buf.append(f"$${tex}$$" if display else f"${tex}$")

    def _open_block(self) -> None:
        self._flush()
        if self.marker is None:
            self.blank = True

    def _close_block(self) -> None:
        self._flush()
        if self.marker is None:
            self.blank = True

    def _flush(self) -> None:
        if not self.buf:
            return
        joined = "".join(self.buf)
        for link, start, end in self.open_links:
            link.context = sentence_around(joined, start, end)
        self.open_links.clear()
        raw = clean_text(joined)
        self.buf.clear()
        self.flushes += 1
        if "\n" not in raw:
            line = " ".join(raw.split())
            if line:
                self._emit(line)
            return
        self._emit_paragraph(raw.split("\n"))

    def _emit_paragraph(self, pieces: list[str]) -> None:
        emitted = False
        for piece in pieces:
            line = " ".join(piece.split())
            if line:
                self._emit(line)
                emitted = True
            elif emitted:
                self.blank = True  # <br><br> inside a paragraph: one blank line

    def _emit(self, line: str) -> None:
        if self.blank:
            self.blank = False
            if self.lines:
                self.lines.append(_common_prefix(self.last_prefix, self.prefix).rstrip())
        prefix = self.prefix
        if self.marker is not None:
            prefix = self._marked_prefix(*self.marker)
            self.marker = None
        self.lines.append(f"{prefix}{self.lead}{line}".rstrip())
        self.lead = ""
        self.last_prefix = self.prefix

    def _marked_prefix(self, index: int, mark: str) -> str:
        # The first line of a list item shows its marker in place of the item's indent.
        if index >= _MAX_PREFIX_DEPTH:
            return self.prefix
        segs = self.segs
        return "".join(segs[:index]) + mark + "".join(segs[index + 1 : _MAX_PREFIX_DEPTH])

    def _push(self, seg: str) -> None:
        self.segs.append(seg)
        if len(self.segs) <= _MAX_PREFIX_DEPTH:
            self.prefix += seg

    def _pop(self) -> None:
        if self.segs:
            self.segs.pop()
            self.prefix = "".join(self.segs[:_MAX_PREFIX_DEPTH])


def _is_note(attrs: dict[str, str | None], lst: _List | None) -> bool:
    if lst is not None and lst.notes:
        return True
    if "footnote" in (attrs.get("class") or ""):
        return True
    return _FN_ITEM_ID.match(attrs.get("id") or "") is not None


def _common_prefix(a: str, b: str) -> str:
    if a == b or not a or not b:
        return a if a == b else ""
    return os.path.commonprefix([a, b])


def _tex_annotation(node: LexborNode) -> str | None:
    annotation = node.css_first('annotation[encoding="application/x-tex"]')
    return annotation.text(deep=True) if annotation is not None else None


def _int_attr(value: str | None, default: int) -> int:
    if value is None:
        return default
    value = value.strip()
    if value.isdigit() and len(value) <= 9:
        return int(value)
    return default


_Handler = Callable[[_Renderer, LexborNode], int]
_ENTER: dict[str, _Handler] = {
    "span": _Renderer._enter_span,
    "a": _Renderer._enter_a,
    "li": _Renderer._enter_li,
    "ul": _Renderer._enter_list,
    "ol": _Renderer._enter_list,
    "blockquote": _Renderer._enter_quote,
    "pre": _Renderer._enter_pre,
    "code": _Renderer._enter_code,
    "table": _Renderer._enter_table,
    "tr": _Renderer._enter_tr,
    "td": _Renderer._enter_cell,
    "th": _Renderer._enter_cell,
    "br": _Renderer._enter_br,
    "hr": _Renderer._enter_hr,
    "img": _Renderer._enter_img,
    "script": _Renderer._enter_script,
    "math": _Renderer._enter_mathml,
    "mjx-container": _Renderer._enter_mjx_container,
    **{tag: _Renderer._enter_skip for tag in _SKIP_TAGS},
    **{tag: _Renderer._enter_block for tag in _BLOCK_TAGS},
    **{tag: _Renderer._enter_heading for tag in _HEADINGS},
}
