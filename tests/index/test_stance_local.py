"""Stance from a claim's own labels (tracker.index.stance_local): held-out passages of a claim
are read by their nearness to the claim's labelled supporting and opposing passages."""

from __future__ import annotations

import numpy as np

from tracker.index.stance import Pair
from tracker.index.stance_local import (
    LocalSettings,
    LocalStance,
    fit_local,
    leave_one_out,
    usable,
)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def claim_pairs(seed: int, n: int = 4) -> list[tuple[Pair, str]]:
    """One claim: passages near a 'for' direction support, near an 'against' one oppose.

    The wording is the same on both sides, so only the labels tell them apart (the cue-word
    rule and the constant get half of them wrong)."""
    rng = np.random.default_rng(seed)
    topic, pro, con = (unit(rng.normal(size=16)) for _ in range(3))
    out = []
    for i in range(n):
        for side, direction in (("supports", pro), ("opposes", con)):
            v = unit(3 * topic + direction + 0.3 * rng.normal(size=16))
            out.append((Pair(f"claim {seed}", f"Some thoughts, number {i}.", passage_vector=v),
                        side))
    return out


def test_a_claims_own_labels_decide_its_held_out_passages() -> None:
    claims = [claim_pairs(seed) for seed in range(6)]
    model = fit_local(claims[:4])
    assert model.model is not None  # fitted on leave-one-out features of other claims
    right = total = 0
    for pairs in claims[4:]:
        seen = [p for side in ("supports", "opposes") for p in
                [q for q in pairs if q[1] == side][:2]]
        held = [p for p in pairs if all(p is not q for q in seen)]
        predicted = model.predict([p for p, _ in held], seen)
        right += sum(s == t for (s, _), (_, t) in zip(predicted, held, strict=True))
        total += len(held)
    assert right / total >= 0.9  # always "supports" gets 0.5


def test_too_few_labels_or_no_vectors_leave_the_decision_elsewhere() -> None:
    pairs = claim_pairs(1)
    one_side = [p for p in pairs if p[1] == "supports"]
    assert not usable(one_side, LocalSettings())
    assert not usable([(Pair("c", "t"), "supports"), (Pair("c", "u"), "opposes")] * 2,
                      LocalSettings())
    assert usable(pairs, LocalSettings())
    assert fit_local([one_side]).model is None  # the fixed rule answers
    x, y = leave_one_out(pairs, LocalSettings())
    assert x.shape == (len(pairs), LocalSettings().width) and y.tolist().count(1) == len(pairs) // 2


def test_unsure_answers_are_unclear() -> None:
    pairs = claim_pairs(2)
    middle = Pair("claim 2", "Some thoughts.", passage_vector=unit(
        pairs[0][0].passage_vector + pairs[1][0].passage_vector))  # halfway between the sides
    stance, confidence = LocalStance(LocalSettings(abstain_below=0.9)).predict([middle],
                                                                                pairs)[0]
    assert stance == "unclear" and confidence < 0.9
