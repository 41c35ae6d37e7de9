"""A claim's arguments and suggestions in one keyboard list, each passage with its context."""

from __future__ import annotations

from collections.abc import Iterator

from textual.binding import Binding
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tracker.tui.library import Argument, ClaimDetail

SECTIONS = (("supports", "For"), ("opposes", "Against"), ("mentions", "Mentions"))
STALE_FLAG = "STALE: the text changed"
_QUOTE_CHARS = 420  # a suggestion quotes a whole passage (~150 words); keep a row readable
_CONTEXT_CHARS = 160  # of the text either side of a suggested quote


def argument_content(argument: Argument) -> Content:
    """A confirmed or stale argument: title · date · source, a stale flag, the quote, the note.

    Forum strings go in as plain text parts, never as markup.
    """
    parts: list[str | tuple[str, str]] = [(argument.title, "bold"),
                                         (f" · {_facts(argument)}", "dim")]
    if argument.status == "stale":
        parts.append((f"  {STALE_FLAG}; a/s/o/m to re-confirm", "bold $warning"))
    parts.append(("\n“" + _cut(argument.quote, _QUOTE_CHARS) + "”", "italic"))
    if argument.note:
        parts.append((f"\nnote: {argument.note}", "dim"))
    return Content.assemble(*parts)


def suggestion_content(argument: Argument) -> Content:
    """A suggestion: its provisional stance and score, where it is from, the quote in context."""
    score = f" · score {argument.score:.3f}" if argument.score is not None else ""
    before = _tail(argument.before, _CONTEXT_CHARS)
    after = _head(argument.after, _CONTEXT_CHARS)
    return Content.assemble(
        (f"{argument.stance}?", "bold $accent"), (score, "dim"), " · ",
        (argument.title, "bold"), (f" · {_facts(argument)}", "dim"), "\n",
        (before, "dim"), (_cut(argument.quote, _QUOTE_CHARS), "bold $text-accent"),
        (after, "dim"),
    )


def _facts(argument: Argument) -> str:
    return " · ".join(p for p in (argument.date or "undated", argument.source) if p)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _tail(text: str, limit: int) -> str:
    """The end of the text before a quote, with a space kept before the quote."""
    flat = _one_line(text)
    if not flat:
        return ""
    cut = flat if len(flat) <= limit else "…" + flat[-limit:].lstrip()
    return cut + (" " if text[-1:].isspace() else "")


def _head(text: str, limit: int) -> str:
    """The start of the text after a quote."""
    flat = _one_line(text)
    if not flat:
        return ""
    lead = " " if text[:1].isspace() else ""
    return lead + (flat if len(flat) <= limit else flat[:limit].rstrip() + "…")


class ArgumentList(OptionList):
    """For / Against / Mentions (confirmed and stale links), then Suggestions.

    Section headings are disabled rows, so the cursor moves over arguments only.
    """

    DEFAULT_CSS = """
    ArgumentList {
        height: 1fr;
        border: none;
        padding: 0 1;
    }
    ArgumentList:focus {
        border: none;
    }
    ArgumentList > .option-list--option-disabled {
        color: $text;
        text-style: bold;
    }
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Next", show=False),
        Binding("k", "cursor_up", "Previous", show=False),
        Binding("enter", "select", "Open the document", show=True),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: ClaimDetail | None = None
        self._by_option: dict[str, Argument] = {}

    def show(self, detail: ClaimDetail | None, position: int = 0) -> None:
        """Show a claim's arguments and highlight its suggestion at `position` (or the last)."""
        self.detail = detail
        self._by_option = {}
        self.clear_options()
        if detail is None:
            return
        self.add_options(list(self._options_of(detail)))
        self.highlight_suggestion(position)

    def _options_of(self, detail: ClaimDetail) -> Iterator[Option | None]:
        for stance, heading in SECTIONS:
            rows = [a for a in detail.arguments if a.stance == stance]
            yield Option(Content(f"{heading} ({len(rows)})"), disabled=True)
            yield from (self._option(a, argument_content(a)) for a in rows)
            yield None
        yield Option(Content(f"Suggestions ({len(detail.suggestions)}) — press g for more"),
                     disabled=True)
        if not detail.suggestions:
            yield Option(Content.styled("none open", "dim"), disabled=True)
        yield from (self._option(a, suggestion_content(a)) for a in detail.suggestions)

    def _option(self, argument: Argument, prompt: Content) -> Option:
        option_id = f"link-{argument.link_id}"
        self._by_option[option_id] = argument
        return Option(prompt, id=option_id)

    def highlight_suggestion(self, position: int) -> None:
        """Move the cursor to the suggestion at `position`, the last one if fewer."""
        suggestions = self.detail.suggestions if self.detail else []
        if suggestions:
            chosen = suggestions[min(max(position, 0), len(suggestions) - 1)]
            self.highlighted = self.get_option_index(f"link-{chosen.link_id}")
        elif self._by_option:
            self.highlighted = self.get_option_index(next(iter(self._by_option)))

    def highlight_link(self, link_id: int) -> bool:
        """Move the cursor to this link if it is listed; whether it is."""
        if f"link-{link_id}" not in self._by_option:
            return False
        self.highlighted = self.get_option_index(f"link-{link_id}")
        return True

    def drop(self, argument: Argument) -> None:
        """Take a decided suggestion out at once and move to the next one (the store follows)."""
        option_id = f"link-{argument.link_id}"
        if option_id not in self._by_option or self.detail is None:
            return
        position = self.position_of(argument)
        del self._by_option[option_id]
        self.remove_option(option_id)
        left = [s for s in self.detail.suggestions if s.link_id != argument.link_id]
        kept = [a for a in self.detail.arguments if a.link_id != argument.link_id]
        self.detail = ClaimDetail(self.detail.summary, kept, left)
        self.highlight_suggestion(position)

    @property
    def current(self) -> Argument | None:
        """The highlighted argument or suggestion."""
        option = self.highlighted_option
        return self._by_option.get(option.id) if option and option.id else None

    def position_of(self, argument: Argument) -> int:
        """Where a suggestion stands among the suggestions (0 when it is not one)."""
        suggestions = self.detail.suggestions if self.detail else []
        ids = [s.link_id for s in suggestions]
        return ids.index(argument.link_id) if argument.link_id in ids else 0
