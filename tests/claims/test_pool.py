"""Per-document evidence in `claim suggest`: a post that argues a claim over several paragraphs,
one claim word in each, is found by whole-document BM25 though no single passage of it ranks
high, and shows through one of its own passages."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.claims.conftest import HashEmbedder, doc, new_claim, put, run_json
from tests.index.conftest import run_index, searcher
from tracker.claims.suggest import SuggestReport, suggest_claim
from tracker.config import load_settings
from tracker.index.suggest import Tuning
from tracker.store.engine import make_engine

CLAIM = "tidal locking orbital resonance"
WORDS = CLAIM.split()


def filler(seed: int, n: int = 130) -> str:
    """Words that are not the claim's, different per paragraph."""
    return " ".join(f"w{seed}x{i % 37}" for i in range(n)) + "."


# One post: four paragraphs of ~130 words, each naming one claim word once (4 passages).
SPREAD = "\n\n".join(f"{filler(10 + i)} {word} {filler(20 + i, 10)}"
                     for i, word in enumerate(WORDS))
# Six long posts naming two claim words side by side: each has the best single passage.
PAIRS = [(WORDS[i % 4], WORDS[(i + 1) % 4]) for i in range(6)]


def seed(engine: Engine) -> Engine:
    put(engine, doc("spread", "Notes", SPREAD),
        *(doc(f"pair{i}", f"Post {i}", f"{filler(40 + i)} {a} {b} {filler(50 + i, 250)}")
          for i, (a, b) in enumerate(PAIRS)))
    run_index(engine, HashEmbedder(dim=256, name="test-hash-256"))
    return engine


@pytest.fixture
def pooled(engine: Engine) -> Engine:
    return seed(engine)


def rank_of(report: SuggestReport, native: str) -> int:
    ranked = [report.documents[s.document_id].native_id for s, _ in report.suggestions]
    return ranked.index(native) + 1 if native in ranked else 99


def test_whole_document_bm25_lifts_a_post_that_argues_over_several_passages(
        pooled: Engine) -> None:
    claim = new_claim(pooled, CLAIM)
    hashed = searcher(pooled, HashEmbedder(dim=256, name="test-hash-256"))

    def run(tuning: Tuning) -> SuggestReport:
        return suggest_claim(pooled, load_settings(), claim, limit=7, searcher=hashed,
                             tuning=tuning, save=False)

    without = run(Tuning(documents=0.0))
    with_documents = run(Tuning(documents=2.0))
    assert rank_of(with_documents, "spread") < rank_of(without, "spread")
    assert rank_of(with_documents, "spread") <= 3
    shown = next(s for s, _ in with_documents.suggestions
                 if with_documents.documents[s.document_id].native_id == "spread")
    assert any(word in with_documents.passages[shown.passage_id].text for word in WORDS)


def test_the_shipped_suggest_finds_the_spread_post() -> None:
    """Through the CLI, on its own store (keyword only: the hash vectors are another model's)."""
    claim = new_claim(seed(make_engine(load_settings().sqlalchemy_url)), CLAIM)
    data = run_json("claim", "suggest", str(claim), "--limit", "3")
    assert "spread" in [r["document"]["native_id"] for r in data["supporting"]]
