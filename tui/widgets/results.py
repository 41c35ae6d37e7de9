"""The search result list: one option per hit, enter or a click opens the document."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tracker.tui.library import Hit
from tracker.tui.messages import OpenDocument

HIGHLIGHT = "bold reverse"
"""The style of query words in a snippet."""


def hit_text(hit: Hit) -> Text:
    """A hit as rich text: bold title, a dim facts line, the comment's post, the snippet.

    Every forum string goes in as plain text, so none of it is read as markup.
    """
    text = Text(hit.title, style="bold")
    text.append("\n")
    text.append(facts_line(hit), style="dim")
    if hit.context:
        text.append("\n")
        text.append(hit.context, style="italic dim")
    if hit.snippet:
        text.append("\n")
        text.append_text(snippet_text(hit.snippet, hit.highlights))
    return text


def facts_line(hit: Hit) -> str:
    """`authors · date · source · AF · karma · kind`, leaving out what is unknown."""
    parts = [hit.authors or "unknown author", hit.date or "undated", hit.source]
    if hit.af:
        parts.append("AF")
    if hit.karma is not None:
        parts.append(f"{hit.karma:g} karma")
    parts.append(hit.kind)
    return " · ".join(parts)


def snippet_text(snippet: str, highlights: Sequence[tuple[int, int]]) -> Text:
    """The snippet with the matching words styled."""
    text = Text(snippet)
    for start, end in highlights:
        # Spans come from the library; clamp them so a bad one styles nothing rather than fail.
        start, end = max(0, start), min(len(snippet), end)
        if start < end:
            text.stylize(HIGHLIGHT, start, end)
    return text


class ResultList(OptionList):
    """Search hits, best first; enter or a click posts `OpenDocument`."""

    DEFAULT_CSS = """
    ResultList {
        height: 1fr;
        border: none;
        padding: 0 1;
    }
    ResultList:focus {
        border: none;
    }
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Next", show=False),
        Binding("k", "cursor_up", "Previous", show=False),
        Binding("up", "up_or_leave", "Previous", show=False),
        Binding("enter", "select", "Open", show=True),
    ]

    class LeftTop(Message):
        """Up was pressed on the first result: the screen moves focus back to the query."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hits: list[Hit] = []

    def show_hits(self, hits: Sequence[Hit], *, keep: bool = False) -> None:
        """Replace the list with these hits (a divider between them), the first highlighted;
        with `keep` (the same search run again after an index update), the highlighted
        document stays highlighted if it is still there, so the cursor does not jump."""
        before = self.highlighted_hit if keep else None
        self.hits = list(hits)
        options: list[Option | None] = []
        for number, hit in enumerate(self.hits):
            if number:
                options.append(None)
            options.append(Option(hit_text(hit), id=str(number)))
        self.set_options(options)
        ids = [hit.document_id for hit in self.hits]
        if before is not None and before.document_id in ids:
            self.highlighted = self.get_option_index(str(ids.index(before.document_id)))
            return
        self.highlighted = 0 if self.hits else None
        self.scroll_home(animate=False)

    @property
    def highlighted_hit(self) -> Hit | None:
        """The hit under the cursor."""
        if self.highlighted is None or not self.hits:
            return None
        option = self.get_option_at_index(self.highlighted)
        return self.hits[int(option.id)] if option.id is not None else None

    def action_up_or_leave(self) -> None:
        """Up a result, or out of the list from the first one."""
        if not self.highlighted:
            self.post_message(self.LeftTop())
        else:
            self.action_cursor_up()

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id is None:
            return
        hit = self.hits[int(event.option_id)]
        self.post_message(OpenDocument(hit.document_id, at=hit.at))
