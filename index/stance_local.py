"""Stance from the claim's own labels: is a passage nearer the ones labelled for or against?

A model trained across claims does not transfer (bench/claims_sides.py: balanced accuracy
0.35–0.45 on unseen claims): wording and embedding geometry say which topic a passage is on,
not which side. Within one claim, though, the passages a user labelled on each side are the
best description of that side. So once a claim has `min_per_side` labels of both sides, a
candidate's features are relative to them (nearest-neighbour and prototype similarity in the
embedding space, opposing minus supporting) plus the cue-word score, and one small logistic
regression, trained on leave-one-out features of the labelled claims, turns them into a
calibrated p(opposes). Below `abstain_below` for its side the answer is "unclear".

Nothing here reads the database: the caller gives pairs (with passage vectors) and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .stance import FEATURES, SIDES, UNCLEAR, Pair, cue_score, features

LOCAL_FEATURES = ("knn_gap", "prototype_gap", "cue_logit")
# The discourse signals issue 12 names, from `stance.features`: a rebuttal title, explicit
# markers ("I disagree", "contra", "the case against"), a reply to a passage the user tagged
# (+1 under a supporter, -1 under an opposer) and the reply's agreement votes.
DISCOURSE_FEATURES = ("title", "markers", "reply", "agreement")
ALL_FEATURES = LOCAL_FEATURES + DISCOURSE_FEATURES


@dataclass(frozen=True)
class LocalSettings:
    """When the claim's own labels decide, and how sure the answer must be."""

    min_per_side: int = 2
    """Labels of each side on the claim before its labels are used."""
    k: int = 2
    """Nearest labelled passages per side whose mean similarity counts."""
    abstain_below: float = 0.6
    """Below this probability for the chosen side the answer is "unclear"."""
    c: float = 1.0
    """Inverse L2 penalty of the combining logistic regression (a handful of features)."""
    discourse: bool = True
    """Also combine the discourse features (`DISCOURSE_FEATURES`); False: the first three."""
    episodes: int = 0
    """Fit on this many random draws per claim of `min_per_side` labels a side seen and the
    rest read, as a user's claim is read (0: leave-one-out against all other labels)."""
    balanced: bool = True
    """Weigh both sides equally when fitting (else the labels' own mix, ~70 % supports)."""

    @property
    def width(self) -> int:
        """How many features the combiner sees."""
        return len(ALL_FEATURES) if self.discourse else len(LOCAL_FEATURES)


Examples = Sequence[tuple[Pair, str]]
"""A claim's labelled pairs with their stance (supports / opposes)."""


def usable(examples: Examples, settings: LocalSettings) -> bool:
    """Whether a claim has enough labels of both sides (with vectors) to decide by them."""
    counts = [sum(1 for p, s in examples if s == side and p.passage_vector is not None)
              for side in SIDES]
    return min(counts) >= settings.min_per_side


def local_features(pair: Pair, examples: Examples, settings: LocalSettings) -> np.ndarray:
    """(knn gap, prototype gap, cue logit[, discourse]) of a pair against its claim's labelled
    pairs."""
    cue = float(np.clip(cue_score(pair), 1e-4, 1 - 1e-4))
    base = np.concatenate([_gaps(pair, examples, settings), [np.log(cue / (1 - cue))]])
    if not settings.discourse:
        return base
    f = dict(zip(FEATURES, features(pair), strict=True))
    return np.concatenate([base, [f["title"], f["markers"],
                                  f["reply_to_supports"] - f["reply_to_opposes"],
                                  f["agreement"]]])


def _gaps(pair: Pair, examples: Examples, settings: LocalSettings) -> np.ndarray:
    """(knn gap, prototype gap): how much nearer the opposing labels are than the supporting."""
    v = pair.passage_vector
    if v is None:
        return np.zeros(2)
    knn, proto = [], []
    for side in SIDES:
        vectors = [p.passage_vector for p, s in examples if s == side
                   and p.passage_vector is not None]
        if not vectors:
            return np.zeros(2)
        matrix = np.stack(vectors).astype(np.float64)
        sims = np.sort(matrix @ v)[::-1]
        knn.append(float(sims[: settings.k].mean()))
        centre = matrix.mean(axis=0)
        proto.append(float(centre @ v / max(float(np.linalg.norm(centre)), 1e-9)))
    # ×20: MiniLM cosines between passages on one topic differ by a few hundredths
    return np.array([(knn[1] - knn[0]) * 20.0, (proto[1] - proto[0]) * 20.0])


def leave_one_out(examples: Examples, settings: LocalSettings) -> tuple[np.ndarray, np.ndarray]:
    """Each labelled pair's features against its claim's other labels, and y (1: opposes)."""
    rows, y = [], []
    for i, (pair, stance) in enumerate(examples):
        if stance not in SIDES:
            continue
        others = [e for j, e in enumerate(examples) if j != i]
        if not usable(others, LocalSettings(min_per_side=1)):
            continue
        rows.append(local_features(pair, others, settings))
        y.append(1 if stance == "opposes" else 0)
    return (np.stack(rows) if rows else np.zeros((0, settings.width))), np.array(y)


def episodes(examples: Examples, settings: LocalSettings,
             seed: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Features of a claim's pairs read against `min_per_side` random labels a side, drawn
    `settings.episodes` times, and y (1: opposes).

    Leave-one-out sees every other label, a user's fresh claim only a few; this fits under the
    conditions the combiner is read in (bench/claims_stance.py: with the labels' own mix it
    answered "supports" nearly always, 0.815 / 0.500 on 27 held-out pairs).
    """
    rng = np.random.default_rng(seed)
    k = settings.min_per_side
    sides = {side: [e for e in examples if e[1] == side] for side in SIDES}
    rows: list[np.ndarray] = []
    y: list[int] = []
    if min(len(v) for v in sides.values()) < k:
        return np.zeros((0, settings.width)), np.array(y)
    for _ in range(settings.episodes):
        seen = [sides[side][i] for side in SIDES
                for i in rng.permutation(len(sides[side]))[:k]]
        for pair, stance in examples:
            if stance in SIDES and all(pair is not p for p, _ in seen):
                rows.append(local_features(pair, seen, settings))
                y.append(1 if stance == "opposes" else 0)
    return (np.stack(rows) if rows else np.zeros((0, settings.width))), np.array(y)


@dataclass
class LocalStance:
    """p(opposes) from a claim's own labels, combined by a model fitted across claims."""

    settings: LocalSettings
    model: object | None = None
    """The fitted combiner; None: a fixed rule (knn gap plus the cue logit)."""

    def p_opposes(self, pairs: Sequence[Pair], examples: Examples) -> np.ndarray:
        """The probability that each pair opposes its claim, given the claim's labels."""
        if not pairs:
            return np.zeros(0)
        x = np.stack([local_features(p, examples, self.settings) for p in pairs])
        if self.model is None:
            z = 2.0 * x[:, 0] + 0.5 * x[:, 2]
            return np.asarray(1.0 / (1.0 + np.exp(-z)))
        return np.asarray(self.model.predict_proba(x)[:, 1])  # type: ignore[attr-defined]

    def predict(self, pairs: Sequence[Pair], examples: Examples) -> list[tuple[str, float]]:
        """(stance, confidence) per pair; "unclear" when not confident enough."""
        out = []
        for p in self.p_opposes(pairs, examples):
            side, confidence = ("opposes", float(p)) if p >= 0.5 else ("supports", float(1 - p))
            out.append((side if confidence >= self.settings.abstain_below else UNCLEAR,
                        confidence))
        return out


def fit_local(by_claim: Sequence[Examples], settings: LocalSettings | None = None) -> LocalStance:
    """The combiner trained on leave-one-out features of every claim with both sides labelled.

    With fewer than 4 such rows of either side the fixed rule answers.
    """
    from sklearn.linear_model import LogisticRegression

    settings = settings or LocalSettings()
    rows = episodes if settings.episodes else leave_one_out
    parts = [rows(examples, settings) for examples in by_claim
             if usable(examples, LocalSettings(min_per_side=1))]
    if not parts:
        return LocalStance(settings)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    if len(y) == 0 or min(int(y.sum()), int(len(y) - y.sum())) < 4:
        return LocalStance(settings)
    model = LogisticRegression(C=settings.c, max_iter=500,
                               class_weight="balanced" if settings.balanced else None)
    model.fit(x, y)
    return LocalStance(settings, model)
