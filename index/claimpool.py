"""Per-document evidence for claim retrieval: whole-document BM25 as one more ranked list.

A post that argues a claim usually does so over several paragraphs, so its words are spread
over passages and no single passage ranks it high; BM25 over the whole post (the document
index of `tantivydocs`, which the search already fuses) sees them together. Each document of
that list is shown through one passage: its best in the claim's other lists, else the one
nearest the claim's embedding, else its first.

Nothing here reads the database beyond the searcher's catalog and indexes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .base import Hit, SearchFilters, Vectors
from .hybrid import HybridSearcher

DOCUMENTS = 100  # documents taken from the document-level list (passage lists take 200 passages)


def document_hits(searcher: HybridSearcher, claim: str, filters: SearchFilters,
                  lists: Mapping[str, Sequence[Hit]], vector: Vectors | None) -> list[Hit]:
    """The claim's whole-document BM25 ranking as hits, each on one passage of its document."""
    ranked = searcher.keyword.search_documents(claim, DOCUMENTS, filters)
    shown: dict[int, int] = {}
    for hits in lists.values():
        for hit in hits:
            shown.setdefault(hit.document_id, hit.passage_id)
    unshown = [d for d, _ in ranked if d not in shown]
    shown.update(_nearest_passages(searcher, unshown, vector))
    return [Hit(shown[d], d, float(score)) for d, score in ranked if d in shown]


def _nearest_passages(searcher: HybridSearcher, document_ids: Sequence[int],
                      vector: Vectors | None) -> dict[int, int]:
    """Each document's passage nearest `vector` (its first without vectors); documents without
    passages are left out. One look-up for the passages and one for their vectors."""
    if not document_ids:
        return {}
    passages = searcher.catalog.passage_ids_of(document_ids)
    if vector is None or searcher.vectors is None:
        return {d: ids[0] for d, ids in passages.items()}
    stored = searcher.vectors.get([p for ids in passages.values() for p in ids])
    nearest = {}
    for document_id, ids in passages.items():
        near = [p for p in ids if p in stored]
        nearest[document_id] = (max(near, key=lambda p: float(np.dot(stored[p], vector)))
                                if near else ids[0])
    return nearest
