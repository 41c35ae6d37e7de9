"""The list of claims, each with its counts of arguments, stale links and suggestions."""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tracker.tui.library import ClaimSummary


def counts_line(claim: ClaimSummary) -> str:
    """`+for −against ~mentions`, then the stale and suggested counts."""
    line = f"+{claim.supports} −{claim.opposes} ~{claim.mentions}"
    return line + f" · {claim.stale} stale · {claim.suggested} suggested"


def claim_content(claim: ClaimSummary) -> Content:
    """A claim's text (plain, never markup) over its counts; stale counts in warning colour."""
    parts: list[str | tuple[str, str]] = [claim.text, "\n",
                                         (f"+{claim.supports} −{claim.opposes} "
                                          f"~{claim.mentions}", "dim")]
    parts.append((f" · {claim.stale} stale", "bold $warning" if claim.stale else "dim"))
    parts.append((f" · {claim.suggested} suggested", "dim"))
    return Content.assemble(*parts)


class ClaimList(OptionList):
    """Every live claim, newest first; the highlighted one is shown beside it."""

    DEFAULT_CSS = """
    ClaimList {
        height: 1fr;
        border: none;
        padding: 0 1;
    }
    ClaimList:focus {
        border: none;
    }
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Next claim", show=False),
        Binding("k", "cursor_up", "Previous claim", show=False),
        Binding("enter", "select", "Go to its arguments", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.claims: list[ClaimSummary] = []

    def show(self, claims: Sequence[ClaimSummary], keep: int | None = None) -> None:
        """List the claims and highlight `keep` (a claim id) when listed, else the first."""
        self.claims = list(claims)
        self.clear_options()
        self.add_options([Option(claim_content(c), id=f"claim-{c.claim_id}") for c in claims])
        ids = [c.claim_id for c in self.claims]
        if ids:
            self.highlighted = ids.index(keep) if keep in ids else 0

    @property
    def current(self) -> ClaimSummary | None:
        """The highlighted claim."""
        index = self.highlighted
        return self.claims[index] if index is not None and index < len(self.claims) else None
