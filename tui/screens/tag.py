"""Tag a passage: pick (or create) a claim and a stance; the reader saves the link."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from tracker.tui.host import library_of
from tracker.tui.library import STANCES, ClaimSummary

_CREATE = "create"
_QUOTE_HEAD, _QUOTE_TAIL = 220, 80  # characters of a long quote shown either side of "…"


@dataclass(frozen=True)
class TagChoice:
    """What the user picked: a claim (None: create one from `text`) and a stance."""

    claim_id: int | None
    text: str
    stance: str


class TagScreen(ModalScreen[TagChoice | None]):
    """The quote, a filter over the claims, the claims, and the stance."""

    DEFAULT_CSS = """
    TagScreen { align: center middle; }
    TagScreen #tag-dialog {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    TagScreen #tag-quote { height: auto; max-height: 6; color: $text-muted; margin-bottom: 1; }
    TagScreen #tag-claims { height: 12; }
    TagScreen #tag-stance { layout: horizontal; height: auto; width: 100%; }
    TagScreen #tag-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "to_claims", "Claims", show=False),
        Binding("1", "stance('supports')", "Supports"),
        Binding("2", "stance('opposes')", "Opposes"),
        Binding("3", "stance('mentions')", "Mentions"),
    ]

    def __init__(self, quote: str, stance: str = "supports") -> None:
        super().__init__()
        self.quote = quote
        self.stance = stance if stance in STANCES else STANCES[0]
        self.claims: list[ClaimSummary] = []
        self._shown: list[ClaimSummary | None] = []  # None: the "Create claim" row

    def compose(self) -> ComposeResult:
        with Vertical(id="tag-dialog"):
            yield Static(Text("Tag passage", "bold"))
            yield Static(Text(shorten(self.quote), "italic"), id="tag-quote")
            yield Input(placeholder="Filter claims, or type a new claim", id="tag-filter")
            yield OptionList(id="tag-claims")
            with RadioSet(id="tag-stance"):
                for number, stance in enumerate(STANCES, start=1):
                    yield RadioButton(f"{number} {stance}", value=stance == self.stance,
                                      id=f"stance-{stance}")
            yield Static(Text("↓ to the claims · 1 2 3 stance · enter tags · esc cancels"),
                         id="tag-hint")

    def on_mount(self) -> None:
        """Load the claims in the background."""
        self.query_one("#tag-claims", OptionList).add_option(
            Option(Text("Loading claims…", "italic"), disabled=True))
        self._load_claims()

    @work(thread=True, exit_on_error=False, group="tag-claims")
    def _load_claims(self) -> None:
        claims = library_of(self).claims()
        self.app.call_from_thread(self._show_claims, claims)

    def _show_claims(self, claims: Sequence[ClaimSummary]) -> None:
        self.claims = list(claims)
        self._refilter(self.query_one("#tag-filter", Input).value)

    @on(Input.Changed, "#tag-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._refilter(event.value)

    def _refilter(self, typed: str) -> None:
        """Claims holding every typed word, then "Create claim: <text>" unless one is exact."""
        words = typed.lower().split()
        shown: list[ClaimSummary | None] = [
            c for c in self.claims if all(word in c.text.lower() for word in words)]
        text = " ".join(typed.split())
        if text and not any(c is not None and c.text.lower() == text.lower() for c in shown):
            shown.append(None)
        self._shown = shown
        options = self.query_one("#tag-claims", OptionList)
        options.clear_options()
        if not shown:
            options.add_option(Option(Text("No claims yet: type one to create it", "italic"),
                                      disabled=True))
            return
        options.add_options([Option(self._prompt(c, text), id=_CREATE if c is None else None)
                             for c in shown])
        options.highlighted = 0

    @staticmethod
    def _prompt(claim: ClaimSummary | None, typed: str) -> Text:
        if claim is None:
            return Text.assemble(("Create claim: ", "bold"), typed)
        counts = f"  +{claim.supports} −{claim.opposes} ~{claim.mentions}"
        return Text.assemble((f"#{claim.claim_id} ", "dim"), claim.text, (counts, "dim"))

    # --- choosing -----------------------------------------------------------------------------

    @on(Input.Submitted, "#tag-filter")
    def _submitted(self) -> None:
        self._choose(self.query_one("#tag-claims", OptionList).highlighted)

    @on(OptionList.OptionSelected, "#tag-claims")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option_index)

    def _choose(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self._shown):
            self.notify("Pick a claim, or type a new one", severity="warning", markup=False)
            return
        claim = self._shown[index]
        typed = " ".join(self.query_one("#tag-filter", Input).value.split())
        if claim is None:
            self.dismiss(TagChoice(None, typed, self.stance))
        else:
            self.dismiss(TagChoice(claim.claim_id, claim.text, self.stance))

    @on(RadioSet.Changed, "#tag-stance")
    def _stance_changed(self, event: RadioSet.Changed) -> None:
        button_id = event.pressed.id or ""
        self.stance = button_id.removeprefix("stance-") or self.stance

    def action_stance(self, stance: str) -> None:
        """Pick the stance."""
        self.query_one(f"#stance-{stance}", RadioButton).value = True
        self.stance = stance

    def action_to_claims(self) -> None:
        """From the filter, down moves into the claims list."""
        options = self.query_one("#tag-claims", OptionList)
        options.focus()
        if options.highlighted is None and options.option_count:
            options.highlighted = 0

    def action_cancel(self) -> None:
        """Close without tagging."""
        self.dismiss(None)


def shorten(quote: str) -> str:
    """A long quote as its head … tail, on one paragraph."""
    text = " ".join(quote.split())
    if len(text) <= _QUOTE_HEAD + _QUOTE_TAIL + 3:
        return text
    return f"{text[:_QUOTE_HEAD]} … {text[-_QUOTE_TAIL:]}"
