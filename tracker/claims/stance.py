"""Stance wired to the store: the user's labels on every claim train one model, which then
reads the passages `claim suggest` proposes (`tracker.index.stance` holds the model).

A label is a confirmed link of stance supports or opposes; its pair is (the claim's text, the
passage its span lies in, or its quote when that passage is not indexed). Discourse facts come
from the store: the document's title, whether it is a comment, the stance the user gave the
document it replies to (same claim), and its agreement votes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine

from tracker import store
from tracker.models import DEFAULT_READER
from tracker.store.engine import session_scope

if TYPE_CHECKING:
    from sqlmodel import Session

    from tracker.index.base import Vectors
    from tracker.index.hybrid import HybridSearcher
    from tracker.index.stance import Pair, StanceModel, StanceSettings
    from tracker.index.stance_local import LocalStance
    from tracker.models import Claim, ClaimLink


@dataclass(frozen=True)
class Target:
    """A passage whose stance towards a claim is wanted."""

    claim: str
    claim_id: int
    document_id: int
    passage_id: int | None
    text: str


class ClaimVectors:
    """Embeddings of claims and of their negations, computed once per text."""

    def __init__(self, searcher: HybridSearcher) -> None:
        self.searcher = searcher
        self._cache: dict[str, Vectors] = {}

    def get(self, claim: str) -> tuple[Vectors | None, Vectors | None]:
        """(claim vector, negation vector), or Nones without a model."""
        from tracker.index.stance import negate

        embedder = self.searcher.embedder
        if not self.searcher.has_vectors or embedder is None:
            return None, None
        if claim not in self._cache:
            both = embedder.embed_batch([claim, negate(claim)])
            self._cache[claim], self._cache["\0" + claim] = both[0], both[1]
        return self._cache[claim], self._cache["\0" + claim]


def make_pairs(engine: Engine, searcher: HybridSearcher, targets: Sequence[Target],
               claim_vectors: ClaimVectors | None = None) -> list[Pair]:
    """The stance model's view of each target: texts, vectors and discourse."""
    from tracker.index.stance import Discourse, Pair

    claim_vectors = claim_vectors or ClaimVectors(searcher)
    ids = [t.passage_id for t in targets if t.passage_id is not None]
    vectors: dict[int, Vectors] = {}
    if ids and searcher.vectors is not None and searcher.vectors.count():
        vectors = searcher.vectors.get(ids)
    with session_scope(engine) as session:
        facts = store.thread_facts(session=session, document_ids=[t.document_id
                                                                   for t in targets])
        parents = {f.parent_document_id for f in facts.values() if f.parent_document_id}
        given = _given_stances(session, {t.claim_id for t in targets}, parents)
    pairs = []
    for t in targets:
        fact = facts.get(t.document_id)
        parent = fact.parent_document_id if fact else None
        claim_vector, negation_vector = claim_vectors.get(t.claim)
        pairs.append(Pair(
            claim=t.claim, text=t.text, claim_vector=claim_vector,
            negation_vector=negation_vector,
            passage_vector=vectors.get(t.passage_id) if t.passage_id is not None else None,
            discourse=Discourse(title=fact.title if fact else "",
                                comment=bool(fact and fact.kind == "comment"),
                                parent_stance=given.get((t.claim_id, parent or 0)),
                                agreement=fact.agreement if fact else None)))
    return pairs


def _given_stances(session: Session, claim_ids: set[int],
                   documents: set[int]) -> dict[tuple[int, int], str]:
    """(claim id, document id) → the stance the user confirmed for that document."""
    found: dict[tuple[int, int], str] = {}
    for claim_id in claim_ids:
        for link in store.claim_links(session=session, claim_id=claim_id,
                                      statuses=("confirmed",)):
            if link.document_id in documents and link.stance in ("supports", "opposes"):
                found[(claim_id, link.document_id)] = link.stance
    return found


def label_targets(engine: Engine, searcher: HybridSearcher, leave_out: set[int] | None = None,
                  *, reader: str = DEFAULT_READER) -> tuple[list[Target], list[str]]:
    """Every confirmed supports/opposes link of the claims `reader` sees as a target, with its
    stance (the training set)."""
    leave_out = leave_out or set()
    with session_scope(engine) as session:
        rows: list[tuple[Claim, ClaimLink, int | None]] = []
        for claim, link in store.stance_labels(session=session, reader=reader):
            if claim.id in leave_out:
                continue
            passage = store.passage_at(session=session, document_id=link.document_id,
                                       start=link.start, end=link.end)
            rows.append((claim, link, passage))
    texts = searcher.catalog.passages(p for _, _, p in rows if p is not None)
    targets = [Target(claim.text, claim.id or 0, link.document_id, passage,
                      texts[passage].text if passage in texts else link.quote)
               for claim, link, passage in rows]
    return targets, [link.stance for _, link, _ in rows]


def train_stance(engine: Engine, searcher: HybridSearcher,
                 settings: StanceSettings | None = None, *, leave_out: set[int] | None = None,
                 claim_vectors: ClaimVectors | None = None,
                 reader: str = DEFAULT_READER) -> StanceModel:
    """The stance model trained on `reader`'s labels and the shared claims' (the cue-word rule
    until there are enough)."""
    from tracker.index.stance import fit_stance_model

    targets, stances = label_targets(engine, searcher, leave_out, reader=reader)
    pairs = make_pairs(engine, searcher, targets, claim_vectors)
    return fit_stance_model(pairs, stances, settings)


@dataclass
class StanceReader:
    """What reads stance for one claim: its own labels (`stance_local`), once it has enough of
    each side and `StanceSettings.claim_labels` is on, else the model across claims."""

    model: StanceModel
    local: LocalStance | None = None
    examples: list[tuple[Pair, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """`claim_labels`, `learned` or `cues`, as `claim suggest --json` reports it."""
        if self.local is not None:
            return "claim_labels"
        return "learned" if self.model.learned else "cues"

    @property
    def labels(self) -> int:
        """How many labels the answering model learned from."""
        return len(self.examples) if self.local is not None else self.model.labels

    def p_opposes(self, pairs: Sequence[Pair]) -> np.ndarray:
        """The probability that each passage opposes the claim."""
        if self.local is not None:
            return self.local.p_opposes(pairs, self.examples)
        return self.model.p_opposes(pairs)

    def predict(self, pairs: Sequence[Pair]) -> list[tuple[str, float]]:
        """(stance, confidence) per pair, "unclear" when not confident enough."""
        if self.local is not None:
            return self.local.predict(pairs, self.examples)
        return self.model.predict(pairs)


def stance_reader(engine: Engine, searcher: HybridSearcher, claim_id: int,
                  settings: StanceSettings | None = None, *,
                  claim_vectors: ClaimVectors | None = None,
                  reader: str = DEFAULT_READER) -> StanceReader:
    """The stance reader for one claim from `reader`'s labels and the shared claims'."""
    from tracker.index.stance import StanceSettings, fit_stance_model
    from tracker.index.stance_local import LocalSettings, fit_local, usable

    settings = settings or StanceSettings()
    targets, stances = label_targets(engine, searcher, reader=reader)
    pairs = make_pairs(engine, searcher, targets, claim_vectors)
    model = fit_stance_model(pairs, stances, settings)
    by_claim: dict[int, list[tuple[Pair, str]]] = {}
    for target, pair, stance in zip(targets, pairs, stances, strict=True):
        by_claim.setdefault(target.claim_id, []).append((pair, stance))
    own = by_claim.get(claim_id, [])
    if not settings.claim_labels or not usable(own, LocalSettings()):
        return StanceReader(model)
    return StanceReader(model, fit_local(list(by_claim.values())), own)
