"""PostgreSQL search in few round trips (issue 19): the vector search and its check of the hits
in one statement, `hnsw.ef_search` kept on the pooled connection, the "any vectors?" probe once
per searcher, and `tracker index` refreshing the planner's statistics after a bulk load.
Latency is printed by bench/search_speed.py and bench/pg_statements.py, never asserted here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, text

from tests.index.conftest import HashEmbedder, doc, link_onnx, put, run_index, searcher
from tests.index.test_real_model import short_posts
from tracker.cli import cli
from tracker.index.base import Hit, SearchFilters
from tracker.index.pgvector import PgVectorIndex
from tracker.store.engine import make_engine

pytestmark = pytest.mark.postgres
WORDS = ["mesa", "optimizer", "goodhart", "proxy", "debate", "oracle", "shard", "reward"]


def posts() -> list[Any]:
    """Twelve posts on two forums sharing words in different mixes."""
    return [doc(f"p{i}", f"Post {i} on {WORDS[i % 8]}",
                f"{WORDS[i % 8]} {WORDS[(i + 3) % 8]} and {WORDS[(i * 5) % 8]} again.",
                source="eaforum" if i % 3 == 0 else "lesswrong") for i in range(12)]


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """Twelve posts indexed with hash vectors; one then deleted, one passage edited since it
    was embedded (its vector stale), one document a cross-post copy."""
    engine = make_engine(pg_url)
    put(engine, *posts())
    run_index(engine, HashEmbedder())
    with engine.begin() as conn:
        conn.execute(text("UPDATE document SET deleted = true WHERE native_id = 'p1'"))
        conn.execute(text("UPDATE passage SET content_hash = 'edited' WHERE document_id = "
                          "(SELECT id FROM document WHERE native_id = 'p2')"))
        conn.execute(text("INSERT INTO crosspost (document_id, same_as_id, reason) "
                          "SELECT c.id, o.id, 'link_url' FROM document c, document o "
                          "WHERE c.native_id = 'p4' AND o.native_id = 'p5'"))
    yield engine
    engine.dispose()


def native(engine: Engine, hits: list[Hit]) -> set[str]:
    ids = [h.document_id for h in hits]
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT native_id FROM document WHERE id = ANY(:ids)"),
                                {"ids": ids}).scalars())


def test_the_joined_vector_search_keeps_what_the_separate_check_keeps(engine: Engine) -> None:
    found = searcher(engine, HashEmbedder())
    assert found.vectors is not None
    model = found.vectors.model
    vector = HashEmbedder().embed_query("mesa optimizer goodhart proxy")
    for filters in (SearchFilters(), SearchFilters(sources=("eaforum",))):
        joined = found.vectors.search_kept(
            vector, 50, lambda near, f=filters: found.catalog.kept_nearest(near, model, f))
        checked = found.catalog.keep(found.vectors.search(vector, 50), model, filters)
        assert joined and joined == checked
        assert not {"p1", "p2", "p4"} & native(engine, joined)
    assert native(engine, found.vector_hits("", SearchFilters(sources=("eaforum",)),
                                            vector)) == {"p0", "p3", "p6", "p9"}


def test_a_hybrid_search_sends_four_statements(engine: Engine) -> None:
    """Vector search and check, the keyword hits' check, the document list's check, the
    titles: no "any vectors?" probe after the first search, no SET for ef_search."""
    found = searcher(engine, HashEmbedder())
    found.search("goodhart proxy debate")  # the first asks whether any vector exists
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        results = found.search("mesa optimizer oracle")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert results
    assert len(sent) == 4, sent
    vector = [s for s in sent if "<=>" in s]
    assert len(vector) == 1 and "JOIN passage " in vector[0] and "JOIN document " in vector[0]
    assert not [s for s in sent if s.lstrip().upper().startswith(("SET", "BEGIN"))]


def test_ef_search_outlasts_the_connection_checkout(pg_url: str) -> None:
    """k above pgvector's default breadth (40) needs `hnsw.ef_search` raised: set once on the
    pooled connection, it must still hold at the next search, which does not set it again."""
    engine = make_engine(pg_url)
    try:
        put(engine, doc("a", "A", "a"))
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO passage (document_id, ordinal, start, \"end\", text,"
                              " title, authors, content_hash) SELECT d.id, g, 0, 1, 'x', 'A', '',"
                              " md5(g::text) FROM document d, generate_series(1, 100) g"))
            ids = list(conn.execute(text("SELECT id FROM passage ORDER BY id")).scalars())
        index = PgVectorIndex(engine, "breadth-8", 8, ef_search=10)
        vectors = np.random.default_rng(1).standard_normal((len(ids), 8)).astype(np.float32)
        index.add(ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        query = vectors[0] / np.linalg.norm(vectors[0])
        assert [len(index.search(query, 60)) for _ in range(3)] == [60, 60, 60]
        assert len(index.search(query, 5)) == 5
        assert len(index.search(query, 60)) == 60
    finally:
        engine.dispose()


def test_tracker_index_analyzes_after_a_bulk_load(shared: Path, pg_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  onnx_model: Path) -> None:
    """Through the CLI with the packaged model: the first `tracker index` refreshes the
    planner's statistics (pg_class.reltuples is -1 until a table is analyzed), a second one
    with nothing new does not, and `tracker search` finds posts through the joined query."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_DATABASE_URL", pg_url)
    link_onnx(onnx_model)
    docs = short_posts(shared, 6)
    engine = make_engine(pg_url)
    put(engine, *docs)

    def reltuples() -> float:
        with engine.connect() as conn:
            return float(conn.execute(text(
                "SELECT reltuples FROM pg_class WHERE relname = 'passage'")).scalar_one())

    try:
        assert reltuples() == -1
        first = CliRunner().invoke(cli, ["index"])
        assert first.exit_code == 0, first.output
        assert "refreshed PostgreSQL's planner statistics" in first.output
        assert reltuples() > 0
        again = CliRunner().invoke(cli, ["index"])
        assert again.exit_code == 0 and "planner statistics" not in again.output
        title = docs[0].title
        result = CliRunner().invoke(cli, ["search", "--json", title])
        assert result.exit_code == 0, result.output
        found = json.loads(result.stdout)
        assert found["results"][0]["document"]["title"] == title
        assert found["results"][0]["matched"]["vector_rank"] is not None
    finally:
        engine.dispose()
