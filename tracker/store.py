"""All SQL lives here. Functions take a keyword-only `session`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, or_, update
from sqlalchemy import select as sql_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from tracker.errors import NotFoundError
from tracker.models import (
    Author,
    AuthorCreate,
    CrossPost,
    Document,
    DocumentAlias,
    DocumentAuthor,
    DocumentCreate,
    DocumentPublic,
    DocumentTag,
    Link,
    Revision,
    SyncRun,
    SyncState,
    Tag,
    utcnow,
)

# Columns compared to tell an unchanged document from an updated one (bodies go by hash).
_META_FIELDS = (
    "kind", "url", "title", "posted_at", "modified_at", "score", "vote_count", "comment_count",
    "af", "question", "link_url", "post_id", "parent_id", "deleted", "extra",
)
_MAX_KEY = 255  # Link.target_key, DocumentAlias.key and Author.key are indexed columns
_QUERY_CHUNK = 500  # stays far below SQLite's and psycopg's bound-parameter limits


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


@dataclass
class LinkRow:
    """A citation edge with both ends described, for `tracker links`."""

    url: str
    kind: str
    anchor_text: str
    target_key: str | None
    document: Document | None
    """The other end: the cited document (outgoing) or the citing one (incoming), if stored."""


@dataclass
class SourceStatus:
    """Counts and sync health of one source, for `tracker status`."""

    source: str
    documents: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    last_run: SyncRun | None = None
    last_success: datetime | None = None
    last_error: SyncRun | None = None


def bounded_key(key: str) -> str:
    """A lookup key that fits its indexed column: over 255 characters, a prefix plus a hash.

    Link targets can be URLs of thousands of characters; a document registering the same URL
    gets the same bounded key, so resolution still matches.
    """
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: _MAX_KEY - 66]}#{digest}"


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
    fresh: list[DocumentCreate] = []
    rewritten: list[tuple[int, DocumentCreate]] = []
    for doc in batch:
        row = existing.get((doc.source, doc.native_id))
        values = _row_values(doc)
        if row is None:
            fresh.append(doc)
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
    ids = _insert_new(session, fresh, now)
    counts.new = len(ids)
    counts.updated += len(rewritten)
    attached = list(zip(ids, fresh, strict=True)) + rewritten
    _replace_relations(session, attached)
    if rewritten:
        from tracker.claims import reanchor_links  # links follow the edit (claims.py)

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
        for chunk in _chunks(native_ids):
            stmt = sql_select(*columns).where(
                col(Document.source) == source, col(Document.native_id).in_(chunk)
            )
            for row in session.execute(stmt).mappings():
                found[(row["source"], row["native_id"])] = dict(row)
    return found


def _row_values(doc: DocumentCreate) -> dict[str, Any]:
    values = doc.model_dump(
        exclude={"authors", "tags", "aliases", "links"}
    )
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


def _insert_new(session: Session, fresh: Sequence[DocumentCreate], now: datetime) -> list[int]:
    if not fresh:
        return []
    rows = [{**_row_values(doc), "fetched_at": now} for doc in fresh]
    stmt = insert(Document).returning(col(Document.id), sort_by_parameter_order=True)
    return [row[0] for row in session.execute(stmt, rows)]


def _replace_relations(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    """Authors, tags, aliases and links of freshly written documents, then link resolution."""
    if not attached:
        return
    ids = [doc_id for doc_id, _ in attached]
    for table in (DocumentAuthor, DocumentTag, Link):
        for chunk in _chunks(ids):
            session.execute(delete(table).where(col(table.document_id).in_(chunk)))
    _write_authors(session, attached)
    _write_tags(session, attached)
    new_keys = _write_aliases(session, attached)
    _write_links(session, attached)
    _resolve_links(session, document_ids=ids, keys=new_keys)
    _link_crossposts(session, attached)


def _author_key(author: AuthorCreate) -> str:
    key = f"slug:{author.slug.lower()}" if author.slug else f"name:{author.name.strip().lower()}"
    return bounded_key(key)


def _write_authors(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    wanted = {_author_key(a): a for _, doc in attached for a in doc.authors}
    if not wanted:
        return
    known = _author_ids(session, wanted)
    missing = [
        {"key": key, "name": a.name, "slug": a.slug}
        for key, a in wanted.items()
        if key not in known
    ]
    if missing:
        _insert_ignore(session, Author, missing)
        known = _author_ids(session, wanted)
    rows = []
    for doc_id, doc in attached:
        seen: set[int] = set()
        for author in doc.authors:
            author_id = known[_author_key(author)]
            if author_id not in seen:
                seen.add(author_id)
                rows.append({"document_id": doc_id, "position": len(seen) - 1,
                             "author_id": author_id})
    if rows:
        session.execute(insert(DocumentAuthor), rows)


def _author_ids(session: Session, wanted: Mapping[str, AuthorCreate]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(list(wanted)):
        stmt = select(Author.key, Author.id).where(col(Author.key).in_(chunk))
        found.update({key: author_id for key, author_id in session.execute(stmt)})
    return found


def _write_tags(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    names = {name for _, doc in attached for name in doc.tags}
    if not names:
        return
    _insert_ignore(session, Tag, [{"name": name, "kind": "forum"} for name in names])
    stmt = select(Tag.name, Tag.id).where(col(Tag.kind) == "forum", col(Tag.name).in_(names))
    tag_ids = {name: tag_id for name, tag_id in session.execute(stmt)}
    rows = [
        {"document_id": doc_id, "tag_id": tag_ids[name]}
        for doc_id, doc in attached
        for name in dict.fromkeys(doc.tags)
    ]
    session.execute(insert(DocumentTag), rows)


def _write_aliases(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> list[str]:
    rows = {bounded_key(key): doc_id for doc_id, doc in attached for key in doc.aliases}
    if rows:
        # A key already owned by another document keeps its first owner.
        _insert_ignore(
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
    if rows:
        session.execute(insert(Link), rows)


def _resolve_links(session: Session, *, document_ids: Sequence[int], keys: Sequence[str]) -> None:
    """Point links at stored documents: those just written, and those now known by new keys."""
    target = (
        select(DocumentAlias.document_id)
        .where(col(DocumentAlias.key) == col(Link.target_key))
        .scalar_subquery()
    )
    for chunk in _chunks(list(document_ids)):
        session.execute(
            update(Link)
            .where(col(Link.document_id).in_(chunk), col(Link.target_key).is_not(None))
            .values(target_document_id=target)
        )
    for chunk in _chunks(list(keys)):
        session.execute(
            update(Link)
            .where(col(Link.target_key).in_(chunk), col(Link.target_document_id).is_(None))
            .values(target_document_id=target)
        )


def _insert_ignore(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    table: Table = model.__table__
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(table).on_conflict_do_nothing(), rows)


def mark_missing_deleted(
    *,
    session: Session,
    source: str,
    kind: str,
    start: datetime,
    end: datetime,
    seen: Iterable[str],
    af_only: bool = False,
) -> int:
    """Mark stored documents in a completely listed window that the site no longer lists."""
    conditions = [
        col(Document.source) == source,
        col(Document.kind) == kind,
        col(Document.posted_at) >= start,
        col(Document.posted_at) < end,
        col(Document.deleted).is_(False),
    ]
    if af_only:
        conditions.append(col(Document.af).is_(True))
    stored = session.execute(select(Document.id, Document.native_id).where(*conditions)).all()
    seen_ids = set(seen)
    gone = [doc_id for doc_id, native_id in stored if native_id not in seen_ids]
    for chunk in _chunks(gone):
        session.execute(
            update(Document).where(col(Document.id).in_(chunk)).values(deleted=True)
        )
    return len(gone)


# --- sync state ------------------------------------------------------------------------------


def get_cursor(*, session: Session, source: str) -> dict[str, str]:
    """The saved stream → value map of one source."""
    stmt = select(SyncState.stream, SyncState.value).where(col(SyncState.source) == source)
    return {stream: value for stream, value in session.execute(stmt)}


def save_cursor(*, session: Session, source: str, values: Mapping[str, str]) -> None:
    """Save cursor values; call in the transaction that wrote the rows they cover."""
    now = utcnow()
    for stream, value in values.items():
        row = session.get(SyncState, (source, stream))
        if row is None:
            session.add(SyncState(source=source, stream=stream, value=value, updated_at=now))
        else:
            row.value = value
            row.updated_at = now
    session.flush()


def delete_cursor(*, session: Session, source: str, stream: str) -> None:
    """Forget one cursor stream (an unsubscribed feed)."""
    session.execute(
        delete(SyncState).where(col(SyncState.source) == source, col(SyncState.stream) == stream)
    )


def count_by_source(*, session: Session, sources: Sequence[str]) -> dict[str, int]:
    """Stored, not deleted documents per `source` value (feeds store entries by feed name)."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(sources)):
        stmt = (
            select(Document.source, func.count())
            .where(col(Document.source).in_(chunk), col(Document.deleted).is_(False))
            .group_by(Document.source)
        )
        found.update({source: n for source, n in session.execute(stmt)})
    return found


def start_run(*, session: Session, source: str) -> SyncRun:
    """Record that a sync of `source` started; runs left `running` by a killed process end."""
    session.execute(
        update(SyncRun)
        .where(col(SyncRun.source) == source, col(SyncRun.status) == "running")
        .values(status="interrupted", error="the process stopped before the sync finished")
    )
    run = SyncRun(source=source, started_at=utcnow(), status="running")
    session.add(run)
    session.flush()
    return run


def finish_run(
    *,
    session: Session,
    run_id: int,
    status: str,
    counts: UpsertCounts,
    failed: int = 0,
    error: str | None = None,
    retry_after: datetime | None = None,
) -> SyncRun:
    """Record how a sync ended."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise NotFoundError(f"No sync run with id {run_id}")
    run.status = status
    run.finished_at = utcnow()
    run.new, run.updated, run.unchanged = counts.new, counts.updated, counts.unchanged
    run.failed = failed
    run.error = error
    run.retry_after = retry_after
    session.flush()
    return run


def source_status(*, session: Session, sources: Sequence[str]) -> list[SourceStatus]:
    """Per-source document counts and the latest runs. `alignmentforum` counts AF documents."""
    result = []
    for source in sources:
        status = SourceStatus(source=source)
        where = _source_filter(source)
        stmt = (
            select(Document.kind, func.count())
            .where(where, col(Document.deleted).is_(False))
            .group_by(Document.kind)
        )
        status.documents = {kind: n for kind, n in session.execute(stmt)}
        status.deleted = session.execute(
            select(func.count()).where(where, col(Document.deleted).is_(True))
        ).scalar_one()
        runs = select(SyncRun).where(col(SyncRun.source) == source)
        status.last_run = session.exec(runs.order_by(col(SyncRun.id).desc()).limit(1)).first()
        ok = runs.where(col(SyncRun.status) == "ok").order_by(col(SyncRun.id).desc()).limit(1)
        last_ok = session.exec(ok).first()
        status.last_success = last_ok.finished_at if last_ok else None
        failed = runs.where(col(SyncRun.error).is_not(None)).order_by(col(SyncRun.id).desc())
        status.last_error = session.exec(failed.limit(1)).first()
        result.append(status)
    return result


def _source_filter(source: str) -> Any:
    # Alignment Forum documents are LessWrong documents with `af` set (one row, never two).
    if source == "alignmentforum":
        return and_(col(Document.source) == "lesswrong", col(Document.af).is_(True))
    # Feed entries are stored under each feed's own name; only feeds write entries.
    if source == "feeds":
        return col(Document.kind) == "entry"
    return col(Document.source) == source


# --- reading documents -----------------------------------------------------------------------


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
    for chunk in _chunks(list(document_ids)):
        stmt = (
            select(col(DocumentAuthor.document_id), col(Author.name))
            .join(Author, col(Author.id) == col(DocumentAuthor.author_id))
            .where(col(DocumentAuthor.document_id).in_(chunk))
            .order_by(col(DocumentAuthor.document_id), col(DocumentAuthor.position))
        )
        for doc_id, name in session.execute(stmt):
            found.setdefault(doc_id, []).append(name)
    return {doc_id: ", ".join(names) for doc_id, names in found.items()}


def document_tags(*, session: Session, document_id: int) -> list[str]:
    """A document's tag names."""
    stmt = (
        select(Tag.name)
        .join(DocumentTag, col(DocumentTag.tag_id) == col(Tag.id))
        .where(col(DocumentTag.document_id) == document_id)
        .order_by(col(Tag.name))
    )
    return list(session.execute(stmt).scalars())


def to_public(*, session: Session, document: Document) -> DocumentPublic:
    """The `--json` view of a document."""
    assert document.id is not None
    data = document.model_dump(exclude={"body_html"})
    data["authors"] = document_authors(session=session, document_id=document.id)
    data["tags"] = document_tags(session=session, document_id=document.id)
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


def _chunks(items: Sequence[Any], size: int = _QUERY_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- cross-posts -----------------------------------------------------------------------------

# One work posted twice (a blog post and its forum copy): a forum link post to the entry's URL;
# a body link between the two with the same title; the same normalised title and a shared
# author-name token within _SAME_WORK_DAYS; or a long title alone within _TITLE_ONLY_DAYS.
_SAME_WORK_DAYS = 7
_TITLE_ONLY_DAYS = 3
_TITLE_ONLY_WORDS = 5
_WORK_KINDS = ("post", "entry")
_TITLE_PREFIX = re.compile(r"^\W*(?:cross-?post(?:ed)?|link ?post)\b\W*", re.IGNORECASE)


@dataclass
class _Work:
    """What cross-post matching needs to know of one post or entry."""

    id: int
    kind: str
    source: str
    title: str
    posted_at: datetime | None
    authors: set[str]


def same_work(*, session: Session, document_id: int) -> list[tuple[Document, str]]:
    """The other stored copies of a document's work, with why they are the same."""
    seen, queue, found = {document_id}, [document_id], []
    while queue:
        current = queue.pop()
        stmt = select(CrossPost).where(
            or_(col(CrossPost.document_id) == current, col(CrossPost.same_as_id) == current)
        )
        for row in session.exec(stmt):
            other = row.same_as_id if row.document_id == current else row.document_id
            if other not in seen:
                seen.add(other)
                queue.append(other)
                document = session.get(Document, other)
                if document is not None:
                    found.append((document, row.reason))
    return found


def _link_crossposts(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    """Record which documents just written are copies of a stored one, or have one."""
    written = {doc_id: _work_of(doc_id, doc) for doc_id, doc in attached
               if doc.kind in _WORK_KINDS}
    if not written:
        return
    pairs = _pairs_by_link_url(session, attached)
    pairs += _pairs_by_body_link(session, written)
    pairs += _pairs_by_title(session, written)
    for first, second, reason in pairs:
        _record_copy(session, first, second, reason)


def _work_of(doc_id: int, doc: DocumentCreate) -> _Work:
    return _Work(doc_id, doc.kind, doc.source, doc.title, _aware(doc.posted_at),
                 _name_tokens(a.name for a in doc.authors))


def _pairs_by_link_url(
    session: Session, attached: Sequence[tuple[int, DocumentCreate]]
) -> list[tuple[_Work, _Work, str]]:
    """Forum link posts whose `link_url` is a feed entry's URL."""
    from tracker.ingest.links import url_key

    entries = {_url_identity(d.url): i for i, d in attached if d.kind == "entry" and d.url}
    posts = {_url_identity(d.link_url): i for i, d in attached if d.kind == "post" and d.link_url}
    found: list[tuple[int, int]] = []
    if entries:
        link_posts = select(Document.id, Document.link_url).where(
            col(Document.kind) == "post", col(Document.link_url).is_not(None))
        found += [(entries[ident], post_id) for post_id, link_url in session.execute(link_posts)
                  if post_id is not None and link_url
                  and (ident := _url_identity(link_url)) in entries]
    if posts:
        keys = [url_key(f"{scheme}://{ident}") for ident in posts for scheme in ("http", "https")]
        for chunk in _chunks(keys):
            stmt = select(DocumentAlias.key, Document.id).join(
                Document, col(Document.id) == col(DocumentAlias.document_id)
            ).where(col(DocumentAlias.key).in_(chunk), col(Document.kind) == "entry")
            found += [(posts[_url_identity(key.removeprefix("url:"))], entry_id)
                      for key, entry_id in session.execute(stmt)]
    works = _works(session, {i for pair in found for i in pair})
    return [(works[a], works[b], "link_url") for a, b in found if a in works and b in works]


def _pairs_by_body_link(
    session: Session, written: Mapping[int, _Work]
) -> list[tuple[_Work, _Work, str]]:
    """A post and an entry with the same title where one links to the other."""
    found: set[tuple[int, int]] = set()
    for chunk in _chunks(list(written)):
        stmt = select(Link.document_id, Link.target_document_id).where(
            or_(col(Link.document_id).in_(chunk), col(Link.target_document_id).in_(chunk)),
            col(Link.target_document_id).is_not(None),
        )
        found.update((a, b) for a, b in session.execute(stmt) if b is not None and a != b)
    works = _works(session, {i for pair in found for i in pair})
    return [(works[a], works[b], "link+title") for a, b in found
            if a in works and b in works and _may_pair(works[a], works[b])
            and _title_key(works[a].title) == _title_key(works[b].title)]


def _pairs_by_title(
    session: Session, written: Mapping[int, _Work]
) -> list[tuple[_Work, _Work, str]]:
    """Same normalised title, close in time, and a shared author (or a long title)."""
    dates = [w.posted_at for w in written.values() if w.posted_at is not None]
    if not dates:
        return []
    kinds = _WORK_KINDS if any(w.kind == "entry" for w in written.values()) else ("entry",)
    span = timedelta(days=_SAME_WORK_DAYS)
    stmt = select(Document.id, Document.title).where(
        col(Document.kind).in_(kinds), col(Document.deleted).is_(False),
        col(Document.posted_at) >= min(dates) - span, col(Document.posted_at) <= max(dates) + span,
    )
    by_title: dict[str, list[int]] = {}
    for doc_id, title in session.execute(stmt):
        by_title.setdefault(_title_key(title), []).append(doc_id)
    wanted = {w.id: by_title.get(_title_key(w.title), []) for w in written.values()}
    works = _works(session, {i for ids in wanted.values() for i in ids})
    pairs = []
    for work_id, candidates in wanted.items():
        for other in (works[i] for i in candidates if i in works and i != work_id):
            reason = _title_match(written[work_id], other)
            if reason is not None:
                pairs.append((written[work_id], other, reason))
    return pairs


def _title_match(a: _Work, b: _Work) -> str | None:
    if not _may_pair(a, b) or a.posted_at is None or b.posted_at is None:
        return None
    apart = abs(a.posted_at - b.posted_at)
    if apart <= timedelta(days=_SAME_WORK_DAYS) and a.authors & b.authors:
        return "title+author"
    if apart <= timedelta(days=_TITLE_ONLY_DAYS) and len(
        _title_key(a.title).split()
    ) >= _TITLE_ONLY_WORDS:
        return "title+date"
    return None


def _may_pair(a: _Work, b: _Work) -> bool:
    """Copies of one work live in different sources, and one of them is a feed entry."""
    return (a.id != b.id and a.source != b.source and "entry" in (a.kind, b.kind)
            and a.kind in _WORK_KINDS and b.kind in _WORK_KINDS and bool(_title_key(a.title)))


def _works(session: Session, ids: Iterable[int]) -> dict[int, _Work]:
    found: dict[int, _Work] = {}
    for chunk in _chunks(list(ids)):
        stmt = sql_select(col(Document.id), col(Document.kind), col(Document.source),
                          col(Document.title), col(Document.posted_at)).where(
            col(Document.id).in_(chunk))
        for doc_id, kind, source, title, posted_at in session.execute(stmt):
            found[doc_id] = _Work(doc_id, kind, source, title, _aware(posted_at), set())
        names = (
            select(DocumentAuthor.document_id, Author.name)
            .join(Author, col(Author.id) == col(DocumentAuthor.author_id))
            .where(col(DocumentAuthor.document_id).in_(chunk))
        )
        for doc_id, name in session.execute(names):
            found[doc_id].authors |= _name_tokens([name])
    return found


def _record_copy(session: Session, a: _Work, b: _Work, reason: str) -> None:
    """Mark the entry (or the later entry) as a copy of the forum post (or the first one)."""
    copy, canonical = sorted((a, b), key=lambda w: (w.kind != "post", w.id))[::-1]
    if session.get(CrossPost, copy.id) is not None:
        return
    upstream = session.get(CrossPost, canonical.id)
    if upstream is not None and upstream.same_as_id == copy.id:
        return
    target = upstream.same_as_id if upstream is not None else canonical.id
    session.add(CrossPost(document_id=copy.id, same_as_id=target, reason=reason,
                          recorded_at=utcnow()))
    session.flush()


def _title_key(title: str) -> str:
    """A title lower-cased, without punctuation or a "Crosspost:" prefix."""
    title = _TITLE_PREFIX.sub("", title)
    return " ".join(re.sub(r"[^\w\s]", "", title.lower()).split())


def _name_tokens(names: Iterable[str]) -> set[str]:
    """Name parts of 3+ letters and the whole name run together ("Holden Karnofsky" and
    "HoldenKarnofsky" share "holdenkarnofsky"; "Zvi" and "Zvi Mowshowitz" share "zvi")."""
    tokens: set[str] = set()
    for name in names:
        parts = re.findall(r"[a-z0-9]+", name.lower())
        tokens.update(p for p in parts if len(p) >= 3)
        if parts:
            tokens.add("".join(parts))
    return tokens


def _url_identity(url: str) -> str:
    """A URL's `url:` key without its scheme (http and https copies are one page)."""
    from tracker.ingest.links import url_key

    return url_key(url).removeprefix("url:").split("://", 1)[-1]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
