"""Read-only queries over documents and passages that ranking needs: filters and display facts.

Both backends share these (SQLAlchemy Core over `tracker.models` tables); the keyword backends
add their filter conditions to their full-text query so that top-k is taken after filtering.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    Subquery,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlmodel import col

from tracker.models import (
    Author,
    CrossPost,
    Document,
    DocumentAuthor,
    DocumentTag,
    Passage,
    PassageEmbedding,
    Tag,
)

from .base import Hit, SearchFilters

_CHUNK = 500  # ids per IN (...) list, far below SQLite's and psycopg's parameter limits


@dataclass
class DocumentInfo:
    """What a search result shows of a document."""

    id: int
    source: str
    native_id: str
    kind: str
    title: str
    url: str | None
    posted_at: datetime | None
    score: float | None
    af: bool
    authors: list[str] = field(default_factory=list)
    post: DocumentInfo | None = None
    """For a comment: the post it belongs to, when stored."""
    post_native_id: str | None = None


@dataclass
class PassageInfo:
    """A passage's place in its document and its text."""

    id: int
    document_id: int
    ordinal: int
    start: int
    end: int
    text: str
    title: str


@dataclass
class AuthorInfo:
    """An author for fuzzy matching: name and forum slug."""

    id: int
    name: str
    slug: str | None
    documents: int = 0
    """How many documents name them as an author."""


def filter_conditions(filters: SearchFilters) -> list[ColumnElement[bool]]:
    """SQL conditions on `Document` for `filters`; deleted documents and copies always go."""
    conditions: list[ColumnElement[bool]] = [
        col(Document.deleted).is_(False),
        ~exists().where(col(CrossPost.document_id) == col(Document.id)),
    ]
    if filters.sources:
        names = [s for s in filters.sources if s != "alignmentforum"]
        either = [col(Document.source).in_(names)] if names else []
        if "alignmentforum" in filters.sources:
            either.append(col(Document.af).is_(True))
        conditions.append(or_(*either))
    if filters.kinds:
        conditions.append(col(Document.kind).in_(filters.kinds))
    if filters.authors:
        conditions.append(_by_authors(filters.authors))
    if filters.since is not None:
        conditions.append(col(Document.posted_at) >= filters.since)
    if filters.until is not None:
        conditions.append(col(Document.posted_at) < filters.until)
    if filters.min_score is not None:
        conditions.append(col(Document.score) >= filters.min_score)
    if filters.tags:
        lowered = [t.lower() for t in filters.tags]
        conditions.append(exists().where(
            col(DocumentTag.document_id) == col(Document.id),
            col(DocumentTag.tag_id) == col(Tag.id),
            func.lower(col(Tag.name)).in_(lowered),
            or_(col(Tag.kind) == "forum", col(Tag.reader) == filters.reader),
        ))
    if filters.document_ids:
        conditions.append(col(Document.id).in_(filters.document_ids))
    return conditions


def reader(engine: Engine) -> Engine:
    """The engine for search's reads: on PostgreSQL in autocommit, since a read in a
    transaction costs a BEGIN and a ROLLBACK round trip besides its own (about half of the
    ~30 round trips of one hybrid search; docs/search.md). SQLite's engine as it is."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def id_chunks(column: Any, ids: Sequence[int], dialect: str) -> Iterator[ColumnElement[bool]]:
    """`column IN ids`, one condition per chunk of ids, in the order given.

    On SQLite each chunk is one bound parameter (a JSON array read by `json_each`), not one
    parameter per id: SQLAlchemy spent as long building and rendering a 450-id IN list as
    SQLite spent answering it (~4 ms of a 30 ms search at 100k passages, cProfile). Rows come
    back in the same order either way (SQLite reads both through one sorted list).
    """
    for chunk in _chunks(ids):
        if dialect == "sqlite":
            values = func.json_each(json.dumps([int(i) for i in chunk])).table_valued("value")
            yield column.in_(select(values.c.value))
        else:
            yield column.in_(chunk)


def escape_like(value: str) -> str:
    """`value` matched literally inside a LIKE pattern whose ESCAPE character is a backslash."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _by_authors(authors: Sequence[str]) -> ColumnElement[bool]:
    matches = []
    for author in authors:
        pattern = f"%{escape_like(author.strip().lower())}%"
        matches += [func.lower(col(Author.name)).like(pattern, escape="\\"),
                    func.lower(func.coalesce(col(Author.slug), "")).like(pattern, escape="\\")]
    return exists().where(
        col(DocumentAuthor.document_id) == col(Document.id),
        col(DocumentAuthor.author_id) == col(Author.id),
        or_(*matches) if matches else false(),
    )


class Catalog:
    """Documents and passages as ranking and display need them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = reader(engine)  # every query here only reads
        self._authors: list[AuthorInfo] | None = None

    def keep(self, pairs: Sequence[tuple[int, float]], model: str,
             filters: SearchFilters) -> list[Hit]:
        """Vector hits whose passage still has that model's vector and passes the filters."""
        if not pairs:
            return []
        found: dict[int, int] = {}
        keys = [key for key, _ in pairs]
        with self.engine.connect() as conn:
            for among in id_chunks(col(Passage.id), keys, self.engine.dialect.name):
                stmt = (
                    select(col(Passage.id), col(Passage.document_id))
                    .join(PassageEmbedding, and_(
                        col(PassageEmbedding.passage_id) == col(Passage.id),
                        col(PassageEmbedding.model) == model,
                        col(PassageEmbedding.content_hash) == col(Passage.content_hash)))
                    .join(Document, col(Document.id) == col(Passage.document_id))
                    .where(among, *filter_conditions(filters))
                )
                found.update({_int(pid): did for pid, did in conn.execute(stmt)})
        return [Hit(key, found[key], score) for key, score in pairs if key in found]

    def kept_nearest(self, near: Subquery, model: str, filters: SearchFilters) -> Select[Any]:
        """(passage id, document id, distance) of the rows of `near` (columns passage_id,
        distance: a vector index's nearest) that `keep` would keep, nearest first: the
        vector search and its check in one statement."""
        return (
            select(near.c.passage_id, col(Passage.document_id), near.c.distance)
            .join(Passage, col(Passage.id) == near.c.passage_id)
            .join(PassageEmbedding, and_(
                col(PassageEmbedding.passage_id) == col(Passage.id),
                col(PassageEmbedding.model) == model,
                col(PassageEmbedding.content_hash) == col(Passage.content_hash)))
            .join(Document, col(Document.id) == col(Passage.document_id))
            .where(*filter_conditions(filters))
            .order_by(near.c.distance, near.c.passage_id)
        )

    def allowed_passages(self, filters: SearchFilters, model: str, limit: int) -> list[int] | None:
        """Embedded passages that pass the filters, or None when more than `limit` do."""
        stmt = (
            select(col(Passage.id))
            .join(PassageEmbedding, and_(col(PassageEmbedding.passage_id) == col(Passage.id),
                                         col(PassageEmbedding.model) == model))
            .join(Document, col(Document.id) == col(Passage.document_id))
            .where(*filter_conditions(filters))
            .limit(limit + 1)
        )
        with self.engine.connect() as conn:
            ids = [_int(pid) for pid in conn.execute(stmt).scalars()]
        return None if len(ids) > limit else ids

    def documents(self, ids: Iterable[int]) -> dict[int, DocumentInfo]:
        """Display facts of documents, with authors, and the post of each comment."""
        wanted = list(dict.fromkeys(ids))
        found: dict[int, DocumentInfo] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                stmt = select(*_INFO_COLUMNS).where(col(Document.id).in_(chunk))
                found.update({row.id: _info(row) for row in conn.execute(stmt)})
            self._add_authors(conn, found)
            self._add_posts(conn, found)
        return found

    def _add_authors(self, conn: Any, found: dict[int, DocumentInfo]) -> None:
        for chunk in _chunks(list(found)):
            stmt = (
                select(col(DocumentAuthor.document_id), col(Author.name))
                .join(Author, col(Author.id) == col(DocumentAuthor.author_id))
                .where(col(DocumentAuthor.document_id).in_(chunk))
                .order_by(col(DocumentAuthor.document_id), col(DocumentAuthor.position))
            )
            for doc_id, name in conn.execute(stmt):
                found[doc_id].authors.append(name)

    def _add_posts(self, conn: Any, found: dict[int, DocumentInfo]) -> None:
        wanted = {(d.source, d.post_native_id) for d in found.values()
                  if d.kind == "comment" and d.post_native_id}
        for source, native_id in wanted:
            stmt = select(*_INFO_COLUMNS).where(col(Document.source) == source,
                                                col(Document.native_id) == native_id)
            row = conn.execute(stmt).first()
            if row is None:
                continue
            post = _info(row)
            for doc in found.values():
                if doc.kind == "comment" and (doc.source, doc.post_native_id) == (source,
                                                                                   native_id):
                    doc.post = post

    def passages(self, ids: Iterable[int]) -> dict[int, PassageInfo]:
        """Passages by id."""
        found: dict[int, PassageInfo] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(ids))):
                stmt = select(*_PASSAGE_COLUMNS).where(col(Passage.id).in_(chunk))
                found.update({int(row.id): _passage(row) for row in conn.execute(stmt)})
        return found

    def document_passages(self, document_id: int) -> list[PassageInfo]:
        """A document's passages in order."""
        stmt = select(*_PASSAGE_COLUMNS).where(col(Passage.document_id) == document_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(col(Passage.ordinal)))
            return [_passage(row) for row in rows]

    def passage_ids_of(self, document_ids: Sequence[int]) -> dict[int, list[int]]:
        """Each document's passage ids in order, for many documents in one look-up."""
        found: dict[int, list[int]] = {}
        with self.engine.connect() as conn:
            for among in id_chunks(col(Passage.document_id), list(document_ids),
                                   self.engine.dialect.name):
                stmt = (select(col(Passage.document_id), col(Passage.id)).where(among)
                        .order_by(col(Passage.document_id), col(Passage.ordinal)))
                for document_id, passage_id in conn.execute(stmt):
                    found.setdefault(_int(document_id), []).append(_int(passage_id))
        return found

    def titles_of(self, ids: Iterable[int]) -> list[tuple[int, str]]:
        """(document id, title) of those documents that have a title and are not comments
        (a comment is titled after its post; the post is what a title names)."""
        found: list[tuple[int, str]] = []
        with self.engine.connect() as conn:
            for among in id_chunks(col(Document.id), list(ids), self.engine.dialect.name):
                stmt = select(col(Document.id), col(Document.title)).where(
                    among, col(Document.title) != "", col(Document.kind) != "comment")
                found += [(_int(doc_id), title) for doc_id, title in conn.execute(stmt)]
        return found

    def authors(self) -> list[AuthorInfo]:
        """Every author, read once."""
        if self._authors is None:
            counts = (select(col(DocumentAuthor.author_id), func.count().label("n"))
                      .group_by(col(DocumentAuthor.author_id)).subquery())
            stmt = (select(col(Author.id), col(Author.name), col(Author.slug), counts.c.n)
                    .outerjoin(counts, counts.c.author_id == col(Author.id)))
            with self.engine.connect() as conn:
                self._authors = [AuthorInfo(_int(row[0]), row[1], row[2], int(row[3] or 0))
                                 for row in conn.execute(stmt)]
        return self._authors

    def all_titles(self) -> list[str]:
        """The title of every searchable document (for aliases mined from titles)."""
        stmt = select(col(Document.title)).where(*filter_conditions(SearchFilters()))
        with self.engine.connect() as conn:
            return [t for t in conn.execute(stmt).scalars() if t]

    def tag_names(self) -> list[str]:
        """Every forum tag name (readers' own tags stay out of the shared query aliases)."""
        stmt = select(col(Tag.name)).where(col(Tag.kind) == "forum")
        with self.engine.connect() as conn:
            return [t for t in conn.execute(stmt).scalars() if t]

    def author_documents(self, author_ids: Sequence[int]) -> list[int]:
        """Searchable documents written by any of these authors."""
        if not author_ids:
            return []
        stmt = (
            select(col(DocumentAuthor.document_id)).distinct()
            .join(Document, col(Document.id) == col(DocumentAuthor.document_id))
            .where(col(DocumentAuthor.author_id).in_(author_ids),
                   *filter_conditions(SearchFilters()))
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def source_names(self) -> list[str]:
        """Sources that hold documents, most documents first."""
        stmt = (select(col(Document.source)).where(col(Document.deleted).is_(False))
                .group_by(col(Document.source)).order_by(func.count().desc()))
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def count_passages(self) -> int:
        """All passages."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Passage)).scalar_one())

    def matches(self, document_ids: Sequence[int], filters: SearchFilters) -> set[int]:
        """Those of `document_ids` that pass the filters."""
        found: set[int] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(document_ids)):
                stmt = select(col(Document.id)).where(
                    col(Document.id).in_(chunk), *filter_conditions(filters), true())
                found.update(_int(doc_id) for doc_id in conn.execute(stmt).scalars())
        return found


_INFO_COLUMNS = (
    col(Document.id), col(Document.source), col(Document.native_id), col(Document.kind),
    col(Document.title), col(Document.url), col(Document.posted_at), col(Document.score),
    col(Document.af), col(Document.post_id),
)
_PASSAGE_COLUMNS = (
    col(Passage.id), col(Passage.document_id), col(Passage.ordinal), col(Passage.start),
    col(Passage.end), col(Passage.text), col(Passage.title),
)


def _info(row: Any) -> DocumentInfo:
    return DocumentInfo(
        id=row.id, source=row.source, native_id=row.native_id, kind=row.kind, title=row.title,
        url=row.url, posted_at=row.posted_at, score=row.score, af=row.af,
        post_native_id=row.post_id,
    )


def _int(value: int | None) -> int:
    """A primary key read back (never NULL; the column type says Optional for inserts)."""
    assert value is not None
    return value


def _passage(row: Any) -> PassageInfo:
    return PassageInfo(id=int(row.id), document_id=row.document_id, ordinal=row.ordinal,
                       start=row.start, end=row.end, text=row.text, title=row.title)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
