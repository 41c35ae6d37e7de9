"""All SQL of the passage table and its embedding state, for `tracker index`
(`tracker.search.indexing`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, or_, select, update
from sqlmodel import Session, col

from tracker.models import (
    Author,
    Document,
    DocumentAuthor,
    DocumentIndexState,
    Passage,
    PassageEmbedding,
    utcnow,
)

DELETED = "deleted"
_CHUNK = 500


@dataclass
class SourceDocument:
    """A document to split into passages, with the context its passages carry."""

    id: int
    kind: str
    title: str
    body_text: str
    deleted: bool
    authors: str
    state: str


@dataclass
class NewPassage:
    """A passage as the chunker made it, before it has an id."""

    ordinal: int
    start: int
    end: int
    text: str
    title: str
    authors: str

    @property
    def content_hash(self) -> str:
        """What the passage is indexed from: title, authors and text."""
        return passage_hash(self.title, self.authors, self.text)


@dataclass
class PendingPassage:
    """A passage that has no vector of the current model yet."""

    id: int
    content_hash: str
    title: str
    text: str


def passage_hash(title: str, authors: str, text: str) -> str:
    """Hash of everything a passage is indexed from."""
    return hashlib.sha256(f"{title}\x00{authors}\x00{text}".encode()).hexdigest()


def _expected_state(version: str) -> ColumnElement[Any]:
    return case((col(Document.deleted).is_(True), DELETED),
                else_=col(Document.content_hash) + f":{version}")


def count_documents_to_split(*, session: Session, version: str) -> int:
    """Documents whose passages are missing or were built from another text."""
    stmt = select(func.count()).select_from(Document).outerjoin(
        DocumentIndexState, col(DocumentIndexState.document_id) == col(Document.id)
    ).where(_stale(version))
    return int(session.execute(stmt).scalar_one())


def _stale(version: str) -> ColumnElement[bool]:
    return or_(col(DocumentIndexState.document_id).is_(None),
               col(DocumentIndexState.state) != _expected_state(version))


def documents_to_split(*, session: Session, version: str, limit: int) -> list[SourceDocument]:
    """The next documents to (re)split, with their text, authors and post title for comments."""
    stmt = (
        select(col(Document.id), col(Document.kind), col(Document.title),
               col(Document.body_text), col(Document.deleted), col(Document.source),
               col(Document.post_id), _expected_state(version).label("state"))
        .outerjoin(DocumentIndexState, col(DocumentIndexState.document_id) == col(Document.id))
        .where(_stale(version))
        .order_by(col(Document.id))
        .limit(limit)
    )
    rows = session.execute(stmt).all()
    authors = _author_strings(session, [row.id for row in rows])
    post_titles = _post_titles(session, {(r.source, r.post_id) for r in rows
                                         if r.kind == "comment" and r.post_id})
    return [
        SourceDocument(
            id=row.id, kind=row.kind, deleted=row.deleted, body_text=row.body_text,
            title=row.title or post_titles.get((row.source, row.post_id), ""),
            authors=authors.get(row.id, ""), state=row.state,
        )
        for row in rows
    ]


def _author_strings(session: Session, ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for chunk in _chunks(ids):
        stmt = (
            select(col(DocumentAuthor.document_id), col(Author.name), col(Author.slug))
            .join(Author, col(Author.id) == col(DocumentAuthor.author_id))
            .where(col(DocumentAuthor.document_id).in_(chunk))
            .order_by(col(DocumentAuthor.document_id), col(DocumentAuthor.position))
        )
        for doc_id, name, slug in session.execute(stmt):
            parts = found.setdefault(doc_id, [])
            parts.append(name)
            if slug and slug.lower() != name.lower():
                parts.append(slug)
    return {doc_id: " ".join(parts) for doc_id, parts in found.items()}


def _post_titles(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    by_source: dict[str, list[str]] = {}
    for source, native_id in keys:
        by_source.setdefault(source, []).append(native_id)
    for source, native_ids in by_source.items():
        for chunk in _chunks(native_ids):
            stmt = select(col(Document.native_id), col(Document.title)).where(
                col(Document.source) == source, col(Document.native_id).in_(chunk))
            found.update({(source, nid): title for nid, title in session.execute(stmt)})
    return found


def replace_passages(
    *, session: Session, document_id: int, passages: Sequence[NewPassage], state: str
) -> tuple[int, int]:
    """Make a document's passages these; unchanged ones keep their row and their vectors.

    Returns:
        (passages inserted, passages deleted).
    """
    old = session.execute(
        select(col(Passage.id), col(Passage.ordinal), col(Passage.start), col(Passage.end),
               col(Passage.content_hash)).where(col(Passage.document_id) == document_id)
    ).all()
    wanted = {(p.ordinal, p.start, p.end, p.content_hash): p for p in passages}
    keep = {(r.ordinal, r.start, r.end, r.content_hash) for r in old} & set(wanted)
    gone = [r.id for r in old if (r.ordinal, r.start, r.end, r.content_hash) not in keep]
    for chunk in _chunks(gone):
        session.execute(delete(Passage).where(col(Passage.id).in_(chunk)))
    rows = [
        {"document_id": document_id, "ordinal": p.ordinal, "start": p.start, "end": p.end,
         "text": p.text, "title": p.title, "authors": p.authors, "content_hash": key[3]}
        for key, p in wanted.items() if key not in keep
    ]
    if rows:
        session.execute(insert(Passage), rows)
    _save_state(session, document_id, state)
    return len(rows), len(gone)


def _save_state(session: Session, document_id: int, state: str) -> None:
    now = utcnow()
    updated = session.execute(
        update(DocumentIndexState).where(col(DocumentIndexState.document_id) == document_id)
        .values(state=state, indexed_at=now))
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.execute(insert(DocumentIndexState).values(
            document_id=document_id, state=state, indexed_at=now))


def _unembedded(model: str) -> ColumnElement[bool]:
    return and_(col(PassageEmbedding.passage_id) == col(Passage.id),
                col(PassageEmbedding.model) == model)


def count_passages_to_embed(*, session: Session, model: str) -> int:
    """Passages without a vector of `model`."""
    stmt = select(func.count()).select_from(Passage).outerjoin(
        PassageEmbedding, _unembedded(model)).where(col(PassageEmbedding.passage_id).is_(None))
    return int(session.execute(stmt).scalar_one())


def has_vectors(*, session: Session, model: str) -> bool:
    """Whether any passage has a vector of `model`."""
    stmt = select(col(PassageEmbedding.passage_id)).where(
        col(PassageEmbedding.model) == model).limit(1)
    return session.execute(stmt).first() is not None


def passages_to_embed(
    *, session: Session, model: str, after: int, limit: int
) -> list[PendingPassage]:
    """The next passages (by id, after `after`) without a vector of `model`."""
    stmt = (
        select(col(Passage.id), col(Passage.content_hash), col(Passage.title), col(Passage.text))
        .outerjoin(PassageEmbedding, _unembedded(model))
        .where(col(PassageEmbedding.passage_id).is_(None), col(Passage.id) > after)
        .order_by(col(Passage.id))
        .limit(limit)
    )
    return [PendingPassage(*row) for row in session.execute(stmt)]


def mark_embedded(
    *, session: Session, model: str, passages: Iterable[tuple[int, str]]
) -> None:
    """Record that these (passage id, content hash) have a saved vector of `model`."""
    rows = [{"passage_id": pid, "model": model, "content_hash": digest}
            for pid, digest in passages]
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(PassageEmbedding), rows[start : start + _CHUNK])


def embedded_ids(*, session: Session, model: str) -> set[int]:
    """Passages recorded as having a vector of `model`."""
    stmt = select(col(PassageEmbedding.passage_id)).where(col(PassageEmbedding.model) == model)
    return set(session.execute(stmt).scalars())


def forget_embeddings(*, session: Session, model: str, passage_ids: Iterable[int]) -> None:
    """Drop the records of vectors that the vector index does not hold."""
    for chunk in _chunks(list(passage_ids)):
        session.execute(delete(PassageEmbedding).where(
            col(PassageEmbedding.model) == model, col(PassageEmbedding.passage_id).in_(chunk)))


def _chunks(items: Sequence[object], size: int = _CHUNK) -> Iterable[Sequence[object]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def training_pairs(*, session: Session, limit: int, min_chars: int = 200
                   ) -> list[tuple[str, str, str]]:
    """(anchor, passage text, kind) pairs for adapting the embedding model, sampled at random:
    a document's title with one of its passages (`title`), and a link's anchor text with the
    first passage of the document it cites (`anchor`, anchors of at least three words)."""
    from tracker.models import Link

    titles = (
        select(col(Passage.title), col(Passage.text))
        .where(col(Passage.title) != "", func.length(col(Passage.text)) >= min_chars)
        .order_by(func.random()).limit(limit)
    )
    target = Passage.__table__.alias("target")  # type: ignore[attr-defined]
    anchors = (
        select(col(Link.anchor_text), target.c.text)
        .join(target, and_(target.c.document_id == col(Link.target_document_id),
                           target.c.ordinal == 0))
        .where(func.length(col(Link.anchor_text)) >= 12, col(Link.anchor_text).like("% % %"),
               func.length(target.c.text) >= min_chars)
        .order_by(func.random()).limit(max(1, limit // 4))
    )
    pairs = [(a, t, "anchor") for a, t in session.execute(anchors)]
    pairs += [(a, t, "title") for a, t in session.execute(titles)]
    return pairs[:limit]
