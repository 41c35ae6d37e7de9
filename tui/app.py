"""The Textual app: four top-level screens (modes), the reader on top, help and errors."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from tracker.errors import TrackerError
from tracker.text import clean_text, safe_url
from tracker.tui.library import Library, Progress
from tracker.tui.messages import OpenDocument

log = logging.getLogger(__name__)

MODES_ORDER = ("search", "claims", "status", "digests")
JOB_TASKS = {"sync": "Sync", "index": "Index run"}
_ACTIVE = (WorkerState.PENDING, WorkerState.RUNNING)


@dataclass(frozen=True)
class JobEvent:
    """A change in the app's background job (a sync or an index run)."""

    task: str
    """sync | index"""
    running: bool
    progress: Progress | None = None
    message: str = ""
    failed: bool = False


class TrackerApp(App[None]):
    """Search, read, follow citations and tag claims over one store.

    Args:
        library: the store, index and jobs (`tracker.workbench.Workbench`).
        start: the first screen: search, claims, status or digests.
    """

    TITLE = "tracker"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "switch_mode('search')", "Search"),
        Binding("f3", "switch_mode('claims')", "Claims"),
        Binding("f4", "switch_mode('status')", "Status"),
        Binding("f5", "switch_mode('digests')", "Digests"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    job_event: reactive[JobEvent | None] = reactive(None, always_update=True)
    """The latest news of the background job; screens `watch` it."""

    def __init__(self, library: Library, *, start: str = "search",
                 index_on_start: bool = False) -> None:
        super().__init__()
        if start not in MODES_ORDER:
            raise TrackerError(f"Unknown screen '{start}'; choose one of {', '.join(MODES_ORDER)}")
        self.library = library
        self.start = start
        self.index_on_start = index_on_start
        self.job: Worker[list[str]] | None = None
        self._quiet = False

    def on_mount(self) -> None:
        from tracker.tui.screens.claims import ClaimsScreen
        from tracker.tui.screens.digests import DigestsScreen
        from tracker.tui.screens.search import SearchScreen
        from tracker.tui.screens.status import StatusScreen

        self.add_mode("search", SearchScreen)
        self.add_mode("claims", ClaimsScreen)
        self.add_mode("status", StatusScreen)
        self.add_mode("digests", DigestsScreen)
        self.switch_mode(self.start)
        if self.index_on_start:
            self.start_job("index", quiet=True)

    # --- the background job -------------------------------------------------------------------

    @property
    def job_running(self) -> bool:
        """Whether a sync or index run is under way."""
        return self.job is not None and self.job.state in _ACTIVE

    def start_job(self, task: str, *, quiet: bool = False) -> bool:
        """Start a sync of every enabled source or an index run in a background thread; the
        app stays usable, progress goes to `job_event` and the header. One job at a time.

        Args:
            task: sync | index.
            quiet: don't report an index run that found nothing to do.
        """
        if self.job is not None and self.job_running:
            self.notify(f"A {JOB_TASKS[self.job.name].lower()} is running; wait until it ends",
                        title="Busy", severity="warning")
            return False
        library = self.library

        def forward(progress: Progress) -> None:  # called on the job's thread
            self.call_from_thread(self._job_advanced, task, progress)

        def run() -> list[str]:
            if task == "sync":
                return library.sync([], forward)
            return [library.index(forward)]

        self._quiet = quiet
        self.job = self.run_worker(run, name=task, group="job", thread=True,
                                   exit_on_error=False)
        self.job_event = JobEvent(task, True, message=f"{JOB_TASKS[task]}: starting…")
        return True

    def _job_advanced(self, task: str, progress: Progress) -> None:
        self.sub_title = f"{JOB_TASKS[task]}: {progress.message}"
        self.job_event = JobEvent(task, True, progress, progress.message)

    def _job_ended(self, worker: Worker[list[str]]) -> None:
        task, title = worker.name, JOB_TASKS[worker.name]
        self.sub_title = ""
        if worker.state == WorkerState.SUCCESS and isinstance(worker.result, list):
            lines = [str(line) for line in worker.result]
            bad = task == "sync" and any(_failed(line) for line in lines)
            summary = "\n".join(lines) or "nothing to do"
            self.job_event = JobEvent(task, False, message=summary, failed=bad)
            if self._quiet and not bad and _nothing_done(lines):
                return
            self.notify(summary, title=f"{title} finished" + (" with errors" if bad else ""),
                        severity="error" if bad else "information", markup=False,
                        timeout=12 if bad else 6)
            return
        error = worker.error
        message = error.msg if isinstance(error, TrackerError) else str(error or "cancelled")
        self.job_event = JobEvent(task, False, message=f"{title} failed: {message}", failed=True)
        if error is not None:
            self.show_error(error)

    # --- navigation ---------------------------------------------------------------------------

    @on(OpenDocument)
    def open_document(self, message: OpenDocument) -> None:
        """Open the reader on top of the current screen (the reader handles its own links)."""
        from tracker.tui.screens.reader import ReaderScreen

        self.push_screen(ReaderScreen(message.document_id, at=message.at))

    def action_help(self) -> None:
        """Show the keys of the current screen and of the app."""
        from tracker.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): Textual's own commands and the app's screens."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Search", "Find posts, comments and papers (F2)",
                            lambda: self.switch_mode("search"))
        yield SystemCommand("Claims", "Claims, their arguments and suggestions (F3)",
                            lambda: self.switch_mode("claims"))
        yield SystemCommand("Status", "Sources, sync and the index (F4)",
                            lambda: self.switch_mode("status"))
        yield SystemCommand("Digests", "This week's and earlier digests (F5)",
                            lambda: self.switch_mode("digests"))
        yield SystemCommand("Keys", "Every key of this screen (F1)", self.action_help)

    async def action_quit(self) -> None:
        """Quit; a running sync or index run stops at its next checkpoint first."""
        self.library.cancel()
        self.exit()

    # --- errors -------------------------------------------------------------------------------

    def show_error(self, error: BaseException) -> None:
        """An expected failure as a notification; anything else is logged and notified too."""
        if isinstance(error, TrackerError):
            self.notify(error.msg, title=error.title or "Error", severity="error",
                        markup=False, timeout=8)
            return
        log.error("unexpected error in the TUI", exc_info=error)
        self.notify(f"{type(error).__name__}: {error}", title="Unexpected error",
                    severity="error", markup=False, timeout=12)

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (the job): their end is reported here. (A screen's workers
        report to that screen: `Worker.StateChanged` does not bubble.)"""
        if event.worker is self.job and event.state not in _ACTIVE:
            self._job_ended(event.worker)
        elif event.state == WorkerState.ERROR and event.worker.error is not None:
            self.show_error(event.worker.error)


def _failed(line: str) -> bool:
    """Whether a sync summary line (`name: status · counts`) reports anything but ok."""
    return not line.split(" · ", 1)[0].endswith(": ok")


def _nothing_done(lines: list[str]) -> bool:
    return all(" 0 documents split, 0 passages added, 0 embedded" in line for line in lines)


def library_of(node: DOMNode) -> Library:
    """The app's `Library`, for a screen or widget of this app."""
    app = node.app
    assert isinstance(app, TrackerApp), "tracker screens run inside TrackerApp"
    return app.library


def app_of(node: DOMNode) -> TrackerApp:
    """The TrackerApp a screen or widget belongs to."""
    app = node.app
    assert isinstance(app, TrackerApp), "tracker screens run inside TrackerApp"
    return app


def show_error(node: DOMNode, error: BaseException) -> None:
    """Report a failure from a screen or widget as a notification."""
    app = node.app
    assert isinstance(app, TrackerApp)
    app.show_error(error)


def open_web(node: Widget, url: str, base: str | None = None) -> bool:
    """Open `url` (relative ones against `base`) in the browser if it is http(s); else say no.

    Bodies and citations come from the web: a `javascript:`, `file:` or escape-laden URL must
    never reach the browser or the terminal.
    """
    target = safe_url(urljoin(base, url) if base and safe_url(base) else url)
    if target is None:
        shown = clean_text(url).encode("unicode_escape").decode("ascii")[:80]
        node.notify(f"Not opening {shown}: only http(s) URLs open in the browser",
                    title="Refused", severity="warning", markup=False)
        return False
    node.app.open_url(target)
    node.notify(f"Opening {target}", markup=False)
    return True
