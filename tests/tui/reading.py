"""Helpers for the reader and tagging tests: finding documents in the seeded store, opening
the reader, inserting documents, and reading back what the text view shows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text
from textual.pilot import Pilot

from tracker import store
from tracker.models import AuthorCreate, DocumentCreate
from tracker.store.engine import session_scope
from tracker.tui.library import Page
from tracker.tui.messages import OpenDocument
from tracker.tui.screens.reader import ReaderScreen
from tracker.tui.widgets.document import DocumentView
from tracker.workbench import Workbench

from .pilots import settle


async def open_reader(pilot: Pilot[None], document_id: int, at: int | None = None
                      ) -> ReaderScreen:
    """Open the reader as a search result would, and wait for the page."""
    pilot.app.post_message(OpenDocument(document_id, at))
    await pilot.pause()
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReaderScreen)
    assert screen.page is not None and screen.page.document_id == document_id
    return screen


def cited_post(workbench: Workbench, engine: Engine) -> Page:
    """A post with headings, quotes, stored citations and a comment thread 4 levels deep."""
    query = text("SELECT DISTINCT l.document_id FROM link l JOIN document d "
                 "ON d.id = l.document_id WHERE d.kind = 'post' "
                 "AND l.target_document_id IS NOT NULL AND l.target_document_id != d.id "
                 "ORDER BY l.document_id")
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(query)]
    for document_id in ids:
        page = workbench.page(document_id)
        lines = page.body.split("\n")
        deep = any(c.depth >= 3 for c in page.comments)
        if deep and any(line.startswith("#") for line in lines) \
                and any(line.startswith("> ") for line in lines):
            return page
    raise AssertionError("the seeded store has no post with citations, quotes and a deep thread")


def insert_post(engine: Engine, native_id: str, title: str, body: str, *,
                deleted: bool = False) -> int:
    """Store a post the way a sync does; its id."""
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=[DocumentCreate(
            source="lesswrong", native_id=native_id, kind="post", title=title,
            url=f"https://www.lesswrong.com/posts/{native_id}", deleted=deleted,
            posted_at=datetime(2024, 5, 1, tzinfo=UTC), body_text=body,
            authors=[AuthorCreate(name="[bold]mallory[/]")])])
    with session_scope(engine) as session:
        document = store.get_document(session=session, ref=f"lesswrong:{native_id}")
        assert document.id is not None
        return document.id


def line_text(view: DocumentView, index: int) -> str:
    """What wrapped line `index` shows (gutter and lead included)."""
    return "".join(segment.text for segment in view.line_strip(index))


def visible_text(view: DocumentView) -> list[str]:
    """The lines on screen, as rendered."""
    return ["".join(s.text for s in view.render_line(y))
            for y in range(view.scrollable_content_region.height)]


def click_offset(view: DocumentView, offset: int) -> tuple[int, int]:
    """Where to click (relative to the view) to hit body offset `offset`."""
    from rich.cells import cell_len

    index = view.model.line_at(offset)
    line = view.model.lines[index]
    x = 1 + cell_len(line.lead) + cell_len(view.body[line.start:offset])
    return x, index - int(view.scroll_y)
