"""The search screen: results update as you type, filtered by source, kind, author, date, karma."""

from __future__ import annotations

from contextlib import suppress

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static
from textual.worker import get_current_worker

from tracker.tui.host import JobEvent, app_of, library_of, show_error
from tracker.tui.library import Library, Query, SearchOutcome
from tracker.tui.widgets.filters import FilterBar, Filters
from tracker.tui.widgets.results import ResultList

DEBOUNCE_SECONDS = 0.06
"""Quiet time after a keystroke before searching. A search of a 100k-passage store takes
~55 ms (p50) here, so a short pause is enough to avoid searching on every key of a burst
(paste, fast typing) while keeping last key → results near 150 ms; 150 ms cost ~90 ms more."""

HINT = ("Type to search posts, comments and papers.  ↓/esc: results · enter: open · "
        "/: query · F6: filters · tab: next field")


class SearchScreen(Screen[None]):
    """Search as you type; enter or a click opens a result in the reader."""

    DEFAULT_CSS = """
    SearchScreen #query { margin: 0 1; }
    SearchScreen #status { height: 1; margin: 0 2; color: $text-muted; }
    SearchScreen FilterBar.-hidden { display: none; }
    """

    BINDINGS = [
        Binding("slash", "focus_query", "Query"),
        Binding("escape", "switch_focus", "Query/results"),
        Binding("down", "focus_results", "Results", show=False),
        Binding("f6", "toggle_filters", "Filters"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.outcome: SearchOutcome | None = None
        """The search whose results are shown; None while the query is empty."""
        self._wanted: Query | None = None
        """The newest query asked for; results of any other are dropped."""
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="search: a title, an author, or what it was about",
                    id="query")
        yield FilterBar(id="filters")
        yield Static(Text(HINT), id="status")
        yield ResultList(id="results")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#query", Input).focus()
        self._load_sources(library_of(self))
        self._warm_up(library_of(self))
        self.watch(app_of(self), "job_event", self._job_changed, init=False)

    def _job_changed(self, event: JobEvent | None) -> None:
        """Search again when a background job changed what is searchable: the documents are
        split (keyword search works from then on), the run ended, or a sync stored more."""
        if event is None:
            return
        progress = event.progress
        # FTS5 follows the passages as they are split; tantivy once its own phase is done.
        split_done = progress is not None and progress.task in ("split", "keywords") \
            and progress.total is not None and progress.done >= progress.total
        if (split_done or not event.running) and self._wanted is not None:
            self._wanted = None
            self.search_now()

    @work(thread=True, exit_on_error=False, group="sources")
    def _load_sources(self, library: Library) -> None:
        try:
            names = library.sources()
        except Exception as e:
            self.app.call_from_thread(show_error, self, e)
            return
        self.app.call_from_thread(self.query_one(FilterBar).set_sources, names)

    @work(thread=True, exit_on_error=False, group="warm-up")
    def _warm_up(self, library: Library) -> None:
        # The first search opens the index, loads the query model and builds the fuzzy
        # title/author matchers (~0.7 s on the 78k-passage corpus): pay it before the first
        # keystroke rather than after it. A failure here shows again on the first search.
        with suppress(Exception):
            library.search(Query("the", limit=1))

    # --- typing and filtering -----------------------------------------------------------------

    @on(Input.Changed, "#query")
    def _query_changed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_SECONDS, self.search_now)

    @on(Input.Submitted, "#query")
    def _query_submitted(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.search_now()
        self.action_focus_results()

    @on(FilterBar.Changed)
    def _filters_changed(self) -> None:
        self.search_now()

    def current_query(self) -> Query:
        """The query the input and the filters describe now."""
        text = self.query_one("#query", Input).value
        filters: Filters = self.query_one(FilterBar).filters
        return Query(text=text, sources=filters.sources, kinds=filters.kinds,
                     authors=filters.authors, since=filters.since, until=filters.until,
                     min_score=filters.min_score)

    def search_now(self) -> None:
        """Search for what the input and filters say (an empty query clears the list)."""
        query = self.current_query()
        if query == self._wanted:  # shown already, or on its way
            return
        self._wanted = query
        if not query.text.strip():
            self.outcome = None
            self.query_one(ResultList).show_hits([])
            self._set_status(Text(HINT))
            return
        self._set_status(Text("searching…", style="dim"))
        self._search(library_of(self), query)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, library: Library, query: Query) -> None:
        if query != self._wanted:  # superseded while it waited for the previous search
            return
        try:
            outcome = library.search(query)
        except Exception as e:
            # Handled here: a screen worker's state changes do not bubble up to the app.
            self.app.call_from_thread(self._failed, query, e)
            return
        if not get_current_worker().is_cancelled and outcome.query == self._wanted:
            self.app.call_from_thread(self._show, outcome)

    def _show(self, outcome: SearchOutcome) -> None:
        if outcome.query != self._wanted:  # a newer query was typed meanwhile
            return
        again = self.outcome is not None and self.outcome.query == outcome.query
        self.outcome = outcome
        self.query_one(ResultList).show_hits(outcome.hits, keep=again)
        self._set_status(_status_line(outcome, self.query_one(FilterBar).filters))

    def _failed(self, query: Query, error: Exception) -> None:
        show_error(self, error)
        if query == self._wanted:  # say so, and let the same query be tried again
            self._wanted = None
            self._set_status(Text("search failed", style="bold red"))

    def _set_status(self, text: Text) -> None:
        self.query_one("#status", Static).update(text)

    # --- actions ------------------------------------------------------------------------------

    def action_focus_query(self) -> None:
        """Focus the query input."""
        self.query_one("#query", Input).focus()

    def action_focus_results(self) -> None:
        """Focus the result list (when it has results)."""
        results = self.query_one(ResultList)
        if results.hits:
            results.focus()

    def action_switch_focus(self) -> None:
        """From the query to the results, from anywhere else back to the query."""
        if self.focused is self.query_one("#query", Input):
            self.action_focus_results()
        else:
            self.action_focus_query()

    def action_toggle_filters(self) -> None:
        """Show or hide the filter row (filters stay applied while hidden)."""
        bar = self.query_one(FilterBar)
        bar.toggle_class("-hidden")
        if bar.has_class("-hidden"):
            if self.focused is not None and bar in self.focused.ancestors:
                self.action_focus_query()
        else:
            bar.query_one("#source").focus()

    @on(ResultList.LeftTop)
    def _left_top(self) -> None:
        self.action_focus_query()


def _status_line(outcome: SearchOutcome, filters: Filters) -> Text:
    count = len(outcome.hits)
    line = Text()
    if count:
        line.append(f"{count} result{'s' if count != 1 else ''}", style="bold")
    else:
        line.append("no results", style="bold")
        shown = outcome.query.text.strip()
        line.append(f" for “{shown[:60]}{'…' if len(shown) > 60 else ''}”")
    line.append(f" · {outcome.seconds * 1000:.0f} ms")
    described = filters.describe()
    if described:
        line.append(f" · filters: {described}")
    if outcome.notice:
        line.append(f" · {outcome.notice}", style="yellow")
    return line
