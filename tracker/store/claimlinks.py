"""Links between claims and passages:

tagging, accept and reject, suggestions, and anchors that follow a document's edits.
`tracker.store.anchors` does the text matching.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from tracker.errors import NotFoundError, TrackerError
from tracker.models import (
    DEFAULT_READER,
    Author,
    Claim,
    ClaimLink,
    Document,
    DocumentAuthor,
    Passage,
    Revision,
    utcnow,
)
from tracker.store import anchors
from tracker.store.claims import STANCES, DocumentRef, Labels, Suggested, get_claim
from tracker.store.readers import visible_claims
from tracker.store.sql import chunks

_SHOWN = 80  # characters of a quote repeated in an error message


def tag(
    *,
    session: Session,
    claim_id: int,
    reader: str = DEFAULT_READER,
    document: Document,
    quote: str,
    stance: str,
    note: str | None = None,
    prefix: str = "",
    suffix: str = "",
    occurrence: int | None = None,
) -> tuple[ClaimLink, anchors.Found]:
    """Anchor a confirmed link from a claim to the passage of `document` that `quote` names.

    Tagging the same span again updates its stance and note instead of adding a link.

    Raises:
        TrackerError: the quote is empty, longer than the text, absent, or ambiguous.
    """
    _check_stance(stance)
    claim = get_claim(session=session, claim_id=claim_id, reader=reader)
    _refuse_deleted(document)
    found = anchor_quote(document, quote, prefix=prefix, suffix=suffix, occurrence=occurrence)
    assert claim.id is not None and document.id is not None
    existing = session.exec(select(ClaimLink).where(
        col(ClaimLink.claim_id) == claim.id, col(ClaimLink.document_id) == document.id,
        col(ClaimLink.start) == found.start, col(ClaimLink.end) == found.end,
        col(ClaimLink.revision) == document.content_hash)).first()
    now = utcnow()
    link = existing or ClaimLink(claim_id=claim.id, document_id=document.id, quote="", start=0,
                                 end=0, origin="user", created_at=now)
    _place(link, document, found)
    link.stance, link.status, link.updated_at = stance, "confirmed", now
    link.tagged_by = reader
    if note is not None:
        link.note = _clean_note(note)
    link.passage_id = passage_at(session=session, document_id=document.id,
                                 start=found.start, end=found.end)
    session.add(link)
    session.flush()
    return link, found


def anchor_quote(document: Document, quote: str, *, prefix: str = "", suffix: str = "",
                 occurrence: int | None = None) -> anchors.Found:
    """Where `quote` is in the document's current text, or an error that says why not."""
    text, label = document.body_text, _label(document)
    if not quote.strip():
        raise TrackerError('The quote is empty: give the words of the passage with --quote "…"')
    if anchors.too_long(text, quote):
        raise TrackerError(
            f"The quote ({len(quote)} characters) is longer than the text of document {label} "
            f"({len(text)} characters); quote a passage of it")
    found = sorted(anchors.locate(text, quote), key=lambda f: f.start)
    if not found:
        raise TrackerError(_not_found(document, quote))
    if occurrence is not None:
        if not 1 <= occurrence <= len(found):
            raise TrackerError(f"--occurrence {occurrence}: the quote occurs {len(found)} time(s) "
                               f"in document {label}")
        return found[occurrence - 1]
    chosen = anchors.choose(text, found, prefix=prefix, suffix=suffix)
    if chosen is None:
        where = ", ".join(str(f.start) for f in found[:5]) + (", …" if len(found) > 5 else "")
        raise TrackerError(
            f"The quote occurs {len(found)} times in document {label} (at characters {where}); "
            f"quote more words, or pick one with --prefix/--suffix (the words just before or "
            f"after it) or --occurrence N")
    return chosen


def _not_found(document: Document, quote: str) -> str:
    hint = anchors.closest(document.body_text, quote)
    near = ""
    if hint is not None:
        seen = _short(document.body_text[hint.start : hint.end])
        near = f' The closest text ({hint.similarity:.0f}% alike) is "{seen}".'
    return (f'The quote "{_short(quote)}" is not in document {_label(document)}.{near} Copy the '
            f"words as `tracker show {document.id}` prints them")


def _place(link: ClaimLink, document: Document, found: anchors.Found) -> None:
    text = document.body_text
    link.start, link.end = found.start, found.end
    link.quote = text[found.start : found.end]
    link.prefix, link.suffix = anchors.context(text, found.start, found.end)
    link.revision = document.content_hash


def get_link(*, session: Session, link_id: int, reader: str = DEFAULT_READER) -> ClaimLink:
    """A link of a claim `reader` may see, by id."""
    link = session.get(ClaimLink, link_id)
    claim = session.get(Claim, link.claim_id) if link is not None else None
    if link is None or claim is None or not (claim.owner == reader or claim.shared):
        raise NotFoundError(f"No claim link {link_id}. `tracker claim show CLAIM` and "
                            f"`tracker claim suggest CLAIM` list link ids")
    return link


def accept_link(*, session: Session, link_id: int, reader: str = DEFAULT_READER,
                stance: str | None = None,
                note: str | None = None, quote: str | None = None) -> ClaimLink:
    """Confirm a suggested, rejected or stale link (a stale one only if its quote is back, or
    with a new `quote`); on a confirmed link, change its stance, note or quote. The link is
    then `reader`'s (`tagged_by`)."""
    link = get_link(session=session, link_id=link_id, reader=reader)
    if stance is not None:
        _check_stance(stance)
        link.stance = stance
    document = session.get(Document, link.document_id)
    assert document is not None
    if quote is not None:
        _place(link, document, anchor_quote(document, quote))
    elif link.revision != document.content_hash:
        _reanchor_for_confirmation(link, document)
    if note is not None:
        link.note = _clean_note(note)
    link.status, link.updated_at, link.tagged_by = "confirmed", utcnow(), reader
    link.passage_id = passage_at(session=session, document_id=document.id or 0,
                                 start=link.start, end=link.end)
    session.flush()
    return link


def _reanchor_for_confirmation(link: ClaimLink, document: Document) -> None:
    text = document.body_text
    found = anchors.locate(text, link.quote, ("exact", "typographic"))
    chosen = anchors.choose(text, found, prefix=link.prefix, suffix=link.suffix, near=link.start)
    if chosen is None:
        raise TrackerError(
            f'The quote of link {link.id} ("{_short(link.quote)}") is no longer in document '
            f"{_label(document)}, which was edited; confirm it with the passage as it reads now, "
            f'`tracker claim accept {link.id} --quote "…"`, or `tracker claim reject {link.id}`')
    _place(link, document, chosen)


def reject_link(*, session: Session, link_id: int, reader: str = DEFAULT_READER,
                note: str | None = None) -> ClaimLink:
    """Mark a link rejected by `reader`: a negative example that `claim suggest` never proposes
    again."""
    link = get_link(session=session, link_id=link_id, reader=reader)
    link.status, link.updated_at, link.tagged_by = "rejected", utcnow(), reader
    if note is not None:
        link.note = _clean_note(note)
    session.flush()
    return link


def claim_links(*, session: Session, claim_id: int,
                statuses: Iterable[str] | None = None) -> list[ClaimLink]:
    """A claim's links, in the order they were made."""
    stmt = select(ClaimLink).where(col(ClaimLink.claim_id) == claim_id)
    if statuses is not None:
        stmt = stmt.where(col(ClaimLink.status).in_(list(statuses)))
    return list(session.exec(stmt.order_by(col(ClaimLink.id))))


def document_refs(*, session: Session, document_ids: Iterable[int]) -> dict[int, DocumentRef]:
    """Display facts of the documents links point to, with authors in byline order."""
    wanted = list(dict.fromkeys(document_ids))
    found: dict[int, DocumentRef] = {}
    for chunk in chunks(wanted):
        stmt = sql_select(
            col(Document.id), col(Document.source), col(Document.native_id), col(Document.kind),
            col(Document.title), col(Document.url), col(Document.posted_at),
            col(Document.content_hash), col(Document.deleted),
        ).where(col(Document.id).in_(chunk))
        for row in session.execute(stmt):
            found[row.id] = DocumentRef(*row)
        names = (sql_select(col(DocumentAuthor.document_id), col(Author.name))
                 .join(Author, col(Author.id) == col(DocumentAuthor.author_id))
                 .where(col(DocumentAuthor.document_id).in_(chunk))
                 .order_by(col(DocumentAuthor.document_id), col(DocumentAuthor.position)))
        for doc_id, name in session.execute(names):
            found[doc_id].authors.append(name)
    return found


def revision_dates(*, session: Session,
                   revisions: Iterable[tuple[int, str]]) -> dict[tuple[int, str], datetime]:
    """When each (document id, content hash) revision was written, where it was kept."""
    found: dict[tuple[int, str], datetime] = {}
    for doc_id, digest in set(revisions):
        stmt = sql_select(col(Revision.modified_at), col(Revision.recorded_at)).where(
            col(Revision.document_id) == doc_id, col(Revision.content_hash) == digest)
        row = session.execute(stmt.order_by(col(Revision.id).desc())).first()
        if row is not None and (row[0] or row[1]) is not None:
            found[(doc_id, digest)] = row[0] or row[1]
    return found


# --- suggestions and labels --------------------------------------------------------------------


def labels(*, session: Session, claim_id: int) -> Labels:
    """The claim's confirmed, rejected and stale links, each with its current passage."""
    links = claim_links(session=session, claim_id=claim_id,
                        statuses=("confirmed", "rejected", "stale"))
    spans = {link.id or 0: (link.document_id, link.start, link.end) for link in links
             if link.status != "stale"}
    return Labels(
        confirmed=[link for link in links if link.status == "confirmed"],
        rejected=[link for link in links if link.status == "rejected"],
        stale=[link for link in links if link.status == "stale"],
        passages=_passages_at(session, spans),
    )


def save_suggestions(*, session: Session, claim_id: int, reader: str = DEFAULT_READER,
                     rows: Sequence[Suggested]) -> list[ClaimLink]:
    """Make the claim's `suggested` links these (a passage suggested again keeps its link id).

    Links the user decided on (confirmed, rejected, stale) are never touched.
    """
    old = {link.passage_id: link for link in claim_links(
        session=session, claim_id=claim_id, statuses=("suggested",))}
    texts = _texts(session, {row.document_id for row in rows})
    now = utcnow()
    saved: list[ClaimLink] = []
    for row in rows:
        text, revision = texts[row.document_id]
        link = old.pop(row.passage_id, None) or ClaimLink(
            claim_id=claim_id, document_id=row.document_id, quote="", start=0, end=0,
            origin="suggested", status="suggested", passage_id=row.passage_id, created_at=now)
        link.start, link.end, link.quote = row.start, row.end, text[row.start : row.end]
        link.prefix, link.suffix = anchors.context(text, row.start, row.end)
        link.revision, link.stance, link.score = revision, row.stance, row.score
        link.updated_at, link.tagged_by = now, reader
        session.add(link)
        saved.append(link)
    for stale_suggestion in old.values():
        session.delete(stale_suggestion)
    session.flush()
    return saved


def _texts(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    found: dict[int, tuple[str, str]] = {}
    for chunk in chunks(list(ids)):
        stmt = sql_select(col(Document.id), col(Document.body_text),
                          col(Document.content_hash)).where(col(Document.id).in_(chunk))
        found.update({row.id: (row.body_text, row.content_hash) for row in session.execute(stmt)})
    return found


def linked_claims(*, session: Session, passage_ids: Sequence[int],
                  reader: str = DEFAULT_READER) -> dict[int, list[ClaimLink]]:
    """Confirmed links of claims `reader` sees whose current passage is one of these, by passage
    (for `claim check`)."""
    found: dict[int, list[ClaimLink]] = {}
    if not passage_ids:
        return found
    spans: dict[int, tuple[int, int, int]] = {}
    for chunk in chunks(list(passage_ids)):
        stmt = sql_select(col(Passage.id), col(Passage.document_id)).where(
            col(Passage.id).in_(chunk))
        docs = {int(pid): did for pid, did in session.execute(stmt)}
        links = session.exec(select(ClaimLink).join(
            Claim, col(Claim.id) == col(ClaimLink.claim_id)).where(
            col(ClaimLink.document_id).in_(set(docs.values())),
            col(ClaimLink.status) == "confirmed", visible_claims(reader))).all()
        spans.update({link.id or 0: (link.document_id, link.start, link.end) for link in links})
        at = _passages_at(session, spans)
        for link in links:
            pid = at.get(link.id or 0)
            if pid is not None and pid in docs:
                found.setdefault(pid, []).append(link)
    return found


# --- re-anchoring after an edit ----------------------------------------------------------------


@dataclass
class Reanchored:
    """What an edit did to the links of the edited documents."""

    moved: int = 0
    stale: int = 0
    dropped: int = 0
    """Suggestions whose passage is gone (they are recomputed, not user data)."""


def reanchor_links(*, session: Session, documents: Sequence[tuple[int, str, str]]) -> Reanchored:
    """Follow edited documents with their links: `(document id, new body_text, new hash)`.

    A quote that still occurs (exactly, or with only whitespace and quote style changed) moves
    with the text; a confirmed link whose quote is gone becomes `stale` and keeps its old quote,
    span and revision. Nothing is moved to a different wording.
    """
    report = Reanchored()
    texts = {doc_id: (text, digest) for doc_id, text, digest in documents}
    for chunk in chunks(list(texts)):
        links = session.exec(select(ClaimLink).where(
            col(ClaimLink.document_id).in_(chunk), col(ClaimLink.status) != "stale")).all()
        for link in links:
            text, digest = texts[link.document_id]
            if link.revision != digest:
                _follow_edit(session, link, text, digest, report)
    session.flush()
    return report


def _follow_edit(session: Session, link: ClaimLink, text: str, digest: str,
                 report: Reanchored) -> None:
    found = anchors.locate(text, link.quote, ("exact", "typographic"))
    chosen = anchors.choose(text, found, prefix=link.prefix, suffix=link.suffix, near=link.start)
    now = utcnow()
    if chosen is not None:
        link.start, link.end, link.quote = chosen.start, chosen.end, text[chosen.start:chosen.end]
        link.prefix, link.suffix = anchors.context(text, chosen.start, chosen.end)
        link.revision, link.passage_id, link.updated_at = digest, None, now
        report.moved += 1
    elif link.status == "suggested":
        session.delete(link)
        report.dropped += 1
    elif link.status == "confirmed":
        link.status, link.updated_at = "stale", now
        report.stale += 1


# --- helpers -----------------------------------------------------------------------------------


def passage_at(*, session: Session, document_id: int, start: int, end: int) -> int | None:
    """The current passage of a document that overlaps `[start, end)` the most, if any."""
    return _passages_at(session, {0: (document_id, start, end)}).get(0)


def _passages_at(session: Session,
                 spans: dict[int, tuple[int, int, int]]) -> dict[int, int]:
    """For each key, the passage of its document overlapping its span the most."""
    by_doc: dict[int, list[tuple[int, int, int]]] = {}
    for doc_id in {doc for doc, _, _ in spans.values()}:
        by_doc[doc_id] = []
    for chunk in chunks(list(by_doc)):
        stmt = sql_select(col(Passage.id), col(Passage.document_id), col(Passage.start),
                          col(Passage.end)).where(col(Passage.document_id).in_(chunk))
        for pid, doc_id, start, end in session.execute(stmt):
            by_doc[doc_id].append((int(pid), start, end))
    found: dict[int, int] = {}
    for key, (doc_id, start, end) in spans.items():
        best, best_overlap = None, -1
        for pid, p_start, p_end in by_doc.get(doc_id, []):
            overlap = min(end, p_end) - max(start, p_start)
            if overlap > max(best_overlap, 0):
                best, best_overlap = pid, overlap
        if best is not None:
            found[key] = best
    return found


def _check_stance(stance: str) -> None:
    if stance not in STANCES:
        raise TrackerError(f"Unknown stance '{stance}'; use one of {', '.join(STANCES)}")


def _refuse_deleted(document: Document) -> None:
    if document.deleted:
        raise TrackerError(f"Document {_label(document)} was deleted on its site; tag another")


def _clean_note(note: str) -> str | None:
    from tracker.text import clean_text

    return clean_text(note).strip() or None


def _label(document: Document) -> str:
    from tracker.text import clean_text

    title = clean_text(document.title or "").strip()
    return f"{document.id} ({title[:60]})" if title else f"{document.id}"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"
