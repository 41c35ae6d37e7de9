"""The search filter row: source, kind, author, date range and minimum karma."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Select

KINDS = ("post", "comment", "paper", "entry")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Filters:
    """The filters as the search query takes them (empty means any)."""

    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    min_score: float | None = None

    def describe(self) -> str:
        """A short line naming the active filters, "" when there are none."""
        parts = [*self.sources, *self.kinds, *(f"by {a}" for a in self.authors)]
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.min_score is not None:
            parts.append(f"karma ≥ {self.min_score:g}")
        return ", ".join(parts)


class FilterError(ValueError):
    """A filter field holds something that is not a valid value."""


def parse_day(text: str, label: str) -> date | None:
    """`YYYY-MM-DD` as a date; None when empty; FilterError otherwise."""
    text = text.strip()
    if not text:
        return None
    if not _DAY.fullmatch(text):
        raise FilterError(f"{label}: '{text}' is not a date; write it as YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise FilterError(f"{label}: '{text}' is not a real date ({e})") from e


def parse_karma(text: str) -> float | None:
    """The minimum karma as a number; None when empty; FilterError otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError as e:
        raise FilterError(f"min karma: '{text}' is not a number") from e


class FilterBar(Horizontal):
    """One row of filters; posts `FilterBar.Changed` when the applied filters change.

    Choices apply at once; typed fields apply on enter or when focus leaves them, and an
    invalid value is reported as a notification and left out.
    """

    DEFAULT_CSS = """
    FilterBar {
        height: 1;
        margin: 0 1;
    }
    FilterBar > Select { width: 20; margin-right: 1; }
    FilterBar > #kind { width: 16; }
    FilterBar > Input { width: 1fr; margin-right: 1; }
    FilterBar > #min-karma { width: 12; margin-right: 0; }
    FilterBar > Input.-bad { color: $error; text-style: bold; }
    """

    class Changed(Message):
        """The applied filters are now `filters`."""

        def __init__(self, filters: Filters) -> None:
            super().__init__()
            self.filters = filters

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.filters = Filters()

    def compose(self) -> ComposeResult:
        yield Select[str]([], prompt="any source", id="source", compact=True)
        yield Select[str]([(Text(k), k) for k in KINDS], prompt="any kind", id="kind",
                          compact=True)
        yield Input(placeholder="author", id="author", compact=True)
        yield Input(placeholder="since YYYY-MM-DD", id="since", compact=True, max_length=10,
                    restrict=r"[0-9-]*")
        yield Input(placeholder="until YYYY-MM-DD", id="until", compact=True, max_length=10,
                    restrict=r"[0-9-]*")
        yield Input(placeholder="min karma", id="min-karma", compact=True, type="number")

    def set_sources(self, names: Sequence[str]) -> None:
        """The source choices (kept selected if still offered)."""
        select = self.query_one("#source", Select)
        current = select.value
        select.set_options([(Text(name), name) for name in names])
        if isinstance(current, str) and current in names:
            select.value = current

    @on(Select.Changed)
    def _choice_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.apply()

    @on(Input.Submitted)
    @on(Input.Blurred)
    def _field_done(self, event: Input.Submitted | Input.Blurred) -> None:
        event.stop()
        self.apply()

    @on(Input.Changed)
    def _field_typed(self, event: Input.Changed) -> None:
        event.stop()  # the screen's query input must not see these
        event.input.remove_class("-bad")

    def apply(self) -> None:
        """Read the fields; post `Changed` if the filters differ, notify if one is invalid."""
        try:
            filters = self.read()
        except FilterError as e:
            self.notify(str(e), title="Filter", severity="warning", markup=False)
            return
        if filters != self.filters:
            self.filters = filters
            self.post_message(self.Changed(filters))

    def read(self) -> Filters:
        """The filters the fields hold now.

        Raises:
            FilterError: a date or the karma is malformed, or the dates are reversed.
        """
        source = self.query_one("#source", Select).value
        kind = self.query_one("#kind", Select).value
        author = self.query_one("#author", Input).value.strip()
        since = self._field("#since", lambda v: parse_day(v, "since"))
        until = self._field("#until", lambda v: parse_day(v, "until"))
        if since and until and since > until:
            raise FilterError(f"since {since} is after until {until}")
        return Filters(
            sources=(source,) if isinstance(source, str) else (),
            kinds=(kind,) if isinstance(kind, str) else (),
            authors=(author,) if author else (),
            since=since, until=until,
            min_score=self._field("#min-karma", parse_karma))

    def _field(self, selector: str, parse: Callable[[str], _T]) -> _T:
        field = self.query_one(selector, Input)
        try:
            return parse(field.value)
        except FilterError:
            field.add_class("-bad")
            raise
