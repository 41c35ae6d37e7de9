"""PostgreSQL: full-text search (tsvector GIN index) and pgvector (HNSW, cosine).

The keyword index is an expression index on the passage table, so PostgreSQL keeps it in
step with every insert and delete. Vectors of a model live in a table of their own,
`passage_vector_<hash>`, with a foreign key that drops a vector with its passage; the table
`vector_model` records each model's dimension and refuses a mismatch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pgvector.sqlalchemy import VECTOR
from sqlalchemy import BigInteger, Engine, bindparam, func, literal, literal_column, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from tracker.errors import IndexBackendError
from tracker.models import Document, Passage

from .base import Hit, KeywordIndex, SearchFilters, VectorIndex, Vectors
from .catalog import filter_conditions
from .query import keyword_terms

# Title (A), authors (B) and text (D) with ts_rank's default weights {0.1, 0.2, 0.4, 1.0}.
TSVECTOR = (
    "(setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(authors, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'D'))"
)
_PASSAGE_TSV = TSVECTOR.replace("coalesce(", "coalesce(passage.")


class PgKeywordIndex(KeywordIndex):
    """PostgreSQL full-text search over passages, ranked by ts_rank with weighted columns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure(self) -> None:
        """Create the GIN expression index (PostgreSQL maintains it from then on)."""
        with self.engine.begin() as conn:
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_passage_fulltext ON passage "
                              f"USING gin ({TSVECTOR})"))

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """Passages matching any word of the query, best ts_rank first, filtered."""
        terms = keyword_terms(query)
        if not terms or k <= 0:
            return []
        # Each word is a bound parameter turned into a tsquery by plainto_tsquery: never syntax.
        config: Any = literal_column("'english'::regconfig")
        tsquery: Any = None
        for term in terms:
            part = func.plainto_tsquery(config, literal(term))
            tsquery = part if tsquery is None else tsquery.op("||")(part)
        tsvector: Any = literal_column(_PASSAGE_TSV)
        stmt = (
            select(col(Passage.id), col(Passage.document_id),
                   func.ts_rank(tsvector, tsquery).label("rank"))
            .join(Document, col(Document.id) == col(Passage.document_id))
            .where(tsvector.op("@@")(tsquery), *filter_conditions(filters))
            .order_by(literal_column("rank").desc(), col(Passage.id))
            .limit(k)
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as e:
            raise IndexBackendError(f"Keyword search failed for {query[:80]!r}: {e}") from e
        return [Hit(pid, did, float(score)) for pid, did, score in rows]

    def count(self) -> int:
        """Passages (all of them are indexed)."""
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM passage")).scalar_one())


class PgVectorIndex(VectorIndex):
    """pgvector HNSW (cosine) in a table per model, keyed by passage id."""

    def __init__(self, engine: Engine, model: str, dim: int | None, *,
                 ef_search: int = 128) -> None:
        self.engine, self.model, self.ef_search = engine, model, ef_search
        self.table = "passage_vector_" + hashlib.sha1(model.encode()).hexdigest()[:12]
        try:
            self.dim = self._register(dim)
        except SQLAlchemyError as e:
            raise IndexBackendError(f"Cannot set up pgvector for the model '{model}' ({e}); "
                                    f"the server needs the `vector` extension") from e

    def _register(self, dim: int | None) -> int:
        with self.engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            conn.execute(text("CREATE TABLE IF NOT EXISTS vector_model (name text PRIMARY KEY, "
                              "dim integer NOT NULL, table_name text NOT NULL)"))
            row = conn.execute(text("SELECT dim FROM vector_model WHERE name = :m"),
                               {"m": self.model}).first()
            if row is not None:
                if dim is not None and row[0] != dim:
                    raise IndexBackendError(
                        f"The database holds {row[0]}-dimensional vectors for the model "
                        f"'{self.model}', but it now makes {dim}-dimensional ones; drop the "
                        f"table {self.table} and its vector_model row")
                return int(row[0])
            if dim is None:
                return 0
            conn.execute(text(
                f"CREATE TABLE IF NOT EXISTS {self.table} (passage_id bigint PRIMARY KEY "
                f"REFERENCES passage(id) ON DELETE CASCADE, embedding vector({dim}) NOT NULL)"))
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{self.table}_hnsw ON {self.table} "
                              f"USING hnsw (embedding vector_cosine_ops)"))
            conn.execute(text("INSERT INTO vector_model (name, dim, table_name) "
                              "VALUES (:m, :d, :t)"), {"m": self.model, "d": dim, "t": self.table})
            return dim

    def add(self, keys: Sequence[int], vectors: Vectors) -> None:
        """Insert or replace vectors (committed at once)."""
        if not len(keys):
            return
        if not self.dim or vectors.shape != (len(keys), self.dim):
            raise IndexBackendError(f"Expected {len(keys)} vectors of dimension {self.dim}, "
                                    f"got an array of shape {vectors.shape}")
        rows = [{"k": int(k), "v": v} for k, v in zip(keys, vectors, strict=True)]
        stmt = text(
            f"INSERT INTO {self.table} (passage_id, embedding) VALUES (:k, CAST(:v AS vector)) "
            f"ON CONFLICT (passage_id) DO UPDATE SET embedding = excluded.embedding"
        ).bindparams(bindparam("v", type_=VECTOR(self.dim)))
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def remove(self, keys: Iterable[int]) -> int:
        """Delete vectors by key."""
        ids = [int(k) for k in keys]
        if not ids or not self.dim:
            return 0
        stmt = text(f"DELETE FROM {self.table} WHERE passage_id IN :ids").bindparams(
            bindparam("ids", expanding=True))
        removed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 1000):
                removed += conn.execute(stmt, {"ids": ids[start : start + 1000]}).rowcount
        return removed

    def search(self, vector: Vectors, k: int, *,
               among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """HNSW search (exact over `among`), nearest first."""
        if not self.dim or k <= 0:
            return []
        if among is not None and not among:
            return []
        where = "WHERE passage_id IN :ids" if among is not None else ""
        stmt = text(f"SELECT passage_id, embedding <=> CAST(:q AS vector) AS distance "
                    f"FROM {self.table} {where} ORDER BY distance LIMIT :k"
                    ).bindparams(bindparam("q", type_=VECTOR(self.dim)))
        params: dict[str, object] = {"q": np.asarray(vector, dtype=np.float32), "k": k}
        if among is not None:
            stmt = stmt.bindparams(bindparam("ids", expanding=True))
            params["ids"] = [int(key) for key in among]
        with self.engine.begin() as conn:
            conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(int(self.ef_search), k, 1)}"
                              if k <= 1000 else "SET LOCAL hnsw.ef_search = 1000"))
            rows = conn.execute(stmt, params).all()
        return [(int(key), 1.0 - float(dist)) for key, dist in rows]

    def get(self, keys: Sequence[int]) -> dict[int, Vectors]:
        """Stored vectors by key."""
        if not keys or not self.dim:
            return {}
        stmt = (text(f"SELECT passage_id, embedding FROM {self.table} WHERE passage_id IN :ids")
                .bindparams(bindparam("ids", expanding=True))
                .columns(passage_id=BigInteger, embedding=VECTOR(self.dim)))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt, {"ids": [int(k) for k in keys]}).all()
        return {int(key): np.asarray(value, dtype=np.float32) for key, value in rows}

    def keys(self) -> set[int]:
        """Every key present."""
        if not self.dim:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(text(f"SELECT passage_id FROM {self.table}")).scalars())

    def count(self) -> int:
        """Vectors stored."""
        if not self.dim:
            return 0
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {self.table}")).scalar_one())

