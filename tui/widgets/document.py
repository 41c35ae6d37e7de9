"""The reader's text view: a Line-API scroll view over a `TextModel`, with a sentence cursor,
a selection (keys and mouse) and claim marks.

Only visible lines are rendered, as Segments built from plain strings: forum text is never
parsed as markup. Lines are wrapped lazily: the first screenful at once, the rest in chunks on a
timer (or at once when a key jumps past them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len, split_graphemes
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from tracker.tui.library import Mark
from tracker.tui.widgets.textmodel import Line, TextModel, visible_ranges

_CHUNK = 1500  # lines wrapped per timer tick (~5 ms of prose), so keys stay responsive
_TICK = 0.02
_GUTTER = 1  # a blank column either side of the text
_FALLBACK_WIDTH = 78  # before the first layout
_STYLE_OF_KIND = {"h1": "h1", "h2": "h2", "h3": "heading", "h4": "heading", "h5": "heading",
                  "h6": "heading", "note": "note", "code": "code", "fence": "code",
                  "rule": "rule"}
_BULLETS = str.maketrans("-*+", "•••")


class DocumentView(ScrollView, can_focus=True):
    """A document's body: headings, lists, quotes and footnotes styled, claim marks shown."""

    ALLOW_SELECT = False  # our own selection maps to body offsets; Textual's would not
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "document--h1", "document--h2", "document--heading", "document--marker", "document--bar",
        "document--quote", "document--code", "document--note", "document--footref",
        "document--cursor", "document--selection", "document--supports",
        "document--opposes", "document--mentions", "document--stale", "document--suggested",
        "document--em", "document--strong", "document--link", "document--rule",
    }
    DEFAULT_CSS = """
    DocumentView { overflow-y: scroll; overflow-x: hidden; background: $surface; }
    DocumentView > .document--h1 { text-style: bold underline; color: $accent; }
    DocumentView > .document--h2 { text-style: bold underline; }
    DocumentView > .document--heading { text-style: bold; }
    DocumentView > .document--marker { color: $text-muted; }
    DocumentView > .document--bar { color: $accent; }
    DocumentView > .document--quote { text-style: italic; color: $text-muted; }
    DocumentView > .document--code { color: $text-secondary; }
    DocumentView > .document--note { color: $text-muted; }
    DocumentView > .document--footref { color: $accent; text-style: bold; }
    DocumentView > .document--em { text-style: italic; }
    DocumentView > .document--strong { text-style: bold; }
    DocumentView > .document--link { color: $text-accent; text-style: underline; }
    DocumentView > .document--rule { color: $text-muted; }
    DocumentView > .document--cursor { background: $primary-muted; }
    DocumentView > .document--selection { text-style: reverse; }
    DocumentView > .document--supports { background: $success-muted; text-style: underline; }
    DocumentView > .document--opposes { background: $error-muted; text-style: underline; }
    DocumentView > .document--mentions { background: $warning-muted; }
    DocumentView > .document--stale { text-style: dim strike; }
    DocumentView > .document--suggested { text-style: underline; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Next sentence", show=False),
        Binding("k,up", "cursor_up", "Previous sentence", show=False),
        Binding("shift+down,J", "extend_down", "Extend selection down", show=False),
        Binding("shift+up,K", "extend_up", "Extend selection up", show=False),
        Binding("v", "toggle_select", "Select"),
        Binding("escape", "clear_selection", "Clear selection", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("pageup,b", "page_up", "Page up", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "bottom", "Bottom", show=False),
    ]

    class Moved(Message):
        """The cursor, the selection or the marks under the cursor changed."""

        def __init__(self, view: DocumentView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> DocumentView:
            """The view that moved."""
            return self.view

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.model = TextModel("", _FALLBACK_WIDTH)
        self.marks: list[Mark] = []
        self.cursor = -1
        """The sentence under the cursor (an index into `model.sentences`); -1: none."""
        self.selection: tuple[int, int] | None = None
        """(anchor, head) sentences, both included, in either order."""
        self.extending = False
        """`v` was pressed: moving the cursor moves the selection's head."""
        self._dragging = False
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._timer: Timer | None = None

    # --- loading ------------------------------------------------------------------------------

    @property
    def body(self) -> str:
        """The text shown."""
        return self.model.body

    def load(self, body: str, marks: Sequence[Mark] = (), at: int | None = None) -> None:
        """Show `body` with its marks, the cursor on the sentence at offset `at` (or the first)."""
        self.model = TextModel(body, self._text_width())
        self.marks = sorted(marks, key=lambda m: (m.start, m.end))
        self.selection, self.extending, self._dragging = None, False, False
        self.model.wrap_lines(self._page_height() + 1)
        self.cursor = self.model.sentence_at(at or 0)
        self._changed()
        self.scroll_to(y=0, animate=False, immediate=True)
        if at is not None and self.cursor >= 0:
            self._show_cursor(top=True)
        self._start_wrapping()
        self.post_message(self.Moved(self))

    def add_mark(self, mark: Mark) -> None:
        """Show one more claim mark (after tagging)."""
        self.marks = sorted([*self.marks, mark], key=lambda m: (m.start, m.end))
        self._changed()
        self.post_message(self.Moved(self))

    def _start_wrapping(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self.model.done:
            self._timer = self.set_interval(_TICK, self._wrap_tick)

    def _wrap_tick(self) -> None:
        """Wrap the next chunk in the background of the event loop."""
        self.model.wrap(_CHUNK)
        self._update_size()
        if self.model.done and self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_resize(self, event: events.Resize) -> None:
        """Rewrap at the new width, keeping the cursor where it was."""
        width = self._text_width()
        if width == self.model.width:
            return
        keep = self.cursor_span
        model = TextModel(self.model.body, width)
        model.sentences_until(max(self.cursor, *(self.selection or (0,))) + 1)
        model.wrap_lines(self._page_height() + 1)
        self.model = model
        self._changed()
        if keep is not None:
            self._show_cursor(top=True)
        self._start_wrapping()

    def _text_width(self) -> int:
        width = self.scrollable_content_region.width
        return width - 2 * _GUTTER if width > 2 * _GUTTER + 8 else _FALLBACK_WIDTH

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def _update_size(self) -> None:
        self.virtual_size = Size(self.model.width + 2 * _GUTTER, len(self.model.lines))

    def _changed(self) -> None:
        """Redraw after the cursor, the selection, the marks or the lines changed."""
        self._cache.clear()
        self._update_size()
        self.refresh()

    # --- what is selected ---------------------------------------------------------------------

    @property
    def cursor_span(self) -> tuple[int, int] | None:
        """Body offsets of the sentence under the cursor."""
        return self.model.sentences[self.cursor] if self.cursor >= 0 else None

    @property
    def selection_span(self) -> tuple[int, int] | None:
        """Body offsets of the selection, or None."""
        if self.selection is None:
            return None
        low, high = min(self.selection), max(self.selection)
        return self.model.sentences[low][0], self.model.sentences[high][1]

    @property
    def target_span(self) -> tuple[int, int] | None:
        """What `t` tags: the selection, else the sentence under the cursor."""
        return self.selection_span or self.cursor_span

    def links_at_cursor(self) -> list[str]:
        """The link destinations (as written) in the sentence under the cursor, in order."""
        span = self.cursor_span
        if span is None:
            return []
        inline = self.model.blocks[self.model.block_at(span[0])].inline
        if inline is None:
            return []
        return [url for start, end, url in inline.links if start < span[1] and end > span[0]]

    def marks_at_cursor(self) -> list[Mark]:
        """The claim marks overlapping the sentence under the cursor."""
        span = self.cursor_span
        if span is None:
            return []
        return [m for m in self.marks if m.start < span[1] and m.end > span[0]]

    # --- keys ---------------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        """Next sentence (extends the selection after `v`)."""
        self._step(1, self.extending)

    def action_cursor_up(self) -> None:
        """Previous sentence (extends the selection after `v`)."""
        self._step(-1, self.extending)

    def action_extend_down(self) -> None:
        """Extend the selection by the next sentence."""
        self._step(1, True)

    def action_extend_up(self) -> None:
        """Extend the selection by the previous sentence."""
        self._step(-1, True)

    def action_toggle_select(self) -> None:
        """Start extending a selection from the cursor, or stop extending it."""
        if self.cursor < 0:
            return
        if self.extending:
            self.extending = False
        else:
            self.extending = True
            self.selection = (self.cursor, self.cursor)
        self._changed()
        self.post_message(self.Moved(self))

    def action_clear_selection(self) -> None:
        """Clear the selection; without one, let escape close the reader."""
        if self.selection is None and not self.extending:
            raise SkipAction()
        self.clear_selection()

    def clear_selection(self) -> None:
        """Drop the selection (the cursor stays)."""
        self.selection, self.extending = None, False
        self._changed()
        self.post_message(self.Moved(self))

    def action_page_down(self) -> None:
        """A page down, the cursor on its first line."""
        height = self._page_height()
        self.model.wrap_lines(int(self.scroll_y) + 3 * height)
        top = min(int(self.scroll_y) + height - 1, max(0, len(self.model.lines) - height))
        self._jump(top)

    def action_page_up(self) -> None:
        """A page up, the cursor on its first line."""
        self._jump(max(0, int(self.scroll_y) - self._page_height() + 1))

    def action_top(self) -> None:
        """The first sentence."""
        self._jump(0)

    def action_bottom(self) -> None:
        """The last sentence (wraps everything first)."""
        self.model.wrap_lines(len(self.model.body) + 1)
        self.model.sentences_until(len(self.model.body) + 1)
        self._update_size()
        self._go(len(self.model.sentences) - 1, self.extending)

    def _jump(self, top: int) -> None:
        if not self.model.lines:
            return
        self.scroll_to(y=top, animate=False, immediate=True)
        self._go(self.model.sentence_at(self.model.lines[top].start), self.extending,
                 scroll=False)

    def _step(self, delta: int, extend: bool) -> None:
        if self.cursor < 0:
            return
        self.model.sentences_until(self.cursor + delta + 1)
        self._go(self.cursor + delta, extend)

    def _go(self, index: int, extend: bool, *, scroll: bool = True) -> None:
        """Move the cursor to sentence `index`; with `extend`, the selection's head too."""
        if not 0 <= index < len(self.model.sentences):
            return
        if extend:
            anchor = self.selection[0] if self.selection is not None else self.cursor
            self.selection = (anchor, index)
        self.cursor = index
        self._changed()
        if scroll:
            self._show_cursor()
        self.post_message(self.Moved(self))

    def _show_cursor(self, *, top: bool = False) -> None:
        """Scroll so the cursor's sentence is visible (near the top with `top`)."""
        start, end = self.model.sentences[self.cursor]
        first = self.model.line_at(start)
        last = self.model.line_at(max(start, end - 1))
        self._update_size()
        height, y = self._page_height(), int(self.scroll_y)
        if top:
            y = max(0, first - 2)
        elif first < y:
            y = first
        elif last >= y + height:
            y = min(first, last - height + 1)
        if y != int(self.scroll_y):
            self.scroll_to(y=y, animate=False, immediate=True)

    # --- mouse --------------------------------------------------------------------------------

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """Click: select the sentence; shift+click: extend the selection to it."""
        index = self._sentence_under(event)
        if index < 0:
            return
        event.stop()
        if event.shift:
            self._go(index, True, scroll=False)
            return
        self.selection, self.extending = (index, index), False
        self._go(index, False, scroll=False)
        self._dragging = True
        self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Dragging extends the selection."""
        if self._dragging:
            index = self._sentence_under(event)
            if index >= 0 and index != self.cursor:
                self._go(index, True, scroll=False)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        """The end of a drag."""
        if self._dragging:
            self._dragging = False
            self.release_mouse()

    def _sentence_under(self, event: events.MouseEvent) -> int:
        lines = self.model.lines
        if not lines:
            return -1
        where = event.get_content_offset_capture(self)
        row = min(max(0, int(self.scroll_y) + where.y), len(lines) - 1)
        return self.model.sentence_at(self._offset_in(lines[row], where.x - _GUTTER))

    def _offset_in(self, line: Line, x: int) -> int:
        """The body offset at column `x` of a line (its last character past its end)."""
        x -= cell_len(line.lead)
        block = self.model.blocks[line.block]
        cells = 0
        for start, end in visible_ranges(block, line.start, line.end):
            graphemes, _total = split_graphemes(self.model.body[start:end])
            for first, _last, length in graphemes:
                cells += length
                if cells > x:
                    return start + first
        return max(line.start, line.end - 1)

    # --- drawing ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """One visible line; lines are styled once and cached until something changes."""
        index = int(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.model.lines):
            return Strip.blank(width, base)
        return self.line_strip(index).crop_extend(0, width, base).apply_style(base)

    def line_strip(self, index: int) -> Strip:
        """Wrapped line `index`, styled (cached until the cursor, selection or marks change)."""
        strip = self._cache.get(index)
        if strip is None:
            strip = self._render_model_line(index)
            self._cache[index] = strip
        return strip

    def _render_model_line(self, index: int) -> Strip:
        line = self.model.lines[index]
        block = self.model.blocks[line.block]
        base = self._style(_STYLE_OF_KIND.get(block.kind, ""))
        if block.kind == "rule":  # drawn across the width; its characters are all hidden
            return Strip([Segment(" " * _GUTTER), Segment("─" * self.model.width, base)])
        text = self._display_text(line)
        if block.quoted:
            base += self._style("quote")
        spans = self._spans(line)
        lead_style = self._style("bar" if block.quoted else "marker")
        segments = [Segment(" " * _GUTTER), Segment(line.lead, lead_style)]
        shown = visible_ranges(block, line.start, line.end)
        for start, end in _pieces(line.start, line.end, spans, shown):
            style = base
            for span_start, span_end, extra in spans:
                if span_start < end and span_end > start:
                    style += extra
            segments.append(Segment(text[start - line.start:end - line.start], style))
        return Strip(segments).simplify()

    def _display_text(self, line: Line) -> str:
        """The line's body text, with tabs as spaces, quote markers as bars and bullets as •
        (one character for one, so offsets hold)."""
        text = self.model.body[line.start:line.end].replace("\t", " ")
        block = self.model.blocks[line.block]
        if line.first and (block.quoted or block.kind == "item"):
            head = text[:block.marker].replace(">", "▌")
            if block.kind == "item":
                head = head.translate(_BULLETS)
            text = head + text[block.marker:]
        return text

    def _spans(self, line: Line) -> list[tuple[int, int, Style]]:
        """Styled spans of a line, in body offsets, weakest first."""
        block = self.model.blocks[line.block]
        spans: list[tuple[int, int, Style]] = []
        if line.first and block.marker:
            name = "footref" if block.kind == "note" else "bar" if block.quoted else "marker"
            spans.append((line.start, line.start + block.marker, self._style(name)))
        if block.inline is not None:
            for start, end, name in block.inline.styles:
                if start < line.end and end > line.start:
                    spans.append((start, end, self._style(name)))
        for mark in self.marks:
            if mark.start < line.end and mark.end > line.start:
                spans.append((mark.start, mark.end, self._mark_style(mark)))
        if self.cursor >= 0 and not self._cursor_selected():
            start, end = self.model.sentences[self.cursor]
            spans.append((start, end, self._style("cursor")))
        selected = self.selection_span
        if selected is not None:
            spans.append((selected[0], selected[1], self._style("selection")))
        return spans

    def _cursor_selected(self) -> bool:
        return self.selection is not None and \
            min(self.selection) <= self.cursor <= max(self.selection)

    def _mark_style(self, mark: Mark) -> Style:
        style = self._style(mark.stance if mark.stance in ("supports", "opposes") else "mentions")
        if mark.status in ("stale", "suggested"):
            style += self._style(mark.status)
        return style

    def _style(self, name: str) -> Style:
        if not name:
            return Style()
        return self.get_component_rich_style(f"document--{name}")


def _pieces(start: int, end: int, spans: Sequence[tuple[int, int, Style]],
            shown: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The drawn parts (`shown`) of `[start, end)`, cut at every span edge inside them."""
    cuts = {start, end}
    for span_start, span_end, _style in spans:
        if start < span_start < end:
            cuts.add(span_start)
        if start < span_end < end:
            cuts.add(span_end)
    for low, high in shown:
        cuts.update((low, high))
    ordered = sorted(cuts)
    pieces = zip(ordered, ordered[1:], strict=False)
    return [(a, b) for a, b in pieces if any(low <= a and b <= high for low, high in shown)]
