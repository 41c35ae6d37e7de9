"""The renderer behind `parse_body`: one pass over the HTML tree that writes markdown-flavoured
text and collects the links, with a handler per tag on entering and leaving (the lines
themselves are written by `htmllines.LineWriter`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from selectolax.lexbor import LexborNode

from tracker.models import LinkCreate
from tracker.text import clean_text

from . import htmlrules as rules
from .htmllines import LineWriter
from .links import classify_url


@dataclass(slots=True)
class _List:
    ordered: bool
    count: int
    pushed: bool
    nested: bool
    notes: bool


class Renderer(LineWriter):
    """Streams enter/leave events into prefixed lines (quotes, lists) and collects links."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__()
        self.base_url = base_url
        self.lists: list[_List] = []
        self.items = 0
        self.notes = 0
        self.pre = 0
        self.cell = 0
        self.cell_start = 0
        self.row: list[str] | None = None
        self.anchors: list[tuple[str, int, int]] = []
        self.links: list[LinkCreate] = []
        self.seen: set[tuple[str, str]] = set()

    # --- events ------------------------------------------------------------------------

    def render(self, root: LexborNode) -> None:
        """Walk the tree under `root` depth first, feeding enter and leave events."""
        # Iterative: deep nesting must not recurse. Text nodes and inline elements (~70% of the
        # ~1M nodes the corpus's 6,994 HTML bodies visit) are handled in this loop without a
        # method call each, and inline elements get no leave call (it would do nothing).
        stack: list[tuple[LexborNode, int]] = []
        buf = self.buf
        handlers = _ENTER.get
        structural = rules.STRUCTURAL
        node = root.child
        while True:
            while node is None:
                if not stack:
                    return
                parent, code = stack.pop()
                if code != rules.X_INLINE:
                    self.leave(parent, code)
                node = parent.next
            tag = node.tag
            if tag == "-text":
                text = node.text_content
                if self.pre:
                    buf.append(text or "")
                elif text and (buf or not text.isspace()):
                    # Whitespace between blocks would only cost an empty flush.
                    buf.append(text.replace("\n", " "))
                node = node.next
                continue
            if tag is None or tag[0] in "-!":
                node = node.next
                continue
            handler = handlers(tag)
            if handler is None:
                code = rules.X_INLINE
            elif (self.pre or self.cell) and tag in structural:
                code = self._flat()
            else:
                code = handler(self, node)
            if code != rules.SKIP:
                child = node.child
                if child is not None:
                    stack.append((node, code))
                    node = child
                    continue
                if code != rules.X_INLINE:
                    self.leave(node, code)
            node = node.next

    def leave(self, node: LexborNode, code: int) -> None:
        if code == rules.X_INLINE:
            return
        if code == rules.X_BLOCK:
            # `_close_block` inlined: ~40% of the leave events (paragraphs).
            if self.buf:
                self._flush()
            if self.marker is None:
                self.blank = True
        elif code == rules.X_ANCHOR:
            self._leave_anchor(node)
        elif code in (rules.X_ITEM, rules.X_NOTE):
            self._leave_item(code)
        elif code == rules.X_LIST:
            self._leave_list()
        elif code == rules.X_QUOTE:
            self._flush()
            self._pop()
            self.blank = True
        elif code == rules.X_HEADING:
            self._flush()
            self.lead = ""
            self.blank = True
        else:
            self._leave_other(code)

    def _leave_other(self, code: int) -> None:
        if code == rules.X_CODE:
            if self.buf and self.buf[-1] == "`":
                self.buf.pop()
            else:
                self.buf.append("`")
        elif code == rules.X_SPACE:
            self.buf.append(" ")
        elif code == rules.X_PRE:
            self._leave_pre()
        elif code == rules.X_CELL:
            self._leave_cell()
        elif code == rules.X_ROW:
            self._leave_row()
        elif code == rules.X_TABLE:
            self._close_block()

    # --- element handlers ----------------------------------------------------------------

    def _flat(self) -> int:
        if self.pre:
            return rules.X_INLINE
        self.buf.append(" ")
        return rules.X_SPACE

    def _enter_skip(self, node: LexborNode) -> int:
        return rules.SKIP

    def _enter_block(self, node: LexborNode) -> int:
        self._open_block()
        return rules.X_BLOCK

    def _enter_span(self, node: LexborNode) -> int:
        cls = node.attributes.get("class")
        if cls:
            if "mjx-chtml" in cls:
                self._enter_mathjax(node, cls)
                return rules.SKIP
            if "MathJax_Preview" in cls or "MJX_Assistive" in cls or "footnote-back" in cls:
                return rules.SKIP
        return rules.X_INLINE

    def _enter_a(self, node: LexborNode) -> int:
        href = (node.attributes.get("href") or "").strip()
        if not href:
            return rules.X_INLINE
        if href.startswith("#"):
            return self._enter_fragment_link(node, href[1:])
        if "#" in href and href[:6].lower() in ("about:", "file:/"):
            # Pasted documents keep note links into the author's disk or editor (about:blank).
            return self._enter_fragment_link(node, href.partition("#")[2])
        self.anchors.append((href, len(self.buf), self.flushes))
        return rules.X_ANCHOR

    def _enter_fragment_link(self, node: LexborNode, fragment: str) -> int:
        label = node.text(deep=True).strip()
        number = rules.FN_LABEL.fullmatch(label)
        backref = rules.FN_BACKREF.search(fragment) is not None
        if number and rules.FN_TARGET.search(fragment):
            if not backref:
                self.buf.append(f"[^{number.group(1)}]")
            elif not self.notes and not "".join(self.buf).strip():
                # A numbered back-link opening a paragraph starts a Word-style note.
                self.buf.append(f"[^{number.group(1)}]: ")
            return rules.SKIP
        if backref and len(label) <= 3 or label in ("[", "]") and rules.FN_TARGET.search(fragment):
            return rules.SKIP
        return rules.X_INLINE

    def _enter_list(self, node: LexborNode) -> int:
        self._flush()
        pushed = len(self.lists) > self.items
        nested = self.items > 0 or pushed
        ordered = node.tag == "ol"
        start = rules.int_attr(node.attributes.get("start"), 1) if ordered else 1
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
        return rules.X_LIST

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
            index = rules.int_attr(attrs.get("data-footnote-index"), number)
            self.notes += 1
            self._push("    ")
            self.marker = (len(self.segs) - 1, f"[^{index}]: ")
            return rules.X_NOTE
        self._push("  ")
        mark = f"{number}. " if lst is not None and lst.ordered else "- "
        self.marker = (len(self.segs) - 1, mark)
        return rules.X_ITEM

    def _enter_quote(self, node: LexborNode) -> int:
        self._open_block()
        self._push("> ")
        return rules.X_QUOTE

    def _enter_heading(self, node: LexborNode) -> int:
        self._open_block()
        self.lead = rules.HEADINGS[node.tag or "h1"]
        return rules.X_HEADING

    def _enter_pre(self, node: LexborNode) -> int:
        self._open_block()
        self.pre += 1
        return rules.X_PRE

    def _enter_code(self, node: LexborNode) -> int:
        if self.pre:
            return rules.X_INLINE
        self.buf.append("`")
        return rules.X_CODE

    def _enter_table(self, node: LexborNode) -> int:
        self._open_block()
        return rules.X_TABLE

    def _enter_tr(self, node: LexborNode) -> int:
        self._flush()
        self.row = []
        return rules.X_ROW

    def _enter_cell(self, node: LexborNode) -> int:
        if self.row is None:
            self.row = []
        self.cell += 1
        self.cell_start = len(self.buf)
        return rules.X_CELL

    def _enter_br(self, node: LexborNode) -> int:
        self.buf.append(" " if self.cell else "\n")
        return rules.SKIP

    def _enter_hr(self, node: LexborNode) -> int:
        self._open_block()
        if "footnotes-sep" not in (node.attributes.get("class") or ""):
            self._emit("---")
        self.blank = True
        return rules.SKIP

    def _enter_img(self, node: LexborNode) -> int:
        attrs = node.attributes
        alt = " ".join((attrs.get("alt") or "").split())
        if alt:
            cls = attrs.get("class") or ""
            formula = "ql-img-inline-formula" in cls or "latex" in cls.split()
            self.buf.append(f"${alt}$" if formula else f"[image: {alt}]")
        return rules.SKIP

    def _enter_script(self, node: LexborNode) -> int:
        kind = node.attributes.get("type") or ""
        if kind.startswith("math/tex"):
            self._put_math(node.text(deep=True), "mode=display" in kind)
        return rules.SKIP

    def _enter_mathml(self, node: LexborNode) -> int:
        attrs = node.attributes
        tex = rules.tex_annotation(node) or attrs.get("alttext")
        display = attrs.get("display") == "block"
        self._put_math_or_text(tex, display, node)
        return rules.SKIP

    def _enter_mjx_container(self, node: LexborNode) -> int:
        attrs = node.attributes
        tex = rules.tex_annotation(node)
        if tex is None and (math := node.css_first("math[alttext]")) is not None:
            tex = math.attributes.get("alttext")
        display = attrs.get("display") in ("true", "block")
        self._put_math_or_text(tex or attrs.get("aria-label"), display, node)
        return rules.SKIP

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
        if code == rules.X_NOTE:
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


def _is_note(attrs: dict[str, str | None], lst: _List | None) -> bool:
    if lst is not None and lst.notes:
        return True
    if "footnote" in (attrs.get("class") or ""):
        return True
    return rules.FN_ITEM_ID.match(attrs.get("id") or "") is not None


_Handler = Callable[[Renderer, LexborNode], int]
_ENTER: dict[str, _Handler] = {
    "span": Renderer._enter_span,
    "a": Renderer._enter_a,
    "li": Renderer._enter_li,
    "ul": Renderer._enter_list,
    "ol": Renderer._enter_list,
    "blockquote": Renderer._enter_quote,
    "pre": Renderer._enter_pre,
    "code": Renderer._enter_code,
    "table": Renderer._enter_table,
    "tr": Renderer._enter_tr,
    "td": Renderer._enter_cell,
    "th": Renderer._enter_cell,
    "br": Renderer._enter_br,
    "hr": Renderer._enter_hr,
    "img": Renderer._enter_img,
    "script": Renderer._enter_script,
    "math": Renderer._enter_mathml,
    "mjx-container": Renderer._enter_mjx_container,
    **{tag: Renderer._enter_skip for tag in rules.SKIP_TAGS},
    **{tag: Renderer._enter_block for tag in rules.BLOCK_TAGS},
    **{tag: Renderer._enter_heading for tag in rules.HEADINGS},
}
