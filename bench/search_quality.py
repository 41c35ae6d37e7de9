"""Search quality on the real corpus: BM25 only, dense only and the shipped hybrid, side by side.

    .venv/bin/python bench/search_quality.py [--home .bench/search] [--tune] [--per-query]

Queries: bench/search_queries.jsonl (vague paraphrases, misremembered authors, rough years,
jargon, abstract descriptions), each with a target document (and maybe `also` ids that count
as hits). The store is the one bench/corpus_db.py builds; `tracker index` must have run over
it. Reported per method: Recall@1, Recall@10 and MRR (over the top 100), overall and by query
style. `--tune` grid-searches the fusion weights with 2-fold cross-validation (tune on one
half, score on the other) and prints the best weights on all queries.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus_db import DEFAULT_HOME  # noqa: E402

QUERIES = REPO / "bench" / "search_queries.jsonl"
TOP = 100


def load_queries() -> list[dict[str, Any]]:
    """The benchmark queries."""
    with QUERIES.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def open_searcher(home: Path) -> Any:
    """A hybrid searcher over the benchmark store, as `tracker search` opens it."""
    import os

    os.environ["TRACKER_HOME"] = str(home)
    from tracker.config import load_settings
    from tracker.search.searcher import open_searcher as open_store_searcher
    from tracker.store.engine import make_engine

    settings = load_settings()
    return open_store_searcher(make_engine(settings.sqlalchemy_url), settings)


def resolve_targets(searcher: Any, queries: Sequence[dict[str, Any]]) -> list[set[int]]:
    """Document ids of each query's target (and `also` ids); empty when not in the store."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Document

    wanted = {nid for q in queries for nid in [q["target"], *q.get("also", [])]}
    with searcher.catalog.engine.connect() as conn:
        rows = conn.execute(select(col(Document.native_id), col(Document.id)).where(
            col(Document.native_id).in_(list(wanted)))).all()
    ids = {nid: doc_id for nid, doc_id in rows}
    return [{ids[n] for n in [q["target"], *q.get("also", [])] if n in ids} for q in queries]


def metrics(rankings: Sequence[Sequence[int]], targets: Sequence[set[int]]) -> dict[str, float]:
    """Recall@1, Recall@10 and MRR (reciprocal rank of the first target in the top 100)."""
    r1 = r10 = mrr = 0.0
    for ranking, wanted in zip(rankings, targets, strict=True):
        rank = next((i for i, doc in enumerate(ranking[:TOP], start=1) if doc in wanted), None)
        if rank is not None:
            r1 += rank == 1
            r10 += rank <= 10
            mrr += 1 / rank
    n = max(len(targets), 1)
    return {"R@1": r1 / n, "R@10": r10 / n, "MRR": mrr / n}


def documents_of(hits: Sequence[Any]) -> list[int]:
    """Documents in the order of their best passage."""
    return list(dict.fromkeys(hit.document_id for hit in hits))


def evaluate(searcher: Any, gathered: Sequence[Any], targets: Sequence[set[int]],
             fusion: Any) -> dict[str, float]:
    """Metrics of the fusion `fusion` over pre-gathered candidates."""
    searcher.fusion = fusion
    rankings = [[r.document_id for r in searcher.rank(g, TOP)] for g in gathered]
    return metrics(rankings, targets)


def objective(m: dict[str, float]) -> float:
    """What tuning maximises: rank 1 first, then the top 10, then MRR."""
    return 2 * m["R@1"] + m["R@10"] + m["MRR"]


def grid(base: Any) -> list[Any]:
    """Candidate fusions around the shipped one."""
    values = itertools.product((5.0, 10.0, 20.0, 60.0), (0.4, 0.7, 1.0), (0.0, 0.5, 1.0),
                               (0.0, 0.5, 1.0), (0.0, 0.25, 0.5), (0.0, 0.1, 0.25))
    return [replace(base, k=k, vector=v, title=t, author=a, year_bonus=y, forum_bonus=f)
            for k, v, t, a, y, f in values]


def tune(searcher: Any, gathered: Sequence[Any], targets: Sequence[set[int]],
         base: Any) -> None:
    """2-fold cross-validated grid search, then the best weights on all queries."""
    candidates = grid(base)
    folds = [list(range(0, len(targets), 2)), list(range(1, len(targets), 2))]

    def best_on(idx: Sequence[int]) -> Any:
        pick: Callable[[Sequence[Any]], list[Any]] = lambda xs: [xs[i] for i in idx]  # noqa: E731
        scored = [(objective(evaluate(searcher, pick(gathered), pick(targets), f)), i)
                  for i, f in enumerate(candidates)]
        return candidates[max(scored)[1]]

    held_out: list[dict[str, float]] = []
    for train, test in (folds, folds[::-1]):
        chosen = best_on(train)
        score = evaluate(searcher, [gathered[i] for i in test], [targets[i] for i in test],
                         chosen)
        held_out.append(score)
        print(f"  fold tuned on {len(train)} queries → held-out {fmt(score)}  {asdict(chosen)}")
    mean = {k: sum(s[k] for s in held_out) / 2 for k in held_out[0]}
    print(f"  cross-validated hybrid: {fmt(mean)}")
    best = best_on(range(len(targets)))
    print(f"  best on all queries: {fmt(evaluate(searcher, gathered, targets, best))}  "
          f"{asdict(best)}")


def fmt(m: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.3f}" for k, v in m.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--per-query", action="store_true")
    parser.add_argument("--prune", action="store_true",
                        help="prune keyword queries as index.keyword_budget=30000 does in a "
                             "1M-passage store (the budget scaled to this store's size)")
    args = parser.parse_args()
    searcher = open_searcher(args.home)
    if args.prune:
        scaled = int(30_000 * searcher.keyword.count() / 1_000_000)
        searcher.keyword.row_budget = scaled
        print(f"keyword queries pruned to the rarest words within {scaled} passages")
    from tracker.index.base import SearchFilters
    from tracker.index.hybrid import Fusion

    queries = load_queries()
    all_targets = resolve_targets(searcher, queries)
    kept = [i for i, t in enumerate(all_targets) if t]
    missing = [queries[i]["target"] for i in range(len(queries)) if i not in kept]
    queries, targets = [queries[i] for i in kept], [all_targets[i] for i in kept]
    print(f"{len(queries)} queries with their target in the store "
          f"({len(missing)} left out, target not in the corpus store: {missing}); "
          f"{searcher.vectors.count()} vectors, {searcher.keyword.count()} passages")
    started = time.perf_counter()
    gathered = [searcher.gather(q["query"], SearchFilters()) for q in queries]
    print(f"gathered candidates in {time.perf_counter() - started:.1f} s")
    shipped = Fusion()
    methods = {
        "BM25 only": [documents_of(g.lists["keyword"]) for g in gathered],
        "dense only": [documents_of(g.lists["vector"]) for g in gathered],
    }
    searcher.fusion = Fusion(k=60, keyword=1, vector=1, title=0, author=0, year_bonus=0,
                             forum_bonus=0)
    methods["plain RRF (k=60, equal)"] = [[r.document_id for r in searcher.rank(g, TOP)]
                                          for g in gathered]
    searcher.fusion = shipped
    methods["hybrid (shipped)"] = [[r.document_id for r in searcher.rank(g, TOP)]
                                   for g in gathered]
    styles = sorted({q["style"] for q in queries})
    print(f"\n{'method':28} {'R@1':>6} {'R@10':>6} {'MRR':>6}   " + "  ".join(
        f"{s} R@1/R@10" for s in styles))
    for name, rankings in methods.items():
        m = metrics(rankings, targets)
        by_style = []
        for style in styles:
            idx = [i for i, q in enumerate(queries) if q["style"] == style]
            s = metrics([rankings[i] for i in idx], [targets[i] for i in idx])
            by_style.append(f"{s['R@1']:.2f}/{s['R@10']:.2f} (n={len(idx)})")
        print(f"{name:28} {m['R@1']:6.3f} {m['R@10']:6.3f} {m['MRR']:6.3f}   "
              + "  ".join(by_style))
    if args.per_query:
        for i, q in enumerate(queries):
            ranks = []
            for rankings in methods.values():
                r = next((j for j, d in enumerate(rankings[i][:TOP], 1) if d in targets[i]), None)
                ranks.append(str(r) if r else "-")
            print(f"  {' / '.join(ranks):18} [{q['style']}] {q['query'][:90]}")
    if args.tune:
        print("\ntuning (grid over k, vector, title, author, year and forum weights):")
        tune(searcher, gathered, targets, shipped)


if __name__ == "__main__":
    main()
