"""The reader: a document's text, its comments, citations, cited-by and similar documents.

One reader screen keeps a back/forward history: documents opened from inside it (a comment, a
citation, a similar document) replace its content instead of stacking more screens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane, Tree
from textual.worker import Worker, WorkerState

from tracker.errors import TrackerError
from tracker.text import clean_text
from tracker.tui.host import library_of, open_web, show_error
from tracker.tui.library import Citation, Comment, Hit, Mark, Page, Precedent
from tracker.tui.messages import OpenDocument, Tagged
from tracker.tui.screens.tag import TagChoice, TagScreen, shorten
from tracker.tui.widgets.document import DocumentView
from tracker.tui.widgets.links import LinkEntry, LinkList
from tracker.tui.widgets.thread import CommentThread

_TABS = ("text", "comments", "cites", "cited-by", "similar", "argued")
_PREVIEW_CHARS = 4000  # of a comment shown below the tree; enter opens the whole of it


@dataclass
class Visit:
    """One entry of the reader's history, and where its cursor was."""

    document_id: int
    at: int | None = None


class ReaderScreen(Screen[None]):
    """A document with its header, text, comments, citations, cited-by and similar."""

    DEFAULT_CSS = """
    ReaderScreen #reader-head { height: auto; max-height: 8; padding: 0 1; background: $panel; }
    ReaderScreen #reader-tabs { height: 1fr; }
    ReaderScreen #reader-tabs > ContentSwitcher { height: 1fr; }
    ReaderScreen TabPane { height: 1fr; padding: 0; }
    ReaderScreen #reader-text { height: 1fr; }
    ReaderScreen #reader-comments { height: 2fr; }
    ReaderScreen #reader-preview-box { height: 1fr; border-top: solid $primary; padding: 0 1; }
    ReaderScreen LinkList { height: 1fr; }
    ReaderScreen #reader-status { height: 1; padding: 0 1; background: $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("t", "tag", "Tag"),
        Binding("a", "argued", "Argued before?", show=False),  # F1 lists it; the footer keeps f4/f5
        Binding("o", "open_url", "Browser"),
        Binding("l", "open_link", "Open link", show=False),
        Binding("backspace,left_square_bracket,alt+left", "back", "Back"),
        Binding("right_square_bracket,alt+right", "forward", "Forward"),
        Binding("u", "parent", "Post of comment", show=False),
        Binding("1", "tab('text')", "Text tab", show=False),
        Binding("2", "tab('comments')", "Comments tab", show=False),
        Binding("3", "tab('cites')", "Cites tab", show=False),
        Binding("4", "tab('cited-by')", "Cited-by tab", show=False),
        Binding("5", "tab('similar')", "Similar tab", show=False),
        Binding("6", "tab('argued')", "Argued-before tab", show=False),
    ]

    def __init__(self, document_id: int, at: int | None = None) -> None:
        super().__init__()
        self.document_id = document_id
        self.at = at
        self.page: Page | None = None
        """The document shown (None while the first one loads)."""
        self.history: list[Visit] = [Visit(document_id, at)]
        self.position = 0
        self._generation = 0  # results of workers started for an older visit are dropped
        self._link = -1  # which link of the cursor's sentence `l` opened last

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("Loading…", "italic"), id="reader-head")
        with TabbedContent(id="reader-tabs"):
            with TabPane("Text", id="text"):
                yield DocumentView(id="reader-text")
            with TabPane("Comments", id="comments"):
                yield CommentThread(id="reader-comments")
                with VerticalScroll(id="reader-preview-box"):
                    yield Static(id="reader-preview")
            with TabPane("Cites", id="cites"):
                yield LinkList(id="reader-cites")
            with TabPane("Cited by", id="cited-by"):
                yield LinkList(id="reader-cited-by")
            with TabPane("Similar", id="similar"):
                yield LinkList(id="reader-similar")
            with TabPane("Argued before", id="argued"):
                yield LinkList(id="reader-argued")
        yield Static(id="reader-status")
        yield Footer()

    def on_mount(self) -> None:
        """Load the first document."""
        self._load(self.history[0])

    @property
    def view(self) -> DocumentView:
        """The text view."""
        return self.query_one("#reader-text", DocumentView)

    # --- loading ------------------------------------------------------------------------------

    def _load(self, visit: Visit) -> None:
        self._generation += 1
        self.document_id, self.at = visit.document_id, visit.at
        self.query_one("#reader-tabs", TabbedContent).active = "text"
        self._status(Text(f"Loading document {visit.document_id}…", "italic"))
        self._fetch_page(self._generation, visit.document_id)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed worker (links, similar, a tag) becomes a notification: worker messages
        do not bubble to the app."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            show_error(self, event.worker.error)

    @work(thread=True, exit_on_error=False, group="reader-page")
    def _fetch_page(self, generation: int, document_id: int) -> None:
        try:
            page = library_of(self).page(document_id)
        except TrackerError as error:
            self.app.call_from_thread(self._failed, generation, document_id, error)
            return
        self.app.call_from_thread(self._show_page, generation, page)

    def _failed(self, generation: int, document_id: int, error: TrackerError) -> None:
        show_error(self, error)
        if generation == self._generation:
            self._status(Text(f"Could not open document {document_id}", "bold"))

    def _show_page(self, generation: int, page: Page) -> None:
        if generation != self._generation:
            return
        self.page = page
        self.sub_title = page.title
        self.query_one("#reader-head", Static).update(header_text(page))
        self.view.load(page.body, page.marks, self.at)
        self.query_one("#reader-comments", CommentThread).show(page.comments)
        self._set_tab_label("comments", f"Comments ({len(page.comments)})")
        self._show_preview(page.comments[0] if page.comments else None)
        for tab in ("cites", "cited-by", "similar"):
            self.query_one(f"#reader-{tab}", LinkList).show([], "Loading…")
        self._set_tab_label("cites", "Cites")
        self._set_tab_label("cited-by", "Cited by")
        self._set_tab_label("similar", "Similar")
        self.query_one("#reader-argued", LinkList).show([], "Select a passage and press a")
        self._set_tab_label("argued", "Argued before")
        self.view.focus()
        self._fetch_links(generation, page.document_id)
        self._fetch_similar(generation, page.document_id)

    @work(thread=True, exit_on_error=False, group="reader-links")
    def _fetch_links(self, generation: int, document_id: int) -> None:
        library = library_of(self)
        cites = library.citations(document_id)
        self.app.call_from_thread(self._show_links, generation, "cites", cites)
        cited_by = library.cited_by(document_id)
        self.app.call_from_thread(self._show_links, generation, "cited-by", cited_by)

    @work(thread=True, exit_on_error=False, group="reader-similar")
    def _fetch_similar(self, generation: int, document_id: int) -> None:
        hits = library_of(self).similar(document_id)
        self.app.call_from_thread(self._show_similar, generation, hits)

    def _show_links(self, generation: int, tab: str, citations: Sequence[Citation]) -> None:
        if generation != self._generation:
            return
        empty = "Cites nothing" if tab == "cites" else "Nothing stored cites this"
        self.query_one(f"#reader-{tab}", LinkList).show(
            [citation_entry(c) for c in citations], empty)
        label = "Cites" if tab == "cites" else "Cited by"
        self._set_tab_label(tab, f"{label} ({len(citations)})")

    def _show_similar(self, generation: int, hits: Sequence[Hit]) -> None:
        if generation != self._generation:
            return
        entries = [similar_entry(hit) for hit in hits if hit.document_id != self.document_id]
        self.query_one("#reader-similar", LinkList).show(
            entries, "Nothing similar (is the index built?)")
        self._set_tab_label("similar", f"Similar ({len(entries)})")

    def _set_tab_label(self, pane: str, label: str) -> None:
        self.query_one("#reader-tabs", TabbedContent).get_tab(pane).label = label

    # --- navigation ---------------------------------------------------------------------------

    @on(OpenDocument)
    def _open_here(self, message: OpenDocument) -> None:
        """Documents opened from inside the reader replace its content (with history)."""
        message.stop()
        self.navigate(message.document_id, message.at)

    def navigate(self, document_id: int, at: int | None = None) -> None:
        """Open a document in this reader; back returns to the current one."""
        self._remember_place()
        del self.history[self.position + 1:]
        self.history.append(Visit(document_id, at))
        self.position = len(self.history) - 1
        self._load(self.history[self.position])

    def action_back(self) -> None:
        """The previous document of the history."""
        if self.position == 0:
            self.notify("Nothing to go back to", markup=False)
            return
        self._remember_place()
        self.position -= 1
        self._load(self.history[self.position])

    def action_forward(self) -> None:
        """The next document of the history."""
        if self.position >= len(self.history) - 1:
            self.notify("Nothing to go forward to", markup=False)
            return
        self._remember_place()
        self.position += 1
        self._load(self.history[self.position])

    def action_parent(self) -> None:
        """For a comment, open the post it belongs to."""
        if self.page is None or self.page.parent_id is None:
            self.notify("This is not a comment of a stored post", markup=False)
            return
        self.navigate(self.page.parent_id)

    def _remember_place(self) -> None:
        span = self.view.cursor_span
        if self.page is not None and span is not None:
            self.history[self.position].at = span[0]

    def action_close(self) -> None:
        """Back to the screen below."""
        self.app.pop_screen()

    def action_tab(self, pane: str) -> None:
        """Show one of the tabs."""
        if pane in _TABS:
            self.query_one("#reader-tabs", TabbedContent).active = pane

    @on(TabbedContent.TabActivated, "#reader-tabs")
    def _focus_tab(self, event: TabbedContent.TabActivated) -> None:
        widget = {"text": "#reader-text", "comments": "#reader-comments"}.get(
            event.pane.id or "", f"#reader-{event.pane.id}")
        self.query_one(widget).focus()

    def action_open_url(self) -> None:
        """Open the document's page in the browser."""
        if self.page is None or not self.page.url:
            self.notify("This document has no URL", severity="warning", markup=False)
            return
        open_web(self, self.page.url)

    def action_open_link(self) -> None:
        """Open a link of the sentence under the cursor (the next one on each press)."""
        links = self.view.links_at_cursor()
        if self.page is None or not links:
            self.notify("No link in this sentence", severity="warning", markup=False)
            return
        self._link = (self._link + 1) % len(links)
        open_web(self, links[self._link], self.page.url)

    # --- comments preview and the status line ------------------------------------------------

    @on(Tree.NodeHighlighted, "#reader-comments")
    def _comment_highlighted(self, event: Tree.NodeHighlighted[Comment]) -> None:
        self._show_preview(event.node.data)

    def _show_preview(self, comment: Comment | None) -> None:
        preview = self.query_one("#reader-preview", Static)
        if comment is None:
            preview.update(Text("No comments", "italic"))
            return
        text = Text(f"{comment.author} · {comment.date}\n", "bold")
        body = comment.text[:_PREVIEW_CHARS] + ("…" if len(comment.text) > _PREVIEW_CHARS
                                                 else "")
        text.append(body or "(deleted)")
        preview.update(text)

    @on(DocumentView.Moved, "#reader-text")
    def _moved(self) -> None:
        self._link = -1
        self._status(status_text(self.view))

    def _status(self, text: Text) -> None:
        self.query_one("#reader-status", Static).update(text)

    # --- has this been argued before? ---------------------------------------------------------

    def action_argued(self) -> None:
        """The earliest and the strongest posts making the selected passage's argument."""
        span = self.view.target_span
        if self.page is None or span is None:
            self.notify("Nothing to look for: select a passage first (v, then j)",
                        severity="warning", markup=False)
            return
        self.query_one("#reader-argued", LinkList).show([], "Looking…")
        self.query_one("#reader-tabs", TabbedContent).active = "argued"
        self._fetch_argued(self._generation, self.page.body[span[0]:span[1]])

    @work(thread=True, exit_on_error=False, group="reader-argued")
    def _fetch_argued(self, generation: int, text: str) -> None:
        found = library_of(self).argued(text)
        self.app.call_from_thread(self._show_argued, generation, found)

    def _show_argued(self, generation: int, found: Sequence[Precedent]) -> None:
        if generation != self._generation:
            return
        entries = [precedent_entry(p) for p in found if p.document_id != self.document_id]
        self.query_one("#reader-argued", LinkList).show(
            entries, "Not argued elsewhere in the store (is the index built?)")
        self._set_tab_label("argued", f"Argued before ({len(entries)})")

    # --- tagging ------------------------------------------------------------------------------

    def action_tag(self) -> None:
        """Tag the selection (or the sentence under the cursor) with a claim and a stance."""
        span = self.view.target_span
        if self.page is None or span is None:
            self.notify("Nothing to tag: select a passage first (v, then j)",
                        severity="warning", markup=False)
            return
        if self.page.deleted:
            self.notify("This document was deleted on the site; it cannot be tagged",
                        severity="warning", markup=False)
            return
        start, end = span
        document_id = self.page.document_id

        def chosen(choice: TagChoice | None) -> None:
            if choice is not None:
                self._save_tag(document_id, start, end, choice)

        self.app.push_screen(TagScreen(self.page.body[start:end]), chosen)

    @work(thread=True, exit_on_error=False, group="reader-tag")
    def _save_tag(self, document_id: int, start: int, end: int, choice: TagChoice) -> None:
        library = library_of(self)
        claim_id = choice.claim_id
        if claim_id is None:
            claim_id = library.add_claim(choice.text).claim_id
        mark = library.tag(document_id, start, end, claim_id, choice.stance)
        self.app.call_from_thread(self._tagged, document_id, mark)

    def _tagged(self, document_id: int, mark: Mark) -> None:
        if self.page is not None and self.page.document_id == document_id:
            quote = shorten(self.page.body[mark.start:mark.end])
            self.view.clear_selection()
            self.view.add_mark(mark)
        else:
            quote = "passage"
        self.notify(f"Tagged “{quote[:60]}” as {mark.stance} of claim {mark.claim_id}",
                    title="Tagged", markup=False)
        self.post_message(Tagged(document_id, mark.link_id))


# --- what the rows and lines say ---------------------------------------------------------------


def header_text(page: Page) -> Text:
    """Title; authors · date · source · karma · kind; the facts; a deleted flag."""
    text = Text(page.title, "bold")
    if page.deleted:
        text.append("  [deleted]", "bold red")
    parts = [page.authors or "unknown", page.date or "undated", page.source]
    if page.karma is not None:
        parts.append(f"{page.karma:g} karma")
    parts.append(page.kind + (" · AF" if page.af else ""))
    text.append("\n" + " · ".join(p for p in parts if p), "dim")
    if page.parent_id is not None:
        text.append("\ncomment: u opens its post", "dim")
    for fact in page.facts:
        text.append("\n" + fact, "italic")
    return text


def status_text(view: DocumentView) -> Text:
    """The claims under the cursor, else the selection, else the keys."""
    marks = view.marks_at_cursor()
    if marks:
        text = Text()
        for mark in marks[:2]:
            text.append(f"claim {mark.claim_id}: ", "bold")
            text.append(shorten(mark.claim)[:80])
            state = mark.stance if mark.status == "confirmed" else f"{mark.stance}, {mark.status}"
            text.append(f" ({state})  ")
        return text
    span = view.selection_span
    if span is not None:
        low, high = view.selection or (0, 0)
        count = abs(high - low) + 1
        extending = "extending (v stops) · " if view.extending else ""
        return Text(f"{count} sentence{'s' if count > 1 else ''}, {span[1] - span[0]} "
                    f"characters selected · {extending}t tags · esc clears")
    links = view.links_at_cursor()
    if links:
        more = f" (+{len(links) - 1} more)" if len(links) > 1 else ""
        text = Text("link: ", "bold")
        text.append(clean_text(links[0])[:200] + more)
        text.append(" · l opens it", "dim")
        return text
    return Text("j/k sentence · v select · t tag · o browser · [ ] back/forward · 1-5 tabs",
                "dim")


def citation_entry(citation: Citation) -> LinkEntry:
    """A citation as a row: stored ones open in the reader, others show their URL."""
    if citation.document_id is None:
        return LinkEntry(None, citation.title, f"not stored · {citation.url or ''}",
                         citation.url)
    detail = " · ".join(p for p in (citation.source, citation.kind, citation.date) if p)
    return LinkEntry(citation.document_id, citation.title, detail, citation.url)


def precedent_entry(found: Precedent) -> LinkEntry:
    """A post that made the argument before, as a row: which list, date, author, citations."""
    cited = f"cited by {found.cited_by}" if found.cited_by else ""
    detail = " · ".join(p for p in (found.which, found.date or "undated", found.authors,
                                    found.source, cited) if p)
    return LinkEntry(found.document_id, found.title, detail, found.url)


def similar_entry(hit: Hit) -> LinkEntry:
    """A similar document as a row."""
    detail = " · ".join(p for p in (hit.authors, hit.date, hit.source, hit.kind,
                                    f"score {hit.score:.2f}") if p)
    return LinkEntry(hit.document_id, hit.title, detail, hit.url)
