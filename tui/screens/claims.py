"""The claims screen: claims on the left, the highlighted one's arguments and suggestions on the
right; one key accepts or rejects a suggestion and the cursor moves on to the next."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import ScreenResume
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.worker import Worker, WorkerState

from tracker.tui.host import library_of, show_error
from tracker.tui.library import Argument, ClaimDetail, ClaimSummary, Library
from tracker.tui.messages import OpenDocument
from tracker.tui.widgets.argument import ArgumentList
from tracker.tui.widgets.claimlist import ClaimList, counts_line

_DECIDABLE = ("suggested", "stale")


class ClaimsScreen(Screen[None]):
    """Claims with their arguments for and against, stale links and suggestions."""

    DEFAULT_CSS = """
    ClaimsScreen #claims-left {
        width: 42;
        border-right: solid $primary-darken-2;
    }
    ClaimsScreen #claims-right {
        width: 1fr;
    }
    ClaimsScreen .pane-title {
        padding: 0 1;
        text-style: bold;
        background: $boost;
    }
    ClaimsScreen #claim-header {
        padding: 0 1;
        background: $boost;
    }
    ClaimsScreen #new-claim {
        display: none;
    }
    ClaimsScreen #new-claim.-open {
        display: block;
    }
    """

    BINDINGS = [
        Binding("a", "accept", "Accept"),
        Binding("s", "accept('supports')", "Accept as supports", show=False),
        Binding("o", "accept('opposes')", "Accept as opposes", show=False),
        Binding("m", "accept('mentions')", "Accept as mentions", show=False),
        Binding("r", "reject", "Reject"),
        Binding("g", "suggest", "Find suggestions"),
        Binding("n", "new_claim", "New claim"),
        Binding("escape", "cancel", "Cancel the new claim", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._pending: set[int] = set()
        """Links decided here whose decision a worker may still be saving."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="claims-left"):
                yield Static("Claims", classes="pane-title")
                yield ClaimList(id="claim-list")
                yield Input(placeholder="The claim, then enter (escape cancels)", id="new-claim")
            with Vertical(id="claims-right"):
                yield Static(Content("No claim yet: press n to state one"), id="claim-header")
                yield ArgumentList(id="arguments")
        yield Footer()

    # --- loading ------------------------------------------------------------------------------

    @on(ScreenResume)
    def refresh_claims(self) -> None:
        """Reload on every visit: a tag made in the reader shows up here."""
        current = self.query_one(ClaimList).current
        self._load_claims(library_of(self), current.claim_id if current else None)

    @work(thread=True, exit_on_error=False, group="claims")
    def _load_claims(self, library: Library, keep: int | None) -> None:
        claims = library.claims()
        self.app.call_from_thread(self._show_claims, claims, keep)

    def _show_claims(self, claims: list[ClaimSummary], keep: int | None) -> None:
        claim_list = self.query_one(ClaimList)
        claim_list.show(claims, keep)
        current = claim_list.current
        if current is None:
            self._show_detail(None)
        else:
            self._load_detail(library_of(self), current.claim_id)

    @on(OptionList.OptionHighlighted, "#claim-list")
    def _claim_highlighted(self, _event: OptionList.OptionHighlighted) -> None:
        current = self.query_one(ClaimList).current
        shown = self.query_one(ArgumentList).detail
        if current is not None and (shown is None or shown.summary.claim_id != current.claim_id):
            self._load_detail(library_of(self), current.claim_id)

    @work(thread=True, exit_on_error=False, group="detail", exclusive=True)
    def _load_detail(self, library: Library, claim_id: int) -> None:
        detail = library.claim(claim_id)
        self.app.call_from_thread(self._show_detail, detail)

    def _show_detail(self, detail: ClaimDetail | None) -> None:
        """Show the detail if it is still the highlighted claim's, keeping the cursor's place."""
        current = self.query_one(ClaimList).current
        if detail is not None and (current is None or current.claim_id != detail.summary.claim_id):
            return  # an answer for a claim the user already moved away from
        arguments = self.query_one(ArgumentList)
        before = arguments.current
        position = arguments.position_of(before) if before is not None else 0
        same_claim = arguments.detail is not None and detail is not None and \
            arguments.detail.summary.claim_id == detail.summary.claim_id
        arguments.show(self._undecided(detail), position if same_claim else 0)
        if same_claim and before is not None:
            arguments.highlight_link(before.link_id)  # stay on it while it is listed
        self._show_header(detail.summary if detail else None)

    def _undecided(self, detail: ClaimDetail | None) -> ClaimDetail | None:
        """The detail without the links decided but maybe not yet saved when it was read."""
        if detail is None or not self._pending:
            return detail
        pending = self._pending
        return ClaimDetail(
            detail.summary,
            [a for a in detail.arguments if a.status == "confirmed" or a.link_id not in pending],
            [s for s in detail.suggestions if s.link_id not in pending])

    def _show_header(self, summary: ClaimSummary | None) -> None:
        header = self.query_one("#claim-header", Static)
        if summary is None:
            header.update(Content("No claim yet: press n to state one"))
            return
        header.update(Content.assemble((summary.text, "bold"), "\n",
                                       (counts_line(summary), "dim")))

    # --- deciding -----------------------------------------------------------------------------

    def action_accept(self, stance: str = "") -> None:
        """Confirm the highlighted suggestion (or stale link), with its stance or `stance`."""
        argument = self._decidable()
        if argument is not None:
            self._decide(argument, stance or argument.stance)

    def action_reject(self) -> None:
        """Reject the highlighted suggestion for good."""
        argument = self._decidable()
        if argument is not None:
            self._decide(argument, None)

    def _decidable(self) -> Argument | None:
        argument = self.query_one(ArgumentList).current
        if argument is None or argument.status not in _DECIDABLE:
            self.notify("Highlight a suggestion or a stale link first (g finds suggestions)",
                        title="Nothing to decide", severity="warning")
            return None
        return argument

    def _decide(self, argument: Argument, stance: str | None) -> None:
        """Take the suggestion out at once and save the decision in a worker."""
        self._pending.add(argument.link_id)
        self.query_one(ArgumentList).drop(argument)
        self._save_decision(library_of(self), argument, stance)

    @work(thread=True, exit_on_error=False, group="decide")
    def _save_decision(self, library: Library, argument: Argument, stance: str | None) -> None:
        try:
            if stance is None:
                library.reject(argument.link_id)
            else:
                library.accept(argument.link_id, stance)
        finally:  # a refused decision (e.g. a stale quote gone) puts the link back
            claims = library.claims()
            detail = library.claim(argument.claim_id)
            self.app.call_from_thread(self._refreshed, claims, detail, argument.link_id)

    def _refreshed(self, claims: list[ClaimSummary], detail: ClaimDetail,
                   saved: int | None = None) -> None:
        """Show fresh counts and detail; `saved`, read after its decision, is pending no more."""
        self._pending.discard(saved or 0)
        claim_list = self.query_one(ClaimList)
        current = claim_list.current
        keep = current.claim_id if current else detail.summary.claim_id
        claim_list.show(claims, keep)
        self._show_detail(detail)
        undecided = {a.link_id for a in [*detail.arguments, *detail.suggestions]
                     if a.status in _DECIDABLE}
        if saved in undecided:  # the decision was refused (and notified): back to that link
            self.query_one(ArgumentList).highlight_link(saved)

    # --- suggestions, new claims, opening -----------------------------------------------------

    def action_suggest(self) -> None:
        """Search the index for passages that may argue for or against the claim."""
        current = self.query_one(ClaimList).current
        if current is None:
            self.notify("State a claim first (n)", title="No claim", severity="warning")
            return
        self.query_one(ArgumentList).loading = True
        self._suggest(library_of(self), current.claim_id)

    @work(thread=True, exit_on_error=False, group="suggest", name="suggest")
    def _suggest(self, library: Library, claim_id: int) -> None:
        before = {s.link_id for s in library.claim(claim_id).suggestions}
        found = library.suggest(claim_id)
        claims = library.claims()
        detail = library.claim(claim_id)
        self.app.call_from_thread(self._suggested, claims, detail,
                                  len({s.link_id for s in found} - before))

    def _suggested(self, claims: list[ClaimSummary], detail: ClaimDetail, new: int) -> None:
        self._refreshed(claims, detail)
        self.query_one(ArgumentList).highlight_suggestion(0)
        self.notify(f"{len(detail.suggestions)} suggestions open, {new} new",
                    title="Suggestions")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Notify a failed worker (the message does not bubble to the app); stop the loading
        indicator however the suggestion search ends."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            show_error(self, event.worker.error)
        if event.worker.name == "suggest" and event.state in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.query_one(ArgumentList).loading = False

    def action_new_claim(self) -> None:
        """Open the input for a new claim."""
        box = self.query_one("#new-claim", Input)
        box.add_class("-open")
        box.focus()

    def action_cancel(self) -> None:
        """Close the new-claim input."""
        box = self.query_one("#new-claim", Input)
        if box.has_class("-open"):
            box.value = ""
            box.remove_class("-open")
            self.query_one(ClaimList).focus()

    @on(Input.Submitted, "#new-claim")
    def _submit_claim(self, event: Input.Submitted) -> None:
        self._add_claim(library_of(self), event.value)

    @work(thread=True, exit_on_error=False, group="claims")
    def _add_claim(self, library: Library, text: str) -> None:
        made = library.add_claim(text)
        claims = library.claims()
        self.app.call_from_thread(self._claim_added, claims, made)

    def _claim_added(self, claims: list[ClaimSummary], made: ClaimSummary) -> None:
        self.action_cancel()
        self.query_one(ClaimList).show(claims, made.claim_id)
        self._show_detail(ClaimDetail(made, [], []))
        self.notify("Press g to find passages for and against it", title="Claim added")

    @on(OptionList.OptionSelected, "#claim-list")
    def _claim_selected(self, _event: OptionList.OptionSelected) -> None:
        self.query_one(ArgumentList).focus()

    @on(OptionList.OptionSelected, "#arguments")
    def _argument_selected(self, _event: OptionList.OptionSelected) -> None:
        argument = self.query_one(ArgumentList).current
        if argument is not None:
            self.post_message(OpenDocument(argument.document_id, at=argument.start))
