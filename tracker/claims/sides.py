"""Both sides of a claim on purpose: stance for every candidate, then two ranked lists.

Supporting: retrieval on the claim (and the user's examples, the classifier), without what
the stance model confidently reads as opposing. Opposing: retrieval on the claim's negation and
rebuttal phrasings fused with the stance model's p(opposes), without what it confidently reads
as supporting. A passage it is unsure of ("unclear") may appear on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker.models import DEFAULT_READER

if TYPE_CHECKING:
    from tracker.claims.stance import StanceReader
    from tracker.index.hybrid import HybridSearcher
    from tracker.index.stance import StanceSettings
    from tracker.index.suggest import Suggestion
    from tracker.models import Claim

_K = 10.0  # reciprocal-rank constant of the opposing side's fusion
_STANCE_WEIGHT = 1.0  # weight of the p(opposes) ranking against the counter retrieval's


@dataclass
class Sides:
    """Candidates with stances, as one list (closeness) and per side."""

    model: StanceReader
    both: list[Suggestion]
    supporting: list[Suggestion]
    opposing: list[Suggestion]
    p_opposes: dict[int, float] = field(default_factory=dict)

    def stored_stance(self, found: Suggestion) -> str:
        """The stance a suggested link is saved with: "unclear" as the likelier side."""
        if found.stance in ("supports", "opposes", "mentions"):
            return found.stance
        return "opposes" if self.p_opposes.get(found.passage_id, 0.0) >= 0.5 else "supports"


def split_sides(engine: Engine, searcher: HybridSearcher, claim: Claim,
                ranked: Sequence[Suggestion], against: Sequence[Suggestion], limit: int,
                settings: StanceSettings | None = None, *,
                reader: str = DEFAULT_READER) -> Sides:
    """Stances for the candidates of both retrievals (from the labels of the claims `reader`
    sees), and the two ranked lists."""
    from tracker.claims.stance import ClaimVectors, Target, make_pairs, stance_reader

    vectors = ClaimVectors(searcher)
    model = stance_reader(engine, searcher, claim.id or 0, settings, claim_vectors=vectors,
                          reader=reader)
    pool = {r.passage_id: r for r in [*ranked, *against]}
    texts = searcher.catalog.passages(pool)
    targets = [Target(claim.text, claim.id or 0, r.document_id, pid,
                      texts[pid].text if pid in texts else "") for pid, r in pool.items()]
    pairs = make_pairs(engine, searcher, targets, vectors)
    p = dict(zip(pool, model.p_opposes(pairs).tolist(), strict=True))
    predicted = dict(zip(pool, model.predict(pairs), strict=True))
    for r in [*ranked, *against]:
        r.stance, r.stance_confidence = predicted[r.passage_id]
    supporting = [r for r in ranked if r.stance != "opposes"][:limit]
    return Sides(model, list(ranked[:limit]), supporting, _opposing(against, p, limit), p)


def _opposing(against: Sequence[Suggestion], p: dict[int, float],
              limit: int) -> list[Suggestion]:
    """Counter retrieval's ranking fused with the stance model's, confident supporters out."""
    by_stance = sorted(against, key=lambda r: (-p[r.passage_id], r.document_id))
    score = {r.passage_id: 1.0 / (_K + rank) for rank, r in enumerate(against, start=1)}
    for rank, r in enumerate(by_stance, start=1):
        score[r.passage_id] += _STANCE_WEIGHT / (_K + rank)
    # only a confident supporter leaves this list: the stance model is often unsure, and
    # filtering on "supports" lost opposing posts (0.57 in the opposing top 10 against BM25's
    # 0.90 on bench/claims_sides.py)
    kept = [r for r in against if not (r.stance == "supports" and r.stance_confidence >= 0.9)]
    return sorted(kept, key=lambda r: (-score[r.passage_id], r.document_id))[:limit]
