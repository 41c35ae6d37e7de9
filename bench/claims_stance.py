"""Stance held out WITHIN claims: a user labelled k passages of each side of a claim, the
tracker reads the rest.

    .venv/bin/python bench/claims_stance.py [--home .bench/claims] [--k 1 2]

The store is bench/claims_db.py's, copied to a scratch folder. For every judged pair (the passage
its quote lies in, with the judged stance) of bench/claims_eval.jsonl:

- per claim, the first k supporting and the first k opposing judged posts (file order, as judged)
  are the user's labels; the claim's other judged pairs are held out. Only claims with at least k
  of each side and something left over take part; the count is printed;
- the claims are split in two folds by position (even, odd). For the claims of one fold, the
  combiner of `tracker.index.stance_local` is fitted on leave-one-out features of the OTHER
  fold's claims (all their labels: claims a user labelled before); the held-out pairs never train
  anything;
- the combiner sees the claim-relative features and the discourse ones (rebuttal title,
  markers, reply to a tagged passage, agreement votes: `stance_local.DISCOURSE_FEATURES`);
  beside it the three-feature combiner of before;
- beside them, on the same held-out pairs: the same features with the fixed rule (no fitted
  combiner), the across-claims model of `tracker.index.stance` trained on the other fold's
  labels (what ships today), the cue-word rule, and always "supports".

Rule fixed before the first run (issue 12): `claim suggest` reads a claim by its own labels
(`StanceSettings.claim_labels`) only if the fitted combiner with discourse beats always
"supports" here on accuracy (with "unclear" read as "supports", as a saved suggestion stores
the likelier side) and on balanced accuracy, at k = 2.

Accuracy counts "unclear" as wrong; balanced accuracy is the mean recall of the two sides
("unclear" as wrong too); coverage is the share answered. The abstain→supports columns read an
"unclear" as "supports".
"""

from __future__ import annotations

import argparse
import sys
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
from bench.claims_sides import held_out_targets, score_stance  # noqa: E402


def claim_pairs(engine: Any, searcher: Any, items: list[dict[str, Any]],
                ids: dict[str, int]) -> list[list[tuple[Any, str]]]:
    """Per claim, its judged pairs (file order) with their stances."""
    from tracker.claims.stance import make_pairs

    out = []
    for n, item in enumerate(items):
        targets, stances = held_out_targets(engine, searcher, [item], ids)
        targets = [t.__class__(t.claim, -1 - n, t.document_id, t.passage_id, t.text)
                   for t in targets]
        out.append(list(zip(make_pairs(engine, searcher, targets), stances, strict=True)))
    return out


def split(pairs: list[tuple[Any, str]], k: int) -> tuple[list[tuple[Any, str]],
                                                         list[tuple[Any, str]]] | None:
    """(labels seen, held out): the first k of each side, and the rest; None if too few."""
    seen = [p for side in ("supports", "opposes") for p in
            [q for q in pairs if q[1] == side][:k]]
    held = [p for p in pairs if all(p is not q for q in seen)]
    if sum(s == "opposes" for _, s in seen) < k or sum(s == "supports" for _, s in seen) < k \
            or not held:
        return None
    return seen, held


def evaluate(per_claim: list[list[tuple[Any, str]]], k: int) -> None:
    """Cross-fitted within-claim stance for k labels per side, with the baselines."""
    from tracker.index.stance import StanceModel, StanceSettings, fit_stance_model
    from tracker.index.stance_local import LocalSettings, LocalStance, fit_local

    settings = LocalSettings(min_per_side=k)
    narrow = LocalSettings(min_per_side=k, discourse=False)
    drawn = LocalSettings(min_per_side=k, episodes=5, balanced=False)
    truth: list[str] = []
    rows: dict[str, list[str]] = {n: [] for n in ("local", "narrow", "drawn", "fixed", "across",
                                                  "cues")}
    claims = 0
    for fold in (0, 1):
        other = [c for n, c in enumerate(per_claim) if n % 2 != fold]
        combiner = fit_local(other, settings)
        combiner_narrow = fit_local(other, narrow)
        combiner_drawn = fit_local(other, drawn)
        flat = [p for c in other for p in c]
        across = fit_stance_model([p for p, _ in flat], [s for _, s in flat], StanceSettings())
        for n, pairs in enumerate(per_claim):
            parts = split(pairs, k) if n % 2 == fold else None
            if parts is None:
                continue
            seen, held = parts
            claims += 1
            held_pairs = [p for p, _ in held]
            truth += [s for _, s in held]
            rows["local"] += [s for s, _ in combiner.predict(held_pairs, seen)]
            rows["narrow"] += [s for s, _ in combiner_narrow.predict(held_pairs, seen)]
            rows["drawn"] += [s for s, _ in combiner_drawn.predict(held_pairs, seen)]
            rows["fixed"] += [s for s, _ in LocalStance(settings).predict(held_pairs, seen)]
            rows["across"] += [s for s, _ in across.predict(held_pairs)]
            rows["cues"] += [s for s, _ in StanceModel(StanceSettings()).predict(held_pairs)]
    print(f"\nk = {k} label(s) per side seen per claim: {len(truth)} held-out pairs of {claims} "
          f"claims ({truth.count('supports')} supporting, {truth.count('opposes')} opposing)")
    print(f"  {'':34s} acc    bal    cover  acc(answered)  abstain→supports: acc  bal")
    score_stance("own labels + discourse (fitted)", truth, rows["local"])
    score_stance("own labels, 3 features (fitted)", truth, rows["narrow"])
    score_stance("+ discourse, drawn k, own mix", truth, rows["drawn"])
    score_stance("claim's own labels (fixed rule)", truth, rows["fixed"])
    score_stance("across claims (shipped model)", truth, rows["across"])
    score_stance("cue-word rule", truth, rows["cues"])
    score_stance("always 'supports'", truth, ["supports"] * len(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--k", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    items = load_claims()
    with scratch_home("claims-stance-") as scratch:
        _, engine, searcher = scratch_searcher(args.home, scratch)
        ids = resolve(engine, items)
        per_claim = claim_pairs(engine, searcher, items, ids)
        print(f"{len(items)} claims, {sum(map(len, per_claim))} judged pairs located")
        for k in args.k:
            evaluate(per_claim, k)
        engine.dispose()


if __name__ == "__main__":
    main()
