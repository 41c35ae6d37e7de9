"""The keyword and vector index of a database: SQLite (embedded) or PostgreSQL (pgvector)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tracker.errors import IndexBackendError

from .base import KeywordIndex, VectorIndex


def open_keyword_index(engine: Engine, row_budget: int | None = None, *,
                       kind: str = "tantivy") -> KeywordIndex:
    """On SQLite, tantivy in a folder beside the file (`kind="tantivy"`, the default; FTS5 for
    an in-memory database) or FTS5 (`kind="fts5"`, words pruned to `row_budget` passages, if
    given); on PostgreSQL, a tantivy replica in the data directory (`kind="tantivy"`) or the
    server's own full-text search ranked by ts_rank (`kind="fts5"`, the engine before it)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and kind == "tantivy" and database \
            and database != ":memory:":
        from .tantivyindex import TantivyKeywordIndex, keyword_folder

        return TantivyKeywordIndex(engine, keyword_folder(Path(database)))
    if engine.dialect.name == "sqlite":
        from .sqlite import SqliteKeywordIndex

        return SqliteKeywordIndex(engine, row_budget=row_budget)
    if engine.dialect.name == "postgresql" and kind == "tantivy":
        from tracker.paths import data_dir

        from .tantivyreplica import PgTantivyKeywordIndex, replica_folder

        return PgTantivyKeywordIndex(engine, replica_folder(engine, data_dir()))
    if engine.dialect.name == "postgresql":
        from .pgvector import PgKeywordIndex

        return PgKeywordIndex(engine)
    raise IndexBackendError(f"Search needs SQLite or PostgreSQL, not {engine.dialect.name}")


def open_vector_index(
    engine: Engine, model: str, dim: int | None, *, writable: bool, ef_search: int = 128
) -> VectorIndex:
    """The vectors of `model`: a usearch file beside a SQLite database, or pgvector.

    Args:
        engine: the store's engine.
        model: the embedder's name.
        dim: its dimension; None when only searching (taken from what is stored).
        writable: whether `add`/`remove`/`save` will be called.
        ef_search: HNSW search breadth.

    Raises:
        IndexBackendError: the stored vectors belong to another model or dimension.
    """
    if engine.dialect.name == "sqlite":
        from .sqlite import UsearchIndex, vector_file

        database = engine.url.database
        if not database or database == ":memory:":
            raise IndexBackendError("The vector index needs a SQLite database file, not memory")
        return UsearchIndex(vector_file(Path(database), model), model, dim, writable=writable,
                            expansion_search=ef_search)
    if engine.dialect.name == "postgresql":
        from .pgvector import PgVectorIndex

        return PgVectorIndex(engine, model, dim, ef_search=ef_search)
    raise IndexBackendError(f"Search needs SQLite or PostgreSQL, not {engine.dialect.name}")
