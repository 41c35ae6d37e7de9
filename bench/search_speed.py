"""Search latency and memory at 10k, 100k and 1M passages, both keyword engines side by side,
and cold `tracker search` time.

    .venv/bin/python bench/search_speed.py [--sizes 100000,1000000] [--queries 200]
        [--no-vectors 1000000] [--backend postgresql]

Each size is a tracker store under .bench/speed-<N>/ built from the real passages of the
keyword-quality store (bench/keyword_quality.py: the 8,424 corpus posts with a body, 57k
passages): passages repeated with a marker word per copy (so every copy is a distinct row),
grouped 10 to a document with the real titles and authors. Both keyword engines index it:
FTS5 by its triggers as rows go in, tantivy by `sync_keywords` (as `tracker index` does).
Vectors: the packaged MiniLM embeds the first 64 words of the first SEEDS passages once
(cached); passage i gets
seed i mod SEEDS plus Gaussian noise (σ 0.02 per component, renormalised), in the shipped
usearch HNSW f16 file, added in batches of 10k. Sizes named in --no-vectors get none (the
keyword side is measured alone there).

Reported per size: build times; warm latency p50/p95/p99 of keyword search and of the full
search (hybrid where vectors exist: query embedding, keyword, HNSW, fuzzy title/author,
fusion) for tantivy and FTS5, interleaved query by query in random order so that the
machine's drift hits both alike, with the probe (numpy 1024³ matmul GFLOP/s) taken every 20
queries and printed beside; peak RSS; cold `tracker search` wall time from the shell for
each engine.

With `--backend postgresql` the same store is also built in PostgreSQL
(bench/search_speed_pg.py: COPY, pgvector HNSW, the tantivy replica) and the two backends are
measured instead of the two engines: SQLite (tantivy + usearch) and PostgreSQL (tantivy
replica + pgvector) open in one process, calls interleaved as above.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.keyword_quality import STORE as DEFAULT_HOME  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
PER_DOCUMENT = 10
NOISE = 0.02
SEEDS = 256  # passages embedded (first 64 words): 2,000 whole ones took over 10 min here
ENGINES = ("tantivy", "fts5")


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


def source_rows(home: Path) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    """Real passages (id, title, authors, text) of the store at `home` (built by
    bench/keyword_quality.py when missing), and the MiniLM vectors of the first SEEDS."""
    from bench.keyword_quality import build_store

    if not (home / "tracker.db").exists():  # an existing store (the evaluation store) is only read
        build_store(home).dispose()
    with sqlite3.connect(home / "tracker.db") as conn:
        rows = conn.execute("SELECT id, title, authors, text FROM passage ORDER BY id").fetchall()
    cache = home / f"seed-vectors-{SEEDS}.npy"
    if not cache.exists():
        from tracker.index.embedder import SentenceTransformerEmbedder

        started = time.perf_counter()
        vectors = SentenceTransformerEmbedder(MODEL).embed_batch(
            [" ".join(f"{r[1]}\n{r[3]}".split()[:64]) for r in rows[:SEEDS]])
        np.save(cache, vectors)
        print(f"embedded {SEEDS} seed passages in {time.perf_counter() - started:.0f} s")
    return rows, np.load(cache)


def build(size: int, home: Path, target: Path, vectors: bool) -> None:
    """Build the store of `size` passages in a child process; print its timings."""
    target.mkdir(parents=True, exist_ok=True)
    if (target / "built.json").exists():
        print(f"[{size}] store exists: {json.loads((target / 'built.json').read_text())}")
        return
    command = [sys.executable, __file__, "--build-one", str(size), "--home", str(home),
               "--target", str(target)] + ([] if vectors else ["--no-vectors", str(size)])
    subprocess.run(command, check=True)


def _query_encoder(home: Path) -> None:
    """The ONNX query encoder `tracker index` exports beside vectors of the packaged model
    (copied from the source store when it has one): without it a cold search loads torch."""
    import shutil

    from tracker.index.onnx_embedder import export_onnx, onnx_folder

    folder = onnx_folder(MODEL)
    if folder.exists():
        return
    source = home / "models" / folder.name
    if source.exists():
        shutil.copytree(source, folder)
    else:
        export_onnx(MODEL, folder)


def build_one(size: int, home: Path, target: Path, with_vectors: bool) -> None:
    """The child process of `build`: documents, passages (FTS5 by trigger), tantivy, vectors."""
    os.environ["TRACKER_HOME"] = str(target)
    from tracker.index.sqlite import SqliteKeywordIndex
    from tracker.search.keywords import sync_keywords
    from tracker.store.engine import make_engine

    rows, seeds = source_rows(home)
    target.mkdir(parents=True, exist_ok=True)
    db = target / "tracker.db"
    engine = make_engine(f"sqlite:///{db}")
    SqliteKeywordIndex(engine).ensure()  # FTS5 triggers before the rows
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    insert_rows(conn, rows, size)
    conn.commit()
    conn.close()
    facts: dict[str, Any] = {"passages": size, "documents": -(-size // PER_DOCUMENT),
                             "sql_fts5_seconds": round(time.perf_counter() - started, 1)}
    started = time.perf_counter()
    sync_keywords(engine)
    facts["tantivy_seconds"] = round(time.perf_counter() - started, 1)
    if with_vectors:
        facts["hnsw_seconds"] = _add_vectors(db, size, seeds)
        _query_encoder(home)
    facts.update(peak_rss_mib=round(peak_rss_mib()), db_mib=round(db.stat().st_size / 2**20),
                 tantivy_mib=round(sum(f.stat().st_size for f in db.with_name(
                     f"{db.name}.tantivy").iterdir()) / 2**20), vectors=with_vectors)
    (target / "built.json").write_text(json.dumps(facts))
    print(f"[{size}] built: {facts}")


def noisy_vectors(size: int, seeds: np.ndarray) -> Iterator[tuple[list[int], np.ndarray]]:
    """Passage ids 1..size in chunks of 10k with their vectors: seed `(id - 1) mod len(seeds)`
    plus Gaussian noise (σ NOISE, renormalised; the seeds themselves exact), the same on every
    backend for a given size."""
    rng = np.random.default_rng(size)
    keys = np.arange(1, size + 1, dtype=np.int64)
    for start in range(0, size, 10_000):
        chunk = keys[start : start + 10_000]
        base = seeds[(chunk - 1) % len(seeds)]
        noisy = base + (chunk[:, None] > len(seeds)) * rng.normal(0, NOISE, base.shape)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        yield chunk.tolist(), noisy.astype(np.float32)


def _add_vectors(db: Path, size: int, seeds: np.ndarray) -> float:
    """Seed vectors with noise for every passage, recorded as embedded; seconds taken."""
    from tracker.index.sqlite import UsearchIndex, vector_file

    index = UsearchIndex(vector_file(db, MODEL), MODEL, 384, writable=True)
    started = time.perf_counter()
    for keys, vectors in noisy_vectors(size, seeds):
        index.add(keys, vectors)
    index.save()
    seconds = round(time.perf_counter() - started, 1)
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO passageembedding (passage_id, model, content_hash) "
                         "SELECT id, ?, content_hash FROM passage WHERE id BETWEEN ? AND ?",
                         [(MODEL, s + 1, s + 100_000) for s in range(0, size, 100_000)])
    return seconds


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], size: int) -> None:
    """`size` passages from `rows` (id, title, authors, text), repeated with a marker word."""
    n = 0
    for copy in range(-(-size // len(rows))):
        batch = rows[: size - n]
        _insert_copy(conn, batch, copy, n)
        n += len(batch)


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


def measure(size: int, target: Path, queries: list[str], pg: str = "") -> None:
    """Warm latency of both engines (or, given a PostgreSQL URL, both backends), in a child
    process (its own peak RSS)."""
    command = [sys.executable, __file__, "--measure-one", str(size), "--target", str(target),
               "--queries-json", json.dumps(queries)] + (["--pg-url", pg] if pg else [])
    # As `tracker search` runs: one BLAS thread (see tracker/cli/context.py).
    subprocess.run(command, check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def _searchers(target: Path) -> dict[str, Any]:
    """One searcher per keyword engine, opened as `tracker search` opens it."""
    os.environ["TRACKER_HOME"] = str(target)
    from tracker.config import load_settings
    from tracker.search.searcher import open_searcher
    from tracker.store.engine import make_engine

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    found = {}
    for kind in ENGINES:
        index = settings.index.model_copy(update={"keyword_engine": kind})
        found[kind] = open_searcher(engine, settings.model_copy(update={"index": index}))
    return found


def measure_one(size: int, target: Path, queries: list[str], pg: str = "") -> None:
    """The child process of `measure`: every (engine, part) call of a query in random order."""
    from tracker.index.base import SearchFilters

    if pg:
        from bench.search_speed_pg import FOLDER
        from bench.search_speed_pg import searchers as backends

        searchers = backends(target, FOLDER / f"home-{size}", pg)
    else:
        searchers = _searchers(target)
    none = SearchFilters()
    for searcher in searchers.values():
        searcher.search(queries[0], none)  # the first query builds the fuzzy matchers
    times: dict[str, list[float]] = {}
    probes: list[float] = []
    rng = random.Random(size)
    full = "hybrid" if next(iter(searchers.values())).has_vectors else "full search (no vectors)"
    for i, q in enumerate(queries):
        if i % 20 == 0:
            probes.append(probe())
        calls = [(f"{kind} keyword", lambda s=s, q=q: s.keyword_hits(q, none))
                 for kind, s in searchers.items()]
        calls += [(f"{kind} document keywords",
                   lambda s=s, q=q: s.keyword.search_documents(q, 200, none))
                  for kind, s in searchers.items() if kind != "fts5"]
        calls += [(f"{kind} {full}", lambda s=s, q=q: s.search(q, none))
                  for kind, s in searchers.items()]
        if full == "hybrid":  # the parts both engines share (on two backends: vectors each)
            one = next(iter(searchers.values()))
            vector = one.embedder.embed_query(q)
            calls += [("  embed query", lambda s=one, q=q: s.embedder.embed_query(q))]
            calls += [(f"  {kind} vector (HNSW)" if pg else "  vector (HNSW)",
                       lambda s=s, q=q, v=vector: s.vector_hits(q, none, v))
                      for kind, s in searchers.items() if pg or s is one]
        rng.shuffle(calls)
        for name, call in calls:
            started = time.perf_counter()
            call()
            times.setdefault(name, []).append(1000 * (time.perf_counter() - started))
    probes.append(probe())
    print(f"[{size}] warm, {len(queries)} queries, interleaved; probe GFLOP/s min "
          f"{min(probes):.0f} median {statistics.median(probes):.0f} max {max(probes):.0f}:")
    for name in sorted(times):
        p50, p95, p99 = np.percentile(times[name], [50, 95, 99])
        print(f"[{size}]   {name:34} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   p99 {p99:7.1f} ms")
    print(f"[{size}]   peak RSS of the searching process (both engines open): "
          f"{peak_rss_mib():.0f} MiB")


def cold(target: Path, query: str, engine: str, runs: int = 3) -> str:
    """Wall time of `tracker search QUERY` as a new process, as typed in a shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["TRACKER_HOME"] = str(target)
    env["TRACKER_INDEX__KEYWORD_ENGINE"] = engine
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(REPO / ".venv" / "bin" / "tracker"), "search", query], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-vectors", default="", help="sizes built without vectors")
    parser.add_argument("--build-one", type=int)
    parser.add_argument("--measure-one", type=int)
    parser.add_argument("--target", type=Path)
    parser.add_argument("--queries-json")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: also build each size in PostgreSQL and compare")
    parser.add_argument("--build-pg", type=int)
    parser.add_argument("--pg-url", default="")
    args = parser.parse_args()
    bare = {int(s) for s in args.no_vectors.split(",") if s}
    if args.build_one:
        build_one(args.build_one, args.home, args.target, args.build_one not in bare)
        return
    if args.build_pg:
        from bench.search_speed_pg import build_one as build_pg

        build_pg(args.build_pg, args.home, args.target, args.pg_url)
        return
    if args.measure_one:
        measure_one(args.measure_one, args.target, json.loads(args.queries_json), args.pg_url)
        return
    from bench.keyword_quality import load_queries

    # The benchmark queries (not the held-out set); read here, not through
    # bench/search_quality.py, which is being rewritten.
    texts = [q["query"] for q in load_queries(REPO / "bench" / "search_queries.jsonl")]
    queries = (texts * (args.queries // len(texts) + 1))[: args.queries]
    if args.backend == "postgresql":
        both_backends(args, bare, queries)
        return
    for size in (int(s) for s in args.sizes.split(",")):
        target = REPO / ".bench" / f"speed-{size}"
        build(size, args.home, target, size not in bare)
        measure(size, target, queries)
        for engine in ENGINES:
            print(f"[{size}] cold `tracker search` ({engine}): {cold(target, texts[0], engine)}")


def both_backends(args: argparse.Namespace, bare: set[int], queries: list[str]) -> None:
    """Each size on SQLite and on PostgreSQL (a server from the wheel), measured together."""
    from bench.pg_quality import start_postgres
    from bench.search_speed_pg import FOLDER, database_url

    FOLDER.mkdir(parents=True, exist_ok=True)
    server, url = start_postgres(FOLDER)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            if size in bare:
                raise SystemExit("--backend postgresql measures hybrid search: drop --no-vectors")
            target = REPO / ".bench" / f"speed-{size}"
            build(size, args.home, target, True)
            pg_url = database_url(url, size)
            pg_home = FOLDER / f"home-{size}"
            if (pg_home / "built.json").exists():
                print(f"[{size}] PostgreSQL store exists: {(pg_home / 'built.json').read_text()}")
            else:
                subprocess.run([sys.executable, __file__, "--build-pg", str(size), "--home",
                                str(args.home), "--target", str(pg_home), "--pg-url", pg_url],
                               check=True)
            measure(size, target, queries, pg_url)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
