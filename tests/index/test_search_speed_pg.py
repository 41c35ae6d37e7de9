"""bench/search_speed.py --backend postgresql compares like with like: its COPY build of the
PostgreSQL store (bench/search_speed_pg.py) gives the same documents, passages and vectors
as the SQLite build of the same size, and both stores answer through `open_searcher`.
Latency is printed by the bench, never asserted here."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from bench import search_speed, search_speed_pg

pytestmark = pytest.mark.postgres

ROWS = [(i, f"Title {i} about {word}", f"Author{i % 7}", f"passage {i} on {word} and more")
        for i, word in enumerate(["mesa", "corrigibility", "debate", "interpretability",
                                  "shard", "goodhart", "oracle"] * 3, start=1)]
SIZE = 50  # three copies of the 21 rows, the last one partial


@pytest.fixture
def stores(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The SQLite and the PostgreSQL build of SIZE passages from ROWS, each with vectors."""
    from tracker.index.sqlite import SqliteKeywordIndex
    from tracker.search.keywords import sync_keywords
    from tracker.store.engine import make_engine

    seeds = np.random.default_rng(0).standard_normal((4, 384)).astype(np.float32)
    seeds /= np.linalg.norm(seeds, axis=1, keepdims=True)
    homes = {"sqlite": tmp_path / "sqlite", "postgresql": tmp_path / "pg"}
    monkeypatch.setenv("TRACKER_HOME", str(homes["sqlite"]))
    homes["sqlite"].mkdir()
    db = homes["sqlite"] / "tracker.db"
    engine = make_engine(f"sqlite:///{db}")
    SqliteKeywordIndex(engine).ensure()
    with sqlite3.connect(db) as conn:
        search_speed.insert_rows(conn, ROWS, SIZE)
    sync_keywords(engine)
    search_speed._add_vectors(db, SIZE, seeds)
    engine.dispose()
    monkeypatch.setenv("TRACKER_HOME", str(homes["postgresql"]))
    engine = make_engine(pg_url)
    raw = engine.raw_connection()
    search_speed_pg._copy_rows(raw.driver_connection, ROWS, SIZE)
    raw.commit()
    raw.close()
    sync_keywords(engine)
    search_speed_pg._add_vectors(engine, SIZE, seeds)
    engine.dispose()
    return homes


def _rows(engine: object, query: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return [tuple(r) for r in conn.execute(text(query)).all()]


def test_both_builds_hold_the_same_store_and_search_alike(
        stores: dict[str, Path], pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.index.base import SearchFilters

    monkeypatch.setenv("TRACKER_DATABASE_URL", "")  # `searchers` sets it: restored after
    found = search_speed_pg.searchers(stores["sqlite"], stores["postgresql"], pg_url)
    try:
        _same(found["sqlite"], found["postgresql"], SearchFilters())
    finally:
        for searcher in found.values():
            searcher.catalog.engine.dispose()


def _same(sqlite: Any, postgres: Any, none: Any) -> None:
    for query in ("SELECT id, document_id, ordinal, text, title, authors, content_hash "
                  "FROM passage ORDER BY id",
                  "SELECT id, native_id, title, url FROM document ORDER BY id",
                  "SELECT passage_id, model FROM passageembedding ORDER BY passage_id"):
        assert _rows(sqlite.catalog.engine, query) == _rows(postgres.catalog.engine, query)
    assert _rows(postgres.catalog.engine, "SELECT count(*) FROM passage") == [(SIZE,)]
    # the marker word makes every copy a distinct row; the last copy is partial
    assert len(_rows(postgres.catalog.engine,
                     "SELECT id FROM passage WHERE text LIKE '% copy2'")) == SIZE - 2 * len(ROWS)
    keys = list(range(1, SIZE + 1))
    mine, theirs = sqlite.vectors.get(keys), postgres.vectors.get(keys)
    assert sorted(mine) == sorted(theirs) == keys
    for key in keys:  # usearch keeps f16: the same vector to three decimals
        assert np.allclose(mine[key], theirs[key], atol=2e-3)
    index = _rows(postgres.catalog.engine, "SELECT indexname FROM pg_indexes WHERE indexname "
                                           f"= 'ix_{postgres.vectors.table}_hnsw'")
    assert len(index) == 1  # rebuilt after the COPY
    for query in ("corrigibility", "goodhart oracle copy1"):
        assert ([h.passage_id for h in sqlite.keyword_hits(query, none)]
                == [h.passage_id for h in postgres.keyword_hits(query, none)] != [])
    vector = mine[5]
    assert sqlite.vector_hits("", none, vector)[0].passage_id == 5
    assert postgres.vector_hits("", none, vector)[0].passage_id == 5
