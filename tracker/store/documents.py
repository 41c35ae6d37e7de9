"""Writing documents:

upsert with revisions, authors, tags, aliases and links, resolved both ways.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from tracker.models import (
    Author,
    AuthorCreate,
    Document,
    DocumentAlias,
    DocumentAuthor,
    DocumentCreate,
    DocumentTag,
    Link,
    LinkContext,
    Revision,
    Tag,
    utcnow,
)
from tracker.store.claimlinks import reanchor_links
from tracker.store.crossposts import link_crossposts
from tracker.store.sql import bounded_key, chunks, insert_ignore, insert_rows

# Columns compared to tell an unchanged document from an updated one (bodies go by hash).
_META_FIELDS = (
    "kind", "url", "title", "posted_at", "modified_at", "score", "vote_count", "comment_count",
    "af", "question", "link_url", "post_id", "parent_id", "deleted", "extra",
)


@dataclass
class UpsertCounts:
    """What one batch did to the store."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, other: UpsertCounts) -> None:
        """Accumulate another batch's counts."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


def content_hash(title: str, body_text: str) -> str:
    """The hash that decides whether a document's text changed."""
    return hashlib.sha256(f"{title}\n\x00\n{body_text}".encode()).hexdigest()


# --- writing documents ---------------------------------------------------------------------


def upsert_documents(*, session: Session, documents: Sequence[DocumentCreate]) -> UpsertCounts:
    """Insert new documents, update changed ones (keeping a revision), skip unchanged ones."""
    counts = UpsertCounts()
    batch = _dedupe(documents)
    if not batch:
        return counts
    existing = _existing_rows(session, batch)
    now = utcnow()
    fresh: list[tuple[DocumentCreate, dict[str, Any]]] = []
    rewritten: list[tuple[int, DocumentCreate]] = []
    for doc in batch:
        row = existing.get((doc.source, doc.native_id))
        values = _row_values(doc)
        if row is None:
            fresh.append((doc, values))
        elif row["content_hash"] != values["content_hash"]:
            _keep_revision(session, row["id"], now)
            session.execute(
                update(Document).where(col(Document.id) == row["id"]).values(
                    **values, fetched_at=now
                )
            )
            rewritten.append((row["id"], doc))
        elif any(_differs(row[name], values[name]) for name in _META_FIELDS):
            meta = {name: values[name] for name in _META_FIELDS}
            session.execute(
                update(Document).where(col(Document.id) == row["id"]).values(
                    **meta, fetched_at=now
                )
            )
            counts.updated += 1
        else:
            counts.unchanged += 1
    inserted = _insert_new(session, fresh, now)
    counts.new = len(inserted)
    counts.updated += len(rewritten)
    _replace_relations(session, inserted + rewritten, fresh=len(inserted))
    if rewritten:  # claim anchors follow the edit
        reanchor_links(session=session, documents=[
            (doc_id, doc.body_text, content_hash(doc.title, doc.body_text))
            for doc_id, doc in rewritten])
    return counts


def _dedupe(documents: Sequence[DocumentCreate]) -> list[DocumentCreate]:
    """The batch with one entry per (source, native_id), the last one winning."""
    latest: dict[tuple[str, str], DocumentCreate] = {}
    for doc in documents:
        latest[(doc.source, doc.native_id)] = doc
    return list(latest.values())


def _existing_rows(
    session: Session, batch: Sequence[DocumentCreate]
) -> dict[tuple[str, str], dict[str, Any]]:
    names = ("id", "source", "native_id", "content_hash", *_META_FIELDS)
    columns: list[Any] = [getattr(Document, name) for name in names]
    by_source: dict[str, list[str]] = {}
    for doc in batch:
        by_source.setdefault(doc.source, []).append(doc.native_id)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for source, native_ids in by_source.items():
        for chunk in chunks(native_ids):
            stmt = sql_select(*columns).where(
                col(Document.source) == source, col(Document.native_id).in_(chunk)
            )
            for row in session.execute(stmt).mappings():
                found[(row["source"], row["native_id"])] = dict(row)
    return found


# The document row's columns among DocumentCreate's fields (the rest are relation rows).
_ROW_FIELDS = tuple(name for name in DocumentCreate.model_fields
                    if name not in ("authors", "tags", "aliases", "links"))
_row_fields = operator.attrgetter(*_ROW_FIELDS)


def _row_values(doc: DocumentCreate) -> dict[str, Any]:
    # Attributes read directly: model_dump serialised (and copied) each field, ~20 µs a
    # document, 0.9 of the writer's CPU-s for the corpus.
    values = dict(zip(_ROW_FIELDS, _row_fields(doc), strict=True))
    values["content_hash"] = content_hash(doc.title, doc.body_text)
    return values


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, float) or isinstance(new, float):
        return old is None or new is None or abs(float(old) - float(new)) > 1e-9
    if isinstance(old, dict) or isinstance(new, dict):
        return json.dumps(old, sort_keys=True, default=str) != json.dumps(
            new, sort_keys=True, default=str
        )
    return bool(old != new)


def _keep_revision(session: Session, document_id: int, now: datetime) -> None:
    columns: list[Any] = [Document.content_hash, Document.title, Document.body_html,
                          Document.body_text, Document.modified_at, Document.posted_at]
    old = session.execute(sql_select(*columns).where(col(Document.id) == document_id)).one()
    session.execute(
        insert(Revision).values(
            document_id=document_id,
            content_hash=old.content_hash,
            title=old.title,
            body_html=old.body_html,
            body_text=old.body_text,
            modified_at=old.modified_at or old.posted_at,
            recorded_at=now,
        )
    )


def _insert_new(
    session: Session, fresh: Sequence[tuple[DocumentCreate, dict[str, Any]]], now: datetime
) -> list[tuple[int, DocumentCreate]]:
    """Insert new rows; each document with the id it got."""
    if not fresh:
        return []
    # The driver's executemany with the columns' own conversions, then the ids looked up by
    # unique key: SQLAlchemy's INSERT … RETURNING built and type-processed each row's
    # parameters in Python (~50 µs a row, 2.3 of the writer's ~11 CPU-s for the corpus).
    insert_rows(session, Document, [{**values, "fetched_at": now} for _, values in fresh],
                typed=True)
    ids = _ids_by_key(session, [doc for doc, _ in fresh])
    return [(ids[(doc.source, doc.native_id)], doc) for doc, _ in fresh]


def _ids_by_key(
    session: Session, documents: Sequence[DocumentCreate]
) -> dict[tuple[str, str], int]:
    by_source: dict[str, list[str]] = {}
    for doc in documents:
        by_source.setdefault(doc.source, []).append(doc.native_id)
    found: dict[tuple[str, str], int] = {}
    for source, native_ids in by_source.items():
        for chunk in chunks(native_ids):
            stmt = sql_select(col(Document.native_id), col(Document.id)).where(
                col(Document.source) == source, col(Document.native_id).in_(chunk))
            found.update({(source, native_id): doc_id
                          for native_id, doc_id in session.execute(stmt)})
    return found


def _replace_relations(
    session: Session, attached: Sequence[tuple[int, DocumentCreate]], *, fresh: int = 0
) -> None:
    """Authors, tags, aliases and links of freshly written documents, then link resolution.

    The first `fresh` entries were just inserted: they own no relation rows yet (ids are never
    reused while rows point at them, since every relation table cascades on delete), so only
    the rewritten ones have old rows to delete.
    """
    if not attached:
        return
    ids = [doc_id for doc_id, _ in attached]
    stale = ids[fresh:]
    for table in (DocumentAuthor, DocumentTag, Link, LinkContext):
        for chunk in chunks(stale):
            session.execute(delete(table).where(col(table.document_id).in_(chunk)))
    _write_authors(session, attached)
    _write_tags(session, attached)
    new_keys = _write_aliases(session, attached)
    _write_links(session, attached)
    _resolve_links(session, document_ids=ids, keys=new_keys)
    link_crossposts(session, attached)


def _author_key(author: AuthorCreate) -> str:
    key = f"slug:{author.slug.lower()}" if author.slug else f"name:{author.name.strip().lower()}"
    return bounded_key(key)


def _write_authors(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    # Each byline's keys once (an import batch names ~2,000 authors, most of them again).
    bylines = [(doc_id, [_author_key(a) for a in doc.authors], doc.authors)
               for doc_id, doc in attached if doc.authors]
    wanted = {key: a for _, keys, authors in bylines for key, a in zip(keys, authors, strict=True)}
    if not wanted:
        return
    known = _author_ids(session, wanted)
    missing = [key for key in wanted if key not in known]
    if missing:
        insert_ignore(session, Author, [{"key": key, "name": wanted[key].name,
                                         "slug": wanted[key].slug} for key in missing])
        known.update(_author_ids(session, {key: wanted[key] for key in missing}))
    rows = []
    for doc_id, keys, _ in bylines:
        # dict.fromkeys: a name twice in one byline is one author, first position kept
        for position, author_id in enumerate(dict.fromkeys(known[key] for key in keys)):
            rows.append({"document_id": doc_id, "position": position, "author_id": author_id})
    insert_rows(session, DocumentAuthor, rows)


def _author_ids(session: Session, wanted: Mapping[str, AuthorCreate]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(list(wanted)):
        stmt = select(Author.key, Author.id).where(col(Author.key).in_(chunk))
        found.update({key: author_id for key, author_id in session.execute(stmt)})
    return found


def _write_tags(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    names = {name for _, doc in attached for name in doc.tags}
    if not names:
        return
    insert_ignore(session, Tag, [{"name": name, "kind": "forum"} for name in names])
    stmt = select(Tag.name, Tag.id).where(col(Tag.kind) == "forum", col(Tag.name).in_(names))
    tag_ids = {name: tag_id for name, tag_id in session.execute(stmt)}
    rows = [
        {"document_id": doc_id, "tag_id": tag_ids[name]}
        for doc_id, doc in attached
        for name in dict.fromkeys(doc.tags)
    ]
    insert_rows(session, DocumentTag, rows)


def _write_aliases(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> list[str]:
    rows = {bounded_key(key): doc_id for doc_id, doc in attached for key in doc.aliases}
    if rows:
        # A key already owned by another document keeps its first owner.
        insert_ignore(
            session, DocumentAlias, [{"key": k, "document_id": d} for k, d in rows.items()]
        )
    return list(rows)


def _write_links(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    rows = [
        {
            "document_id": doc_id,
            "position": position,
            "url": link.url,
            "kind": link.kind,
            "target_key": bounded_key(link.target_key) if link.target_key else None,
            "anchor_text": link.anchor_text,
        }
        for doc_id, doc in attached
        for position, link in enumerate(doc.links)
    ]
    insert_rows(session, Link, rows)
    contexts = [
        {"document_id": doc_id, "position": position, "sentence": link.context}
        for doc_id, doc in attached
        for position, link in enumerate(doc.links) if link.context
    ]
    insert_rows(session, LinkContext, contexts)


def _resolve_links(session: Session, *, document_ids: Sequence[int], keys: Sequence[str]) -> None:
    """Point links at stored documents: those just written, and those now known by new keys."""
    target = (
        select(DocumentAlias.document_id)
        .where(col(DocumentAlias.key) == col(Link.target_key))
        .scalar_subquery()
    )
    for chunk in chunks(list(document_ids)):
        session.execute(
            update(Link)
            .where(col(Link.document_id).in_(chunk), col(Link.target_key).is_not(None))
            .values(target_document_id=target)
        )
    # `coalesce(…, 0) = 0` rather than `IS NULL`: SQLite would otherwise walk its
    # target_document_id index through every unresolved link in the store for each chunk of
    # keys (measured: 1.5 of 6.7 CPU-s writing the 39,314 corpus posts, growing with the
    # store); this way it looks up each key in ix_link_target_key. Ids start at 1.
    unresolved = func.coalesce(col(Link.target_document_id), 0) == 0
    for chunk in chunks(list(keys)):
        session.execute(
            update(Link)
            .where(col(Link.target_key).in_(chunk), unresolved)
            .values(target_document_id=target)
        )
