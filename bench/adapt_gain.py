"""Does adapting MiniLM to the store help? Held-out queries, packaged vs adapted, BM25 beside.

    .venv/bin/python bench/adapt_gain.py [--distractors 1000] [--passages 2] [--steps 150]

The store: the 100 target posts of ../shared/eval/queries-dev.jsonl plus `--distractors`
random other posts with a body from ../shared/corpus/posts.jsonl.gz, each cut into passages by
the real chunker and kept to its first `--passages` (what can be embedded twice on 2 cores).
Training pairs come from that store as `tracker model adapt` takes them: (title, passage text)
for every passage (the store has no link anchors here). The queries are never used to train
or tune; they only score. Ranking: a post is as good as its best passage (cosine, dense only);
plain BM25 is SQLite FTS5 bm25 over title + the same passages, OR of the query's words, in the
same run. Prints Recall@1, Recall@10 and MRR@10 for the three.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CACHE = REPO / ".bench" / "adapt"  # the packaged model's vectors, reused by a rerun
sys.path.insert(0, str(REPO))


def load_store(distractors: int, per_post: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(posts, passages) of the benchmark store."""
    from tracker.index.chunk import split_passages
    from tracker.ingest.html import html_to_text

    queries = [json.loads(line) for line in (SHARED / "eval" / "queries-dev.jsonl").open()]
    targets = {t for q in queries for t in q["targets"]}
    with gzip.open(SHARED / "corpus" / "posts.jsonl.gz", "rt") as lines:
        rows = [json.loads(line) for line in lines]
    rows = [r for r in rows if str(r["has_body"]) == "True"]
    others = [r for r in rows if r["id"] not in targets]
    random.Random(seed).shuffle(others)
    posts = [r for r in rows if r["id"] in targets] + others[:distractors]
    passages = []
    for post in posts:
        text = html_to_text(post["body_html"] or "")
        for span in split_passages(text)[:per_post]:
            passages.append({"post": post["id"], "title": post["title"] or "",
                             "text": text[span.start:span.end]})
    return posts, passages


def metrics(rankings: list[list[str]], queries: list[dict]) -> str:
    """Recall@1, Recall@10, MRR@10 over the queries."""
    r1 = r10 = mrr = 0.0
    for ranking, query in zip(rankings, queries, strict=True):
        ranks = [i for i, post in enumerate(ranking[:10]) if post in query["targets"]]
        r1 += bool(ranks and ranks[0] == 0)
        r10 += bool(ranks)
        mrr += 1 / (ranks[0] + 1) if ranks else 0.0
    n = len(queries)
    return f"R@1 {r1 / n:.2f}  R@10 {r10 / n:.2f}  MRR@10 {mrr / n:.3f}"


def dense_rankings(embedder: object, passages: list[dict], queries: list[dict]) -> list[list[str]]:
    """Posts by their best passage's cosine to each query."""
    from tracker.index.chunk import embedding_text

    texts = [embedding_text(p["title"], p["text"]) for p in passages]
    cache = CACHE / f"{Path(str(embedder.name)).name}-{len(texts)}.npy"  # type: ignore[attr-defined]
    if cache.exists():
        matrix = np.load(cache)
    else:
        started = time.perf_counter()
        matrix = embedder.embed_batch(texts)  # type: ignore[attr-defined]
        print(f"  embedded {len(texts)} passages in {time.perf_counter() - started:.0f} s")
        if "adapted-" not in str(embedder.name):  # type: ignore[attr-defined]
            CACHE.mkdir(parents=True, exist_ok=True)
            np.save(cache, matrix)
    q = embedder.embed_batch([x["query"] for x in queries])  # type: ignore[attr-defined]
    scores = q @ matrix.T
    out = []
    for row in scores:
        best: dict[str, float] = {}
        for i in np.argsort(-row)[:400]:
            best.setdefault(passages[i]["post"], float(row[i]))
        out.append(list(best))
    return out


def bm25_rankings(passages: list[dict], queries: list[dict]) -> list[list[str]]:
    """Plain BM25 (FTS5, porter) over title + passages, posts by their best passage."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE p USING fts5(post UNINDEXED, title, text, "
                 "tokenize='porter unicode61')")
    conn.executemany("INSERT INTO p VALUES (?, ?, ?)",
                     [(p["post"], p["title"], p["text"]) for p in passages])
    out = []
    for query in queries:
        words = re.findall(r"\w+", query["query"].lower())
        match = " OR ".join(f'"{w}"' for w in words) or '""'
        rows = conn.execute("SELECT post FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT 400",
                            (match,)).fetchall()
        out.append(list(dict.fromkeys(r[0] for r in rows)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, default=1000)
    parser.add_argument("--passages", type=int, default=2)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    os.environ["TRACKER_HOME"] = tempfile.mkdtemp(prefix="adapt-gain-")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from bench.search_speed import probe
    from tracker.index.adapt import TrainingPair, adapt_model
    from tracker.index.embedder import SentenceTransformerEmbedder

    queries = [json.loads(line) for line in (SHARED / "eval" / "queries-dev.jsonl").open()]
    posts, passages = load_store(args.distractors, args.passages)
    print(f"store: {len(posts)} posts ({len(queries)} queries' targets + {args.distractors} "
          f"distractors), {len(passages)} passages; probe {probe():.0f} GFLOP/s")
    print(f"BM25 (FTS5)         {metrics(bm25_rankings(passages, queries), queries)}")
    packaged = SentenceTransformerEmbedder("all-MiniLM-L6-v2", threads=2)
    print(f"packaged MiniLM     {metrics(dense_rankings(packaged, passages, queries), queries)}")
    pairs = [TrainingPair(p["title"], p["text"], "title") for p in passages if p["title"]]
    report = adapt_model("all-MiniLM-L6-v2", pairs, max_steps=args.steps, threads=2)
    print(f"adapted: {report.pairs} pairs, {report.steps} steps in {report.seconds:.0f} s, "
          f"loss {report.first_loss:.3f} -> {report.last_loss:.3f}; probe {probe():.0f} GFLOP/s")
    adapted = SentenceTransformerEmbedder(report.path, threads=2)
    print(f"adapted MiniLM      {metrics(dense_rankings(adapted, passages, queries), queries)}")


if __name__ == "__main__":
    main()
