"""The embedded default: SQLite FTS5 (bm25) in the database, usearch HNSW in a file beside it.

Vector index: usearch HNSW, f16, cosine, connectivity 16, expansion_add 128 (choice measured
in bench/search_speed.py and shared/reference/performance.md: exact numpy search costs ~220 ms
per query at 1M vectors, HNSW well under 10 ms, f16 halves the memory with no recall loss).
One file per model, `<db>.<model>.usearch`, with `<...>.json` recording the model and the
dimension; opening it for another model is refused, so vectors of two models never mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, bindparam, column, literal_column, select, table, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlmodel import col

from tracker.errors import IndexBackendError
from tracker.models import Document, Passage

from .base import Hit, KeywordIndex, SearchFilters, VectorIndex, Vectors
from .catalog import filter_conditions
from .query import fts5_match, keyword_terms, stem

FORMAT = 1
# Column weights of bm25(): title, authors, text (tuned in bench/search_quality.py).
BM25_WEIGHTS = (4.0, 2.0, 1.0)
# With a row budget (index.keyword_budget, off by default), an OR query keeps the rarest
# words whose passages add up to the budget, and at least MIN_TERMS words.
MIN_TERMS = 3

_FTS = table("passage_fts", column("rowid"))
_SCHEMA = (
    # External content: the text lives once, in `passage`; triggers keep the index in step in
    # the same transaction, including deletes cascaded from a document.
    "CREATE VIRTUAL TABLE passage_fts USING fts5(title, authors, text, content='passage', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS passage_fts_insert AFTER INSERT ON passage BEGIN "
    "INSERT INTO passage_fts(rowid, title, authors, text) "
    "VALUES (new.id, new.title, new.authors, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS passage_fts_delete AFTER DELETE ON passage BEGIN "
    "INSERT INTO passage_fts(passage_fts, rowid, title, authors, text) "
    "VALUES ('delete', old.id, old.title, old.authors, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS passage_fts_update AFTER UPDATE ON passage BEGIN "
    "INSERT INTO passage_fts(passage_fts, rowid, title, authors, text) "
    "VALUES ('delete', old.id, old.title, old.authors, old.text); "
    "INSERT INTO passage_fts(rowid, title, authors, text) "
    "VALUES (new.id, new.title, new.authors, new.text); END",
)


class SqliteKeywordIndex(KeywordIndex):
    """FTS5 with porter stemming over passages, ranked by bm25 with a heavier title column."""

    def __init__(self, engine: Engine, weights: Sequence[float] = BM25_WEIGHTS,
                 row_budget: int | None = None) -> None:
        self.engine = engine
        self.weights = tuple(weights)
        self.row_budget = row_budget

    def ensure(self) -> None:
        """Create the FTS table and triggers; index passages stored before they existed."""
        with self.engine.begin() as conn:
            present = conn.execute(text(
                "SELECT 1 FROM sqlite_master WHERE name = 'passage_fts'")).first()
            if present is None:
                for statement in _SCHEMA:
                    conn.execute(text(statement))
                conn.execute(text("INSERT INTO passage_fts(passage_fts) VALUES ('rebuild')"))

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """bm25-ranked passages matching any word of the query (OR), filtered."""
        terms = keyword_terms(query)
        if not terms or k <= 0:
            return []
        terms = self._selective(terms)
        match = fts5_match(terms)
        try:
            with self.engine.connect() as conn:
                if filters.is_empty():
                    # Rank inside FTS5 first, join only the best: joining every match to its
                    # document before sorting cost 3-5× more at 1M passages.
                    rows = self._ranked(conn, match, filters, k, prefetch=2 * k + 50)
                    if len(rows) >= k:
                        return rows
                return self._ranked(conn, match, filters, k, prefetch=None)
        except OperationalError as e:
            if "no such table" in str(e):
                return []  # nothing indexed yet
            raise IndexBackendError(f"Keyword search failed for {query[:80]!r}: {e.orig}") from e

    def _ranked(self, conn: Any, match: str, filters: SearchFilters, k: int,
                prefetch: int | None) -> list[Hit]:
        """Passages by bm25 that pass the filters; only the `prefetch` best are filtered."""
        weights = ", ".join(f"{w:g}" for w in self.weights)
        ranked: Any = (
            select(_FTS.c.rowid.label("pid"),
                   literal_column(f"bm25(passage_fts, {weights})").label("rank"))
            .where(text("passage_fts MATCH :match").bindparams(match=match))
        )
        if prefetch is not None:
            ranked = ranked.order_by(literal_column("rank")).limit(prefetch)
        best = ranked.subquery()
        stmt = (
            select(col(Passage.id), col(Passage.document_id), best.c.rank)
            .select_from(best)
            .join(Passage, col(Passage.id) == best.c.pid)
            .join(Document, col(Document.id) == col(Passage.document_id))
            .where(*filter_conditions(filters))
            .order_by(best.c.rank)
            .limit(k)
        )
        # bm25() is negative, lower is better; report a positive score.
        return [Hit(pid, did, -float(score)) for pid, did, score in conn.execute(stmt)]

    def _selective(self, terms: list[str]) -> list[str]:
        """With a row budget, the rarest words whose passages add up to it (at least
        MIN_TERMS words).

        An OR query costs one bm25 evaluation per passage holding any of its words: a word in
        5% of a million passages costs 50,000 of them while adding little to bm25 (idf ≈ 3,
        against 8-12 for the words that identify a post). Frequencies come from the fts5vocab
        table, looked up under the word's porter stem; a word not found counts as rare and is
        kept. Off by default: on the benchmark queries it cost a
        third of bm25's rank-1 hits (docs/search.md).
        """
        budget = self.row_budget
        if not budget:
            return terms
        try:
            with self.engine.connect() as conn:
                frequency = _document_frequencies(conn, terms)
        except OperationalError:
            return terms
        keep: set[str] = set()
        rows = 0
        for term in sorted(terms, key=lambda t: frequency.get(t, 0)):
            rows += frequency.get(term, 0)
            if rows > budget and len(keep) >= MIN_TERMS:
                break
            keep.add(term)
        return [t for t in terms if t in keep]

    def count(self) -> int:
        """Passages in the FTS index."""
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM passage_fts")).scalar_one())
        except OperationalError:
            return 0


def _document_frequencies(conn: Any, terms: Sequence[str]) -> dict[str, int]:
    """Passages holding each word, from fts5vocab, looked up under its porter stem."""
    forms = {t: stem(t) for t in terms}
    conn.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.passage_fts_vocab "
                      "USING fts5vocab(main, passage_fts, 'row')"))
    stmt = text("SELECT term, doc FROM temp.passage_fts_vocab WHERE term IN :terms").bindparams(
        bindparam("terms", expanding=True))
    rows = conn.execute(stmt, {"terms": sorted(set(forms.values()))})
    found = {term: int(doc) for term, doc in rows}
    return {t: found.get(f, 0) for t, f in forms.items()}


def vector_file(database: Path, model: str) -> Path:
    """The usearch file of `model` beside the SQLite database file."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model.strip("/"))[-48:]
    digest = hashlib.sha1(model.encode()).hexdigest()[:8]
    return database.with_name(f"{database.name}.{slug}-{digest}.usearch")


class UsearchIndex(VectorIndex):
    """usearch HNSW (f16, cosine) in one file; read-only opens memory-map it (no load time).

    Args:
        path: the `.usearch` file; its model record is `path.with_suffix(".json")`.
        model: the embedder's name; a file of another model is refused.
        dim: the dimension; None to take it from the file (read-only use).
        writable: load the file into memory so that add/remove/save work.
    """

    def __init__(self, path: Path, model: str, dim: int | None = None, *, writable: bool = False,
                 connectivity: int = 16, expansion_add: int = 128,
                 expansion_search: int = 128) -> None:
        from usearch.index import Index

        self.path, self.model, self.writable = path, model, writable
        self.meta_path = path.with_suffix(".json")
        meta = self._read_meta()
        if meta is not None:
            if meta.get("model") != model:
                raise IndexBackendError(
                    f"The vector file {path} holds vectors of the model '{meta.get('model')}', "
                    f"not '{model}'; remove it or set index.model back")
            if dim is not None and meta.get("dim") != dim:
                raise IndexBackendError(
                    f"The vector file {path} holds {meta.get('dim')}-dimensional vectors but "
                    f"the model '{model}' makes {dim}-dimensional ones; remove the file")
            dim = int(meta["dim"])
        self.dim = dim or 0
        self._index: Any = None
        if self.dim:
            self._index = Index(ndim=self.dim, metric="cos", dtype="f16",
                                connectivity=connectivity, expansion_add=expansion_add,
                                expansion_search=expansion_search)
            if path.exists():
                self._open(path, view=not writable)
                self._index.expansion_search = expansion_search

    def _open(self, path: Path, *, view: bool) -> None:
        try:
            if view:
                self._index.view(str(path))
            else:
                self._index.load(str(path))
        except (RuntimeError, ValueError) as e:
            raise IndexBackendError(
                f"Cannot read the vector file {path} ({e}); delete it and run `tracker index`, "
                f"which embeds the passages again") from e

    def _read_meta(self) -> dict[str, Any] | None:
        if not self.meta_path.exists():
            return None
        try:
            meta: dict[str, Any] = json.loads(self.meta_path.read_text())
        except (OSError, ValueError) as e:
            raise IndexBackendError(f"Cannot read {self.meta_path} ({e}); delete it and the "
                                    f"vector file beside it, then run `tracker index`") from e
        return meta

    def _require_writable(self) -> Any:
        if not self.writable:
            raise IndexBackendError(f"The vector file {self.path} is open read-only")
        return self._index

    def add(self, keys: Sequence[int], vectors: Vectors) -> None:
        """Store vectors (f16 on disk), replacing keys already present."""
        index = self._require_writable()
        if len(keys) == 0:
            return
        if vectors.shape != (len(keys), self.dim):
            raise IndexBackendError(f"Expected {len(keys)} vectors of dimension {self.dim}, "
                                    f"got an array of shape {vectors.shape}")
        ids = np.asarray(keys, dtype=np.uint64)
        present = np.asarray(index.contains(ids), dtype=bool).reshape(-1)
        if present.any():
            index.remove(ids[present])
        index.add(ids, np.ascontiguousarray(vectors, dtype=np.float32))

    def remove(self, keys: Iterable[int]) -> int:
        """Drop vectors by key."""
        index = self._require_writable()
        ids = np.fromiter(keys, dtype=np.uint64)
        if not len(ids):
            return 0
        present = ids[np.asarray(index.contains(ids), dtype=bool).reshape(-1)]
        if len(present):
            index.remove(present)
        return len(present)

    def search(self, vector: Vectors, k: int, *,
               among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """HNSW search, or exact cosine over `among`."""
        if self._index is None or k <= 0 or not len(self._index):
            return []
        if among is not None:
            return _exact(self.get(among), vector, k)
        matches = self._index.search(np.asarray(vector, dtype=np.float32), min(k, len(self)))
        return [(int(key), 1.0 - float(dist))
                for key, dist in zip(matches.keys, matches.distances, strict=True)]

    def get(self, keys: Sequence[int]) -> dict[int, Vectors]:
        """Stored vectors, as float32."""
        if self._index is None or not len(keys):
            return {}
        ids = np.asarray(keys, dtype=np.uint64)
        rows = self._index.get(ids, dtype=np.float32)
        return {int(key): np.asarray(row, dtype=np.float32)
                for key, row in zip(ids, rows, strict=True) if row is not None}

    def keys(self) -> set[int]:
        """Every key present."""
        if self._index is None or not len(self._index):
            return set()
        return {int(key) for key in self._index.keys[0 : len(self._index)]}

    def count(self) -> int:
        """Vectors stored."""
        return len(self)

    def __len__(self) -> int:
        return 0 if self._index is None else len(self._index)

    def save(self) -> None:
        """Write the index to a temporary file and rename it over the old one (atomic)."""
        index = self._require_writable()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.meta_path.exists():
            meta = {"format": FORMAT, "model": self.model, "dim": self.dim,
                    "metric": "cos", "dtype": "f16"}
            self.meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            index.save(str(partial))
            with open(partial, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
        except (OSError, RuntimeError) as e:
            raise IndexBackendError(f"Cannot write the vector file {self.path}: {e}") from e

    def close(self) -> None:
        """Drop the in-memory index or the memory map."""
        self._index = None


def _exact(vectors: dict[int, Vectors], query: Vectors, k: int) -> list[tuple[int, float]]:
    """Cosine similarity of unit vectors by one matrix product; the best `k`."""
    if not vectors:
        return []
    keys = np.fromiter(vectors, dtype=np.int64, count=len(vectors))
    matrix = np.stack(list(vectors.values()))
    scores = matrix @ np.asarray(query, dtype=np.float32)
    top = np.argsort(-scores, kind="stable")[:k]
    return [(int(keys[i]), float(scores[i])) for i in top]


def fts_in_step(engine: Engine) -> bool | None:
    """Whether the FTS5 index matches the passages it indexes (None: no FTS table yet).

    FTS5's `integrity-check` with rank 1 compares an external-content index with its content
    table, so a passage written while the triggers were missing is caught.
    """
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO passage_fts(passage_fts, rank) "
                              "VALUES ('integrity-check', 1)"))
    except DatabaseError as e:  # an index out of step reads as "database disk image is malformed"
        if "no such table" in str(e.orig):
            return None
        if "malformed" in str(e.orig) or "corrupt" in str(e.orig):
            return False
        raise IndexBackendError(f"Checking the keyword index failed: {e.orig}") from e
    return True


def rebuild_fts(engine: Engine) -> None:
    """Rebuild the FTS5 index from the passages (FTS5's `rebuild` command)."""
    SqliteKeywordIndex(engine).ensure()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO passage_fts(passage_fts) VALUES ('rebuild')"))
