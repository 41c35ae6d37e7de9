"""The writing half of the HTML renderer: paragraphs become lines under the current quote and
list prefixes, with blank lines between blocks and the sentence around each open link."""

from __future__ import annotations

from tracker.models import LinkCreate
from tracker.text import clean_text

from . import htmlrules as rules
from .links import sentence_around


class LineWriter:
    """Text buffered for the block being read, flushed into prefixed lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buf: list[str] = []
        self.flushes = 0
        self.segs: list[str] = []
        self.prefix = ""
        self.last_prefix = ""
        self.marker: tuple[int, str] | None = None
        self.lead = ""
        self.blank = False
        self.open_links: list[tuple[LinkCreate, int, int]] = []

    def finish(self) -> str:
        """Everything written, as one text."""
        self._flush()
        text = "\n".join(self.lines)
        if "\n\n\n" in text:  # a substring test is ~10x cheaper than the regex's scan
            text = rules.BLANK_RUN.sub("\n\n", text)
        # No clean_text over the whole text again: every line was cleaned before `_emit` (or is
        # a constant), and lines joined by newlines hold no control character to remove; the
        # second scan was ~4% of the renderer's CPU.
        return text.strip("\n")

    def _open_block(self) -> None:
        self._flush()
        if self.marker is None:
            self.blank = True

    def _close_block(self) -> None:
        self._flush()
        if self.marker is None:
            self.blank = True

    def _flush(self) -> None:
        buf = self.buf
        if not buf:
            return
        joined = "".join(buf)
        if self.open_links:
            for link, start, end in self.open_links:
                link.context = sentence_around(joined, start, end)
            self.open_links.clear()
        raw = clean_text(joined)
        buf.clear()
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
                self.lines.append(rules.common_prefix(self.last_prefix, self.prefix).rstrip())
        prefix = self.prefix
        if self.marker is not None:
            prefix = self._marked_prefix(*self.marker)
            self.marker = None
        self.lines.append(f"{prefix}{self.lead}{line}".rstrip())
        self.lead = ""
        self.last_prefix = self.prefix

    def _marked_prefix(self, index: int, mark: str) -> str:
        # The first line of a list item shows its marker in place of the item's indent.
        if index >= rules.MAX_PREFIX_DEPTH:
            return self.prefix
        segs = self.segs
        return "".join(segs[:index]) + mark + "".join(segs[index + 1 : rules.MAX_PREFIX_DEPTH])

    def _push(self, seg: str) -> None:
        self.segs.append(seg)
        if len(self.segs) <= rules.MAX_PREFIX_DEPTH:
            self.prefix += seg

    def _pop(self) -> None:
        if self.segs:
            self.segs.pop()
            self.prefix = "".join(self.segs[:rules.MAX_PREFIX_DEPTH])
