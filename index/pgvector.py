"""PostgreSQL: full-text search (tsvector GIN index) and pgvector (HNSW, cosine).

The keyword index is an expression index on the passage table, so PostgreSQL keeps it in
step with every insert and delete. What others say about a document when they link to it
(anchor text and citing sentence, `tracker.store.evidence`) lives in `keyword_anchor`, one
row per cited document with its own GIN index, searched as a fourth weighted field of the
document's first passage, as the tantivy side does. Link changes reach it through
`keyword_anchor_outbox`, filled by a trigger on `link` in the same transaction as the change
and applied by `tracker index` (`tracker.search.pgkeywords`).

Vectors of a model live in a table of their own, `passage_vector_<hash>`, with a foreign key
that drops a vector with its passage; the table `vector_model` records each model's dimension
and refuses a mismatch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Float,
    Select,
    Subquery,
    and_,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    union,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from tracker.errors import IndexBackendError
from tracker.models import Document, Passage

from .base import Hit, KeywordIndex, SearchFilters, VectorIndex, Vectors
from .catalog import filter_conditions, reader
from .query import keyword_terms

# Title (A), authors (B) and text (D) with ts_rank's default weights {0.1, 0.2, 0.4, 1.0}.
TSVECTOR = (
    "(setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(authors, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'D'))"
)
_PASSAGE_TSV = TSVECTOR.replace("coalesce(", "coalesce(passage.")
# Anchors weigh C (0.2), twice the text (D, 0.1): as on tantivy (anchors 2, text 1), several
# people's description of a post, but not the post's own words.
_ANCHOR_TSV = "setweight(to_tsvector('english'::regconfig, anchors), 'C')"
_ANCHOR = table("keyword_anchor", column("document_id"), column("tsv"))
_ANCHOR_SCHEMA = (
    f"CREATE TABLE keyword_anchor (document_id bigint PRIMARY KEY REFERENCES document(id) "
    f"ON DELETE CASCADE, anchors text NOT NULL, tsv tsvector GENERATED ALWAYS AS "
    f"({_ANCHOR_TSV}) STORED)",
    "CREATE INDEX ix_keyword_anchor_tsv ON keyword_anchor USING gin (tsv)",
    "CREATE TABLE keyword_anchor_outbox (seq bigserial PRIMARY KEY, document_id bigint "
    "NOT NULL)",
    # A link gained, lost or changed its target: that target's evidence changes.
    "CREATE OR REPLACE FUNCTION keyword_anchor_outbox_link() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN "
    "IF TG_OP <> 'DELETE' AND NEW.target_document_id IS NOT NULL THEN "
    "INSERT INTO keyword_anchor_outbox(document_id) VALUES (NEW.target_document_id); END IF; "
    "IF TG_OP <> 'INSERT' AND OLD.target_document_id IS NOT NULL THEN "
    "INSERT INTO keyword_anchor_outbox(document_id) VALUES (OLD.target_document_id); END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER keyword_anchor_outbox_link AFTER INSERT OR DELETE OR UPDATE OF "
    "target_document_id ON link FOR EACH ROW EXECUTE FUNCTION keyword_anchor_outbox_link()",
    # Links stored before the table existed: every cited document is due.
    "INSERT INTO keyword_anchor_outbox(document_id) SELECT DISTINCT target_document_id "
    "FROM link WHERE target_document_id IS NOT NULL",
)


class PgKeywordIndex(KeywordIndex):
    """PostgreSQL full-text search over passages and the anchor evidence of their documents,
    ranked by ts_rank with weighted columns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._anchors: bool | None = None

    def ensure(self) -> None:
        """Create the GIN expression index (PostgreSQL maintains it from then on) and the
        anchor table, its outbox and trigger (filled from the links already stored)."""
        with self.engine.begin() as conn:
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_passage_fulltext ON passage "
                              f"USING gin ({TSVECTOR})"))
            # One creator at a time: two `tracker index` runs must not both create the table.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('keyword_anchor'))"))
            if not _has_anchor_table(conn):
                for statement in _ANCHOR_SCHEMA:
                    conn.execute(text(statement))
        self._anchors = True

    def has_anchors(self) -> bool:
        """Whether the anchor table exists (not before the first `tracker index`)."""
        if self._anchors is None:
            with self.engine.connect() as conn:
                self._anchors = _has_anchor_table(conn)
        return self._anchors

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
        stmt = (self._with_anchors(tsquery, filters) if self.has_anchors()
                else self._passages_only(tsquery, filters))
        stmt = stmt.order_by(literal_column("rank").desc(), col(Passage.id)).limit(k)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as e:
            raise IndexBackendError(f"Keyword search failed for {query[:80]!r}: {e}") from e
        return [Hit(pid, did, float(score)) for pid, did, score in rows]

    def _passages_only(self, tsquery: Any, filters: SearchFilters) -> Any:
        tsvector: Any = literal_column(_PASSAGE_TSV)
        return (select(col(Passage.id), col(Passage.document_id),
                       func.ts_rank(tsvector, tsquery).label("rank"))
                .join(Document, col(Document.id) == col(Passage.document_id))
                .where(tsvector.op("@@")(tsquery), *filter_conditions(filters)))

    def _with_anchors(self, tsquery: Any, filters: SearchFilters) -> Any:
        """Passages matching by their own words, or first passages matching by their
        document's anchors (each side through its GIN index), ranked over both."""
        tsvector: Any = literal_column(_PASSAGE_TSV)
        lead = and_(_ANCHOR.c.document_id == col(Passage.document_id), col(Passage.ordinal) == 0)
        candidates = union(
            select(col(Passage.id).label("pid")).where(tsvector.op("@@")(tsquery)),
            select(col(Passage.id).label("pid")).join(_ANCHOR, lead)
            .where(_ANCHOR.c.tsv.op("@@")(tsquery)),
        ).subquery()
        both = tsvector.op("||")(func.coalesce(_ANCHOR.c.tsv, literal_column("''::tsvector")))
        return (select(col(Passage.id), col(Passage.document_id),
                       func.ts_rank(both, tsquery).label("rank"))
                .select_from(candidates)
                .join(Passage, col(Passage.id) == candidates.c.pid)
                .join(Document, col(Document.id) == col(Passage.document_id))
                .outerjoin(_ANCHOR, lead)
                .where(*filter_conditions(filters)))

    def count(self) -> int:
        """Passages (all of them are indexed)."""
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM passage")).scalar_one())

    def pending(self, limit: int = 10_000) -> tuple[int, list[int]]:
        """The oldest anchor changes not yet applied: (last outbox seq or 0, document ids)."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT seq, document_id FROM keyword_anchor_outbox "
                                     "ORDER BY seq LIMIT :n"), {"n": limit}).all()
        return (int(rows[-1][0]) if rows else 0), sorted({int(r[1]) for r in rows})

    def set_anchors(self, document_ids: Sequence[int], evidence: dict[int, str],
                    last_seq: int) -> None:
        """Replace the evidence of these documents (none: the row goes) and forget the outbox
        rows up to `last_seq`, in one transaction."""
        ids = [int(d) for d in document_ids]
        rows = [{"d": d, "a": evidence[d]} for d in ids if evidence.get(d)]
        with self.engine.begin() as conn:
            if ids:
                conn.execute(text("DELETE FROM keyword_anchor WHERE document_id IN :ids")
                             .bindparams(bindparam("ids", expanding=True)), {"ids": ids})
            if rows:  # a document deleted since its row was queued is skipped
                conn.execute(text("INSERT INTO keyword_anchor (document_id, anchors) "
                                  "SELECT :d, :a WHERE EXISTS (SELECT 1 FROM document "
                                  "WHERE id = :d)"), rows)
            conn.execute(text("DELETE FROM keyword_anchor_outbox WHERE seq <= :s"),
                         {"s": last_seq})

    def backlog(self) -> int:
        """Anchor changes waiting for `tracker index` (0 before the table exists)."""
        if not self.has_anchors():
            return 0
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM keyword_anchor_outbox"))
                       .scalar_one())


def _has_anchor_table(conn: Any) -> bool:
    return conn.execute(text("SELECT to_regclass('keyword_anchor') IS NOT NULL")).scalar_one() \
        is True


class PgVectorIndex(VectorIndex):
    """pgvector HNSW (cosine) in a table per model, keyed by passage id."""

    def __init__(self, engine: Engine, model: str, dim: int | None, *,
                 ef_search: int = 128) -> None:
        self.engine, self.model, self.ef_search = engine, model, ef_search
        self._reader = reader(engine)  # searches: autocommit, SET lasts on the connection
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
        with self._reader.connect() as conn:
            self._breadth(conn, k)
            rows = conn.execute(stmt, params).all()
        return [(int(key), 1.0 - float(dist)) for key, dist in rows]

    def search_kept(self, vector: Vectors, k: int,
                    keep: Callable[[Subquery], Select[Any]]) -> list[Hit] | None:
        """The HNSW search joined with the store's check of its hits: one round trip where
        `search` then `Catalog.keep` took two, each with its own BEGIN and ROLLBACK."""
        if not self.dim or k <= 0:
            return []
        # ORDER BY ... LIMIT keeps the subquery whole, so the planner scans the HNSW index
        # there and joins its k rows (EXPLAIN in bench/pg_statements.py --explain).
        near = text(f"SELECT passage_id, embedding <=> CAST(:q AS vector) AS distance "
                    f"FROM {self.table} ORDER BY distance LIMIT :k").bindparams(
            bindparam("q", type_=VECTOR(self.dim), value=np.asarray(vector, dtype=np.float32)),
            bindparam("k", value=k)).columns(passage_id=BigInteger, distance=Float).subquery()
        with self._reader.connect() as conn:
            self._breadth(conn, k)
            rows = conn.execute(keep(near)).all()
        return [Hit(int(pid), int(did), 1.0 - float(dist)) for pid, did, dist in rows]

    def _breadth(self, conn: Connection, k: int) -> None:
        """`hnsw.ef_search` for k results on this connection, set only when it differs from
        what the pooled connection already has: a SET per search was a round trip of its own
        (and SET LOCAL needs a transaction, two more)."""
        breadth = min(max(int(self.ef_search), k, 1), 1000)
        if conn.info.get("hnsw.ef_search") != breadth:
            conn.execute(text(f"SET hnsw.ef_search = {breadth}"))
            conn.info["hnsw.ef_search"] = breadth

    def get(self, keys: Sequence[int]) -> dict[int, Vectors]:
        """Stored vectors by key."""
        if not keys or not self.dim:
            return {}
        stmt = (text(f"SELECT passage_id, embedding FROM {self.table} WHERE passage_id IN :ids")
                .bindparams(bindparam("ids", expanding=True))
                .columns(passage_id=BigInteger, embedding=VECTOR(self.dim)))
        with self._reader.connect() as conn:
            rows = conn.execute(stmt, {"ids": [int(k) for k in keys]}).all()
        return {int(key): np.asarray(value, dtype=np.float32) for key, value in rows}

    def keys(self) -> set[int]:
        """Every key present."""
        if not self.dim:
            return set()
        with self._reader.connect() as conn:
            return set(conn.execute(text(f"SELECT passage_id FROM {self.table}")).scalars())

    def count(self) -> int:
        """Vectors stored."""
        if not self.dim:
            return 0
        with self._reader.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {self.table}")).scalar_one())

    def is_empty(self) -> bool:
        """Whether no vector is stored: one index probe, where `count` scans the table (5 ms
        at 100k vectors, asked twice per search; bench/search_speed.py --backend postgresql)."""
        if not self.dim:
            return True
        with self._reader.connect() as conn:
            return conn.execute(text(f"SELECT 1 FROM {self.table} LIMIT 1")).first() is None

