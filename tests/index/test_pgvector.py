"""pgvector through its own SQLAlchemy type: vectors go in and come back bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from tests.index.conftest import HashEmbedder, doc, put, run_index
from tracker.index.backends import open_vector_index
from tracker.store.engine import make_engine

pytestmark = pytest.mark.postgres


def test_vectors_round_trip_exactly(pg_url: str) -> None:
    engine: Engine = make_engine(pg_url)
    try:
        put(engine, *[doc(f"d{i}", f"Title {i}", f"Body {i}.") for i in range(3)])
        run_index(engine, HashEmbedder())
        index = open_vector_index(engine, "exact-8", 8, writable=True)
        keys = sorted(open_vector_index(engine, "test-hash-64", None, writable=False).keys())
        # float32 values that 7 significant digits cannot carry (1/3, π/10, 1e-8 + tiny)
        vectors = np.array([[1 / 3, np.pi / 10, 1e-8 + 1e-15, -0.1234567891, 2.0 ** -30,
                             0.7071067811865476, -1 / 7, 123.456789]] * len(keys),
                           dtype=np.float32)
        vectors[:, 0] += np.arange(len(keys), dtype=np.float32)
        index.add(keys, vectors)
        got = index.get(keys)
        assert all(got[k].dtype == np.float32 and np.array_equal(got[k], vectors[i])
                   for i, k in enumerate(keys))
        nearest = index.search(vectors[1], 1)
        assert nearest[0][0] == keys[1] and abs(nearest[0][1] - 1.0) < 1e-6
    finally:
        engine.dispose()
