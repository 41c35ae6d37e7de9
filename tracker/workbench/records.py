"""The plain records the UI is given, built from store rows (every string cleaned)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from tracker import store
from tracker.errors import NotFoundError
from tracker.index.base import SearchFilters
from tracker.models import Claim, ClaimLink, Document, DocumentPublic
from tracker.text import clean_text
from tracker.tui.library import (
    Argument,
    Citation,
    ClaimSummary,
    Comment,
    Hit,
    Mark,
    Query,
    SourceLine,
)

if TYPE_CHECKING:
    from tracker.index.catalog import DocumentInfo
    from tracker.index.hybrid import HybridSearcher

_CONTEXT_CHARS = 240  # text shown either side of a claim's quote


def index_notice(searcher: HybridSearcher) -> str:
    """What the search screen should say about the index (counted once per opened searcher:
    counting the full-text rows costs ~40 ms at 100k passages, a third of a search)."""
    if not searcher.keyword.count():
        return "Nothing is indexed yet: press i on the status screen (or run `tracker index`)."
    if not searcher.has_vectors:
        return "Keyword search only: no passage is embedded yet."
    return ""


def filters(query: Query) -> SearchFilters:
    def moment(day: date | None) -> datetime | None:
        return datetime.combine(day, dtime(), tzinfo=UTC) if day else None

    return SearchFilters(sources=query.sources, kinds=query.kinds, authors=query.authors,
                         since=moment(query.since), until=moment(query.until),
                         min_score=query.min_score)


def hit(doc: DocumentInfo, rank: int, score: float, snippet: str,
         spans: Sequence[tuple[int, int]], at: int | None) -> Hit:
    context = ""
    if doc.kind == "comment":
        context = "on: " + clean_text(doc.post.title if doc.post else f"post {doc.post_native_id}")
    return Hit(document_id=doc.id, rank=rank, score=score, title=clean_text(doc.title)
               or "(untitled)", authors=clean_text(", ".join(doc.authors)),
               date=day(doc.posted_at), source=doc.source, kind=doc.kind, karma=doc.score,
               af=doc.af, url=clean_text(doc.url) if doc.url else None, context=context,
               snippet=snippet,
               highlights=tuple(spans), at=at)


def day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else ""


def minute(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def document(session: Session, document_id: int) -> Document:
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFoundError(f"No document {document_id} in the store")
    return doc


def lookup(session: Session, ref: str) -> Document | None:
    try:
        return store.get_document(session=session, ref=ref)
    except NotFoundError:
        return None


def facts(session: Session, public: DocumentPublic) -> list[str]:
    facts = []
    if public.source == "arxiv":
        from tracker.present import paper_lines

        facts += paper_lines(public)
    if public.link_url:
        facts.append(f"link post → {public.link_url}")
    for other, reason in store.same_work(session=session, document_id=public.id):
        facts.append(f"same work as {other.source}: {other.title} ({reason})")
    if public.tags:
        facts.append("tags: " + ", ".join(public.tags))
    if public.deleted:
        facts.append("deleted on the site; this is the last text fetched")
    return [clean_text(f) for f in facts]


def comments(session: Session, thread: Sequence[Document]) -> list[Comment]:
    """The thread in reading order, each reply after its parent, with its depth."""
    from tracker.present import count_below, thread_children

    children = thread_children(thread)
    authors = authors_of(session, [c.id or 0 for c in thread])
    out: list[Comment] = []
    stack = [(c, 0) for c in reversed(children.get(None, []))]
    while stack:
        comment, depth = stack.pop()
        out.append(Comment(
            document_id=comment.id or 0, depth=depth,
            author=clean_text(authors.get(comment.id or 0, "")) or "unknown",
            date=day(comment.posted_at), karma=comment.score,
            text="" if comment.deleted else clean_text(comment.body_text),
            deleted=comment.deleted, replies=count_below(children, comment.native_id)))
        stack += [(reply, depth + 1) for reply in reversed(children.get(comment.native_id, []))]
    return out


def authors_of(session: Session, ids: Sequence[int]) -> dict[int, str]:
    return store.author_names(session=session, document_ids=ids)


def marks(session: Session, document_id: int, reader: str) -> list[Mark]:
    stmt = (select(ClaimLink, Claim).join(Claim, col(Claim.id) == col(ClaimLink.claim_id))
            .where(col(ClaimLink.document_id) == document_id, store.visible_claims(reader),
                   col(ClaimLink.status).in_(["confirmed", "stale", "suggested"]))
            .order_by(col(ClaimLink.start)))
    return [mark(link, claim.text) for link, claim in session.exec(stmt)]


def mark(link: ClaimLink, claim_text: str) -> Mark:
    return Mark(link_id=link.id or 0, claim_id=link.claim_id, claim=clean_text(claim_text),
                stance=link.stance, status=link.status, start=link.start, end=link.end)


def citations(rows: Sequence[store.LinkRow]) -> list[Citation]:
    out: dict[object, Citation] = {}
    for row in rows:
        doc = row.document
        if doc is not None:
            key: object = doc.id
            item = Citation(doc.id, clean_text(doc.title) or "(untitled)", doc.source, doc.kind,
                            clean_text(doc.url) if doc.url else None, day(doc.posted_at))
        else:
            key = row.url
            item = Citation(None, clean_text(row.anchor_text or row.url), "", row.kind,
                            clean_text(row.url))
        out.setdefault(key, item)
    return list(out.values())


def summary(claim_id: int, text: str, counts: dict[str, int]) -> ClaimSummary:
    return ClaimSummary(claim_id, clean_text(text), supports=counts.get("supports", 0),
                        opposes=counts.get("opposes", 0), mentions=counts.get("mentions", 0),
                        stale=counts.get("stale", 0), suggested=counts.get("suggested", 0))


def arguments(session: Session, links: Sequence[ClaimLink]) -> list[Argument]:
    docs = {d.id: d for d in (session.get(Document, i)
                              for i in {link.document_id for link in links}) if d is not None}
    out = []
    for link in links:
        doc = docs.get(link.document_id)
        body = doc.body_text if doc is not None else ""
        current = doc is not None and link.status != "stale"
        quote = body[link.start:link.end] if current and body[link.start:link.end] else link.quote
        before = body[max(0, link.start - _CONTEXT_CHARS):link.start] if current else link.prefix
        after = body[link.end:link.end + _CONTEXT_CHARS] if current else link.suffix
        out.append(Argument(
            link_id=link.id or 0, claim_id=link.claim_id, document_id=link.document_id,
            title=clean_text(doc.title if doc else "") or "(untitled)",
            source=doc.source if doc else "", date=day(doc.posted_at if doc else None),
            stance=link.stance, status=link.status, quote=clean_text(quote),
            before=clean_text(before), after=clean_text(after), score=link.score,
            note=clean_text(link.note) if link.note else None,
            start=link.start if current else None))
    return out


def source_line(row: store.SourceStatus, enabled: bool) -> SourceLine:
    last = row.last_run
    error = ""
    if row.last_error is not None and row.last_error.error:
        error = f"{minute(row.last_error.finished_at)}: {clean_text(row.last_error.error)}"
    return SourceLine(
        name=row.source, enabled=enabled, documents=sum(row.documents.values()),
        last_sync=f"{minute(last.started_at)} ({last.status})" if last else "never",
        last_success=minute(row.last_success) or "never", error=error)
