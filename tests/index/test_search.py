"""Hybrid search over both backends: edits, deletions, resumption, filters, fuzzy matching."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from tests.index.conftest import T0, HashEmbedder, doc, put, run_index, searcher
from tracker import store
from tracker.index.backends import open_vector_index
from tracker.index.base import SearchFilters, Vectors
from tracker.models import Passage, PassageEmbedding
from tracker.store.engine import session_scope

LONG = " ".join(f"Paragraph {i} talks about gradient descent and loss landscapes in depth."
                for i in range(60))


def corpus() -> list:
    return [
        doc("rl", "Reinforcement learning is supervised learning in disguise",
            "The computational equivalence of RL and supervised learning: policy gradients "
            "reduce to weighted regression on returns.", author="Paul Christiano",
            posted=datetime(2019, 3, 1, tzinfo=UTC), score=120, tags=["AI"], af=True),
        doc("goodhart", "Goodhart Taxonomy",
            "Regressional, extremal, causal and adversarial Goodhart: proxies break under "
            "optimisation pressure.", author="Scott Garrabrant", score=200, tags=["Goodhart"],
            posted=datetime(2018, 1, 1, tzinfo=UTC)),
        doc("ea1", "Cost-effectiveness of bednets", "Malaria nets save lives cheaply.",
            source="eaforum", author="Jane Doe", score=50, posted=datetime(2021, 5, 1, tzinfo=UTC)),
        doc("c1", "", "I disagree: policy gradients are not regression because of exploration.",
            kind="comment", post_id="rl", author="Wei Dai", score=15,
            posted=datetime(2019, 3, 2, tzinfo=UTC)),
        doc("long", "Loss landscapes", LONG, author="Ada Lovelace", posted=T0),
    ]


def found(engine: Engine, embedder: HashEmbedder, query: str,
          filters: SearchFilters | None = None) -> list[str]:
    results = searcher(engine, embedder).search(query, filters, limit=10)
    docs = searcher(engine, embedder).catalog.documents(r.document_id for r in results)
    return [docs[r.document_id].native_id for r in results]


def count(engine: Engine, model: object) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_index_then_search_finds_posts_and_comments(engine: Engine,
                                                    embedder: HashEmbedder) -> None:
    put(engine, *corpus())
    report = run_index(engine, embedder)
    assert report.documents == 5 and report.embedded == count(engine, Passage) > 5
    assert found(engine, embedder, "RL supervised learning equivalent")[0] == "rl"
    assert found(engine, embedder, "proxies break under optimization")[0] == "goodhart"
    comment = found(engine, embedder, "policy gradients exploration disagree")[0]
    assert comment == "c1"
    results = searcher(engine, embedder).search("policy gradients exploration disagree")
    info = searcher(engine, embedder).catalog.documents([results[0].document_id])
    assert info[results[0].document_id].post.native_id == "rl"  # a comment shows its post
    again = run_index(engine, embedder)
    assert (again.documents, again.embedded) == (0, 0)  # nothing new: nothing embedded


def test_passages_have_offsets_into_body_text(engine: Engine, embedder: HashEmbedder) -> None:
    put(engine, doc("long", "Loss landscapes", LONG))
    run_index(engine, embedder)
    with session_scope(engine) as session:
        rows = session.execute(select(Passage).order_by(Passage.ordinal)).scalars().all()
        assert len(rows) >= 3
        assert all(LONG[p.start : p.end] == p.text for p in rows)
        assert rows[0].start == 0 and rows[-1].end == len(LONG)


def test_edited_document_is_reembedded_and_deleted_one_dropped(
    engine: Engine, embedder: HashEmbedder
) -> None:
    put(engine, *corpus())
    run_index(engine, embedder)
    before = count(engine, PassageEmbedding)
    put(engine, doc("goodhart", "Goodhart Taxonomy", "Completely rewritten: about wireheading "
                    "and tampering with reward sensors.", author="Scott Garrabrant"))
    report = run_index(engine, embedder)
    assert (report.documents, report.passages_removed, report.embedded) == (1, 1, 1)
    assert count(engine, PassageEmbedding) == before
    assert found(engine, embedder, "wireheading reward sensors")[0] == "goodhart"
    stale = searcher(engine, embedder).keyword_hits("regressional extremal adversarial",
                                                    SearchFilters())
    assert stale == []  # the old text is gone from the keyword index
    vectors = open_vector_index(engine, embedder.name, None, writable=False)
    assert vectors.count() == count(engine, Passage)
    put(engine, doc("rl", "Reinforcement learning is supervised learning in disguise", "gone",
                    author="Paul Christiano", deleted=True))
    assert "rl" not in found(engine, embedder, "RL supervised learning equivalent")
    report = run_index(engine, embedder)
    assert report.passages_removed == 1
    assert open_vector_index(engine, embedder.name, None, writable=False).count() \
        == count(engine, Passage)


class Failing(HashEmbedder):
    """Fails on its third call, as a crash in the middle of `tracker index` would."""

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        if self.calls == 2:
            raise RuntimeError("boom")
        return super().embed_batch(texts)


def test_interrupted_index_resumes_where_it_stopped(engine: Engine) -> None:
    put(engine, *[doc(f"d{i}", f"Title {i}", f"Body number {i} about topic {i % 7}.")
                  for i in range(40)])
    with pytest.raises(RuntimeError, match="boom"):
        run_index(engine, Failing(), group_size=8)
    # Two groups of 8 were saved and recorded; the vector file and the records agree.
    assert count(engine, PassageEmbedding) == 16
    partial = open_vector_index(engine, "test-hash-64", None, writable=False)
    assert partial.count() == 16
    resumed = HashEmbedder()
    report = run_index(engine, resumed, group_size=8)
    assert report.embedded == 24 and report.documents == 0
    assert count(engine, PassageEmbedding) == 40
    assert open_vector_index(engine, "test-hash-64", None, writable=False).count() == 40
    assert found(engine, resumed, "Body number 33")[0] == "d33"


def test_changing_the_model_reembeds_without_mixing(engine: Engine) -> None:
    put(engine, *corpus())
    first, second = HashEmbedder(), HashEmbedder(dim=32, name="test-hash-32")
    run_index(engine, first)
    report = run_index(engine, second)
    assert report.embedded == count(engine, Passage)
    assert open_vector_index(engine, "test-hash-32", None, writable=False).dim == 32
    assert open_vector_index(engine, "test-hash-64", None, writable=False).dim == 64
    assert found(engine, second, "Goodhart proxies")[0] == "goodhart"


def test_filters_combine(engine: Engine, embedder: HashEmbedder) -> None:
    put(engine, *corpus())
    run_index(engine, embedder)
    query = "policy gradients regression learning"
    assert set(found(engine, embedder, query)) >= {"rl", "c1"}
    assert found(engine, embedder, query, SearchFilters(kinds=("comment",))) == ["c1"]
    strong_posts = SearchFilters(kinds=("post",), min_score=100)
    assert found(engine, embedder, query, strong_posts) == ["rl", "goodhart"]
    assert found(engine, embedder, query, SearchFilters(authors=("christ",))) == ["rl"]
    assert found(engine, embedder, query, SearchFilters(sources=("alignmentforum",))) == ["rl"]
    assert found(engine, embedder, "nets malaria", SearchFilters(sources=("eaforum",))) == ["ea1"]
    assert found(engine, embedder, query, SearchFilters(tags=("ai",))) == ["rl"]
    since = SearchFilters(since=datetime(2019, 3, 2, tzinfo=UTC),
                          until=datetime(2019, 4, 1, tzinfo=UTC))
    assert found(engine, embedder, query, since) == ["c1"]
    none = SearchFilters(kinds=("comment",), min_score=100)
    assert found(engine, embedder, query, none) == []


def test_misspelt_author_and_partial_title_land(engine: Engine, embedder: HashEmbedder) -> None:
    put(engine, *corpus(), *[doc(f"x{i}", f"Unrelated note {i}", f"Filler text {i} on taxes.",
                                 author=f"Writer {i}") for i in range(20)])
    run_index(engine, embedder)
    assert found(engine, embedder, "something by Paul Christano about learning")[0] == "rl"
    assert found(engine, embedder, "goodhart taxonmy")[0] == "goodhart"
    assert found(engine, embedder, "the EA forum post on bednets")[0] == "ea1"


def test_similar_documents(engine: Engine, embedder: HashEmbedder) -> None:
    put(engine, *corpus(), doc("rl2", "More on RL as regression",
                               "Policy gradients reduce to weighted regression on returns, "
                               "supervised learning style."))
    run_index(engine, embedder)
    search = searcher(engine, embedder)
    with session_scope(engine) as session:
        rl = store.get_document(session=session, ref="lesswrong:rl").id
    assert rl is not None
    similar = search.similar(rl, limit=3)
    assert similar and rl not in [r.document_id for r in similar]
    names = search.catalog.documents([similar[0].document_id])
    assert names[similar[0].document_id].native_id == "rl2"


@pytest.mark.postgres
def test_sqlite_and_postgres_give_the_same_top_results(tmp_path, pg_url: str) -> None:
    from tracker.store.engine import make_engine

    queries = ["RL supervised learning equivalent", "Goodhart proxies optimisation",
               "malaria nets", "policy gradients exploration", "gradient descent loss landscapes",
               "Paul Christano", "goodhart taxonmy"]
    tops = []
    for url in (f"sqlite:///{tmp_path / 'same.db'}", pg_url):
        engine = make_engine(url)
        try:
            put(engine, *corpus())
            run_index(engine, HashEmbedder())
            tops.append([found(engine, HashEmbedder(), q)[:1] for q in queries])
        finally:
            engine.dispose()
    assert tops[0] == tops[1]
    assert all(top for top in tops[0])


def test_vector_search_is_exact_within_small_filters(engine: Engine,
                                                     embedder: HashEmbedder) -> None:
    # 300 posts near the query and 25 far from it: top-k then filtering (approximate search)
    # would find none of the 25; the exact scan over the filtered passages returns all of
    # them, in exact cosine order.
    near = [doc(f"n{i}", f"Malaria nets {i}", f"Malaria nets save lives {i}.")
            for i in range(300)]
    far = [doc(f"f{i}", f"Tax note {i}", f"Quarterly tax filing rules {i} and audits.",
               source="eaforum") for i in range(25)]
    put(engine, *near, *far)
    run_index(engine, embedder)
    search = searcher(engine, embedder)
    vector = embedder.embed_query("malaria nets save lives")
    hits = search.vector_hits("", SearchFilters(sources=("eaforum",)), vector=vector)
    passages = search.catalog.passages(h.passage_id for h in hits)
    titles = {p.title for p in passages.values()}
    assert titles == {f"Tax note {i}" for i in range(25)}
    stored = search.vectors.get([h.passage_id for h in hits])
    expected = sorted(((float(stored[h.passage_id] @ vector), h.passage_id) for h in hits),
                      key=lambda pair: -pair[0])
    assert [h.passage_id for h in hits] == [pid for _, pid in expected]
    assert np.allclose([h.score for h in hits], [score for score, _ in expected], atol=1e-5)
