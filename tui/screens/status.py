"""The status screen: sources with their last syncs and errors, the index state, and a sync or
index run in the background with a progress bar while the rest of the app stays usable."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.events import ScreenResume
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from tracker.tui.host import JOB_TASKS, JobEvent, app_of, library_of, show_error
from tracker.tui.library import IndexLine, Library, Overview, SourceLine
from tracker.tui.widgets.progress import JobProgress

COLUMNS = ("source", "enabled", "documents", "last sync", "last success", "error")
_ERROR_CHARS = 48  # the full error of the highlighted source is shown under the table


def source_row(line: SourceLine) -> list[Text]:
    """A source's table row; cells are rich `Text`, so an error message is never markup."""
    error = line.error if len(line.error) <= _ERROR_CHARS else \
        line.error[:_ERROR_CHARS - 1] + "…"
    return [Text(line.name, style="bold"), Text("yes" if line.enabled else "no"),
            Text(str(line.documents), justify="right"), Text(line.last_sync),
            Text(line.last_success), Text(error, style="bold red" if error else "")]


def index_content(database: str, index: IndexLine, hint: str = "") -> Content:
    """The index panel: the model, how much is split and embedded, and how to get the whole
    history when only recent posts are stored."""
    waiting = index.to_split or index.to_embed
    return Content.assemble(
        ("Index", "bold"), f"  {database} · model {index.model}\n",
        f"{index.documents} documents · {index.passages} passages · {index.embedded} embedded",
        "\n", (f"{index.to_split} documents to split · {index.to_embed} passages to embed",
               "bold $warning" if waiting else "dim"),
        ("  (press i)" if waiting else "", "dim"),
        (f" · {index.eta} to full coverage" if index.to_embed and index.eta else "", "dim"),
        (f"\n{hint}" if hint else "", "bold $accent"),
    )


class StatusScreen(Screen[None]):
    """Sources, the index, and background sync and index runs."""

    DEFAULT_CSS = """
    StatusScreen .pane-title {
        padding: 0 1;
        text-style: bold;
        background: $boost;
    }
    StatusScreen #sources {
        height: auto;
        max-height: 12;
    }
    StatusScreen #source-error {
        padding: 0 1;
        color: $error;
        height: auto;
    }
    StatusScreen #index-panel {
        padding: 1 1;
        height: auto;
    }
    StatusScreen JobProgress {
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("s", "sync", "Sync sources"),
        Binding("i", "index", "Run the index"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.overview: Overview | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Sources", classes="pane-title")
        yield DataTable(id="sources", cursor_type="row", zebra_stripes=True)
        yield Static(id="source-error")
        yield Static(Content("Index: loading…"), id="index-panel")
        yield JobProgress()
        yield Footer()

    # --- the overview -------------------------------------------------------------------------

    @on(ScreenResume)
    def action_refresh(self) -> None:
        """Reload the sources and the index state."""
        self._load(library_of(self))

    @work(thread=True, exit_on_error=False, group="overview")
    def _load(self, library: Library) -> None:
        overview = library.overview()
        self.app.call_from_thread(self._show, overview)

    def _show(self, overview: Overview) -> None:
        self.overview = overview
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for line in overview.sources:
            table.add_row(*source_row(line), key=line.name)
        if overview.sources:
            table.move_cursor(row=min(row, len(overview.sources) - 1))
        self._show_error()
        self.query_one("#index-panel", Static).update(
            index_content(overview.database, overview.index, overview.hint))

    @on(DataTable.RowHighlighted)
    def _show_error(self) -> None:
        """The highlighted source's whole error message, under the table."""
        lines = self.overview.sources if self.overview else []
        row = self.query_one(DataTable).cursor_row
        error = lines[row].error if 0 <= row < len(lines) else ""
        self.query_one("#source-error", Static).update(
            Content(f"{lines[row].name}: {error}" if error else ""))

    # --- background jobs (run by the app, so they outlive this screen) ----------------------

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.watch(app_of(self), "job_event", self._job_changed)

    def action_sync(self) -> None:
        """Sync every enabled source in the background."""
        app_of(self).start_job("sync")

    def action_index(self) -> None:
        """Split and embed what is new, in the background."""
        app_of(self).start_job("index")

    @property
    def running(self) -> bool:
        """Whether a sync or index run is under way."""
        return app_of(self).job_running

    def _job_changed(self, event: JobEvent | None) -> None:
        if event is None:
            return
        bar = self.query_one(JobProgress)
        if not event.running:
            bar.end(event.message)
            self.action_refresh()
        elif event.progress is None:
            bar.begin(JOB_TASKS[event.task])
        else:
            bar.advance(event.progress)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Notify a failed overview load (worker messages do not bubble to the app)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            show_error(self, event.worker.error)
