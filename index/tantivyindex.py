"""The embedded keyword engine: tantivy (BM25, block-max WAND) in a folder beside the SQLite file.

Fields: title, authors, text and anchors (the anchor text and citing sentence of links to the
passage's document, on its first passage only), each a weighted BM25 field. Block-max WAND
means a 15-word OR query scores only what can still reach the top k, where FTS5 scores every
passage holding any of the words.

Keeping it in step with the passage table (the truth): passage ids are never reused, so new
passages are those above the largest id indexed (read from the index itself, committed
atomically with what it describes). Deletions and anchor changes reach it through
`keyword_outbox`, filled by SQLite triggers in the same transaction as the change; a sync
applies the outbox, commits tantivy, and only then deletes the outbox rows it applied, so a
crash anywhere replays idempotent work. Hits are joined back to the passage table, so a
passage deleted but not yet synced is never returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlmodel import col

from tracker.errors import IndexBackendError
from tracker.models import Document, Passage

from .base import Hit, KeywordIndex, SearchFilters
from .catalog import filter_conditions, id_chunks, reader
from .query import keyword_terms
from .tantivydocs import TantivyDocumentIndex
from .tantivytext import (
    ANALYZER,
    create_index,
    holds_index,
    latest_searcher,
    open_index,
    open_writer,
)

FORMAT = "1"
FIELDS = ("title", "authors", "text", "anchors")
# Field boosts, tuned in bench/keyword_quality.py on bench/search_queries.jsonl (63 queries,
# the fused ranking) and checked on ../shared/eval/queries-dev.jsonl (docs/search.md). Not
# FTS5's (4, 2, 1): FTS5 adds weighted counts of all columns into one BM25 (length of the
# whole row), tantivy sums one BM25 per field, so a 6-word title field saturates at once and
# a title boost of 4 let any title sharing two words of a long query outrank the post
# (Recall@1 0.04 on the held-out queries, 0.22 on the tuning ones; 0.25 gives 0.44 and 0.71).
BOOSTS = {"title": 0.25, "authors": 1.0, "text": 1.0, "anchors": 1.0}
_HEAP = 64_000_000  # bytes of writer buffer: one segment per ~100k passages
_MAX_ROUNDS = 6  # filtered search widens its prefetch 4x per round, then gives up widening

_OUTBOX = (
    "CREATE TABLE IF NOT EXISTS keyword_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "passage_id INTEGER, document_id INTEGER)",
    # A deleted passage, and its document (the document index re-reads what is left of it).
    "DROP TRIGGER IF EXISTS keyword_outbox_passage",
    "CREATE TRIGGER IF NOT EXISTS keyword_outbox_passage_document AFTER DELETE ON passage "
    "BEGIN INSERT INTO keyword_outbox(passage_id, document_id) VALUES (old.id, old.document_id); "
    "END",
    # Anchors: a link gained, lost or changed its target: that target's first passage changes.
    "CREATE TRIGGER IF NOT EXISTS keyword_outbox_link_insert AFTER INSERT ON link "
    "WHEN new.target_document_id IS NOT NULL BEGIN "
    "INSERT INTO keyword_outbox(document_id) VALUES (new.target_document_id); END",
    "CREATE TRIGGER IF NOT EXISTS keyword_outbox_link_delete AFTER DELETE ON link "
    "WHEN old.target_document_id IS NOT NULL BEGIN "
    "INSERT INTO keyword_outbox(document_id) VALUES (old.target_document_id); END",
    "CREATE TRIGGER IF NOT EXISTS keyword_outbox_link_update AFTER UPDATE OF "
    "target_document_id ON link WHEN new.target_document_id IS NOT old.target_document_id "
    "BEGIN INSERT INTO keyword_outbox(document_id) SELECT new.target_document_id "
    "WHERE new.target_document_id IS NOT NULL; INSERT INTO keyword_outbox(document_id) "
    "SELECT old.target_document_id WHERE old.target_document_id IS NOT NULL; END",
)


@dataclass(frozen=True)
class KeywordRow:
    """One passage as the keyword index holds it."""

    passage_id: int
    document_id: int
    title: str
    authors: str
    text: str
    anchors: str = ""


@dataclass(frozen=True)
class Horizon:
    """What one sync may read: passages up to `passage_id` (None: every one) and outbox rows
    up to `seq`. On SQLite one writer at a time makes every stored row final; on PostgreSQL
    a row with a lower id may still be in flight (`tracker.index.tantivyreplica`)."""

    passage_id: int | None
    seq: int


@dataclass(frozen=True)
class Outbox:
    """Changes not yet applied: deleted passages, documents whose passages or anchors changed."""

    last_seq: int
    passage_ids: list[int]
    document_ids: list[int]


def keyword_folder(database: Path) -> Path:
    """The tantivy folder beside the SQLite database file."""
    return database.with_name(f"{database.name}.tantivy")


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    for name in ("passage_id", "document_id"):
        builder.add_unsigned_field(name, stored=False, indexed=True, fast=True)
    for name in FIELDS:  # no positions: an OR query of words needs only frequencies
        builder.add_text_field(name, stored=False, tokenizer_name=ANALYZER, index_option="freq")
    return builder.build()


class TantivyKeywordIndex(KeywordIndex):
    """BM25 over passages in a tantivy folder; hits filtered against the store."""

    def __init__(self, engine: Engine, folder: Path,
                 boosts: dict[str, float] | None = None) -> None:
        self.engine, self.folder = engine, folder
        self._reader = reader(engine)  # the hits' check only reads (see catalog.reader)
        self.boosts = dict(BOOSTS if boosts is None else boosts)
        self._index: Any = None
        self.documents: TantivyDocumentIndex = TantivyDocumentIndex(
            engine, folder.with_name(f"{folder.name}-documents"))

    # --- opening ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the outbox table and its triggers (idempotent); the folder is made by sync."""
        with self.engine.begin() as conn:
            for statement in _OUTBOX:
                conn.execute(text(statement))

    def exists(self) -> bool:
        """Whether the folder holds an index of this format."""
        return holds_index(self.folder, FORMAT)

    def open(self) -> Any:
        """The tantivy index (opened once).

        Raises:
            IndexBackendError: the folder is missing, of another format, or unreadable.
        """
        if self._index is None:
            self._index = open_index(self.folder, FORMAT, "keyword index")
        return self._index

    def create(self) -> Any:
        """An empty index in a fresh folder (whatever was there is removed)."""
        self._index = create_index(self.folder, _schema(), FORMAT)
        return self._index

    def close(self) -> None:
        """Forget the open indexes."""
        self._index = None
        self.documents.close()

    @staticmethod
    def _searcher(index: Any) -> Any:
        return latest_searcher(index)

    # --- searching -------------------------------------------------------------------------

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """BM25-ranked passages matching any word of the query (OR), filtered."""
        terms = keyword_terms(query)
        if not terms or k <= 0 or not self.exists():
            return []
        index = self.open()
        try:
            # The words are runs of letters and digits, lower-cased: never query syntax.
            parsed = index.parse_query(" ".join(terms), list(FIELDS), self.boosts)
        except ValueError as e:
            raise IndexBackendError(f"Keyword search failed for {query[:80]!r}: {e}") from e
        searcher = self._searcher(index)
        prefetch = 2 * k + 50 if filters.is_empty() else 8 * k + 200
        for _ in range(_MAX_ROUNDS):
            result = searcher.search(parsed, prefetch, count=False)
            addresses = [address for _, address in result.hits]
            pids = searcher.fast_field_values("passage_id", addresses)
            scored = [(int(pid), float(score))
                      for pid, (score, _) in zip(pids, result.hits, strict=True)]
            hits = self._kept(scored, filters)
            if len(hits) >= k or len(result.hits) < prefetch:
                return hits[:k]
            prefetch *= 4
        return hits[:k]

    def _kept(self, scored: Sequence[tuple[int, float]], filters: SearchFilters) -> list[Hit]:
        """Hits whose passage is still stored and whose document passes the filters."""
        if not scored:
            return []
        found: dict[int, int] = {}
        ids = [pid for pid, _ in scored]
        with self._reader.connect() as conn:
            for among in id_chunks(col(Passage.id), ids, self.engine.dialect.name):
                stmt = (select(col(Passage.id), col(Passage.document_id))
                        .join(Document, col(Document.id) == col(Passage.document_id))
                        .where(among, *filter_conditions(filters)))
                found.update({int(pid or 0): int(did) for pid, did in conn.execute(stmt)})
        return [Hit(pid, found[pid], score) for pid, score in scored if pid in found]

    def search_documents(self, query: str, k: int,
                         filters: SearchFilters) -> list[tuple[int, float]]:
        """The `k` best documents by BM25 over their whole text (the document index)."""
        return self.documents.search(query, k, filters)

    def count(self) -> int:
        """Passages in the index (0 when there is none)."""
        if not self.exists():
            return 0
        return int(self._searcher(self.open()).num_docs)

    def max_passage_id(self) -> int:
        """The largest passage id indexed (0 when empty)."""
        import tantivy

        searcher = self._searcher(self.open())
        result = searcher.search(tantivy.Query.all_query(), 1, order_by_field="passage_id",
                                 order=tantivy.Order.Desc)
        return int(result.hits[0][0]) if result.hits else 0

    # --- writing ---------------------------------------------------------------------------

    def writer(self) -> KeywordWriter:
        """A writer; nothing it does is visible or durable before `commit`."""
        index = self._index if self._index is not None else self.open()
        return KeywordWriter(index)

    def horizon(self) -> Horizon:
        """How far this sync may read (every passage; the outbox as it stands)."""
        with self.engine.connect() as conn:
            seq = conn.execute(text("SELECT coalesce(max(seq), 0) FROM keyword_outbox"))
            return Horizon(None, int(seq.scalar_one()))

    def stale(self) -> str:
        """Why a readable index no longer describes this database ("" when it does)."""
        return ""

    def check(self) -> str:
        """Read what a sync reads first; why the index must be rebuilt ("" when it need not).

        Raises:
            IndexBackendError, ValueError: the index cannot be read.
        """
        self.open()
        self.max_passage_id()
        return self.stale()

    def pending(self, limit: int = 50_000, upto: int | None = None) -> Outbox:
        """The oldest changes not yet applied (up to the outbox row `upto`, when given)."""
        bound = "" if upto is None else " WHERE seq <= :upto"
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                f"SELECT seq, passage_id, document_id FROM keyword_outbox{bound} "
                f"ORDER BY seq LIMIT :n"), {"n": limit, "upto": upto}).all()
        return Outbox(last_seq=int(rows[-1][0]) if rows else 0,
                      passage_ids=[int(r[1]) for r in rows if r[1] is not None],
                      document_ids=sorted({int(r[2]) for r in rows if r[2] is not None}))

    def applied(self, last_seq: int) -> None:
        """Forget outbox rows up to `last_seq` (call after the tantivy commit)."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM keyword_outbox WHERE seq <= :s"), {"s": last_seq})

    def backlog(self) -> int:
        """Outbox rows waiting (0 when the outbox does not exist yet)."""
        with self.engine.connect() as conn:
            present = conn.execute(text(
                "SELECT 1 FROM sqlite_master WHERE name = 'keyword_outbox'")).first()
            if present is None:
                return 0
            return int(conn.execute(text("SELECT count(*) FROM keyword_outbox")).scalar_one())


class KeywordWriter:
    """Adds and deletes passages in a tantivy index; `commit` makes them durable at once."""

    def __init__(self, index: Any) -> None:
        self.index = index
        self._writer = open_writer(index, _HEAP)

    def delete(self, passage_ids: Iterable[int]) -> None:
        """Drop passages by id (unknown ids are ignored)."""
        import tantivy

        # delete_documents_by_term deletes nothing on an unsigned field (tantivy-py 0.27,
        # measured); a term-set query does, in one pass.
        ids = [int(pid) for pid in passage_ids]
        for start in range(0, len(ids), 10_000):
            query = tantivy.Query.term_set_query(self.index.schema, "passage_id",
                                                 ids[start : start + 10_000])
            self._writer.delete_documents_by_query(query)

    def add(self, rows: Iterable[KeywordRow]) -> None:
        """Index passages (delete them first if they may be present)."""
        import tantivy

        for row in rows:
            doc = tantivy.Document()
            doc.add_unsigned("passage_id", row.passage_id)
            doc.add_unsigned("document_id", row.document_id)
            for name in FIELDS:
                value = getattr(row, name)
                if value:
                    doc.add_text(name, value)
            self._writer.add_document(doc)

    def commit(self) -> None:
        """Make everything so far durable and visible."""
        try:
            self._writer.commit()
        except (ValueError, OSError, RuntimeError) as e:
            raise IndexBackendError(f"Cannot write the keyword index: {e}") from e
        self.index.reload()

    def close(self) -> None:
        """Wait for background merges and release the writer lock."""
        self._writer.wait_merging_threads()
