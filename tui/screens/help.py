"""The keys of the screen below and of the app, in one table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

_GENERAL = (
    ("ctrl+p", "command palette: every screen and command by name"),
    ("tab / shift+tab", "next / previous field or list"),
    ("escape", "close this, or go back"),
)


class HelpScreen(ModalScreen[None]):
    """Every key the screen below answers to, then the app's keys."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, below: Screen[object]) -> None:
        super().__init__()
        self.below = below
        self.rows = key_rows(below)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(f"Keys: {self.below.__class__.__name__.removesuffix('Screen')}",
                         id="help-title", markup=False)
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "does")
        for key, what in self.rows:
            table.add_row(key, what)
        for key, what in _GENERAL:
            table.add_row(key, what)
        table.focus()


def key_rows(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key, description) for each binding active on `screen`, focused widget first."""
    rows: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        what = binding.description or binding.action.replace("_", " ")
        label = binding.key_display or screen.app.get_key_display(binding)
        if (label, what) in seen or binding.action in {"help", "command_palette"}:
            continue
        seen.add((label, what))
        rows.append((label or key, what))
    return rows
