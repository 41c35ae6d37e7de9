"""Claim suggestions: passages likely to argue for or against a claim, learning from labels.

Candidates come from hybrid retrieval on the claim's text (keyword and vector) and from vector
search around the passages already confirmed for it. Once a claim has at least two confirmed
and two rejected passages, a small per-claim classifier (L2 logistic regression on the passage
embeddings, classes balanced, as arxiv-sanity trains one SVM per tag) scores the candidates and
the passages nearest its weight vector, and its ranking joins the fusion. Lists are fused per
document by reciprocal rank; a document is as good as its best passage.

The stance of each suggestion comes from the confirmed examples once there are supporting and
opposing ones (nearest centroid of their embeddings), before that from cue words.

Nothing here reads the database: the caller gives the labels (as vectors) and what to leave out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .base import Hit, SearchFilters, Vectors
from .hybrid import HybridSearcher

STANCES = ("supports", "opposes", "mentions")


@dataclass(frozen=True)
class Tuning:
    """Fusion weights and learning settings (tuned in bench/claims_quality.py)."""

    k: float = 10.0
    claim_keyword: float = 1.0
    claim_vector: float = 1.0
    examples: float = 1.0
    """Weight of search around the confirmed passages (shared among their lists)."""
    example_keywords: bool = True
    """Also search each confirmed quote by keyword (else by its vector only)."""
    classifier: float = 1.0
    """Weight of the classifier's ranking once it is trained."""
    min_positive: int = 2
    min_negative: int = 2
    l2: float = 1.0
    """Ridge penalty of the classifier: large against 384 dimensions and a handful of labels."""
    background: int = 200
    """Random passages of the store added to the negatives (0: rejected passages only)."""
    background_share: float = 0.5
    """Their share of the negatives' weight."""
    stance_min_confidence: float = 0.0
    """Below this confidence the learned stance gives way to the cue-word guess."""
    classifier_neighbours: bool = True
    """Also rank the passages nearest the classifier's weight vector (else candidates only)."""
    counter: float = 2.0
    """Weight of retrieval on the claim's negation and rebuttal phrasings (shared among them),
    for the opposing side."""
    documents: float = 1.0
    """Weight of whole-document BM25 on the claim (`claimpool`; 0: not searched). Chosen on the
    tune half of bench/claims_sides.py (even claims): 0 → 0.850 support in the top 10, MRR
    0.700; 1 → 0.900, 0.760; 2 → 0.900, 0.760 but the opposing top 10 fell to 0.941."""
    second_passage: float = 0.0
    """Share of a list's weight that a document's second passage in it adds (0: best only;
    0.5 moved the tune half's MRR by +0.002 only, so it stays off)."""


@dataclass(frozen=True)
class Example:
    """A passage the user decided on: relevant (confirmed, with a stance) or rejected."""

    vector: Vectors
    relevant: bool
    stance: str | None = None
    text: str = ""
    """The confirmed quote, searched by keyword too (empty: vector search only)."""


@dataclass
class Suggestion:
    """A passage proposed for a claim, with why it was proposed."""

    passage_id: int
    document_id: int
    score: float
    stance: str = "supports"
    stance_confidence: float = 0.0
    claim_rank: int | None = None
    """Rank of the document in retrieval on the claim text (keyword or vector, the better)."""
    example_rank: int | None = None
    """Rank of the document in vector search around the confirmed passages."""
    classifier: float | None = None
    """The classifier's probability that the passage is relevant, once it is trained."""


@dataclass
class Exclusions:
    """What must never be suggested: passages and documents already decided on."""

    passages: set[int] = field(default_factory=set)
    documents: set[int] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)
    """Normalised texts of rejected passages (a re-split document gets new passage ids)."""

    def allows(self, hit: Hit, text: str | None) -> bool:
        """Whether a hit may be suggested."""
        if hit.passage_id in self.passages or hit.document_id in self.documents:
            return False
        return text is None or not self.texts or normalise_text(text) not in self.texts


def normalise_text(text: str) -> str:
    """A passage's text compared for "the same passage": words only, lower case."""
    return " ".join(re.findall(r"\w+", text.lower()))


# --- the classifier -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression: p(relevant | x) = σ(w·x + b)."""

    weights: Vectors
    bias: float

    def probability(self, vectors: Vectors) -> Vectors:
        """The probability of each row being relevant."""
        z = vectors @ self.weights + self.bias
        p: Vectors = (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))).astype(np.float32)
        return p


def fit_logistic(x: Vectors, y: Sequence[int], *, weights: Sequence[float] | None = None,
                 l2: float = 1.0, steps: int = 200, balance: bool = True) -> LinearModel:
    """L2-regularised logistic regression (scikit-learn, lbfgs; the bias is not penalised).

    Minimises Σ wᵢ·loss(xᵢ, yᵢ) + l2/2·‖w‖², i.e. scikit-learn's C = 1/l2. With `balance`,
    each class carries half the total weight, so three confirmed and thirty rejected passages
    still give a useful direction.
    """
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(y, dtype=np.int64)
    base = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    sample = base.copy()
    for cls in (0, 1) if balance else ():
        mask = labels == cls
        if mask.any():
            sample[mask] *= base.sum() / (2.0 * base[mask].sum())
    if len(set(labels.tolist())) < 2:  # one class: nothing separates; lean towards it
        bias = 30.0 if labels.size and labels[0] == 1 else -30.0
        return LinearModel(np.zeros(x.shape[1], dtype=np.float32), bias)
    model = LogisticRegression(C=1.0 / l2, solver="lbfgs", max_iter=steps, tol=1e-8)
    model.fit(x.astype(np.float64), labels, sample_weight=sample)
    return LinearModel(model.coef_[0].astype(np.float32), float(model.intercept_[0]))


# --- stance -------------------------------------------------------------------------------------

# Words that mark a passage arguing against something; counted per 100 words.
_AGAINST = re.compile(
    r"\b(?:disagree\w*|not convinc\w*|unconvinc\w*|skeptic\w*|sceptic\w*|mistaken|wrong|"
    r"flaw\w*|fallac\w*|overstat\w*|overrat\w*|implausib\w*|unlikely|doubt\w*|objection\w*|"
    r"counter-?argument\w*|critique\w*|criticis\w*|critici[sz]e\w*|refut\w*|rebut\w*|"
    r"misguided|confused|incorrect|false|fails?|failure|problem with|push back|"
    r"I don'?t (?:think|buy|believe|agree)|isn'?t (?:true|right|clear)|not (?:true|obvious)|"
    r"against)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|isn'?t|aren'?t|doesn'?t|don'?t|won'?t|can'?t)\b",
                       re.IGNORECASE)
_WORDS = re.compile(r"\w+")
_AGAINST_PER_100 = 0.9  # cue density above which a passage is read as opposing


@dataclass(frozen=True)
class StanceModel:
    """Nearest centroid over the embeddings of the claim's confirmed passages, by stance."""

    centroids: dict[str, Vectors]

    def predict(self, vectors: Vectors) -> list[tuple[str, float]]:
        """(stance, confidence in 0–1) of each row."""
        names = sorted(self.centroids)
        matrix = np.stack([self.centroids[n] for n in names])
        sims = vectors @ matrix.T
        out = []
        for row in sims:
            order = np.argsort(-row)
            margin = float(row[order[0]] - row[order[1]]) if len(order) > 1 else 1.0
            out.append((names[int(order[0])], float(np.tanh(margin * 10))))
        return out


def fit_stance(examples: Sequence[Example]) -> StanceModel | None:
    """A centroid per stance, once at least two stances have confirmed examples."""
    groups: dict[str, list[Vectors]] = {}
    for example in examples:
        if example.relevant and example.stance in STANCES:
            groups.setdefault(example.stance, []).append(example.vector)
    if len(groups) < 2:
        return None
    centroids = {}
    for stance, vectors in groups.items():
        mean = np.mean(np.stack(vectors), axis=0)
        centroids[stance] = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
    return StanceModel(centroids)


def predict_stances(model: StanceModel | None, vectors: Sequence[Vectors | None],
                    texts: Sequence[str], claim: str,
                    *, min_confidence: float = 0.0) -> list[tuple[str, float]]:
    """The stance of each passage: the learned centroids where they are confident enough,
    else cue words."""
    out = [cue_stance(text, claim) for text in texts]
    if model is None:
        return out
    known = [i for i, v in enumerate(vectors) if v is not None]
    if known:
        learned = model.predict(np.stack([vectors[i] for i in known]))  # type: ignore[misc]
        for i, (stance, confidence) in zip(known, learned, strict=True):
            if confidence >= min_confidence:
                out[i] = (stance, confidence)
    return out


def cue_stance(text: str, claim: str) -> tuple[str, float]:
    """A stance from cue words alone: opposing when arguing-against words are dense.

    A claim that is itself negative ("X is not Y") flips nothing here: cue words mark a
    passage that argues against *something*, so the guess is weak (confidence ≤ 0.5).
    """
    words = max(len(_WORDS.findall(text)), 1)
    density = 100.0 * len(_AGAINST.findall(text)) / words
    if density >= _AGAINST_PER_100:
        return "opposes", min(0.5, density / (4 * _AGAINST_PER_100))
    return "supports", min(0.5, (_AGAINST_PER_100 - density) / (2 * _AGAINST_PER_100))


# --- ranking ------------------------------------------------------------------------------------


@dataclass
class Candidates:
    """Ranked passage lists from each retriever, best first."""

    lists: dict[str, list[Hit]]
    vectors: dict[int, Vectors] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)


class ClaimSuggester:
    """Suggestions for one claim over a hybrid searcher's store.

    Args:
        searcher: keyword and vector retrieval over the passages.
        tuning: weights and learning settings.
    """

    def __init__(self, searcher: HybridSearcher, tuning: Tuning | None = None) -> None:
        self.searcher = searcher
        self.tuning = tuning or Tuning()

    def suggest(self, claim: str, examples: Sequence[Example], exclusions: Exclusions,
                *, limit: int = 10, filters: SearchFilters | None = None) -> list[Suggestion]:
        """The best passages for `claim` (one per document), best first."""
        filters = filters or SearchFilters()
        found = self.gather(claim, examples, filters)
        model = self.classifier(examples, found)
        if model is not None:
            found.lists["classifier"] = self._classifier_list(model, found, filters)
        ranked = self.fuse(found, exclusions, limit)
        self._add_stances(ranked, claim, examples, found)
        return ranked

    def against(self, claim: str, exclusions: Exclusions, *, limit: int = 10,
                filters: SearchFilters | None = None) -> list[Suggestion]:
        """Candidates for the opposing side: retrieval on the claim and on its negation and
        rebuttal phrasings ("I disagree that …", "… is wrong"), fused per document."""
        from .stance import counter_queries

        filters = filters or SearchFilters()
        found = self.gather(claim, (), filters)
        for i, query in enumerate(counter_queries(claim)):
            found.lists[f"counter_{i}_keyword"] = self.searcher.keyword_hits(query, filters)
            if self.searcher.has_vectors:
                found.lists[f"counter_{i}_vector"] = self.searcher.vector_hits(query, filters)
        return self.fuse(found, exclusions, limit)

    def gather(self, claim: str, examples: Sequence[Example],
               filters: SearchFilters) -> Candidates:
        """Keyword and vector passages for the claim text, and vector passages around each
        confirmed example."""
        s = self.searcher
        vector = s.embedder.embed_query(claim) if s.has_vectors and s.embedder else None
        lists: dict[str, list[Hit]] = {"claim_keyword": s.keyword_hits(claim, filters),
                                       "claim_vector": s.vector_hits(claim, filters, vector)}
        if self.tuning.documents > 0:
            from .claimpool import document_hits

            lists["claim_documents"] = document_hits(s, claim, filters, lists, vector)
        for i, example in enumerate(e for e in examples if e.relevant):
            if s.has_vectors:
                lists[f"example_{i}"] = s.vector_hits("", filters, vector=example.vector)
            if example.text.strip() and self.tuning.example_keywords:
                lists[f"example_{i}_keyword"] = s.keyword_hits(example.text, filters)
        return Candidates(lists)

    def classifier(self, examples: Sequence[Example], found: Candidates) -> LinearModel | None:
        """The per-claim relevance classifier, once there are enough labels of each kind.

        Confirmed passages are positives and rejected ones negatives; a random sample of the
        store's passages joins the negatives with a share of their weight, so that what is
        merely unlike the rejected passages does not look relevant (arxiv-sanity trains each
        tag's SVM against every other paper).
        """
        t = self.tuning
        positives = [e.vector for e in examples if e.relevant]
        negatives = [e.vector for e in examples if not e.relevant]
        if len(positives) < t.min_positive or len(negatives) < t.min_negative:
            return None
        background = self._background(found, len(positives) + len(negatives))
        share = t.background_share if background else 0.0
        rows = positives + negatives + background
        y = [1] * len(positives) + [0] * (len(negatives) + len(background))
        weights = [0.5 / len(positives)] * len(positives) \
            + [0.5 * (1 - share) / len(negatives)] * len(negatives) \
            + [0.5 * share / max(len(background), 1)] * len(background)
        return fit_logistic(np.stack(rows), y, weights=weights, l2=t.l2, balance=False)

    def _background(self, found: Candidates, labelled: int) -> list[Vectors]:
        vectors = self.searcher.vectors
        if not self.tuning.background or vectors is None or vectors.count() <= labelled:
            return []
        keys = sorted(vectors.keys())
        rng = np.random.default_rng(len(keys))  # deterministic for a given store
        size = min(self.tuning.background, len(keys))
        chosen = [int(k) for k in rng.choice(keys, size=size, replace=False)]
        self._load_vectors(found, chosen)
        return [found.vectors[k] for k in chosen if k in found.vectors]

    def _classifier_list(self, model: LinearModel, found: Candidates,
                         filters: SearchFilters) -> list[Hit]:
        """Every candidate and the passages nearest the weight vector, by probability."""
        hits: dict[int, Hit] = {}
        if self.tuning.classifier_neighbours:
            direction = model.weights / (np.linalg.norm(model.weights) or 1.0)
            near = self.searcher.vector_hits("", filters, vector=direction.astype(np.float32))
            hits = {h.passage_id: h for h in near}
        for candidates in found.lists.values():
            for hit in candidates:
                hits.setdefault(hit.passage_id, hit)
        self._load_vectors(found, list(hits))
        ids = [p for p in hits if p in found.vectors]
        if not ids:
            return []
        scores = model.probability(np.stack([found.vectors[p] for p in ids]))
        order = np.argsort(-scores, kind="stable")
        return [Hit(ids[i], hits[ids[i]].document_id, float(scores[i])) for i in order]

    def fuse(self, found: Candidates, exclusions: Exclusions, limit: int) -> list[Suggestion]:
        """Reciprocal-rank fusion per document over the lists, leaving out what is excluded."""
        if exclusions.texts:
            self._load_texts(found, [h.passage_id for hits in found.lists.values() for h in hits])
        t = self.tuning
        examples = [name for name in found.lists if name.startswith("example_")]
        weights = {"claim_keyword": t.claim_keyword, "claim_vector": t.claim_vector,
                   "claim_documents": t.documents, "classifier": t.classifier}
        weights.update({name: t.examples / len(examples) for name in examples})
        counters = [name for name in found.lists if name.startswith("counter_")]
        weights.update({name: t.counter / len(counters) for name in counters})
        results: dict[int, Suggestion] = {}
        passage_score: dict[int, float] = {}
        for name, hits in found.lists.items():
            kept = [h for h in hits if exclusions.allows(h, found.texts.get(h.passage_id))]
            self._fuse_list(name, kept, weights[name], results, passage_score)
        ranked = sorted(results.values(), key=lambda r: (-r.score, r.document_id))[:limit]
        probabilities = {h.passage_id: h.score for h in found.lists.get("classifier", [])}
        for result in ranked:
            result.classifier = probabilities.get(result.passage_id)
        return ranked

    def _fuse_list(self, name: str, hits: Sequence[Hit], weight: float,
                   results: dict[int, Suggestion], passage_score: dict[int, float]) -> None:
        k = self.tuning.k
        for rank, hit in enumerate(hits, start=1):
            passage_score[hit.passage_id] = passage_score.get(hit.passage_id, 0.0) \
                + weight / (k + rank)
        best: dict[int, Hit] = {}
        second: dict[int, int] = {}  # a document's second passage's rank in the list
        for rank, hit in enumerate(hits, start=1):
            if hit.document_id in best:
                second.setdefault(hit.document_id, rank)
            best.setdefault(hit.document_id, hit)
        share = self.tuning.second_passage
        for rank, (doc, hit) in enumerate(best.items(), start=1):
            entry = results.setdefault(doc, Suggestion(hit.passage_id, doc, 0.0))
            entry.score += weight / (k + rank)
            if share and doc in second:
                entry.score += share * weight / (k + second[doc])
            if passage_score[hit.passage_id] > passage_score.get(entry.passage_id, 0.0):
                entry.passage_id = hit.passage_id
            if name.startswith("claim_"):
                entry.claim_rank = min(entry.claim_rank or rank, rank)
            elif name.startswith("example_"):
                entry.example_rank = min(entry.example_rank or rank, rank)

    def _add_stances(self, ranked: Sequence[Suggestion], claim: str,
                     examples: Sequence[Example], found: Candidates) -> None:
        ids = [r.passage_id for r in ranked]
        model = fit_stance(examples)
        if model is not None:
            self._load_vectors(found, ids)
        self._load_texts(found, ids)
        stances = predict_stances(model, [found.vectors.get(p) for p in ids],
                                  [found.texts.get(p, "") for p in ids], claim,
                                  min_confidence=self.tuning.stance_min_confidence)
        for result, (stance, confidence) in zip(ranked, stances, strict=True):
            result.stance, result.stance_confidence = stance, confidence

    def _load_vectors(self, found: Candidates, ids: Sequence[int]) -> None:
        vectors = self.searcher.vectors
        missing = [p for p in ids if p not in found.vectors]
        if missing and vectors is not None and vectors.count():
            found.vectors.update(vectors.get(missing))

    def _load_texts(self, found: Candidates, ids: Sequence[int]) -> None:
        missing = [p for p in dict.fromkeys(ids) if p not in found.texts]
        if missing:
            found.texts.update({pid: p.text for pid, p in
                                self.searcher.catalog.passages(missing).items()})


def _in_order(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))


# --- "has this been argued before?" -------------------------------------------------------------


@dataclass
class Related:
    """A passage close to a piece of writing, and how close (cosine of the best chunk)."""

    passage_id: int
    document_id: int
    score: float


def closest_claims(text_vectors: Vectors, claim_vectors: dict[int, list[Vectors]],
                   limit: int) -> list[tuple[int, float]]:
    """Claims nearest a text: the best cosine between any chunk of the text and the claim's
    own wording or one of its confirmed passages (those count 0.9 as much)."""
    scored = []
    for claim_id, vectors in claim_vectors.items():
        if not vectors:
            continue
        sims = text_vectors @ np.stack(vectors).T
        weights = np.array([1.0] + [0.9] * (len(vectors) - 1), dtype=np.float32)
        scored.append((claim_id, float((sims * weights).max())))
    return sorted(scored, key=lambda pair: -pair[1])[:limit]


def related_passages(searcher: HybridSearcher, chunks: Sequence[str], chunk_vectors: Vectors,
                     limit: int, k: float = 10.0) -> list[Related]:
    """Passages nearest the chunks of a text, one per document: documents fused over the chunks
    by reciprocal rank (vector and keyword search per chunk), each shown by its best passage."""
    doc_score: dict[int, float] = {}
    passage_score: dict[int, float] = {}
    owner: dict[int, int] = {}
    for chunk, vector in zip(chunks, chunk_vectors, strict=True):
        lists = [searcher.keyword_hits(chunk, SearchFilters())]
        if searcher.has_vectors:
            lists.append(searcher.vector_hits("", SearchFilters(), vector=vector))
        for hits in lists:
            for rank, hit in enumerate(hits, start=1):
                passage_score[hit.passage_id] = passage_score.get(hit.passage_id, 0.0) \
                    + 1.0 / (k + rank)
                owner[hit.passage_id] = hit.document_id
            for rank, doc in enumerate(_in_order(h.document_id for h in hits), start=1):
                doc_score[doc] = doc_score.get(doc, 0.0) + 1.0 / (k + rank)
    best: dict[int, int] = {}
    for pid, doc in owner.items():
        if doc not in best or passage_score[pid] > passage_score[best[doc]]:
            best[doc] = pid
    ranked = sorted(doc_score, key=lambda d: (-doc_score[d], d))[:limit]
    return [Related(best[d], d, doc_score[d] / max(len(chunks), 1)) for d in ranked]
