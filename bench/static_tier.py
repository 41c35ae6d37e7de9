"""The static first tier against MiniLM: passages/s side by side, and agreement.

    .venv/bin/python bench/static_tier.py [--n 600] [--home .bench/static]

Passages: the first passage of `--n` random posts with a body (../shared/corpus/posts.jsonl.gz)
as `tracker index` embeds them (title + passage). Speed: passages/s of `tracker index`'s
MiniLM (sentence-transformers, 2 threads, one sorted call per group of 512, batch 32) and of the
static model (`tracker model distill`, made in `--home` if missing), interleaved over `--reps`,
with the 2-thread matmul probe (GFLOP/s) beside each timing. Agreement, over the same
passages: for each of the 100 held-out queries (../shared/eval, used only to score) and for
100 passages used as queries, the overlap of the top 10 passages by the static model, and by
the two-tier search (static top `--rescore`, re-ordered by MiniLM), with MiniLM's exact top 10.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.adapt_gain import SHARED, load_store  # noqa: E402
from bench.search_speed import probe  # noqa: E402


def timed(embed: object, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors and passages/s."""
    started = time.perf_counter()
    vectors = np.vstack([embed.embed_batch(texts[i:i + 512])  # type: ignore[attr-defined]
                         for i in range(0, len(texts), 512)])
    return vectors, len(texts) / (time.perf_counter() - started)


def overlap(static_q: np.ndarray, static_p: np.ndarray, main_q: np.ndarray,
            main_p: np.ndarray, rescore: int) -> tuple[float, float]:
    """Mean top-10 overlap with MiniLM's exact top 10: static alone, and two-tier."""
    from tracker.index.tiered import rescore as tier

    alone = tiered = 0.0
    for sq, mq in zip(static_q, main_q, strict=True):
        truth = set(np.argsort(-(main_p @ mq))[:10].tolist())
        static_scores = static_p @ sq
        order = np.argsort(-static_scores)[:rescore]
        alone += len(truth & set(order[:10].tolist())) / 10
        pairs = [(int(i), float(static_scores[i])) for i in order]
        ranked = tier(pairs, {int(i): main_p[i] for i in order}, mq)
        tiered += len(truth & {k for k, _ in ranked[:10]}) / 10
    return alone / len(static_q), tiered / len(static_q)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--rescore", type=int, default=100)
    parser.add_argument("--home", type=Path, default=REPO / ".bench" / "static")
    args = parser.parse_args()
    os.environ["TRACKER_HOME"] = str(args.home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tracker.index.chunk import embedding_text
    from tracker.index.embedder import SentenceTransformerEmbedder
    from tracker.index.local_models import local_model_path, static_name
    from tracker.index.static import StaticEmbedder, distill_static

    name = static_name("all-MiniLM-L6-v2")
    if local_model_path(name) is None:
        started = time.perf_counter()
        distill_static("all-MiniLM-L6-v2", threads=2)
        print(f"distilled {name} in {time.perf_counter() - started:.0f} s")
    _, passages = load_store(args.n, 1, seed=2)
    texts = [embedding_text(p["title"], p["text"]) for p in passages][: args.n]
    minilm = SentenceTransformerEmbedder("all-MiniLM-L6-v2", threads=2)
    static = StaticEmbedder(name)
    minilm.embed_batch(texts[:8]), static.embed_batch(texts[:8])  # warm both
    rates: dict[str, list[str]] = {"MiniLM": [], "static": []}
    for _ in range(args.reps):
        for label, model in (("MiniLM", minilm), ("static", static)):
            before = probe()
            vectors, rate = timed(model, texts)
            rates[label].append(f"{rate:.1f}/s (probe {before:.0f}/{probe():.0f})")
            if label == "MiniLM":
                main_p = vectors
            else:
                static_p = vectors
    for label, figures in rates.items():
        print(f"{label:7s} {len(texts)} passages: " + "; ".join(figures))
    queries = [json.loads(line)["query"] for line in (SHARED / "eval" / "queries-dev.jsonl").open()]
    sample = texts[:100]
    for label, qs in (("held-out queries", queries), ("passages as queries", sample)):
        alone, tiered = overlap(static.embed_batch(qs), static_p, minilm.embed_batch(qs),
                                main_p, args.rescore)
        print(f"top-10 overlap with MiniLM, {label} ({len(qs)}) among {len(texts)} "
              f"passages: static {alone:.2f}, static top {args.rescore} re-scored {tiered:.2f}")
    larger_pool(static, minilm, queries)


def larger_pool(static: object, minilm: object, queries: list[str]) -> None:
    """The same agreement over bench/adapt_gain.py's store (965 passages), when its MiniLM
    vectors are cached in .bench/adapt (embedding them again costs minutes here)."""
    from bench.adapt_gain import CACHE
    from tracker.index.chunk import embedding_text

    _, passages = load_store(500, 2)
    cache = CACHE / f"all-MiniLM-L6-v2-{len(passages)}.npy"
    if not cache.exists():
        return
    main_p = np.load(cache)
    texts = [embedding_text(p["title"], p["text"]) for p in passages]
    static_p = static.embed_batch(texts)  # type: ignore[attr-defined]
    static_q = static.embed_batch(queries)  # type: ignore[attr-defined]
    main_q = minilm.embed_batch(queries)  # type: ignore[attr-defined]
    for rescore in (50, 100):
        alone, tiered = overlap(static_q, static_p, main_q, main_p, rescore)
        print(f"top-10 overlap with MiniLM, held-out queries among {len(texts)} passages: "
              f"static {alone:.2f}, static top {rescore} re-scored {tiered:.2f}")
    quality(passages, static_q, static_p, main_q, main_p)


def quality(passages: list[dict], static_q: np.ndarray, static_p: np.ndarray,
            main_q: np.ndarray, main_p: np.ndarray) -> None:
    """Dense-only Recall@1/@10 and MRR@10 on the held-out queries: MiniLM, static, two-tier."""
    from bench.adapt_gain import metrics
    from tracker.index.tiered import rescore as tier

    records = [json.loads(line) for line in (SHARED / "eval" / "queries-dev.jsonl").open()]

    def posts(order: list[int]) -> list[str]:
        return list(dict.fromkeys(passages[i]["post"] for i in order))

    minilm, static, tiered = [], [], []
    for sq, mq in zip(static_q, main_q, strict=True):
        minilm.append(posts(np.argsort(-(main_p @ mq))[:400].tolist()))
        scores = static_p @ sq
        order = np.argsort(-scores)[:400].tolist()
        static.append(posts(order))
        top = tier([(i, float(scores[i])) for i in order[:100]],
                   {i: main_p[i] for i in order[:100]}, mq)
        tiered.append(posts([k for k, _ in top] + order[100:]))
    for label, rankings in (("MiniLM", minilm), ("static", static),
                            ("static top 100 re-scored", tiered)):
        print(f"dense only, {label:26s} {metrics(rankings, records)}")


if __name__ == "__main__":
    main()
