"""What the screens may ask of the app, without importing it: the app imports the screens.

`HostApp` is the base of `TrackerApp`: the library, the background job's news and start, and
error reporting. Screens reach it through `app_of`, `library_of` and `show_error`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin

from textual.app import App
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.widget import Widget

from tracker.errors import TrackerError
from tracker.text import clean_text, safe_url
from tracker.tui.library import Library, Progress

log = logging.getLogger("tracker.tui.app")

JOB_TASKS = {"sync": "Sync", "index": "Index run"}


@dataclass(frozen=True)
class JobEvent:
    """A change in the app's background job (a sync or an index run)."""

    task: str
    """sync | index"""
    running: bool
    progress: Progress | None = None
    message: str = ""
    failed: bool = False


class HostApp(App[None]):
    """The app as its screens see it.

    Args:
        library: the store, index and jobs (`tracker.workbench.Workbench`).
    """

    job_event: reactive[JobEvent | None] = reactive(None, always_update=True)
    """The latest news of the background job; screens `watch` it."""

    def __init__(self, library: Library) -> None:
        super().__init__()
        self.library = library

    @property
    def job_running(self) -> bool:
        """Whether a sync or index run is under way."""
        raise NotImplementedError

    def start_job(self, task: str, *, quiet: bool = False) -> bool:
        """Start a sync or an index run in the background; False if one is running."""
        raise NotImplementedError

    def show_error(self, error: BaseException) -> None:
        """An expected failure as a notification; anything else is logged and notified too."""
        if isinstance(error, TrackerError):
            self.notify(error.msg, title=error.title or "Error", severity="error",
                        markup=False, timeout=8)
            return
        log.error("unexpected error in the TUI", exc_info=error)
        self.notify(f"{type(error).__name__}: {error}", title="Unexpected error",
                    severity="error", markup=False, timeout=12)


def library_of(node: DOMNode) -> Library:
    """The app's `Library`, for a screen or widget of this app."""
    app = node.app
    assert isinstance(app, HostApp), "tracker screens run inside TrackerApp"
    return app.library


def app_of(node: DOMNode) -> HostApp:
    """The TrackerApp a screen or widget belongs to."""
    app = node.app
    assert isinstance(app, HostApp), "tracker screens run inside TrackerApp"
    return app


def show_error(node: DOMNode, error: BaseException) -> None:
    """Report a failure from a screen or widget as a notification."""
    app = node.app
    assert isinstance(app, HostApp)
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
