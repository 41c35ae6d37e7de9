"""Search latency and memory at 10k, 100k and 1M passages, and cold `tracker search` time.

    .venv/bin/python bench/search_speed.py [--sizes 10000,100000,1000000] [--queries 200]

Each size is a tracker store under .bench/speed-<N>/ built from the real corpus store
(bench/corpus_db.py, after `tracker index`): its passages repeated with a marker word per copy
(so every copy is a distinct FTS row), grouped 10 to a document with the real titles and
authors, and its real MiniLM vectors repeated with Gaussian noise (σ 0.02 per component,
renormalised; copies keep a cosine of ~0.9 to their source, like near-duplicate passages).
The vector index is the shipped one (usearch HNSW f16 in a file beside the database), built
through `UsearchIndex.add` in batches of 10k, as `tracker index` adds them.

Reported per size: build time and peak RSS of the indexing process; warm latency p50/p95 of
the full hybrid search (query embedding, FTS5 bm25, HNSW, fuzzy title/author, fusion) over
the benchmark queries, and of its parts; peak RSS of the searching process; the exact numpy
scan for comparison; cold `tracker search` wall time from the shell. A probe (numpy 1024³
matmul GFLOP/s) is printed next to timings: this machine's speed drifts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus_db import DEFAULT_HOME  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
PER_DOCUMENT = 10
NOISE = 0.02


def probe() -> float:
    """2-thread numpy float32 matmul GFLOP/s (1024³, best of 3)."""
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        a @ a
        best = max(best, 2 * 1024**3 / (time.perf_counter() - started) / 1e9)
    return best


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source_rows(home: Path) -> tuple[list[tuple[Any, ...]], dict[int, np.ndarray]]:
    """Real passages (id, title, authors, text) and their vectors from the corpus store."""
    from tracker.index.sqlite import UsearchIndex, vector_file

    db = home / "tracker.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT p.id, p.title, p.authors, p.text FROM passage p JOIN "
                            "passageembedding e ON e.passage_id = p.id ORDER BY p.id").fetchall()
    vectors = UsearchIndex(vector_file(db, MODEL), MODEL).get([r[0] for r in rows])
    return rows, vectors


def build(size: int, home: Path, target: Path) -> None:
    """Build the store of `size` passages in a child process; print its timings."""
    target.mkdir(parents=True, exist_ok=True)
    if (target / "built.json").exists():
        print(f"[{size}] store exists: {json.loads((target / 'built.json').read_text())}")
        return
    command = [sys.executable, __file__, "--build-one", str(size), "--home", str(home),
               "--target", str(target)]
    subprocess.run(command, check=True)


def build_one(size: int, home: Path, target: Path) -> None:
    """The child process of `build`: documents, passages (FTS by trigger), vectors."""
    os.environ["TRACKER_HOME"] = str(target)
    from tracker.index.backends import open_keyword_index
    from tracker.index.sqlite import UsearchIndex, vector_file
    from tracker.store.engine import make_engine

    rows, vectors = source_rows(home)
    target.mkdir(parents=True, exist_ok=True)
    db = target / "tracker.db"
    engine = make_engine(f"sqlite:///{db}")
    open_keyword_index(engine).ensure()
    engine.dispose()
    rng = np.random.default_rng(size)
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    copies = (size + len(rows) - 1) // len(rows)
    n = 0
    for copy in range(copies):
        batch = rows[: size - n]
        _insert_copy(conn, batch, copy, n)
        n += len(batch)
    conn.commit()
    sql_seconds = time.perf_counter() - started
    index = UsearchIndex(vector_file(db, MODEL), MODEL, 384, writable=True)
    started = time.perf_counter()
    keys = np.arange(1, size + 1, dtype=np.int64)
    source_ids = np.array([r[0] for r in rows])
    for start in range(0, size, 10_000):
        chunk = keys[start : start + 10_000]
        base = np.stack([vectors[int(source_ids[(k - 1) % len(rows)])] for k in chunk])
        copy_of = (chunk - 1) // len(rows)
        noisy = base + (copy_of[:, None] > 0) * rng.normal(0, NOISE, base.shape)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        index.add(chunk.tolist(), noisy.astype(np.float32))
    index.save()
    hnsw_seconds = time.perf_counter() - started
    conn.executemany("INSERT INTO passageembedding (passage_id, model, content_hash) "
                     "SELECT id, ?, content_hash FROM passage WHERE id BETWEEN ? AND ?",
                     [(MODEL, s + 1, s + 100_000) for s in range(0, size, 100_000)])
    conn.commit()
    facts = {"passages": size, "documents": (size + PER_DOCUMENT - 1) // PER_DOCUMENT,
             "sql_fts_seconds": round(sql_seconds, 1), "hnsw_seconds": round(hnsw_seconds, 1),
             "peak_rss_mib": round(peak_rss_mib()),
             "db_mib": round(db.stat().st_size / 2**20),
             "vectors_mib": round(vector_file(db, MODEL).stat().st_size / 2**20)}
    (target / "built.json").write_text(json.dumps(facts))
    print(f"[{size}] built: {facts}")


def _insert_copy(conn: sqlite3.Connection, batch: list[tuple[Any, ...]], copy: int,
                 offset: int) -> None:
    documents, passages = [], []
    for i, (_, title, authors, text) in enumerate(batch):
        pid = offset + i + 1
        doc_id = (pid - 1) // PER_DOCUMENT + 1
        if (pid - 1) % PER_DOCUMENT == 0:
            posted = f"2019-01-01 00:00:{doc_id % 60:02d}.000000"
            documents.append((doc_id, "lesswrong", f"bench{doc_id}", "post",
                              f"https://example.org/{doc_id}",
                              title if copy == 0 else f"{title} ({copy})", posted))
        marked = text if copy == 0 else f"{text} copy{copy}"
        passages.append((pid, doc_id, (pid - 1) % PER_DOCUMENT, 0, len(marked), marked, title,
                         authors, f"{pid:064x}"))
    conn.executemany(
        "INSERT INTO document (id, source, native_id, kind, url, title, posted_at, af, question,"
        " deleted, body_text, content_hash, extra) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, '',"
        " '', '{}')", documents)
    conn.executemany(
        'INSERT INTO passage (id, document_id, ordinal, start, "end", text, title, authors,'
        " content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", passages)


def measure(size: int, target: Path, queries: list[str]) -> None:
    """Warm latency of search and its parts, in a child process (its own peak RSS)."""
    command = [sys.executable, __file__, "--measure-one", str(size), "--target", str(target),
               "--queries-json", json.dumps(queries)]
    # As `tracker search` runs: one BLAS thread (see tracker/cli.py, _single_blas_thread).
    subprocess.run(command, check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def measure_one(size: int, target: Path, queries: list[str]) -> None:
    """The child process of `measure`."""
    os.environ["TRACKER_HOME"] = str(target)
    from tracker.config import load_settings
    from tracker.index.base import SearchFilters
    from tracker.search.searcher import open_searcher
    from tracker.store.engine import make_engine

    settings = load_settings()
    searcher = open_searcher(make_engine(settings.sqlalchemy_url), settings)
    none = SearchFilters()
    started = time.perf_counter()
    searcher.search(queries[0], none)  # first query builds the fuzzy matchers
    first = time.perf_counter() - started
    vectors = {q: searcher.embedder.embed_query(q) for q in queries}
    parts: dict[str, list[float]] = {"embed query": [], "keyword (FTS5 bm25)": [],
                                     "vector (HNSW)": [], "full hybrid search": []}
    gflops = probe()
    for q in queries:
        for name, call in (
            ("embed query", lambda q=q: searcher.embedder.embed_query(q)),
            ("keyword (FTS5 bm25)", lambda q=q: searcher.keyword_hits(q, none)),
            ("vector (HNSW)", lambda q=q: searcher.vector_hits(q, none, vectors[q])),
            ("full hybrid search", lambda q=q: searcher.search(q, none)),
        ):
            started = time.perf_counter()
            call()
            parts[name].append(1000 * (time.perf_counter() - started))
    searching_rss = peak_rss_mib()  # before the exact scan below loads every vector
    exact = _exact_scan_ms(searcher, list(vectors.values())[:20], size)
    print(f"[{size}] first query (builds fuzzy matchers) {first * 1000:.0f} ms; warm, "
          f"{len(queries)} queries, probe {gflops:.0f} GFLOP/s:")
    for name, times in parts.items():
        p50, p95 = statistics.median(times), float(np.percentile(times, 95))
        print(f"[{size}]   {name:22} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    print(f"[{size}]   exact numpy scan (f32, for comparison): {exact}")
    print(f"[{size}]   peak RSS of the searching process: {searching_rss:.0f} MiB")


def _exact_scan_ms(searcher: Any, queries: list[np.ndarray], size: int) -> str:
    """Median ms of a brute-force f32 scan of all vectors (what HNSW replaces)."""
    if size > 1_000_000:
        return "skipped"
    index = searcher.vectors._index
    matrix = index.get(np.arange(1, size + 1, dtype=np.uint64), dtype=np.float32)
    matrix = np.stack(matrix) if isinstance(matrix, tuple) else np.asarray(matrix)
    times = []
    for q in queries:
        started = time.perf_counter()
        scores = matrix @ q
        np.argpartition(-scores, 200)[:200]
        times.append(1000 * (time.perf_counter() - started))
    return f"p50 {statistics.median(times):.1f} ms"


def cold(target: Path, query: str, runs: int = 3) -> str:
    """Wall time of `tracker search QUERY` as a new process, as typed in a shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["TRACKER_HOME"] = str(target)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(REPO / ".venv" / "bin" / "tracker"), "search", query], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--build-one", type=int)
    parser.add_argument("--measure-one", type=int)
    parser.add_argument("--target", type=Path)
    parser.add_argument("--queries-json")
    args = parser.parse_args()
    if args.build_one:
        build_one(args.build_one, args.home, args.target)
        return
    if args.measure_one:
        measure_one(args.measure_one, args.target, json.loads(args.queries_json))
        return
    from bench.search_quality import load_queries

    texts = [q["query"] for q in load_queries()]
    queries = (texts * (args.queries // len(texts) + 1))[: args.queries]
    print(f"cold `tracker search` on the corpus store ({args.home}): {cold(args.home, texts[0])}")
    for size in (int(s) for s in args.sizes.split(",")):
        target = REPO / ".bench" / f"speed-{size}"
        build(size, args.home, target)
        measure(size, target, queries)
        print(f"[{size}] cold `tracker search`: {cold(target, texts[0])}")


if __name__ == "__main__":
    main()
