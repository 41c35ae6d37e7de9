"""Both sides of a claim on the real corpus: supporting and opposing lists, stance held out.

    .venv/bin/python bench/claims_sides.py [--home .bench/claims] [--per-claim]
        [--set stance.c=0.3 stance.abstain_below=0.6 ...]

The store is bench/claims_db.py's (the judged posts of bench/claims_eval.jsonl plus
distractors, embedded with all-MiniLM-L6-v2), copied to a scratch folder first. One run:

1. Retrieval, no labels: `claim suggest` for every claim (the real code path). Per claim, is a
   judged supporting post in the supporting top 10, and a judged opposing post (where the claim
   has one) in the opposing top 10; MRR@10 of the first judged supporting post in the
   supporting list against claim-as-query BM25 (the keyword engine, documents in order of their
   best passage), from the same store in the same run. Also per half: the tune half (even
   positions), on which retrieval weights (`--set documents=… second_passage=…`) are chosen,
   and the held-out half (odd positions), which is only read.
2. Stance, held out: the claims are split by position (even: train, odd: held out). Every
   judged post of a training claim is tagged with its quote and stance (`store.tag`, as a user
   would); the stance model trains on those labels only. It then reads the passage each
   held-out judged quote lies in. Accuracy, balanced accuracy and coverage (answered, not
   "unclear") against always "supports" and the cue-word rule on the same pairs; an abstention
   counts as wrong in "accuracy", and as "supports" in "abstain→supports".
3. Retrieval again for the held-out claims, now with the learned stance model.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.claims_db import DEFAULT_HOME  # noqa: E402
from bench.claims_quality import (  # noqa: E402
    load_claims,
    resolve,
    scratch_home,
    scratch_searcher,
)

K = 10


@dataclass
class Retrieval:
    """One claim's retrieval figures."""

    claim: str
    support_hit: bool
    oppose_hit: bool | None
    rr: float
    bm25_rr: float
    bm25_oppose_hit: bool | None
    doc_bm25_rr: float = 0.0
    """The same for whole-document BM25 (the document index)."""
    has_support: bool = True
    """Whether the claim has a judged supporting post in the store."""
    notes: list[str] = field(default_factory=list)


def reciprocal_rank(ranking: Sequence[int], wanted: set[int]) -> float:
    """1/rank of the first wanted document in the top K (0 if none)."""
    for rank, doc in enumerate(ranking[:K], start=1):
        if doc in wanted:
            return 1.0 / rank
    return 0.0


def bm25_ranking(searcher: Any, claim: str) -> list[int]:
    """Claim-as-query BM25: documents in the order of their best passage."""
    from tracker.index.base import SearchFilters

    return list(dict.fromkeys(h.document_id for h in searcher.keyword_hits(claim,
                                                                           SearchFilters())))


def retrieve(engine: Any, settings: Any, searcher: Any, item: dict[str, Any],
             ids: dict[str, int], stance: Any, tuning: Any = None) -> Retrieval:
    """`claim suggest` for one fresh claim, scored against its judged posts."""
    from tracker import store
    from tracker.claims.suggest import suggest_claim
    from tracker.store.engine import session_scope

    posts = [p for p in item["posts"] if p["id"] in ids]
    sup = {ids[p["id"]] for p in posts if p["stance"] == "supports"}
    opp = {ids[p["id"]] for p in posts if p["stance"] == "opposes"}
    with session_scope(engine) as session:
        claim_id = store.add_claim(session=session, text=item["claim"]).id or 0
    report = suggest_claim(engine, settings, claim_id, limit=K, searcher=searcher,
                           save=False, stance=stance, tuning=tuning)
    supporting = [s.document_id for s, _ in report.supporting]
    opposing = [s.document_id for s, _ in report.opposing]
    bm25 = bm25_ranking(searcher, item["claim"])
    with session_scope(engine) as session:
        store.delete_claim(session=session, claim_id=claim_id)
    return Retrieval(item["claim"], bool(set(supporting[:K]) & sup),
                     bool(set(opposing[:K]) & opp) if opp else None,
                     reciprocal_rank(supporting, sup), reciprocal_rank(bm25, sup),
                     bool(set(bm25[:K]) & opp) if opp else None,
                     reciprocal_rank(doc_bm25_ranking(searcher, item["claim"]), sup),
                     has_support=bool(sup))


def doc_bm25_ranking(searcher: Any, claim: str) -> list[int]:
    """Claim-as-query BM25 over whole documents (the document index)."""
    from tracker.index.base import SearchFilters

    return [d for d, _ in searcher.keyword.search_documents(claim, 100, SearchFilters())]


def tag_claim(engine: Any, item: dict[str, Any], ids: dict[str, int]) -> int:
    """Tag every judged post of a claim with its quote and stance; the number tagged."""
    from tracker import store
    from tracker.errors import TrackerError
    from tracker.store.engine import session_scope

    tagged = 0
    with session_scope(engine) as session:
        claim_id = store.add_claim(session=session, text=item["claim"]).id or 0
        for post in item["posts"]:
            if post["id"] not in ids:
                continue
            document = store.get_document(session=session, ref=str(ids[post["id"]]))
            try:
                store.tag(session=session, claim_id=claim_id, document=document,
                          quote=post["quote"], stance=post["stance"])
            except TrackerError:
                continue
            tagged += 1
    return tagged


def held_out_targets(engine: Any, searcher: Any, items: Sequence[dict[str, Any]],
                     ids: dict[str, int]) -> tuple[list[Any], list[str]]:
    """The passage each held-out judged quote lies in, with its judged stance."""
    from tracker import store
    from tracker.claims.stance import Target
    from tracker.errors import TrackerError
    from tracker.store.engine import session_scope

    located: list[tuple[str, int, int, int, str]] = []
    with session_scope(engine) as session:
        for n, item in enumerate(items):
            for post in item["posts"]:
                if post["id"] not in ids:
                    continue
                document = store.get_document(session=session, ref=str(ids[post["id"]]))
                try:
                    found = store.anchor_quote(document, post["quote"])
                except TrackerError:
                    continue
                passage = store.passage_at(session=session, document_id=document.id or 0,
                                           start=found.start, end=found.end)
                if passage is not None:
                    located.append((item["claim"], -1 - n, document.id or 0, passage,
                                    post["stance"]))
    texts = searcher.catalog.passages(p for *_, p, _ in located)
    targets = [Target(c, cid, d, p, texts[p].text if p in texts else "")
               for c, cid, d, p, _ in located]
    return targets, [s for *_, s in located]


def score_stance(name: str, truth: Sequence[str], predicted: Sequence[str]) -> None:
    """Print accuracy, balanced accuracy, coverage and abstain→supports accuracy."""
    n = max(len(truth), 1)
    answered = [i for i, p in enumerate(predicted) if p != "unclear"]

    def balanced(pred: Sequence[str]) -> float:
        rates = []
        for side in ("supports", "opposes"):
            rows = [i for i, t in enumerate(truth) if t == side]
            rates.append(sum(pred[i] == side for i in rows) / max(len(rows), 1))
        return sum(rates) / 2

    fallback = [p if p != "unclear" else "supports" for p in predicted]
    hits = sum(t == p for t, p in zip(truth, predicted, strict=True))
    on_answered = sum(truth[i] == predicted[i] for i in answered) / max(len(answered), 1)
    print(f"  {name:34s} {hits / n:.3f}  {balanced(predicted):.3f}  "
          f"{len(answered) / n:.2f}  {on_answered:.3f}   "
          f"{sum(t == p for t, p in zip(truth, fallback, strict=True)) / n:.3f}  "
          f"{balanced(fallback):.3f}")


def report_retrieval(label: str, rows: Sequence[Retrieval], per_claim: bool) -> None:
    """Print the retrieval figures of a set of claims."""
    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    # Each side is scored over the claims that have a judged post on it: a claim whose only
    # judged post opposes it (owning a dog, lone self-improvement, responsibility) can find no
    # supporting post, so counting it would be a miss no ranking could avoid.
    with_opp = [r for r in rows if r.oppose_hit is not None]
    with_sup = [r for r in rows if r.has_support]
    print(f"{label}: {len(rows)} claims ({len(with_sup)} with a judged supporting post, "
          f"{len(with_opp)} with a judged opposing post)")
    print(f"  supporting post in supporting top {K}   "
          f"{mean([r.support_hit for r in with_sup]):.3f}")
    print(f"  opposing post in opposing top {K}       "
          f"{mean([bool(r.oppose_hit) for r in with_opp]):.3f}   (BM25 top {K}: "
          f"{mean([bool(r.bm25_oppose_hit) for r in with_opp]):.3f})")
    print(f"  MRR@{K} supporting: suggest {mean([r.rr for r in with_sup]):.3f}, claim-as-query "
          f"BM25 {mean([r.bm25_rr for r in with_sup]):.3f} (whole documents "
          f"{mean([r.doc_bm25_rr for r in with_sup]):.3f})")
    if per_claim:
        for r in rows:
            print(f"    {'S' if r.support_hit else '-'}{'O' if r.oppose_hit else '-'} "
                  f"rr {r.rr:.2f} bm25 {r.bm25_rr:.2f}  {r.claim[:80]}")


def settings_from(overrides: Sequence[str]) -> tuple[Any, Any]:
    """Tuning and StanceSettings from `--set` pairs (`stance.` prefix for the latter)."""
    from tracker.index.stance import StanceSettings
    from tracker.index.suggest import Tuning

    tuning, stance = Tuning(), StanceSettings()
    for pair in overrides:
        key, value = pair.split("=", 1)
        parsed: Any = value == "true" if value in ("true", "false") else \
            float(value) if "." in value else int(value)
        if key.startswith("stance."):
            stance = replace(stance, **{key[7:]: parsed})
        else:
            tuning = replace(tuning, **{key: parsed})
    return tuning, stance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--per-claim", action="store_true")
    parser.add_argument("--stance-only", action="store_true", help="Skip steps 1 and 3.")
    parser.add_argument("--retrieval-only", action="store_true", help="Step 1 only.")
    parser.add_argument("--grid", nargs="*", default=[], metavar="K=V,K=V",
                        help="Tune: step 1 on the tune half only, once per setting.")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[])
    args = parser.parse_args()
    tuning, stance = settings_from(args.overrides)
    items = load_claims()
    with scratch_home("claims-sides-") as scratch:
        run(args, items, stance, scratch, tuning)


def run(args: Any, items: list[dict[str, Any]], stance: Any, scratch: Path,
        tuning: Any = None) -> None:
    """Steps 1–3 in one process."""
    from tracker.claims.stance import make_pairs, train_stance
    from tracker.index.stance import StanceModel

    settings, engine, searcher = scratch_searcher(args.home, scratch)
    ids = resolve(engine, items)
    started = time.perf_counter()
    train, held = items[0::2], items[1::2]
    for setting in args.grid:  # weights are chosen here, on the tune half, never the held half
        tuned, _ = settings_from(setting.split(","))
        rows = [retrieve(engine, settings, searcher, item, ids, stance, tuned) for item in train]
        report_retrieval(f"tune half, {setting}", rows, args.per_claim)
    if args.grid:
        return
    if not args.stance_only:
        rows = [retrieve(engine, settings, searcher, item, ids, stance, tuning)
                for item in items]
        report_retrieval("1. no labels, all claims", rows, args.per_claim)
        # the split is fixed by position: weights are chosen on the tune half (even) only
        report_retrieval("1a. tune half (even claims)", rows[0::2], False)
        report_retrieval("1b. held-out half (odd claims)", rows[1::2], False)
    if args.retrieval_only:
        print(f"\n{time.perf_counter() - started:.0f} s")
        return
    tagged = sum(tag_claim(engine, item, ids) for item in train)
    model = train_stance(engine, searcher, stance)
    targets, truth = held_out_targets(engine, searcher, held, ids)
    pairs = make_pairs(engine, searcher, targets)
    learned = [s for s, _ in model.predict(pairs)]
    cues = [s for s, _ in StanceModel(stance).predict(pairs)]
    print(f"\n2. stance on {len(truth)} held-out pairs of {len(held)} claims "
          f"({truth.count('supports')} supporting, {truth.count('opposes')} opposing); "
          f"trained on {tagged} labels of {len(train)} other claims "
          f"({'learned' if model.learned else 'too few labels: cue words'})")
    print(f"  {'':34s} acc    bal    cover  acc(answered)  abstain→supports: acc  bal")
    score_stance("learned model", truth, learned)
    score_stance("cue-word rule (no labels)", truth, cues)
    score_stance("always 'supports'", truth, ["supports"] * len(truth))
    if not args.stance_only:
        rows = [retrieve(engine, settings, searcher, item, ids, stance, tuning)
                for item in held]
        print()
        report_retrieval("3. held-out claims, learned stance", rows, args.per_claim)
    print(f"\n{time.perf_counter() - started:.0f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
