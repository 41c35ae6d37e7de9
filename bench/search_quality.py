"""Search quality on the whole real corpus with bodies, plain BM25 beside it from the same run.

    .venv/bin/python bench/search_quality.py [--home /tmp/search-eval-store] [--tune]
                                             [--ablate] [--per-query] [--backends both]

The store is the one bench/eval_store.py builds: the 8,424 posts of ../shared/corpus with a
body, split into passages and embedded. Query sets:

- `bench/search_queries_v2.jsonl` (ours, 116 queries written from their target posts), split
  50/50 by qid: sha256(qid) even → *tune*, odd → *held-out*;
- `../shared/eval/queries-dev.jsonl` (100 queries): never tuned on, reported untouched;
- `bench/search_queries.jsonl` (63 older queries the old fusion was tuned on): tune only.

Plain BM25 is bm25s (Lucene, k1 1.5, b 0.75, English stopwords) over title + body text, one
document per post, as ../shared/eval/README.md measures it. Reported: Recall@1, Recall@10 and
MRR@10 per set and split, and per hint kind. `--ablate` turns each query-understanding step
(aliases, first-name author hints, PRF) on alone; `--tune` grid-searches the fusion weights on
the tune split only and prints the chosen weights on the held-out split and on queries-dev.
`--backends both` runs the shipped search on SQLite and on PostgreSQL side by side instead
(bench/pg_quality.py: both stores built by the same code, vectors copied from --home).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.eval_store import DEFAULT_HOME  # noqa: E402

SETS = {
    "v2": REPO / "bench" / "search_queries_v2.jsonl",
    "dev": REPO.parent / "shared" / "eval" / "queries-dev.jsonl",
    "v1": REPO / "bench" / "search_queries.jsonl",
}
KINDS = ("paraphrase", "example", "author", "fuzzy_title")
Metrics = dict[str, float]


def split_of(qid: str) -> str:
    """The fixed split of one of our queries: by the parity of sha256(qid)."""
    return "tune" if int(hashlib.sha256(qid.encode()).hexdigest(), 16) % 2 == 0 else "held"


def load_queries() -> list[dict[str, Any]]:
    """Every query with its set, split and kind (the old set's fields mapped to the new)."""
    queries = []
    for name, path in SETS.items():
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            q = json.loads(line)
            if name == "v1":
                q = {"qid": f"v1-{i:03d}", "query": q["query"],
                     "targets": [q["target"], *q.get("also", [])],
                     "hint_kind": {"author": "author"}.get(q["style"], "paraphrase")}
            q["set"] = name
            q["split"] = {"v2": split_of(q["qid"]), "dev": "held", "v1": "tune"}[name]
            queries.append(q)
    return queries


def metrics(rankings: Sequence[Sequence[int]], targets: Sequence[set[int]]) -> Metrics:
    """Recall@1, Recall@10 and MRR@10."""
    r1 = r10 = mrr = 0.0
    for ranking, wanted in zip(rankings, targets, strict=True):
        rank = next((i for i, d in enumerate(ranking[:10], start=1) if d in wanted), None)
        if rank is not None:
            r1 += rank == 1
            r10 += 1
            mrr += 1 / rank
    n = max(len(targets), 1)
    return {"R@1": r1 / n, "R@10": r10 / n, "MRR@10": mrr / n}


class Bm25:
    """Plain BM25 (bm25s) over the store's documents: title + body text, one per post."""

    def __init__(self, engine: Any) -> None:
        import bm25s
        from sqlalchemy import select
        from sqlmodel import col

        from tracker.models import Document

        with engine.connect() as conn:
            rows = conn.execute(select(col(Document.id), col(Document.title),
                                       col(Document.body_text))).all()
        self.ids = [r[0] for r in rows]
        corpus = [f"{r[1]}\n{r[2]}" for r in rows]
        self.model = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
        self.model.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False),
                         show_progress=False)

    def rank(self, query: str, k: int = 10) -> list[int]:
        """Document ids, best first."""
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        docs, _ = self.model.retrieve(tokens, k=k, show_progress=False)
        return [self.ids[i] for i in docs[0]]


def open_searcher(home: Path) -> Any:
    """A hybrid searcher over the evaluation store, as `tracker search` opens it."""
    os.environ["TRACKER_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tracker.config import load_settings
    from tracker.search.searcher import open_searcher as open_store_searcher
    from tracker.store.engine import make_engine

    settings = load_settings()
    return open_store_searcher(make_engine(settings.sqlalchemy_url), settings)


def resolve(searcher: Any, queries: list[dict[str, Any]]) -> list[set[int]]:
    """Document ids of each query's targets."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Document

    wanted = {t for q in queries for t in q["targets"]}
    stored_as = forum_ids(wanted)
    with searcher.catalog.engine.connect() as conn:
        rows = conn.execute(select(col(Document.native_id), col(Document.id)).where(
            col(Document.native_id).in_([stored_as.get(t, t) for t in wanted]))).all()
    ids = dict(rows)
    return [{ids[stored_as.get(t, t)] for t in q["targets"] if stored_as.get(t, t) in ids}
            for q in queries]


def forum_ids(wanted: set[str]) -> dict[str, str]:
    """Corpus ids that are not ForumMagnum ids (`eaforum-anishazaveri:2014:38`) → the id the
    forum path stores them under (derived from the row, as the forum server derives it)."""
    from bench.eval_store import corpus_rows
    from tests.servers.forummagnum.corpus import _post_from_row

    odd = {t for t in wanted if t.startswith("eaforum-")}
    return {row["id"]: _post_from_row(row)["_id"] for row in corpus_rows() if row["id"] in odd}


def gather_all(searcher: Any, queries: Sequence[dict[str, Any]], understanding: Any) -> list[Any]:
    """Candidates of every query with these query-understanding steps."""
    from tracker.index.base import SearchFilters

    searcher.understanding = understanding
    return [searcher.gather(q["query"], SearchFilters()) for q in queries]


def ranked(searcher: Any, gathered: Sequence[Any], fusion: Any) -> list[list[int]]:
    """Document rankings of the fusion `fusion`."""
    searcher.fusion = fusion
    return [[r.document_id for r in searcher.rank(g, 10)] for g in gathered]


def fmt(m: Metrics) -> str:
    return " ".join(f"{v:.3f}" for v in m.values())


def report(title: str, queries: Sequence[dict[str, Any]], targets: Sequence[set[int]],
           methods: dict[str, list[list[int]]]) -> None:
    """One table per set/split: each method's R@1 R@10 MRR@10, overall and per hint kind."""
    groups = [("held-out v2", "v2", "held"), ("tune v2", "v2", "tune"), ("dev", "dev", "held"),
              ("v1 (tune)", "v1", "tune")]
    print(f"\n== {title}   (R@1 R@10 MRR@10)")
    print(f"{'set':12} {'method':26} {'all':>20}  " + "  ".join(f"{k:>20}" for k in KINDS))
    for label, name, split in groups:
        idx = [i for i, q in enumerate(queries) if q["set"] == name and q["split"] == split]
        for method, rankings in methods.items():
            cells = []
            for kind in (None, *KINDS):
                sub = [i for i in idx if kind is None or queries[i]["hint_kind"] == kind]
                m = metrics([rankings[i] for i in sub], [targets[i] for i in sub])
                cells.append(f"{fmt(m)} n={len(sub):<3}" if sub else f"{'-':>20}")
            print(f"{label:12} {method:26} " + "  ".join(cells))


def objective(m: Metrics) -> float:
    """What tuning maximises: rank 1 first, then MRR, then the top 10."""
    return 2 * m["R@1"] + m["MRR@10"] + m["R@10"]


def tune(searcher: Any, gathered: Sequence[Any], queries: Sequence[dict[str, Any]],
         targets: Sequence[set[int]], base: Any) -> Any:
    """Grid search over the fusion on the tune split only; the best fusion."""
    tune_idx = [i for i, q in enumerate(queries) if q["split"] == "tune"]
    sub_g, sub_t = [gathered[i] for i in tune_idx], [targets[i] for i in tune_idx]
    best, best_score = base, -1.0
    vector = (0.4, 0.7, 1.0, 1.5) if searcher.has_vectors else (base.vector,)
    for k, kw, d, v, t, a, y in itertools.product(
            (5.0, 10.0, 20.0, 60.0), (0.0, 0.5, 1.0), (0.5, 1.0, 1.5), vector, (0.0, 0.25, 0.5),
            (0.25, 0.5, 1.0), (0.0, 0.5)):
        fusion = replace(base, k=k, keyword=kw, document=d, vector=v, title=t, author=a,
                         year_bonus=y)
        score = objective(metrics(ranked(searcher, sub_g, fusion), sub_t))
        if score > best_score:
            best, best_score = fusion, score
    print(f"\nbest on the tune split ({len(tune_idx)} queries): {asdict(best)}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--ablate", action="store_true")
    parser.add_argument("--per-query", action="store_true")
    parser.add_argument("--no-vectors", action="store_true",
                        help="keyword side only (while `tracker index` has not embedded all)")
    parser.add_argument("--prune", action="store_true",
                        help="prune keyword queries as index.keyword_budget=30000 does in a "
                             "1M-passage store (the budget scaled to this store's size)")
    parser.add_argument("--backends", choices=("sqlite", "both"), default="sqlite",
                        help="both: the shipped search on SQLite and on PostgreSQL side by side "
                             "with plain BM25 (bench/pg_quality.py, vectors from --home)")
    args = parser.parse_args()
    if args.backends == "both":
        from bench.pg_quality import DEFAULT_DIR, run

        run(argparse.Namespace(dir=DEFAULT_DIR, per_query=args.per_query, ts_rank=False,
                               vectors_from=args.home))
        return
    searcher = open_searcher(args.home)
    if args.no_vectors:
        searcher.embedder = None
    if args.prune:
        searcher.keyword.row_budget = int(30_000 * searcher.keyword.count() / 1_000_000)
    from tracker.index.hybrid import Fusion, Understanding

    shipped_understanding, shipped = searcher.understanding, Fusion()
    queries = load_queries()
    targets = resolve(searcher, queries)
    missing = [q["qid"] for q, t in zip(queries, targets, strict=True) if not t]
    print(f"{len(queries)} queries; targets missing from the store: {missing or 'none'}; "
          f"{searcher.keyword.count()} passages, {searcher.vectors.count()} vectors")
    started = time.perf_counter()
    bm25 = Bm25(searcher.catalog.engine)
    print(f"bm25s indexed {len(bm25.ids)} documents in {time.perf_counter() - started:.0f} s")
    methods = {"BM25 (bm25s)": [bm25.rank(q["query"]) for q in queries]}
    started = time.perf_counter()
    base = gather_all(searcher, queries, Understanding())
    print(f"gathered {len(queries)} queries in {time.perf_counter() - started:.1f} s")
    methods["passage keywords only"] = [list(dict.fromkeys(h.document_id for h in g.lists[
        "keyword"]))[:10] for g in base]
    methods["document keywords only"] = [g.documents[:10] for g in base]
    if searcher.has_vectors:
        methods["vectors only"] = [list(dict.fromkeys(h.document_id for h in g.lists[
            "vector"]))[:10] for g in base]
    methods["hybrid, no understanding"] = ranked(searcher, base, shipped)
    full = Understanding(aliases=True, first_names=True, prf_passages=5)
    gathered = {"none": base}
    if args.ablate:
        for name, u in (("aliases", Understanding(aliases=True)),
                        ("first names", Understanding(first_names=True)),
                        ("prf 5", Understanding(prf_passages=5)), ("all three", full)):
            gathered[name] = gather_all(searcher, queries, u)
            prf = replace(shipped, prf=0.5) if u.prf_passages else shipped
            methods[f"+ {name}"] = ranked(searcher, gathered[name], prf)
    if shipped_understanding != Understanding():
        gathered["shipped"] = gather_all(searcher, queries, shipped_understanding)
    methods["tracker (shipped)"] = ranked(searcher, gathered.get("shipped", base), shipped)
    report("fusion as shipped", queries, targets, methods)
    if args.tune:
        for name in [n for n in ("none", "all three", "aliases") if n in gathered]:
            best = tune(searcher, gathered[name], queries, targets, shipped)
            report(f"tuned on the tune split, understanding: {name}", queries, targets,
                   {"BM25 (bm25s)": methods["BM25 (bm25s)"],
                    "tuned": ranked(searcher, gathered[name], best)})
    if args.per_query:
        names = list(methods)
        print("\nper query: rank of the target by " + " / ".join(names))
        for i, q in enumerate(queries):
            ranks = [next((str(j) for j, d in enumerate(methods[n][i], 1) if d in targets[i]),
                          "-") for n in names]
            print(f"  {q['qid']:7} {q['split']:4} {'/'.join(ranks):16} [{q['hint_kind']}] "
                  f"{q['query'][:80]}")


if __name__ == "__main__":
    main()
