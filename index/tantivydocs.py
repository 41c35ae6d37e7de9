"""Document-level BM25 beside the passage index: one tantivy row per document.

Why a second list: a half-remembered post is described by words spread over the whole post,
and BM25 over whole documents (term counts and length of the post) ranks it better than the
post's best single passage does: on the held-out queries the passage list alone was 12
points of Recall@1 below plain BM25, the document list level with it (docs/search.md).

Fields: `all` (title, authors and the text of every passage, in order) and `anchors` (what
other writers say when they link to the document). Each row carries a fast field `upto`;
a sentinel row (document id 0) holds the largest passage id whose document is indexed, the
watermark, and is replaced in the same commit as the rows it covers: a crash leaves the
watermark behind the rows, never ahead, and re-indexing a document is idempotent (delete by
id, add).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import col

from tracker.errors import IndexBackendError
from tracker.models import Document

from .base import SearchFilters
from .catalog import filter_conditions, id_chunks, reader
from .query import keyword_terms
from .tantivytext import (
    ANALYZER,
    create_index,
    holds_index,
    latest_searcher,
    open_index,
    open_writer,
)

FORMAT = "1"
FIELDS = ("all", "anchors")
# Chosen on the tune split (bench/search_queries_v2.jsonl tune half + bench/search_queries.jsonl)
# among: separate title/authors/text fields, one `all` field, anchors at 0, 0.5 and 1
# (docs/search.md "Document-level keywords").
BOOSTS = {"all": 1.0, "anchors": 0.5}
_SENTINEL = 0
_HEAP = 64_000_000
_MAX_ROUNDS = 6


@dataclass(frozen=True)
class DocumentRow:
    """One document as the document index holds it."""

    document_id: int
    upto: int
    """The largest passage id of the document when it was read."""
    text: str
    anchors: str = ""


def documents_folder(database: Path) -> Path:
    """The folder of the document index beside the SQLite database file."""
    return database.with_name(f"{database.name}.tantivy-documents")


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    for name in ("document_id", "upto"):
        builder.add_unsigned_field(name, stored=False, indexed=True, fast=True)
    for name in FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name=ANALYZER, index_option="freq")
    return builder.build()


class TantivyDocumentIndex:
    """BM25 over whole documents in a tantivy folder; hits filtered against the store."""

    def __init__(self, engine: Engine, folder: Path,
                 boosts: dict[str, float] | None = None) -> None:
        self.engine, self.folder = engine, folder
        self._reader = reader(engine)  # the hits' check only reads (see catalog.reader)
        self.boosts = dict(BOOSTS if boosts is None else boosts)
        self._index: Any = None

    def exists(self) -> bool:
        """Whether the folder holds an index of this format."""
        return holds_index(self.folder, FORMAT)

    def open(self) -> Any:
        """The tantivy index (opened once).

        Raises:
            IndexBackendError: the folder is missing, of another format, or unreadable.
        """
        if self._index is None:
            self._index = open_index(self.folder, FORMAT, "document index")
        return self._index

    def create(self) -> Any:
        """An empty index in a fresh folder (whatever was there is removed)."""
        self._index = create_index(self.folder, _schema(), FORMAT)
        return self._index

    def close(self) -> None:
        """Forget the open index."""
        self._index = None

    @staticmethod
    def _searcher(index: Any) -> Any:
        return latest_searcher(index)

    def search(self, query: str, k: int, filters: SearchFilters) -> list[tuple[int, float]]:
        """(document id, BM25 score) of the `k` best documents for any word of the query."""
        terms = keyword_terms(query)
        if not terms or k <= 0 or not self.exists():
            return []
        index = self.open()
        try:  # the words are runs of letters and digits, lower-cased: never query syntax
            parsed = index.parse_query(" ".join(terms), list(FIELDS), self.boosts)
        except ValueError as e:
            raise IndexBackendError(f"Keyword search failed for {query[:80]!r}: {e}") from e
        searcher = self._searcher(index)
        prefetch = k + 20 if filters.is_empty() else 4 * k + 100
        hits: list[tuple[int, float]] = []
        for _ in range(_MAX_ROUNDS):
            result = searcher.search(parsed, prefetch, count=False)
            ids = searcher.fast_field_values("document_id", [a for _, a in result.hits])
            scored = [(int(d), float(s)) for d, (s, _) in zip(ids, result.hits, strict=True)]
            hits = self._kept(scored, filters)
            if len(hits) >= k or len(result.hits) < prefetch:
                break
            prefetch *= 4
        return hits[:k]

    def _kept(self, scored: Sequence[tuple[int, float]],
              filters: SearchFilters) -> list[tuple[int, float]]:
        """Hits whose document is stored, shown and passes the filters."""
        ids = [d for d, _ in scored if d != _SENTINEL]
        found: set[int] = set()
        with self._reader.connect() as conn:
            for among in id_chunks(col(Document.id), ids, self.engine.dialect.name):
                stmt = select(col(Document.id)).where(among, *filter_conditions(filters))
                found.update(int(d or 0) for (d,) in conn.execute(stmt))
        return [(d, s) for d, s in scored if d in found]

    def watermark(self) -> int:
        """The largest passage id whose document is indexed (0 when none is)."""
        import tantivy

        index = self.open()
        searcher = self._searcher(index)
        query = tantivy.Query.term_query(index.schema, "document_id", _SENTINEL)
        result = searcher.search(query, 1, count=False)
        if not result.hits:
            return 0
        value = searcher.fast_field_values("upto", [result.hits[0][1]])[0]
        return int(value or 0)

    def check(self) -> str:
        """Read what a sync reads first; "" (a readable document index never needs a rebuild).

        Raises:
            IndexBackendError, ValueError: the index cannot be read.
        """
        self.open()
        self.watermark()
        return ""

    def count(self) -> int:
        """Documents in the index (0 when there is none)."""
        if not self.exists():
            return 0
        total = int(self._searcher(self.open()).num_docs)
        return max(total - 1, 0)  # the sentinel

    def writer(self) -> DocumentWriter:
        """A writer; nothing it does is visible or durable before `commit`."""
        return DocumentWriter(self._index if self._index is not None else self.open())


class DocumentWriter:
    """Replaces documents in a tantivy document index; `commit` makes them durable at once."""

    def __init__(self, index: Any) -> None:
        self.index = index
        self._writer = open_writer(index, _HEAP)

    def delete(self, document_ids: Iterable[int]) -> None:
        """Drop documents by id (unknown ids are ignored)."""
        import tantivy

        ids = [int(d) for d in document_ids]
        for start in range(0, len(ids), 10_000):
            query = tantivy.Query.term_set_query(self.index.schema, "document_id",
                                                 ids[start:start + 10_000])
            self._writer.delete_documents_by_query(query)

    def add(self, rows: Iterable[DocumentRow]) -> None:
        """Index documents (delete them first if they may be present)."""
        import tantivy

        for row in rows:
            doc = tantivy.Document()
            doc.add_unsigned("document_id", row.document_id)
            doc.add_unsigned("upto", row.upto)
            if row.text:
                doc.add_text("all", row.text)
            if row.anchors:
                doc.add_text("anchors", row.anchors)
            self._writer.add_document(doc)

    def commit(self, watermark: int) -> None:
        """Make everything so far durable and visible, with this watermark."""
        self.delete([_SENTINEL])
        self.add([DocumentRow(_SENTINEL, watermark, "")])
        try:
            self._writer.commit()
        except (ValueError, OSError, RuntimeError) as e:
            raise IndexBackendError(f"Cannot write the document index: {e}") from e
        self.index.reload()

    def close(self) -> None:
        """Wait for background merges and release the writer lock."""
        self._writer.wait_merging_threads()
