"""What the terminal UI asks of the tracker, and the plain records it gets back.

The app is handed one `Library` (built by `tracker.workbench.make_app`, the factory the CLI
uses); screens never open a database session or an index themselves. Every method may block
(SQL, embedding, HTTP), so screens call them from worker threads. Every string in a record has
already passed through the ingest cleaner, so it holds no terminal escape or control sequence.
Expected failures raise `tracker.errors.TrackerError`, whose message the app shows as a
notification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

STANCES = ("supports", "opposes", "mentions")


# --- search -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """What the search screen asks for: the typed text and its filters."""

    text: str
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    min_score: float | None = None
    limit: int = 30


@dataclass(frozen=True)
class Hit:
    """One result row: a document, its best passage, and the query words found in it."""

    document_id: int
    rank: int
    score: float
    """The fused search score (higher is better); for `similar`, the same scale."""
    title: str
    authors: str
    date: str
    """`YYYY-MM-DD`, or "" when undated."""
    source: str
    kind: str
    karma: float | None
    af: bool
    url: str | None
    context: str
    """For a comment, "on: <post title>"; else ""."""
    snippet: str
    """About 60 words of the best passage, on one line."""
    highlights: tuple[tuple[int, int], ...] = ()
    """Spans of `snippet` that match query words."""
    at: int | None = None
    """Where the best passage starts in the document's body, to scroll the reader there."""


@dataclass(frozen=True)
class SearchOutcome:
    """The results of one query, with a note when the index is incomplete."""

    query: Query
    hits: list[Hit]
    notice: str = ""
    seconds: float = 0.0


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comment:
    """One comment of a thread, in thread order (each reply after its parent)."""

    document_id: int
    depth: int
    author: str
    date: str
    karma: float | None
    text: str
    deleted: bool = False
    replies: int = 0
    """How many comments are below this one (all depths)."""


@dataclass(frozen=True)
class Citation:
    """A link between two documents; `document_id` is None while its target is not stored."""

    document_id: int | None
    title: str
    source: str
    kind: str
    url: str | None
    date: str = ""


@dataclass(frozen=True)
class Precedent:
    """A post that made an argument before: `which` is "earliest" or "strongest"."""

    document_id: int
    which: str
    title: str
    authors: str
    date: str
    source: str
    kind: str
    url: str | None
    cited_by: int
    at: int
    """Where the matching passage starts, to scroll the reader there."""


@dataclass(frozen=True)
class Mark:
    """A claim link anchored in the text: `body[start:end]` is its quote."""

    link_id: int
    claim_id: int
    claim: str
    stance: str
    status: str
    """confirmed | suggested | stale"""
    start: int
    end: int


@dataclass(frozen=True)
class Page:
    """A document ready for the reader."""

    document_id: int
    title: str
    authors: str
    date: str
    source: str
    kind: str
    url: str | None
    karma: float | None
    af: bool
    deleted: bool
    facts: list[str]
    """Extra header lines: the paper's arXiv facts, the other copy of a cross-post, tags."""
    body: str
    """The text as stored (markdown-flavoured: `#` headings, `-` lists, `>` quotes, `[^1]`)."""
    parent_id: int | None = None
    """For a comment, the post it belongs to."""
    comments: list[Comment] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


# --- claims -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimSummary:
    """A claim and how many links of each kind it has."""

    claim_id: int
    text: str
    supports: int = 0
    opposes: int = 0
    mentions: int = 0
    stale: int = 0
    suggested: int = 0


@dataclass(frozen=True)
class Argument:
    """A passage linked to a claim (confirmed, stale or suggested), with its context."""

    link_id: int
    claim_id: int
    document_id: int
    title: str
    source: str
    date: str
    stance: str
    status: str
    """confirmed | stale | suggested"""
    quote: str
    before: str
    """Up to a few hundred characters of the text before the quote."""
    after: str
    score: float | None = None
    note: str | None = None
    start: int | None = None
    """Where the quote starts in the document's body (None for a stale link), for the reader."""


@dataclass(frozen=True)
class ClaimDetail:
    """A claim with its confirmed and stale arguments and its open suggestions."""

    summary: ClaimSummary
    arguments: list[Argument]
    suggestions: list[Argument]


# --- status and digests -----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceLine:
    """One source's state for the status screen."""

    name: str
    enabled: bool
    documents: int
    last_sync: str
    """`YYYY-MM-DD HH:MM (status)`, or "never"."""
    last_success: str
    error: str


@dataclass(frozen=True)
class IndexLine:
    """The search index's state."""

    model: str
    documents: int
    passages: int
    embedded: int
    to_split: int
    to_embed: int
    eta: str = ""
    """Time to full coverage at the last measured embedding rate (`3.2 h`), if known."""


@dataclass(frozen=True)
class Overview:
    """Everything the status screen shows."""

    database: str
    documents: int
    sources: list[SourceLine]
    index: IndexLine
    hint: str = ""
    """One line on how to get the whole history when only recent posts are stored."""


@dataclass(frozen=True)
class Progress:
    """How far a background sync or index run has come; `total` None means unknown."""

    task: str
    done: int
    total: int | None
    message: str


ProgressHook = Callable[[Progress], None]


@dataclass(frozen=True)
class DigestEntry:
    """A weekly digest that was built."""

    week: str
    items: int
    created: str


# --- the interface ----------------------------------------------------------------------------


class Library(Protocol):
    """The store, the index and the jobs, as the UI sees them."""

    def search(self, query: Query) -> SearchOutcome:
        """Documents best matching `query`, best first."""
        ...

    def sources(self) -> list[str]:
        """Source names for the search filter (enabled sources and feeds with documents)."""
        ...

    def page(self, document_id: int) -> Page:
        """A document with its thread and claim marks; records the reading.

        Raises:
            TrackerError: no such document.
        """
        ...

    def citations(self, document_id: int) -> list[Citation]:
        """What the document links to, in text order."""
        ...

    def cited_by(self, document_id: int) -> list[Citation]:
        """What links to the document."""
        ...

    def similar(self, document_id: int, limit: int = 10) -> list[Hit]:
        """Documents nearest in meaning; empty when nothing is embedded."""
        ...

    def argued(self, text: str, limit: int = 5) -> list[Precedent]:
        """Posts that made this argument before: the earliest first, then the strongest.

        Raises:
            TrackerError: empty or over-long text.
        """
        ...

    def claims(self) -> list[ClaimSummary]:
        """Every live claim, newest first."""
        ...

    def claim(self, claim_id: int) -> ClaimDetail:
        """One claim with its arguments and suggestions.

        Raises:
            TrackerError: no such claim.
        """
        ...

    def add_claim(self, text: str) -> ClaimSummary:
        """A new claim.

        Raises:
            TrackerError: the text is empty.
        """
        ...

    def tag(self, document_id: int, start: int, end: int, claim_id: int, stance: str,
            note: str | None = None) -> Mark:
        """Link `body[start:end]` of the document to the claim with a stance.

        Raises:
            TrackerError: empty span, unknown claim, deleted document.
        """
        ...

    def suggest(self, claim_id: int, limit: int = 10) -> list[Argument]:
        """Find and save new suggestions for the claim (needs the index).

        Raises:
            TrackerError: nothing is indexed.
        """
        ...

    def accept(self, link_id: int, stance: str | None = None) -> Argument:
        """Confirm a suggested (or stale) link, optionally with another stance."""
        ...

    def reject(self, link_id: int) -> Argument:
        """Reject a suggestion; it never comes back."""
        ...

    def overview(self) -> Overview:
        """Sources, their last syncs and errors, and the index state."""
        ...

    def sync(self, sources: Sequence[str], progress: ProgressHook) -> list[str]:
        """Sync the sources (all enabled ones when empty); one summary line per source."""
        ...

    def index(self, progress: ProgressHook) -> str:
        """Split and embed what is new; a summary line."""
        ...

    def cancel(self) -> None:
        """Stop a running sync or index run at its next checkpoint (nothing is lost: both
        resume where they stopped); the run raises `TrackerError`."""
        ...

    def digests(self) -> list[DigestEntry]:
        """Digests built so far, newest first."""
        ...

    def digest(self, week: str | None = None) -> tuple[str, str]:
        """The week (default: the last complete one) and its digest as Markdown, built if needed.

        Raises:
            TrackerError: a malformed week.
        """
        ...
