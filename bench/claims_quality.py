"""Claim suggestions on the real corpus: recall with no labels, after 3 accepted and 3 rejected
labels, and stance accuracy, in one run.

    .venv/bin/python bench/claims_quality.py [--home .bench/search] [--per-claim]
        [--set key=value ...]

The claim set is bench/claims_eval.jsonl: claims about arguments in the corpus, each with posts
that were read and judged to support or oppose it, and for each post a quote from it (the
passage the judgement rests on). The store is the one bench/corpus_db.py builds and
`tracker index` embeds (all-MiniLM-L6-v2); it is copied to a scratch folder first, so the
claims and labels written here never touch it.

Protocol, per claim (the real code path: `store.tag`, `claim suggest`, `accept`, `reject`):

1. No labels: `claim suggest` ranks documents. Recall@10 of the judged posts (supporting, and
   supporting or opposing).
2. Labels: the first three judged posts are tagged with their quotes (accepted); the first
   three documents of the no-label ranking that were not judged relevant are rejected, as a
   user would reject false positives. The claim now has a classifier.
3. Learned: `claim suggest` again. Recall@10 over the judged posts that were not labelled,
   against the no-label ranking with the same six documents removed (same held-out set), and
   against suggestions from the confirmed passages alone (the classifier switched off).
4. Stance: accuracy on every judged (post, stance) pair, for the passage its quote lies in:
   cue words alone (before labels), the centroid of the claim's other judged pairs (leave one
   out; cue words where the others have a single stance), and always "supports".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus_db import DEFAULT_HOME  # noqa: E402

CLAIMS = REPO / "bench" / "claims_eval.jsonl"
LABELS = 3  # accepted and rejected labels per claim
K = 10


def load_claims() -> list[dict[str, Any]]:
    """The judged claim set."""
    with CLAIMS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def scratch_copy(home: Path, into: Path) -> Path:
    """A consistent copy of the benchmark store (database and vector files) in `into`."""
    source = home / "tracker.db"
    if not source.exists():
        sys.exit(f"no store at {home}: run bench/corpus_db.py, then `tracker index` with "
                 f"TRACKER_HOME={home}")
    target = into / "tracker.db"
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, \
            sqlite3.connect(target) as dst:
        src.backup(dst)
    for vector_file in home.glob("tracker.db.*"):
        if vector_file.suffix in (".usearch", ".json"):
            shutil.copy2(vector_file, into / vector_file.name)
    return target


@contextlib.contextmanager
def scratch_home(prefix: str) -> Iterator[Path]:
    """A temporary data directory the tracker runs in (offline), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        os.environ["TRACKER_HOME"] = scratch
        os.environ["HF_HUB_OFFLINE"] = "1"
        yield Path(scratch)


def scratch_searcher(home: Path, into: Path) -> tuple[Any, Any, Any]:
    """(settings, engine, searcher) over a scratch copy of the benchmark store in `into`, as
    `tracker search` opens it; exits with one line when the store has no vectors."""
    from tracker.config import load_settings
    from tracker.search.searcher import open_searcher
    from tracker.store.engine import make_engine

    database = scratch_copy(home.resolve(), into)
    settings = load_settings(database_url=f"sqlite:///{database}")
    engine = make_engine(settings.sqlalchemy_url)
    searcher = open_searcher(engine, settings)
    if not searcher.has_vectors:
        sys.exit(f"no vectors of {settings.index.model} in {home}: build it "
                 f"(bench/claims_db.py, or `tracker index` with TRACKER_HOME={home})")
    return settings, engine, searcher


@dataclass
class Outcome:
    """The figures of one claim."""

    claim: str
    judged: int
    supports: int
    recall0_all: float
    recall0_supports: float
    held_out: int = 0
    recall0_held: float = 0.0
    recall1_held: float = 0.0
    recall1_examples_only: float = 0.0
    stance: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(judged, cues, learned leave-one-out, majority) per judged post."""
    notes: list[str] = field(default_factory=list)


def recall(ranking: Sequence[int], wanted: set[int], k: int = K) -> float:
    """The share of `wanted` in the top `k` of `ranking`."""
    return len(set(ranking[:k]) & wanted) / len(wanted) if wanted else 0.0


def run_claim(engine: Any, settings: Any, searcher: Any, item: dict[str, Any],
              ids: dict[str, int], tuning: Any) -> Outcome:
    """Steps 1–4 of the protocol for one claim."""
    from tracker import store
    from tracker.claims.suggest import suggest_claim
    from tracker.store.engine import session_scope

    posts = [p for p in item["posts"] if p["id"] in ids]
    relevant = {ids[p["id"]] for p in posts}
    supporting = {ids[p["id"]] for p in posts if p["stance"] == "supports"}
    with session_scope(engine) as session:
        claim_id = store.add_claim(session=session, text=item["claim"]).id or 0
    first = suggest_claim(engine, settings, claim_id, limit=50, searcher=searcher,
                          tuning=tuning)
    ranking0 = [s.document_id for s, _ in first.suggestions]
    out = Outcome(item["claim"], len(posts), len(supporting), recall(ranking0, relevant),
                  recall(ranking0, supporting))
    accepted = _accept(engine, claim_id, posts[:LABELS], ids, out)
    rejected = _reject(engine, first, relevant)
    held = relevant - accepted
    out.held_out = len(held)
    removed = accepted | rejected
    out.recall0_held = recall([d for d in ranking0 if d not in removed], held)
    learned = suggest_claim(engine, settings, claim_id, limit=K, searcher=searcher,
                            tuning=tuning, save=False)
    out.recall1_held = recall([s.document_id for s, _ in learned.suggestions], held)
    if not learned.classifier:
        out.notes.append("classifier not trained")
    examples_only = suggest_claim(engine, settings, claim_id, limit=K, searcher=searcher,
                                  tuning=replace(tuning, min_positive=10**6), save=False)
    out.recall1_examples_only = recall([s.document_id for s, _ in examples_only.suggestions],
                                       held)
    out.stance = _stances(engine, searcher, claim_id, posts, ids, tuning)
    return out


def _accept(engine: Any, claim_id: int, posts: Sequence[dict[str, Any]], ids: dict[str, int],
            out: Outcome) -> set[int]:
    from tracker import store
    from tracker.errors import TrackerError
    from tracker.store.engine import session_scope

    accepted = set()
    with session_scope(engine) as session:
        for post in posts:
            document = store.get_document(session=session, ref=str(ids[post["id"]]))
            try:
                store.tag(session=session, claim_id=claim_id, document=document,
                           quote=post["quote"], stance=post["stance"])
            except TrackerError as e:
                out.notes.append(f"{post['id']}: {e.msg[:120]}")
                continue
            accepted.add(ids[post["id"]])
    return accepted


def _reject(engine: Any, report: Any, relevant: set[int]) -> set[int]:
    from tracker import store
    from tracker.store.engine import session_scope

    rejected: set[int] = set()
    with session_scope(engine) as session:
        for found, link in report.suggestions:
            if len(rejected) == LABELS:
                break
            if found.document_id not in relevant:
                store.reject_link(session=session, link_id=link.id or 0)
                rejected.add(found.document_id)
    return rejected


def _stances(engine: Any, searcher: Any, claim_id: int, posts: Sequence[dict[str, Any]],
             ids: dict[str, int], tuning: Any) -> list[tuple[str, str, str, str]]:
    """Stance predictions for every judged post's quoted passage."""
    from tracker import store
    from tracker.errors import TrackerError
    from tracker.index.suggest import Example, cue_stance, fit_stance, predict_stances
    from tracker.store.engine import session_scope

    claim = ""
    located: list[tuple[str, int]] = []  # (judged stance, passage id)
    with session_scope(engine) as session:
        claim = store.get_claim(session=session, claim_id=claim_id).text
        for post in posts:
            document = store.get_document(session=session, ref=str(ids[post["id"]]))
            try:
                found = store.anchor_quote(document, post["quote"])
            except TrackerError:
                continue
            passage = store.passage_at(session=session, document_id=document.id or 0,
                                              start=found.start, end=found.end)
            if passage is not None:
                located.append((post["stance"], passage))
    vectors = searcher.vectors.get([p for _, p in located])
    texts = {pid: info.text for pid, info in searcher.catalog.passages(
        [p for _, p in located]).items()}
    rows = []
    for i, (stance, passage) in enumerate(located):
        cue = cue_stance(texts.get(passage, ""), claim)[0]
        others = [Example(vectors[p], True, s) for j, (s, p) in enumerate(located)
                  if j != i and p in vectors]
        [(learned, _)] = predict_stances(fit_stance(others), [vectors.get(passage)],
                                         [texts.get(passage, "")], claim,
                                         min_confidence=tuning.stance_min_confidence)
        rows.append((stance, cue, learned, "supports"))
    return rows


def resolve(engine: Any, items: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Document ids of the judged posts that the store holds."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Document

    wanted = list({p["id"] for item in items for p in item["posts"]})
    with engine.connect() as conn:
        rows = conn.execute(select(col(Document.native_id), col(Document.id)).where(
            col(Document.native_id).in_(wanted))).all()
    return {nid: int(doc_id) for nid, doc_id in rows}


def report(outcomes: Sequence[Outcome], seconds: float, per_claim: bool) -> None:
    """The figures, overall and (with `per_claim`) per claim."""
    n = len(outcomes)

    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    if per_claim:
        for o in outcomes:
            print(f"{o.recall0_all:5.2f} {o.recall0_held:5.2f} → {o.recall1_held:5.2f} "
                  f"(ex {o.recall1_examples_only:4.2f})  {o.judged:2d} judged  {o.claim[:70]}"
                  + (f"  [{'; '.join(o.notes)}]" if o.notes else ""))
    pairs = [row for o in outcomes for row in o.stance]
    print(f"\n{n} claims, {sum(o.judged for o in outcomes)} judged posts "
          f"({sum(o.supports for o in outcomes)} supporting), {seconds:.0f} s")
    def line(label: str, values: Sequence[float]) -> None:
        print(f"  {label:38s} {mean(values):.3f}")

    print(f"Recall@{K}, no labels:")
    line("supporting posts", [o.recall0_supports for o in outcomes])
    line("supporting and opposing posts", [o.recall0_all for o in outcomes])
    print(f"Recall@{K} of held-out judged posts ({sum(o.held_out for o in outcomes)}), after "
          f"{LABELS} accepted + {LABELS} rejected:")
    line("no labels (same held-out set)", [o.recall0_held for o in outcomes])
    line("confirmed passages, no classifier", [o.recall1_examples_only for o in outcomes])
    line("learned (classifier + examples)", [o.recall1_held for o in outcomes])
    better = sum(o.recall1_held > o.recall0_held for o in outcomes)
    worse = sum(o.recall1_held < o.recall0_held for o in outcomes)
    print(f"  per claim: learning better on {better}, worse on {worse}, equal on "
          f"{n - better - worse}")
    opposing = [row for row in pairs if row[0] == "opposes"]
    supporting = [row for row in pairs if row[0] == "supports"]
    print(f"Stance on the {len(pairs)} judged pairs ({len(supporting)} supporting, "
          f"{len(opposing)} opposing): accuracy, balanced accuracy")
    for name, column in (("cue words (no labels)", 1), ("learned, leave one out", 2),
                         ("always 'supports'", 3)):
        hits = sum(row[0] == row[column] for row in pairs)
        sup = sum(row[0] == row[column] for row in supporting)
        opp = sum(row[0] == row[column] for row in opposing)
        balanced = (sup / max(len(supporting), 1) + opp / max(len(opposing), 1)) / 2
        print(f"  {name:38s} {hits / max(len(pairs), 1):.3f}  {balanced:.3f}  "
              f"(supporting {sup}/{len(supporting)}, opposing {opp}/{len(opposing)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--per-claim", action="store_true")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[],
                        help="Tuning fields, e.g. classifier=2 l2=0.5")
    args = parser.parse_args()
    from tracker.index.suggest import Tuning

    values = {k: float(v) if "." in v else int(v)
              for k, v in (o.split("=", 1) for o in args.overrides)}
    tuning = Tuning(**values)  # type: ignore[arg-type]
    items = load_claims()
    with scratch_home("claims-bench-") as scratch:
        settings, engine, searcher = scratch_searcher(args.home, scratch)
        ids = resolve(engine, items)
        missing = sorted({p["id"] for i in items for p in i["posts"]} - set(ids))
        if missing:
            print(f"not in the store, skipped: {', '.join(missing)}")
        started = time.perf_counter()
        outcomes = [run_claim(engine, settings, searcher, item, ids, tuning) for item in items]
        report(outcomes, time.perf_counter() - started, args.per_claim)
        engine.dispose()


if __name__ == "__main__":
    main()
