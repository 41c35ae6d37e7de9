"""A list of linked documents (citations, cited-by, similar) that open in the reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tracker.tui.host import open_web
from tracker.tui.messages import OpenDocument


@dataclass(frozen=True)
class LinkEntry:
    """One row: a stored document (`document_id`) or only a URL."""

    document_id: int | None
    title: str
    detail: str
    url: str | None


class LinkList(OptionList):
    """Enter opens the highlighted document in the reader; `o` opens its URL in the browser."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open"),
        Binding("o", "open_url", "Open URL"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.entries: list[LinkEntry] = []

    def show(self, entries: Sequence[LinkEntry], empty: str) -> None:
        """Replace the rows; `empty` is shown when there are none."""
        self.entries = list(entries)
        self.clear_options()
        if not self.entries:
            self.add_option(Option(Text(empty, "italic"), disabled=True))
            return
        self.add_options([Option(_prompt(entry)) for entry in self.entries])
        self.highlighted = 0

    @property
    def current(self) -> LinkEntry | None:
        """The highlighted entry."""
        index = self.highlighted
        if index is None or not 0 <= index < len(self.entries):
            return None
        return self.entries[index]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Open a stored document; for one that is not stored, say how to open its URL."""
        event.stop()
        if not 0 <= event.option_index < len(self.entries):
            return
        entry = self.entries[event.option_index]
        if entry.document_id is not None:
            self.post_message(OpenDocument(entry.document_id))
        else:
            self.notify(f"Not in the store: press o to open {entry.url or 'it'} in the browser",
                        markup=False)

    def action_open_url(self) -> None:
        """Open the highlighted entry's URL in the browser."""
        entry = self.current
        if entry is None or not entry.url:
            self.notify("This entry has no URL", severity="warning", markup=False)
            return
        open_web(self, entry.url)


def _prompt(entry: LinkEntry) -> Text:
    """Two lines: the title (bold when stored) and its details."""
    text = Text(entry.title, "bold" if entry.document_id is not None else "")
    text.append("\n")
    text.append(entry.detail, "dim")
    return text
