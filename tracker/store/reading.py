"""Reading documents back: look-ups by any reference, authors, tags, revisions, threads, links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.errors import NotFoundError
from tracker.models import (
    DEFAULT_READER,
    Author,
    AuthorCreate,
    Document,
    DocumentAlias,
    DocumentAuthor,
    DocumentPublic,
    DocumentTag,
    Link,
    Revision,
    Tag,
)
from tracker.store.sql import bounded_key, chunks
from tracker.store.tags import visible_tags


@dataclass
class LinkRow:
    """A citation edge with both ends described, for `tracker links`."""

    url: str
    kind: str
    anchor_text: str
    target_key: str | None
    document: Document | None
    """The other end: the cited document (outgoing) or the citing one (incoming), if stored."""


def get_document(*, session: Session, ref: str) -> Document:
    """A document by id, native id, `source:native_id`, alias key or URL."""
    ref = ref.strip()
    if ref.isdigit():
        found = session.get(Document, int(ref))
        if found is not None:
            return found
    candidates = list(session.exec(select(Document).where(col(Document.native_id) == ref)))
    if not candidates and ":" in ref:
        candidates = _documents_by_key(session, ref)
    if not candidates and ":" in ref and "://" not in ref:
        source, _, native_id = ref.partition(":")
        candidates = list(session.exec(select(Document).where(
            col(Document.source) == source, col(Document.native_id) == native_id
        )))
    if not candidates and "://" in ref:
        candidates = _documents_by_url(session, ref)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFoundError(
            f"No document '{ref}' in the store. Give a document id, a native id "
            f"(e.g. uMQ3cqWDPHhjtiesc), source:native_id or a URL; `tracker sync` fetches more"
        )
    choices = ", ".join(f"{d.source}:{d.native_id}" for d in candidates)
    raise NotFoundError(f"'{ref}' matches several documents ({choices}); name one of them")


def _documents_by_key(session: Session, key: str) -> list[Document]:
    stmt = select(Document).join(
        DocumentAlias, col(DocumentAlias.document_id) == col(Document.id)
    ).where(col(DocumentAlias.key) == bounded_key(key))
    return list(session.exec(stmt))


def _documents_by_url(session: Session, url: str) -> list[Document]:
    from tracker.ingest.links import classify_url

    link = classify_url(url)
    if link is not None and link.target_key:
        found = _documents_by_key(session, link.target_key)
        if found:
            return found
    return list(session.exec(select(Document).where(col(Document.url) == url)))


def document_authors(*, session: Session, document_id: int) -> list[AuthorCreate]:
    """A document's authors in byline order."""
    stmt = (
        select(Author.name, Author.slug)
        .join(DocumentAuthor, col(DocumentAuthor.author_id) == col(Author.id))
        .where(col(DocumentAuthor.document_id) == document_id)
        .order_by(col(DocumentAuthor.position))
    )
    return [AuthorCreate(name=name, slug=slug) for name, slug in session.execute(stmt)]


def author_names(*, session: Session, document_ids: Sequence[int]) -> dict[int, str]:
    """Each document's author names in byline order, comma-separated (one query per chunk)."""
    found: dict[int, list[str]] = {}
    for chunk in chunks(list(document_ids)):
        stmt = (
            select(col(DocumentAuthor.document_id), col(Author.name))
            .join(Author, col(Author.id) == col(DocumentAuthor.author_id))
            .where(col(DocumentAuthor.document_id).in_(chunk))
            .order_by(col(DocumentAuthor.document_id), col(DocumentAuthor.position))
        )
        for doc_id, name in session.execute(stmt):
            found.setdefault(doc_id, []).append(name)
    return {doc_id: ", ".join(names) for doc_id, names in found.items()}


def document_tags(*, session: Session, document_id: int,
                  reader: str = DEFAULT_READER) -> list[str]:
    """A document's tag names `reader` sees: the forum's and their own."""
    stmt = (
        select(Tag.name)
        .join(DocumentTag, col(DocumentTag.tag_id) == col(Tag.id))
        .where(col(DocumentTag.document_id) == document_id, visible_tags(reader))
        .order_by(col(Tag.name))
    )
    return list(dict.fromkeys(session.execute(stmt).scalars()))


def to_public(*, session: Session, document: Document,
              reader: str = DEFAULT_READER) -> DocumentPublic:
    """The `--json` view of a document, with the tags `reader` sees."""
    assert document.id is not None
    data = document.model_dump(exclude={"body_html"})
    data["authors"] = document_authors(session=session, document_id=document.id)
    data["tags"] = document_tags(session=session, document_id=document.id, reader=reader)
    return DocumentPublic.model_validate(data)


def get_revisions(*, session: Session, document_id: int) -> list[Revision]:
    """Earlier texts of a document, oldest first."""
    stmt = select(Revision).where(col(Revision.document_id) == document_id)
    return list(session.exec(stmt.order_by(col(Revision.id))))


def get_thread(*, session: Session, post: Document) -> list[Document]:
    """The comments of a post, oldest first (deleted ones included, flagged)."""
    stmt = select(Document).where(
        col(Document.source) == post.source,
        col(Document.post_id) == post.native_id,
        col(Document.kind) == "comment",
    )
    return list(session.exec(stmt.order_by(col(Document.posted_at), col(Document.id))))


def outgoing_links(*, session: Session, document_id: int) -> list[LinkRow]:
    """What a document cites, in body order, with the cited document when stored."""
    stmt = (
        select(Link, Document)
        .join(Document, col(Document.id) == col(Link.target_document_id), isouter=True)
        .where(col(Link.document_id) == document_id)
        .order_by(col(Link.position))
    )
    return [_link_row(link, doc) for link, doc in session.exec(stmt)]


def incoming_links(*, session: Session, document_id: int) -> list[LinkRow]:
    """What cites a document, newest citing document first."""
    stmt = (
        select(Link, Document)
        .join(Document, col(Document.id) == col(Link.document_id))
        .where(col(Link.target_document_id) == document_id)
        .order_by(col(Document.posted_at).desc(), col(Link.id))
    )
    return [_link_row(link, doc) for link, doc in session.exec(stmt)]


def _link_row(link: Link, doc: Document | None) -> LinkRow:
    return LinkRow(
        url=link.url, kind=link.kind, anchor_text=link.anchor_text,
        target_key=link.target_key, document=doc,
    )


def count_documents(*, session: Session) -> int:
    """All stored documents."""
    total: int = session.execute(select(func.count()).select_from(Document)).scalar_one()
    return total





# --- cross-posts -----------------------------------------------------------------------------

# One work posted twice (a blog post and its forum copy): a forum link post to the entry's URL;
# a body link between the two with the same title; the same normalised title and a shared
