"""Embedding throughput of `tracker index` against this machine's matmul bound.

    .venv/bin/python bench/embed_speed.py [--home .bench/search] [--n 384] [--reps 2]

Texts: a random sample of the real corpus passages exactly as `tracker index` embeds them
(title + passage, truncated by the model at 256 word pieces). The bound: FLOPs per passage of
all-MiniLM-L6-v2 (2 × 10.6M encoder weights per token for the matmuls + 4 × 6 layers × 384 ×
L² for attention, L the passage's word pieces; the 11.7M-entry token-embedding table is a
lookup, not FLOPs) divided by a 2-thread numpy float32 matmul probe measured next to each
timing (the machine's speed drifts, see shared/reference/performance.md §0). Variants run
interleaved, in random order per rep, so that drift hits all of them alike:

- `sorted, batch B`: what `tracker index` does: one encode call per group of passages, which
  sentence-transformers sorts by length so batches carry little padding.
- `unsorted, batch 32`: batches in corpus order (each padded to its longest passage).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus_db import DEFAULT_HOME  # noqa: E402
from bench.search_speed import probe  # noqa: E402

LAYERS, HIDDEN = 6, 384


def sample_texts(home: Path, n: int) -> list[str]:
    """`n` random passages as they are embedded (title, blank line, text)."""
    from tracker.index.chunk import embedding_text

    with sqlite3.connect(home / "tracker.db") as conn:
        rows = conn.execute("SELECT title, text FROM passage WHERE text != ''").fetchall()
    random.Random(0).shuffle(rows)
    return [embedding_text(title, text) for title, text in rows[:n]]


def encoder_weights(embedder: object) -> int:
    """Parameters of the transformer layers (what each token multiplies through)."""
    model = embedder._load()[0].auto_model  # type: ignore[attr-defined]
    return sum(p.numel() for name, p in model.named_parameters() if name.startswith("encoder."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--n", type=int, default=384)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    from tracker.index.embedder import SentenceTransformerEmbedder

    texts = sample_texts(args.home, args.n)
    embedder = SentenceTransformerEmbedder(threads=2)
    tokens = embedder.count_tokens(texts)
    weights = encoder_weights(embedder)
    flops = sum(2 * weights * t + 4 * LAYERS * HIDDEN * t * t for t in tokens)
    print(f"{len(texts)} real passages, mean {statistics.mean(tokens):.0f} word pieces "
          f"(median {statistics.median(tokens):.0f}, {sum(t == 256 for t in tokens)} truncated "
          f"at 256); encoder weights {weights / 1e6:.2f}M; "
          f"{flops / len(texts) / 1e9:.2f} GFLOP per passage")
    embedder.embed_batch(texts[:32])  # warm up
    variants = {f"sorted, batch {b}": (b, True) for b in (16, 32, 64)}
    variants["unsorted, batch 32"] = (32, False)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    order = list(variants)
    for _ in range(args.reps):
        random.shuffle(order)
        for name in order:
            batch, by_length = variants[name]
            embedder.batch_size = batch
            before = probe()
            started = time.perf_counter()
            if by_length:
                embedder.embed_batch(texts)
            else:
                for start in range(0, len(texts), batch):
                    embedder.embed_batch(texts[start : start + batch])
            seconds = time.perf_counter() - started
            results[name].append((seconds, (before + probe()) / 2))
    print(f"\n{'variant':22} {'passages/s':>10} {'tokens/s':>9} {'GFLOP/s':>8} "
          f"{'probe':>6} {'% of probe':>10}")
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        bound = statistics.median(p for _, p in runs)
        achieved = flops / seconds / 1e9
        print(f"{name:22} {len(texts) / seconds:10.1f} {sum(tokens) / seconds:9.0f} "
              f"{achieved:8.1f} {bound:6.0f} {100 * achieved / bound:9.0f}%")
    print("\nprobe = 2-thread numpy float32 1024³ matmul GFLOP/s, before and after each timing")


if __name__ == "__main__":
    main()
