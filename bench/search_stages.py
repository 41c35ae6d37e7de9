"""Where one warm hybrid search spends its time, stage by stage, on a bench/search_speed.py store.

    .venv/bin/python bench/search_stages.py [--size 100000] [--queries 200] [--profile N]

Opens the store `.bench/speed-<size>/` (built by bench/search_speed.py) as `tracker search`
does (tantivy, ONNX query encoder, one BLAS thread), and for each benchmark query times the
stages of `HybridSearcher.gather` one after the other: hint parsing, query embedding, the
passage keyword list, the document keyword list, the vector list (HNSW and the store check),
author matching and ranking, fuzzy titles; then fusion (`rank`) and the whole `search`.
p50 / p95 per stage, in ms. `--profile N` adds cProfile's top N functions (cumulative) over
the whole `search` calls.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `tracker search` runs

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def open_store(size: int) -> Any:
    """The searcher over `.bench/speed-<size>/` with its default settings."""
    os.environ["TRACKER_HOME"] = str(REPO / ".bench" / f"speed-{size}")
    from tracker.config import load_settings
    from tracker.search.searcher import open_searcher
    from tracker.store.engine import make_engine

    settings = load_settings()
    return open_searcher(make_engine(settings.sqlalchemy_url), settings)


def stages(s: Any, query: str) -> dict[str, Callable[[], Any]]:
    """The stages of one search, each a call that repeats that stage alone."""
    from tracker.index.base import SearchFilters
    from tracker.index.hybrid import parse_hints

    none = SearchFilters()
    text = parse_hints(query).text or query
    vector = s.embedder.embed_query(text) if s.has_vectors else None
    found = s.gather(query, none)
    candidates = {h.document_id for hits in found.lists.values() for h in hits} \
        | set(found.author_docs) | set(found.documents)
    named = [a.author_id for a in s.author_matcher().match(text)]
    return {
        "1 parse hints": lambda: parse_hints(query),
        "2 embed query": lambda: s.embedder.embed_query(text) if s.has_vectors else None,
        "3 keyword passages": lambda: s.keyword_hits(text, none),
        "4 keyword documents": lambda: s.keyword.search_documents(text, 200, none),
        "5 vector (HNSW + keep)": lambda: s.vector_hits(text, none, vector),
        "6 authors (match + rank)": lambda: (s.author_matcher().match(text),
                                             s._author_ranking(text, none, named, vector)),
        "7 fuzzy titles": lambda: s.title_matches(text, candidates),
        "8 fusion (rank)": lambda: s.rank(found, 10),
        "9 whole search": lambda: s.search(query, none),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0, help="top N functions by cProfile")
    args = parser.parse_args()
    from bench.keyword_quality import load_queries

    texts = [q["query"] for q in load_queries(REPO / "bench" / "search_queries.jsonl")]
    queries = (texts * (args.queries // len(texts) + 1))[: args.queries]
    searcher = open_store(args.size)
    searcher.search(queries[0])  # builds the fuzzy matchers
    times: dict[str, list[float]] = {}
    for query in queries:
        for name, call in stages(searcher, query).items():
            started = time.perf_counter()
            call()
            times.setdefault(name, []).append(1000 * (time.perf_counter() - started))
    print(f"[{args.size}] {len(queries)} warm queries, stage by stage (ms):")
    for name in sorted(times):
        p50, p95 = np.percentile(times[name], [50, 95])
        print(f"[{args.size}]   {name:28} p50 {p50:6.1f}   p95 {p95:6.1f}   "
              f"mean {statistics.fmean(times[name]):6.1f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for query in queries:
            searcher.search(query)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
