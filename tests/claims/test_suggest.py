"""`claim suggest`: retrieval on the claim and its confirmed passages, a per-claim classifier
once there are labels, stance from labels, and rejected passages that never come back."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from tests.claims.conftest import HashEmbedder, doc, links, new_claim, put, tag
from tests.index.conftest import run_index, searcher
from tracker import store
from tracker.claims.suggest import SuggestReport, check_text, suggest_claim
from tracker.config import load_settings
from tracker.index.suggest import Example, Tuning, cue_stance, fit_logistic, fit_stance
from tracker.store.engine import session_scope

CLAIM = "Optimising a proxy measure hard breaks the proxy"

# Goodhart posts argue the claim in other words; "proxy server" posts share its words only.
GOODHART = [
    ("g1", "Goodhart taxonomy", "When a measure becomes a target it ceases to be a good measure. "
     "Regressional extremal causal adversarial goodhart."),
    ("g2", "Goodhart in RL", "Reward hacking: the agent games the reward, a measure that became "
     "a target, and goodhart wins. Specification gaming everywhere."),
    ("g3", "Why targets fail", "Any measure that becomes a target stops measuring: goodhart "
     "regressional and extremal effects compound under pressure."),
    ("g4", "Goodhart at the tails", "Extremal goodhart: a measure that becomes a target "
     "diverges from the goal at the tails, and regressional effects follow."),
    ("g5", "Against goodhart pessimism", "I disagree that goodhart dooms every target measure; "
     "the worry is overstated and mistaken, regressional effects are small."),
    ("g6", "Goodhart objections", "Skeptics doubt goodhart: I disagree, the worry about every "
     "target measure is wrong, overstated and mistaken."),
]
SERVERS = [
    (f"s{i}", f"Proxy server tuning {i}", f"Optimising a proxy server hard: the proxy caches "
     f"pages and breaks when the proxy measure of latency {word} spikes.")
    for i, word in enumerate(["nginx", "squid", "haproxy", "varnish", "envoy", "traefik"])
]
OTHER = [("c1", "Bread", "Bake bread at high heat with steam."),
         ("c2", "Gardening", "Water tomatoes in the morning.")]


@pytest.fixture
def seeded(engine: Engine, embedder: HashEmbedder) -> Engine:
    put(engine, *(doc(n, t, b) for n, t, b in GOODHART + SERVERS + OTHER))
    run_index(engine, embedder)
    return engine


def suggest(engine: Engine, embedder: HashEmbedder, claim: int, limit: int = 10,
            tuning: Tuning | None = None) -> SuggestReport:
    return suggest_claim(engine, load_settings(), claim, limit=limit,
                         searcher=searcher(engine, embedder), tuning=tuning)


def native(report: SuggestReport) -> list[str]:
    return [report.documents[s.document_id].native_id for s, _ in report.suggestions]


def decide(engine: Engine, report: SuggestReport, ids: set[str], *, accept: bool,
           stance: str | None = None) -> None:
    with session_scope(engine) as session:
        for found, link in report.suggestions:
            if report.documents[found.document_id].native_id in ids:
                if accept:
                    store.accept_link(session=session, link_id=link.id or 0, stance=stance)
                else:
                    store.reject_link(session=session, link_id=link.id or 0)


def test_without_labels_the_claim_text_finds_lookalikes(seeded: Engine,
                                                        embedder: HashEmbedder) -> None:
    claim = new_claim(seeded, CLAIM)
    report = suggest(seeded, embedder, claim)
    assert not report.classifier and report.stance_model == "cues" and report.vectors
    assert native(report)[0].startswith("s")  # the words match proxy servers best
    assert all(link.status == "suggested" and link.origin == "suggested"
               for _, link in report.suggestions)
    for found, link in report.suggestions:
        passage = report.passages[found.passage_id]
        assert (link.start, link.end, link.passage_id) == (passage.start, passage.end, passage.id)
        assert link.quote == passage.text and link.score == pytest.approx(found.score)


def test_labels_train_a_classifier_that_reranks(seeded: Engine, embedder: HashEmbedder) -> None:
    engine = seeded
    claim = new_claim(engine, CLAIM)
    tag(engine, claim, "g1", "When a measure becomes a target it ceases to be a good measure")
    tag(engine, claim, "g2", "the agent games the reward")
    first = suggest(engine, embedder, claim, limit=20)
    assert first.confirmed == 2 and not first.classifier
    decide(engine, first, {"s0", "s1"}, accept=False)
    learned = suggest(engine, embedder, claim, limit=20)
    assert learned.classifier and (learned.confirmed, learned.rejected) == (2, 2)
    ranked = native(learned)
    assert {"g1", "g2", "s0", "s1"}.isdisjoint(ranked)  # decided: never suggested again
    p = {learned.documents[s.document_id].native_id: s.classifier
         for s, _ in learned.suggestions}
    assert min(p[g] or 0 for g in ("g3", "g4", "g5", "g6")) > \
        max(p[s] or 1 for s in ("s2", "s3", "s4", "s5"))
    before = [n for n in native(first) if n not in {"s0", "s1"}]
    goodhart = {"g3", "g4", "g5", "g6"}
    assert len(goodhart & set(ranked[:4])) > len(goodhart & set(before[:4]))


def test_rejected_passages_never_come_back(seeded: Engine, embedder: HashEmbedder) -> None:
    claim = new_claim(seeded, CLAIM)
    report = suggest(seeded, embedder, claim, limit=50)
    rejected = set(native(report)[:3])
    decide(seeded, report, rejected, accept=False)
    for _ in range(2):
        again = suggest(seeded, embedder, claim, limit=50)
        assert rejected.isdisjoint(native(again))
    # The same text re-split under new passage ids stays rejected too.
    put(seeded, *(doc(n, t + " (retitled)", b) for n, t, b in SERVERS))
    run_index(seeded, embedder)
    assert rejected.isdisjoint(native(suggest(seeded, embedder, claim, limit=50)))
    statuses = [k.status for k in links(seeded, claim)]
    assert statuses.count("rejected") == 3


def test_suggestions_keep_their_link_ids_and_stay_apart_from_confirmed(
        seeded: Engine, embedder: HashEmbedder) -> None:
    claim = new_claim(seeded, CLAIM)
    tag(seeded, claim, "g1", "When a measure becomes a target")
    first = suggest(seeded, embedder, claim)
    second = suggest(seeded, embedder, claim)
    assert [k.id for _, k in first.suggestions] == [k.id for _, k in second.suggestions]
    assert "g1" not in native(second)  # already confirmed
    with session_scope(seeded) as session:
        counts = store.count_links(session=session, claim_ids=[claim])[claim]
    def saved(report: SuggestReport) -> set[int | None]:
        return {k.id for _, k in report.suggestions + report.supporting + report.opposing}

    assert counts["supports"] == 1 and counts["suggested"] == len(saved(second))
    fewer = suggest(seeded, embedder, claim, limit=2)
    assert len(fewer.supporting) <= 2 and len(fewer.opposing) <= 2
    assert {k.id for k in links(seeded, claim) if k.status == "suggested"} == saved(fewer)
    assert [k.id for _, k in fewer.suggestions] == [k.id for _, k in second.suggestions][:2]


def test_stance_reads_opposition_before_there_are_enough_labels(seeded: Engine,
                                                   embedder: HashEmbedder) -> None:
    claim = new_claim(seeded, CLAIM)
    tag(seeded, claim, "g1", "When a measure becomes a target", stance="supports")
    tag(seeded, claim, "g3", "Any measure that becomes a target stops measuring")
    tag(seeded, claim, "g5", "I disagree that goodhart dooms every target measure",
        stance="opposes")
    report = suggest(seeded, embedder, claim, limit=20)
    # one opposing label is too few to learn from (4 a side): the cue-word rule reads g6
    assert report.stance_model == "cues" and report.stance_labels == 0
    stances = {report.documents[s.document_id].native_id: s.stance for s, _ in report.suggestions}
    assert stances["g6"] == "opposes" and stances["g4"] != "opposes"
    assert "g6" in {report.documents[s.document_id].native_id for s, _ in report.opposing}
    with session_scope(seeded) as session:
        link = next(k for s, k in report.suggestions
                    if report.documents[s.document_id].native_id == "g6")
        accepted = store.accept_link(session=session, link_id=link.id or 0)
        assert (accepted.status, accepted.stance, accepted.origin) == \
            ("confirmed", "opposes", "suggested")


def test_keyword_only_store_still_suggests(engine: Engine) -> None:
    put(engine, *(doc(n, t, b) for n, t, b in GOODHART + SERVERS))
    claim = new_claim(engine, CLAIM)
    run_index(engine, HashEmbedder(name="another-model"))
    report = suggest_claim(engine, load_settings(), claim)  # the default model has no vectors
    assert not report.vectors and native(report)[0].startswith("s")


def test_check_finds_claims_and_passages_with_their_stances(seeded: Engine,
                                                            embedder: HashEmbedder) -> None:
    claim = new_claim(seeded, CLAIM)
    other = new_claim(seeded, "Bread needs steam")
    tag(seeded, claim, "g5", "I disagree that goodhart dooms every target measure",
        stance="opposes")
    report = check_text(seeded, load_settings(), "Reward hacking shows goodhart: once a measure "
                        "is a target it fails.", searcher=searcher(seeded, embedder))
    assert report.claims[0][0].id == claim and {c.id for c, _, _ in report.claims} == \
        {claim, other}
    docs = [report.documents[report.info[pid].document_id].native_id
            for pid, _ in report.passages]
    assert docs[0].startswith("g")
    stances = [link.stance for found in report.linked.values() for link, _ in found]
    assert stances == ["opposes"]


def test_logistic_regression_separates_and_balances() -> None:
    rng = np.random.default_rng(0)
    pos = rng.normal(0.5, 0.1, (3, 8)).astype(np.float32)
    neg = rng.normal(-0.5, 0.1, (30, 8)).astype(np.float32)
    model = fit_logistic(np.vstack([pos, neg]), [1] * 3 + [0] * 30, l2=0.1)
    p = model.probability(np.vstack([pos, neg]))
    assert (p[:3] > 0.5).all() and (p[3:] < 0.5).all()


def test_stance_needs_two_stances_and_cues_guess_before() -> None:
    v = np.eye(4, dtype=np.float32)
    assert fit_stance([Example(v[0], True, "supports")]) is None
    model = fit_stance([Example(v[0], True, "supports"), Example(v[1], True, "opposes"),
                        Example(v[2], False, None)])
    assert model is not None
    assert [s for s, _ in model.predict(v[:2])] == ["supports", "opposes"]
    assert cue_stance("I disagree: this is wrong and overstated.", "X")[0] == "opposes"
    assert cue_stance("This shows X holds in every case we tried.", "X")[0] == "supports"
