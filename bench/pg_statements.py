"""Where a PostgreSQL search spends its time: every SQL statement one hybrid search sends, timed
per call, and EXPLAIN (ANALYZE, BUFFERS) of the slowest call of each kind.

    nice -n 10 .venv/bin/python bench/pg_statements.py --size 1000000 [--queries 40] [--explain]

Reads the store bench/search_speed.py --backend postgresql built (database `speed<N>` on the
server under .bench/pg-speed/, replica in .bench/pg-speed/home-<N>/); writes nothing to it.
Per statement kind (the SQL's first 70 characters, ids folded): calls per search and p50 / p95 /
max ms measured around the driver call, so the sum is the time spent in the database and on
the wire, beside the whole search's p50 / p95.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def shape(statement: str) -> str:
    """A statement's kind: whitespace squeezed, bound lists folded, first 70 characters."""
    flat = re.sub(r"\s+", " ", statement)
    flat = re.sub(r"(%\(\w+?)_\d+\)s(, )?", r"\1_n)s", flat)
    return flat[:70]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the slowest of each kind")
    args = parser.parse_args()

    from sqlalchemy import Engine, event

    from bench.keyword_quality import load_queries
    from bench.pg_quality import start_postgres
    from bench.search_speed_pg import FOLDER, database_url, searchers
    from tracker.index.base import SearchFilters

    server, url = start_postgres(FOLDER)
    try:
        pg_url = database_url(url, args.size)
        found = searchers(REPO / ".bench" / f"speed-{args.size}", FOLDER / f"home-{args.size}",
                          pg_url)
        searcher = found["postgresql"]
        engine = searcher.catalog.engine
        calls: dict[str, list[float]] = {}
        slowest: dict[str, tuple[float, str, Any]] = {}
        started: list[float] = []

        @event.listens_for(Engine, "before_cursor_execute")
        def _before(*_: Any) -> None:
            started.append(time.perf_counter())

        @event.listens_for(Engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            ms = 1000 * (time.perf_counter() - started.pop())
            kind = shape(statement)
            calls.setdefault(kind, []).append(ms)
            if ms > slowest.get(kind, (0.0, "", None))[0]:
                slowest[kind] = (ms, statement, parameters)

        texts = [q["query"] for q in load_queries(REPO / "bench" / "search_queries.jsonl")]
        none = SearchFilters()
        searcher.search(texts[0], none)  # warm: fuzzy matchers, author list
        calls.clear()
        slowest.clear()
        whole = []
        for q in (texts * (args.queries // len(texts) + 1))[: args.queries]:
            t = time.perf_counter()
            searcher.search(q, none)
            whole.append(1000 * (time.perf_counter() - t))
        p50, p95 = np.percentile(whole, [50, 95])
        print(f"[{args.size}] {args.queries} hybrid searches: p50 {p50:.1f} ms, p95 {p95:.1f} ms;"
              f" SQL per search {sum(map(sum, calls.values())) / args.queries:.1f} ms in "
              f"{sum(map(len, calls.values())) / args.queries:.1f} statements")
        for kind, times in sorted(calls.items(), key=lambda kv: -sum(kv[1])):
            q50, q95 = np.percentile(times, [50, 95])
            print(f"  {len(times) / args.queries:4.1f}/search  p50 {q50:7.2f}  p95 {q95:7.2f}  "
                  f"max {max(times):7.2f} ms  median-sum {statistics.median(times):.1f}  {kind}")
        if args.explain:
            explain(engine, slowest)
    finally:
        server.cleanup()


def explain(engine: Any, slowest: dict[str, tuple[float, str, Any]]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each kind's slowest call, run again as it was sent."""
    for kind, (ms, statement, parameters) in slowest.items():
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        print(f"\n--- {kind} (slowest call {ms:.1f} ms)")
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                if "embedding <=>" in statement:
                    cur.execute("SET hnsw.ef_search = 200")
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                for (line,) in cur.fetchall():
                    print("   ", line)
        finally:
            raw.rollback()
            raw.close()


if __name__ == "__main__":
    main()
