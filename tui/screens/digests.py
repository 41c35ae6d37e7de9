"""The digests screen: the weekly digests built so far, and any week's digest to read."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import ScreenResume
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Markdown, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from tracker.tui.host import library_of, show_error
from tracker.tui.library import DigestEntry, Library

EMPTY = "# No digest yet\n\nPress **b** to build last week's, or type a week (YYYY-Www) and enter."


def entry_content(entry: DigestEntry) -> Content:
    """A built digest's row: its week, item count and when it was built."""
    return Content.assemble((entry.week, "bold"), f" · {entry.items} items\n",
                            (f"built {entry.created}", "dim"))


class DigestsScreen(Screen[None]):
    """This week's and earlier digests, rendered as Markdown."""

    DEFAULT_CSS = """
    DigestsScreen #digests-left {
        width: 32;
        border-right: solid $primary-darken-2;
    }
    DigestsScreen .pane-title {
        padding: 0 1;
        text-style: bold;
        background: $boost;
    }
    DigestsScreen #digest-list {
        height: 1fr;
        border: none;
    }
    DigestsScreen #digest-view {
        width: 1fr;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("b", "build", "Last week's digest"),
        Binding("w", "week", "Open a week"),
        Binding("r", "refresh", "Refresh the list"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.week: str | None = None
        """The week shown, once one is."""
        self.entries: list[DigestEntry] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="digests-left"):
                yield Static("Digests", classes="pane-title")
                yield Input(placeholder="Week, e.g. 2026-W07", id="week", max_length=10)
                yield OptionList(id="digest-list")
            with VerticalScroll(id="digest-view"):
                yield Markdown(EMPTY, id="digest")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#digest-list", OptionList).focus()  # keys work before typing a week

    # --- the list -----------------------------------------------------------------------------

    @on(ScreenResume)
    def action_refresh(self) -> None:
        """Reload the list of built digests."""
        self._load_list(library_of(self), self.week)

    @work(thread=True, exit_on_error=False, group="list")
    def _load_list(self, library: Library, keep: str | None) -> None:
        entries = library.digests()
        self.app.call_from_thread(self._show_list, entries, keep)

    def _show_list(self, entries: list[DigestEntry], keep: str | None) -> None:
        self.entries = entries
        listing = self.query_one("#digest-list", OptionList)
        listing.clear_options()
        listing.add_options([Option(entry_content(e), id=e.week) for e in entries])
        weeks = [e.week for e in entries]
        if weeks:
            listing.highlighted = weeks.index(keep) if keep in weeks else 0

    @on(OptionList.OptionHighlighted, "#digest-list")
    def _entry_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        week = event.option.id
        if week and week != self.week:
            self._open(library_of(self), week)

    # --- opening a week -----------------------------------------------------------------------

    def action_build(self) -> None:
        """Build (or open) the digest of the last complete week."""
        self.notify("Building last week's digest…", title="Digest", timeout=3)
        self._open(library_of(self), None)

    def action_week(self) -> None:
        """Type a week to open."""
        self.query_one("#week", Input).focus()

    @on(Input.Submitted, "#week")
    def _week_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#digest-list", OptionList).focus()
        self._open(library_of(self), event.value)

    @work(thread=True, exit_on_error=False, group="digest", exclusive=True)
    def _open(self, library: Library, week: str | None) -> None:
        shown, text = library.digest(week)  # a bad week raises: the app notifies it
        self.app.call_from_thread(self._show_digest, shown, text)
        self.app.call_from_thread(self._show_list, library.digests(), shown)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Notify a failed worker, e.g. a bad week (the message does not bubble to the app)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            show_error(self, event.worker.error)

    def _show_digest(self, week: str, text: str) -> None:
        self.week = week
        self.query_one("#week", Input).value = ""
        self.query_one("#digest", Markdown).update(text)  # mounts its blocks in the background
        self.query_one("#digest-view", VerticalScroll).scroll_home(animate=False)
