"""One contract for the vector and keyword backends: SQLite (FTS5 + usearch) and PostgreSQL
(full-text search + pgvector), each over a real database."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from tests.index.conftest import HashEmbedder, doc, put, run_index
from tracker.errors import IndexBackendError
from tracker.index.backends import open_keyword_index, open_vector_index
from tracker.index.base import SearchFilters

HOSTILE = [
    '"', '""', "'", "AND(", "AND", "OR", "NOT", "*", "-", "--", "^", ":", "NEAR", "NEAR(a b)",
    'unbalanced "quote', "col:value", "title:alignment", "a AND (b OR", "(((", "))", "{}",
    "\\", "%", "_", "'; DROP TABLE passage; --", "日本語のテキスト", "安全性", "🙂", "🙂🙃 🤖",
    "\x00", "\u202e", "x" * 10_000, ("alignment " * 2_000).strip(), "   ", "",
]


def unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def stored_passages(engine: Engine, n: int) -> list[int]:
    """Create documents so that passage ids 1..n exist (vector tables reference them)."""
    put(engine, *[doc(f"d{i}", f"Title {i}", f"body {i}") for i in range(n)])
    run_index(engine, HashEmbedder(name="other"), group_size=64)
    from sqlalchemy import text

    with engine.connect() as conn:
        return [int(r) for r in conn.execute(text("SELECT id FROM passage ORDER BY id")).scalars()]


def test_vector_index_add_search_remove_count(engine: Engine) -> None:
    keys = stored_passages(engine, 4)
    index = open_vector_index(engine, "contract-model", 3, writable=True)
    assert index.count() == 0 and index.search(unit([[1, 0, 0]])[0], 3) == []
    index.add(keys[:3], unit([[1, 0, 0], [0, 1, 0], [1, 1, 0]]))
    index.save()
    assert index.count() == 3 and index.keys() == set(keys[:3])
    found = index.search(unit([[1, 0.1, 0]])[0], 2)
    assert [k for k, _ in found] == [keys[0], keys[2]]
    assert found[0][1] == pytest.approx(0.995, abs=0.01)
    exact = index.search(unit([[1, 0.1, 0]])[0], 5, among=[keys[1], keys[2]])
    assert [k for k, _ in exact] == [keys[2], keys[1]]
    index.add([keys[0]], unit([[0, 0, 1]]))  # replaces
    assert index.count() == 3
    assert index.search(unit([[0, 0, 1]])[0], 1)[0][0] == keys[0]
    assert index.remove([keys[1], 999_999]) == 1
    index.save()
    assert index.count() == 2 and index.keys() == {keys[0], keys[2]}
    got = index.get([keys[0], keys[1]])
    assert list(got) == [keys[0]] and got[keys[0]] == pytest.approx(unit([[0, 0, 1]])[0], abs=1e-3)
    index.close()
    reopened = open_vector_index(engine, "contract-model", None, writable=False)
    assert reopened.dim == 3 and reopened.count() == 2


def test_vectors_of_another_dimension_are_refused(engine: Engine) -> None:
    keys = stored_passages(engine, 1)
    index = open_vector_index(engine, "contract-model", 3, writable=True)
    index.add(keys, unit([[1, 0, 0]]))
    index.save()
    index.close()
    with pytest.raises(IndexBackendError, match="dimension"):
        open_vector_index(engine, "contract-model", 4, writable=True)
    with pytest.raises(IndexBackendError):
        index = open_vector_index(engine, "contract-model", 3, writable=True)
        index.add(keys, unit([[1, 0, 0, 0]]))


def test_keyword_search_ranks_title_and_body_and_authors(engine: Engine) -> None:
    put(engine,
        doc("a", "Corrigibility", "An agent that lets itself be corrected by its operators."),
        doc("b", "Mesa-optimization", "Learned optimizers inside trained models; corrigibility "
            "comes up once.", author="Evan Hubinger"),
        doc("c", "Cooking", "Pasta with tomatoes."))
    run_index(engine, HashEmbedder())
    keyword = open_keyword_index(engine)
    hits = keyword.search("corrigibility", 10, SearchFilters())
    assert [h.document_id for h in hits][:2] and len(hits) == 2
    titles = {h.document_id for h in hits}
    assert hits[0].score >= hits[1].score
    assert keyword.search("hubinger", 10, SearchFilters())[0].document_id in titles
    assert keyword.search("corrected operator", 10, SearchFilters())  # stemming
    assert keyword.count() == 3


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_never_raise(engine: Engine, query: str) -> None:
    put(engine, doc("a", "AND NEAR OR", "alignment 日本語のテキスト quote * - NEAR"))
    run_index(engine, HashEmbedder())
    hits = open_keyword_index(engine).search(query, 10, SearchFilters())
    assert isinstance(hits, list)
