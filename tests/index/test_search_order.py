"""The search makes the query vector in a second thread while the keyword lists run: on a real
store it must rank exactly as the one-step-after-another order did, with the hashing embedder
and with the real packaged model on ONNX Runtime."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select, text

from tests.index.conftest import HashEmbedder, corpus_slice, put, searcher, settings
from tracker.index.base import Embedder, SearchFilters
from tracker.index.catalog import Catalog
from tracker.index.hybrid import CANDIDATES, Candidates, HybridSearcher, SearchResult, parse_hints
from tracker.index.onnx_embedder import OnnxEmbedder
from tracker.index.query import words
from tracker.models import Document, DocumentCreate
from tracker.search.indexing import index_documents
from tracker.store.engine import make_engine

MODEL = "all-MiniLM-L6-v2"
FILTERS = (SearchFilters(), SearchFilters(sources=("lesswrong",), since=datetime(2016, 1, 1,
                                                                                  tzinfo=UTC)))


def sequential(s: HybridSearcher, query: str, filters: SearchFilters) -> list[SearchResult]:
    """The search as it ran before the embedding thread: each step after the other."""
    hints = parse_hints(query)
    q = hints.text or query
    vector = s.embedder.embed_query(q) if s.has_vectors and s.embedder and q.strip() else None
    lists = {"keyword": s.keyword_hits(q, filters), "vector": s.vector_hits(q, filters, vector)}
    named = {a.author_id: a.name for a in s.author_matcher().match(q)}
    author_docs = s._author_ranking(q, filters, list(named), vector)
    documents = [d for d, _ in s.keyword.search_documents(q, CANDIDATES, filters)]
    candidates = {h.document_id for hits in lists.values() for h in hits} \
        | set(author_docs) | set(documents)
    titles = {m.document_id: m.coverage for m in s.title_matches(q, candidates)}
    found = Candidates(query, hints, lists, titles, author_docs, ", ".join(named.values()),
                       documents)
    if hints.years or hints.forums:
        found.infos = s.catalog.documents(candidates | set(titles))
    return s.rank(found, 20)


def queries(engine: Engine) -> list[str]:
    """Topic words of real posts, a misspelt title, an author, year and forum hints."""
    with engine.connect() as conn:
        rows = conn.execute(select(Document.title, Document.body_text).limit(12)).all()
        author = conn.execute(text("SELECT name FROM author LIMIT 1")).scalar_one()
    found = [" ".join(body.split()[40:52]) for _, body in rows]
    found += [title.replace("e", "a", 1) for title, _ in rows[:4]]
    return found + [f"{author} on alignment", f"{rows[0][0]} in 2019 on the alignment forum",
                    "", "the of and"]


def real_store(folder: Path, docs: list[DocumentCreate], embedder: Embedder) -> Engine:
    """Real posts, indexed (keywords, document list, vectors) by `embedder`."""
    engine = make_engine(f"sqlite:///{folder / 'tracker.db'}")
    put(engine, *docs)
    index_documents(engine, settings(), embedder=embedder)
    return engine


@pytest.fixture(scope="module")
def hashed(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> HybridSearcher:
    embedder = HashEmbedder()
    store = real_store(tmp_path_factory.mktemp("hashed"), corpus_slice(shared, 40), embedder)
    return searcher(store, embedder)


def test_concurrent_search_ranks_as_sequential(hashed: HybridSearcher) -> None:
    assert hashed.has_vectors and hashed.keyword.count() > 100
    for filters in FILTERS:
        for query in queries(hashed.catalog.engine):
            assert hashed.search(query, filters, limit=20) == sequential(hashed, query, filters), \
                query
    # What the comparison covers: vectors, author and title lists all took part.
    found = [r for q in queries(hashed.catalog.engine) for r in hashed.search(q)]
    assert any(r.vector_rank for r in found) and any(r.author for r in found)
    assert any(r.title_coverage for r in found)


def test_concurrent_search_ranks_as_sequential_with_the_real_model(
        tmp_path_factory: pytest.TempPathFactory, shared: Path, onnx_model: Path) -> None:
    onnx = OnnxEmbedder(MODEL, onnx_model)
    short = [d for d in corpus_slice(shared, 120) if 40 < len(words(d.body_text)) < 300][:8]
    s = searcher(real_store(tmp_path_factory.mktemp("onnx"), short, onnx), onnx)  # ~20 passages
    for query in queries(s.catalog.engine)[:8]:
        got = s.search(query, limit=20)
        assert got == sequential(s, query, SearchFilters()) and got, query


def test_one_onnx_thread_gives_the_same_vectors_as_two(onnx_model: Path) -> None:
    texts = ["deceptive alignment in mesa optimizers", "Goodhart's law", "日本語 🙂", "x"]
    one = OnnxEmbedder(MODEL, onnx_model)
    two = OnnxEmbedder(MODEL, onnx_model, threads=2)
    assert np.array_equal(np.stack([one.embed_query(t) for t in texts]),
                          np.stack([two.embed_query(t) for t in texts]))


def test_id_lookups_keep_the_old_order_past_one_chunk(hashed: HybridSearcher) -> None:
    engine = hashed.catalog.engine
    with engine.connect() as conn:
        ids = [int(i) for i in conn.execute(text("SELECT id FROM document")).scalars()]
    wanted = (ids[::-1] * 30)[:1200]  # three chunks, each read in the order SQLite sorts it
    expected = []
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            expected += [(int(d), t) for d, t in conn.execute(
                select(Document.id, Document.title).where(
                    Document.id.in_(chunk), Document.title != "",  # type: ignore[union-attr]
                    Document.kind != "comment"))]
    assert Catalog(engine).titles_of(wanted) == expected and len(expected) > 40


def test_store_reads_through_a_memory_map(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar_one() >= 2**30
    engine.dispose()
