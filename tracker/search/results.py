"""Search results looked up once for every front end (CLI text, --json, the TUI):

documents, passages, snippets with the query words marked.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from tracker.index.base import SearchFilters
from tracker.index.catalog import Catalog, DocumentInfo, PassageInfo
from tracker.index.hybrid import SearchResult
from tracker.index.query import highlight_spans
from tracker.text import clean_text

_SNIPPET_WORDS = 60


class Found(NamedTuple):
    """A search result with its document and best passage looked up."""

    rank: int
    result: SearchResult
    document: DocumentInfo
    passage: PassageInfo | None


def look_up(results: Sequence[SearchResult], catalog: Catalog) -> list[Found]:
    """The results' documents and passages, in two queries; results whose document is gone
    are left out (ranks keep counting them)."""
    docs = catalog.documents(r.document_id for r in results)
    passages = catalog.passages(r.passage_id for r in results if r.passage_id is not None)
    found = []
    for rank, result in enumerate(results, start=1):
        doc = docs.get(result.document_id)
        if doc is not None:
            passage = passages.get(result.passage_id) if result.passage_id is not None else None
            found.append(Found(rank, result, doc, passage))
    return found


def results_json(query: str, results: Sequence[SearchResult], catalog: Catalog,
                 filters: SearchFilters) -> dict[str, Any]:
    """The `tracker search --json` / `tracker similar --json` document."""
    rows = []
    for rank, result, doc, passage in look_up(results, catalog):
        rows.append({
            "rank": rank,
            "score": round(result.score, 6),
            "document": _document_json(doc),
            "post": _document_json(doc.post) if doc.post is not None else None,
            "passage": None if passage is None else {
                "id": passage.id, "ordinal": passage.ordinal, "start": passage.start,
                "end": passage.end, "text": clean_text(passage.text),
                "highlights": [list(span) for span in highlight_spans(passage.text, query)],
            },
            "matched": {"keyword_rank": result.keyword_rank, "vector_rank": result.vector_rank,
                        "title": result.title_coverage, "author": result.author},
        })
    return {"query": query, "filters": _filters_json(filters), "results": rows}


def _document_json(doc: DocumentInfo) -> dict[str, Any]:
    return {"id": doc.id, "source": doc.source, "native_id": doc.native_id, "kind": doc.kind,
            "title": clean_text(doc.title), "url": doc.url,
            "authors": [clean_text(a) for a in doc.authors],
            "posted_at": doc.posted_at.isoformat() if doc.posted_at else None,
            "karma": doc.score, "af": doc.af}


def _filters_json(filters: SearchFilters) -> dict[str, Any]:
    return {"source": list(filters.sources), "kind": list(filters.kinds),
            "author": list(filters.authors), "tag": list(filters.tags),
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "min_score": filters.min_score}


def snippet_spans(text: str, query: str) -> tuple[str, list[tuple[int, int]]]:
    """About 60 words of a passage around its densest matches, on one line, and the spans of
    the query words in it."""
    text = clean_text(text)
    spans = highlight_spans(text, query)
    words = [m.span() for m in re.finditer(r"\S+", text)]
    start, end = 0, len(text)
    if len(words) > _SNIPPET_WORDS:
        first = _densest_window(words, spans)
        last = min(first + _SNIPPET_WORDS, len(words)) - 1
        start, end = words[first][0], words[last][1]
    lead = "…" if start else ""
    snippet = lead + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")
    shift = len(lead) - start
    inside = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return snippet, inside




def _densest_window(words: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> int:
    """Index of the first word of the window with the most highlighted words."""
    starts = sorted(s for s, _ in spans)
    best, best_count = 0, -1
    for first in range(0, max(len(words) - _SNIPPET_WORDS, 0) + 1, 5):
        last = min(first + _SNIPPET_WORDS, len(words)) - 1
        lo, hi = words[first][0], words[last][1]
        count = bisect.bisect_right(starts, hi) - bisect.bisect_left(starts, lo)
        if count > best_count:
            best, best_count = first, count
    return best
