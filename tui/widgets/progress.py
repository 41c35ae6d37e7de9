"""A background job's progress: a bar (indeterminate while the total is unknown) over a line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import ProgressBar, Static

from tracker.tui.library import Progress


class JobProgress(Vertical):
    """The running sync or index run; idle, it shows the last outcome."""

    DEFAULT_CSS = """
    JobProgress {
        height: auto;
        padding: 0 1;
    }
    JobProgress ProgressBar {
        display: none;
    }
    JobProgress.-running ProgressBar {
        display: block;
    }
    JobProgress #job-message {
        color: $text-muted;
    }
    """

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, id="job-bar")
        yield Static(Content("No job running: s syncs the sources, i runs the index"),
                     id="job-message")

    @property
    def message(self) -> str:
        """The line under the bar, as plain text."""
        return str(self.query_one("#job-message", Static).content)

    def begin(self, task: str) -> None:
        """Show a job starting: an indeterminate bar until it reports a total."""
        self.add_class("-running")
        self.query_one(ProgressBar).update(total=None, progress=0)
        self._say(f"{task}: starting…")

    def advance(self, progress: Progress) -> None:
        """Show how far the job has come (`total` None keeps the bar indeterminate)."""
        bar = self.query_one(ProgressBar)
        if progress.total:
            bar.update(total=progress.total, progress=min(progress.done, progress.total))
        else:
            bar.update(total=None)
        self._say(progress.message)

    def end(self, message: str) -> None:
        """Hide the bar and leave the outcome on the line."""
        self.remove_class("-running")
        self._say(message)

    def _say(self, text: str) -> None:
        # Messages carry source errors (cleaned, yet free text): plain content, never markup.
        self.query_one("#job-message", Static).update(Content(text))
