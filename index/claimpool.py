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
    out = []
    for document_id, score in ranked:
        passage = shown.get(document_id) or _nearest_passage(searcher, document_id, vector)
        if passage is not None:
            out.append(Hit(passage, document_id, float(score)))
    return out


def _nearest_passage(searcher: HybridSearcher, document_id: int,
                     vector: Vectors | None) -> int | None:
    """The document's passage nearest `vector` (its first without vectors), None if empty."""
    ids = [p.id for p in searcher.catalog.document_passages(document_id)]
    if not ids:
        return None
    if vector is None or searcher.vectors is None:
        return ids[0]
    stored = searcher.vectors.get(ids)
    if not stored:
        return ids[0]
    return max(stored, key=lambda p: float(np.dot(stored[p], vector)))
