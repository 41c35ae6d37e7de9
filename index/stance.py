"""Stance of a passage towards a claim: supports, opposes, or "unclear" (abstain).

Signals, as the forums give them: the wording of the passage and its title ("I disagree that",
"contra", "the case against", "X is wrong"), whether it is a reply to a passage already tagged
for the claim (replies mostly push back), LessWrong's agree/disagree votes on that reply, how
much closer the passage sits to the claim's negation than to the claim (embeddings), and the
user's own labels, on which a logistic regression over those features (plus, optionally, the
element-wise product of the claim and passage embeddings) is trained. Its probabilities are
calibrated (Platt scaling by cross-validation once there are enough labels) and below a
confidence threshold the answer is "unclear" rather than a guess.

Nothing here reads the database: the caller gives texts, vectors and discourse facts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .base import Vectors

SIDES = ("supports", "opposes")
UNCLEAR = "unclear"

# Explicit markers of arguing against something (issue 12's list and their kin)
_MARKERS = re.compile(
    r"\b(?:I (?:strongly |mostly |somewhat )?disagree(?: that| with)?|contra\b|steel-?man\w*|"
    r"the case against|objections?|rebuttals?|response to|in response|reply to|critique of|"
    r"counter-?arguments?|push(?:ing)? back|I(?:'m| am) (?:not convinced|skeptical|sceptical)|"
    r"I don'?t (?:think|buy|believe|agree)|not (?:necessarily )?true|is (?:wrong|mistaken)|"
    r"are (?:wrong|mistaken)|doesn'?t (?:follow|hold|work)|this argument (?:fails|proves too "
    r"much)|proves too much)", re.IGNORECASE)
_AGAINST = re.compile(
    r"\b(?:disagree\w*|unconvinc\w*|skeptic\w*|sceptic\w*|mistaken|wrong|flaw\w*|fallac\w*|"
    r"overstat\w*|overrat\w*|implausib\w*|unlikely|doubt\w*|critique\w*|criticis\w*|refut\w*|"
    r"rebut\w*|misguided|incorrect|false|fails?|against|however|but)\b", re.IGNORECASE)
_FOR = re.compile(
    r"\b(?:agree\w*|indeed|clearly|shows? that|demonstrat\w*|evidence (?:that|for)|argue that|"
    r"I (?:think|believe|claim|argue)|in favou?r|support\w*|confirm\w*|therefore|hence)\b",
    re.IGNORECASE)
# Titles that announce a rebuttal: "X is wrong", "Against X", "Contra X", "A reply to X"
_TITLE = re.compile(
    r"(?:\b(?:is|are) (?:wrong|mistaken|overrated|not)\b|^(?:against|contra)\b|\bcontra\b|"
    r"\b(?:critique|rebuttal|reply|response|objections?|counter-?arguments?|skeptic\w*|"
    r"the case against|doesn'?t|don'?t|do not|does not|isn'?t|aren'?t|won'?t|no\b|not\b|"
    r"myth|fallacy|problems? with|disagree\w*)\b)", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|isn'?t|aren'?t|doesn'?t|don'?t|won'?t|can'?t|"
                       r"cannot|neither|nor|without)\b", re.IGNORECASE)
_WORDS = re.compile(r"\w+")
# Auxiliaries after which "not" negates a sentence ("X is Y" → "X is not Y")
_AUX = re.compile(r"\b(is|are|was|were|will|would|can|could|should|must|may|might|does|do|"
                  r"did|has|have|had)\b(?! not\b)", re.IGNORECASE)

FEATURES = ("markers", "against", "for", "title", "negation", "negation_gap", "neg_minus_claim",
            "cosine", "comment", "reply_to_supports", "reply_to_opposes", "agreement")


@dataclass(frozen=True)
class Discourse:
    """What the forum says about a passage besides its words."""

    title: str = ""
    comment: bool = False
    parent_stance: str | None = None
    """The stance the user gave the document this one replies to (for the same claim)."""
    agreement: float | None = None
    """LessWrong's agreement score on the reply (negative: readers disagree with it)."""


@dataclass(frozen=True)
class Pair:
    """One (claim, passage) pair with what the features need."""

    claim: str
    text: str
    claim_vector: Vectors | None = None
    negation_vector: Vectors | None = None
    passage_vector: Vectors | None = None
    discourse: Discourse = field(default_factory=Discourse)


def negate(claim: str) -> str:
    """The claim with its first auxiliary negated ("X is Y" → "X is not Y"), or a not-prefix."""
    claim = " ".join(claim.split()).rstrip(".")
    if _NEGATION.search(claim):  # already negative: drop the first negation instead
        return _NEGATION.sub("", claim, count=1).replace("  ", " ").strip()
    negated, n = _AUX.subn(lambda m: f"{m.group(1)} not", claim, count=1)
    return negated if n else f"It is not true that {claim[:1].lower()}{claim[1:]}"


def counter_queries(claim: str) -> list[str]:
    """Phrasings that find the other side: the negation and how rebuttals are worded."""
    claim = " ".join(claim.split()).rstrip(".")
    lowered = claim[:1].lower() + claim[1:]
    return [negate(claim), f"I disagree that {lowered}; the case against it, objections",
            f"{claim} is wrong: a critique and rebuttal"]


def _density(pattern: re.Pattern[str], text: str) -> float:
    words = max(len(_WORDS.findall(text)), 1)
    return min(100.0 * len(pattern.findall(text)) / words, 10.0)


def features(pair: Pair) -> np.ndarray:
    """The hand-made features of a pair, in the order of `FEATURES`."""
    d = pair.discourse
    cosine = neg_gap = 0.0
    if pair.passage_vector is not None and pair.claim_vector is not None:
        cosine = float(pair.passage_vector @ pair.claim_vector)
        if pair.negation_vector is not None:
            neg_gap = float(pair.passage_vector @ pair.negation_vector) - cosine
    claim_negative = bool(_NEGATION.search(pair.claim))
    text_negative = _density(_NEGATION, pair.text)
    agreement = 0.0 if d.agreement is None else float(np.tanh(d.agreement / 5.0))
    return np.array([
        _density(_MARKERS, pair.text), _density(_AGAINST, pair.text), _density(_FOR, pair.text),
        1.0 if _TITLE.search(d.title) else 0.0,
        text_negative, text_negative * (-1.0 if claim_negative else 1.0), neg_gap * 20.0,
        cosine, 1.0 if d.comment else 0.0,
        1.0 if d.parent_stance == "supports" else 0.0,
        1.0 if d.parent_stance == "opposes" else 0.0, agreement,
    ], dtype=np.float64)


def design(pairs: Sequence[Pair], *, embedding: bool) -> np.ndarray:
    """The feature matrix: hand features, plus claim⊙passage embeddings when `embedding`."""
    rows = []
    for pair in pairs:
        row = features(pair)
        if embedding:
            c, p = pair.claim_vector, pair.passage_vector
            # MiniLM has 384 dimensions; ×20 brings the product near the hand features' scale
            product = np.zeros(384) if c is None or p is None \
                else (c * p).astype(np.float64) * 20.0
            row = np.concatenate([row, product])
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, len(FEATURES)))


# --- the rule of thumb, before there are labels -------------------------------------------------


def cue_score(pair: Pair) -> float:
    """A probability-like score that the passage opposes the claim, from wording alone."""
    f = dict(zip(FEATURES, features(pair), strict=True))
    z = -1.2 + 1.5 * f["markers"] + 0.25 * f["against"] - 0.2 * f["for"] + 0.8 * f["title"] \
        + 0.6 * f["reply_to_supports"] - 0.6 * f["reply_to_opposes"] \
        - 0.5 * f["agreement"] * (f["reply_to_supports"] - f["reply_to_opposes"])
    return float(1.0 / (1.0 + np.exp(-z)))


# --- the learned model --------------------------------------------------------------------------


@dataclass(frozen=True)
class StanceSettings:
    """How the stance model learns and when it abstains (tuned in bench/claims_quality.py)."""

    min_per_side: int = 4
    """Labels of each side before the model replaces the cue-word rule."""
    c: float = 0.3
    """Inverse L2 penalty of the logistic regression on standardised features."""
    embedding: bool = False
    """Also learn from claim⊙passage embeddings (384 more features; needs many labels)."""
    abstain_below: float = 0.6
    """Below this probability for the chosen side the answer is "unclear"."""
    cue_abstain_below: float = 0.6
    """The same for the cue-word rule, which is less sure of itself."""
    calibrate_from: int = 15
    """Labels per side from which Platt scaling is fitted by 3-fold cross-validation."""
    claim_labels: bool = False
    """Read a claim with ≥ 2 labels a side by its own labels (`stance_local`) instead."""


@dataclass
class StanceModel:
    """A calibrated logistic regression of p(opposes | pair), or the cue-word rule."""

    settings: StanceSettings
    model: object | None = None
    """The fitted scikit-learn estimator; None: the cue-word rule."""
    labels: int = 0

    @property
    def learned(self) -> bool:
        """Whether the model was trained on labels (else the cue-word rule answers)."""
        return self.model is not None

    def p_opposes(self, pairs: Sequence[Pair]) -> np.ndarray:
        """The probability that each passage opposes its claim."""
        if not pairs:
            return np.zeros(0)
        if self.model is None:
            return np.array([cue_score(p) for p in pairs])
        x = design(pairs, embedding=self.settings.embedding)
        return np.asarray(self.model.predict_proba(x)[:, 1])  # type: ignore[attr-defined]

    def predict(self, pairs: Sequence[Pair]) -> list[tuple[str, float]]:
        """(stance, confidence) per pair; the stance is "unclear" when not confident enough."""
        threshold = self.settings.abstain_below if self.learned \
            else self.settings.cue_abstain_below
        out = []
        for p in self.p_opposes(pairs):
            side, confidence = ("opposes", float(p)) if p >= 0.5 else ("supports", float(1 - p))
            out.append((side if confidence >= threshold else UNCLEAR, confidence))
        return out


def fit_stance_model(pairs: Sequence[Pair], stances: Sequence[str],
                     settings: StanceSettings | None = None) -> StanceModel:
    """Train on labelled pairs (supports / opposes; other stances are ignored).

    With fewer than `min_per_side` labels of either side, or when the model does not beat the
    cue-word rule on claims it was not trained on (3-fold cross-validation grouped by claim,
    balanced accuracy with abstentions read as "supports"), the cue-word rule answers.
    """
    settings = settings or StanceSettings()
    kept = [(p, s) for p, s in zip(pairs, stances, strict=True) if s in SIDES]
    y = np.array([1 if s == "opposes" else 0 for _, s in kept])
    per_side = min(int(y.sum()), int(len(y) - y.sum())) if len(y) else 0
    if per_side < settings.min_per_side:
        return StanceModel(settings)
    x = design([p for p, _ in kept], embedding=settings.embedding)
    claims = [p.claim for p, _ in kept]
    if len(set(claims)) >= 3 and _cross_validated(x, y, claims, [p for p, _ in kept], settings) \
            <= 0:
        return StanceModel(settings, None, len(y))
    return StanceModel(settings, _fit(x, y, settings, per_side), len(y))


def _fit(x: np.ndarray, y: np.ndarray, settings: StanceSettings, per_side: int) -> object:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    base = make_pipeline(StandardScaler(), LogisticRegression(
        C=settings.c, class_weight="balanced", max_iter=500))
    model: object = base
    if per_side >= settings.calibrate_from:
        model = CalibratedClassifierCV(base, method="sigmoid", cv=3)
    model.fit(x, y)  # type: ignore[attr-defined]
    return model


def _cross_validated(x: np.ndarray, y: np.ndarray, claims: Sequence[str],
                     pairs: Sequence[Pair], settings: StanceSettings) -> float:
    """Balanced accuracy of the model minus the cue rule's, on held-out claims."""
    from sklearn.model_selection import GroupKFold

    cue = StanceModel(settings)
    learned_hits: list[float] = []
    cue_hits: list[float] = []
    for train, test in GroupKFold(n_splits=3).split(x, y, groups=list(claims)):
        per_side = min(int(y[train].sum()), int(len(train) - y[train].sum()))
        if per_side < 2:
            continue
        model = StanceModel(settings, _fit(x[train], y[train], settings, per_side))
        test_pairs = [pairs[i] for i in test]
        learned_hits.append(_balanced(model.predict(test_pairs), y[test]))
        cue_hits.append(_balanced(cue.predict(test_pairs), y[test]))
    return float(np.mean(learned_hits) - np.mean(cue_hits)) if learned_hits else -1.0


def _balanced(predicted: Sequence[tuple[str, float]], y: np.ndarray) -> float:
    said = np.array([1 if s == "opposes" else 0 for s, _ in predicted])  # unclear → supports
    rates = [float(np.mean(said[y == side] == side)) for side in (0, 1) if (y == side).any()]
    return float(np.mean(rates))
