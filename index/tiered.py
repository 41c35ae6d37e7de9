"""Two-tier vector search: static-model candidates, re-scored by the main model (MiniLM).

The static model (`static.StaticEmbedder`) finds candidates over every passage it has
embedded, which a bulk backfill reaches first because it embeds passages ~50-100x faster; the
main model's stored vectors then re-order the top `rescore` candidates. A candidate without a
main vector yet (a backfill in progress) keeps its static place: only the places held by
passages that have main vectors are re-sorted among themselves, so an unfinished backfill
degrades to static order instead of hiding passages.

To `HybridSearcher` the pair is one `VectorIndex` and one `Embedder`: a query vector is the
static and main query vectors side by side, which `TieredVectors.search` splits again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .base import Embedder, VectorIndex, Vectors

RESCORE = 100  # static candidates that the main model re-orders (tuned on nothing: a round cap)


class TieredEmbedder(Embedder):
    """Embeds a query with both models: `[static vector, main vector]`, each of unit length."""

    def __init__(self, static: Embedder, main: Embedder) -> None:
        self.static, self.main = static, main
        self.name = static.name
        self.dim = static.dim + main.dim

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Both models' vectors, side by side (each half is unit length, the row √2)."""
        return np.hstack([self.static.embed_batch(texts), self.main.embed_batch(texts)])


class TieredVectors(VectorIndex):
    """The static index searched first, the main index's vectors re-scoring the top.

    Args:
        static: vectors of the static model (its `model` names the hits' records).
        main: vectors of the main model, possibly fewer or none yet.
        rescore: how many static candidates the main model re-orders.
    """

    def __init__(self, static: VectorIndex, main: VectorIndex, rescore: int = RESCORE) -> None:
        self.static, self.main, self.rescore = static, main, rescore
        self.model = static.model
        self.dim = static.dim + main.dim

    def search(self, vector: Vectors, k: int, *,
               among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Static candidates re-scored by the main model; a main-only vector (`similar`'s
        mean of main vectors) searches the main index, a static-only one the static index."""
        if len(vector) == self.main.dim and self.main.count():
            return self.main.search(vector, k, among=among)
        if len(vector) != self.dim:
            return self.static.search(vector, k, among=among)
        query_static, query_main = vector[: self.static.dim], vector[self.static.dim:]
        pairs = self.static.search(query_static, max(k, self.rescore), among=among)
        return rescore(pairs[: self.rescore], self.main.get([key for key, _ in pairs[
            : self.rescore]]), query_main)[:k] + pairs[self.rescore: k]

    def get(self, keys: Sequence[int]) -> dict[int, Vectors]:
        """The main model's vectors where there are any, else the static model's."""
        return self.main.get(keys) or self.static.get(keys)

    def keys(self) -> set[int]:
        """Passages with a static vector (what candidates come from)."""
        return self.static.keys()

    def count(self) -> int:
        """Passages with a static vector."""
        return self.static.count()

    def add(self, keys: Sequence[int], vectors: Vectors) -> None:
        """Not supported: each tier is written by `tracker index` on its own."""
        raise NotImplementedError("index each tier through its own VectorIndex")

    def remove(self, keys: Iterable[int]) -> int:
        """Not supported (see `add`)."""
        raise NotImplementedError("index each tier through its own VectorIndex")

    def close(self) -> None:
        """Close both tiers."""
        self.static.close()
        self.main.close()


def rescore(pairs: Sequence[tuple[int, float]], main: dict[int, Vectors],
            query: Vectors) -> list[tuple[int, float]]:
    """Re-sort the places held by passages with a main vector by its cosine; others stay."""
    slots = [i for i, (key, _) in enumerate(pairs) if key in main]
    if not slots:
        return list(pairs)
    keys = [pairs[i][0] for i in slots]
    scores = np.stack([main[key] for key in keys]) @ query
    order = sorted(range(len(keys)), key=lambda j: -float(scores[j]))
    result = list(pairs)
    for slot, j in zip(slots, order, strict=True):
        result[slot] = (keys[j], float(scores[j]))
    return result
