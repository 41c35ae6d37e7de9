"""Stance read by a claim's own labels (`StanceReader`, `tracker.index.stance_local`): once a
claim has two labels of each side, passages nearer its opposing labels read as opposing, though
nothing in their wording says so."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.claims.conftest import HashEmbedder, doc, new_claim, put, tag
from tests.index.conftest import run_index, searcher
from tracker.claims.stance import Target, make_pairs, stance_reader
from tracker.index.stance import StanceSettings

CLAIM = "Remote work helps teams"
# Both sides in plain words, no cue word: only the labels tell them apart.
FOR = "Our team ships faster from home, quiet focus and flexible hours {i}."
AGAINST = "Our office team sees colleagues daily, hallway chats and shared lunches {i}."


@pytest.fixture
def labelled(engine: Engine) -> Engine:
    put(engine, *(doc(f"for{i}", f"Post {i}", FOR.format(i=i)) for i in range(4)),
        *(doc(f"against{i}", f"Note {i}", AGAINST.format(i=i)) for i in range(4)))
    run_index(engine, HashEmbedder(dim=256, name="test-hash-256"))
    return engine


def test_a_claims_own_labels_read_its_other_passages(labelled: Engine) -> None:
    hashed = searcher(labelled, HashEmbedder(dim=256, name="test-hash-256"))
    claim = new_claim(labelled, CLAIM)
    for i in range(2):
        tag(labelled, claim, f"for{i}", FOR.format(i=i).rstrip("."), stance="supports")
        tag(labelled, claim, f"against{i}", AGAINST.format(i=i).rstrip("."), stance="opposes")
    on = stance_reader(labelled, hashed, claim, StanceSettings(claim_labels=True))
    off = stance_reader(labelled, hashed, claim, StanceSettings(claim_labels=False))
    assert (on.name, on.labels) == ("claim_labels", 4) and off.name == "cues"
    held = [("for3", FOR.format(i=3)), ("against3", AGAINST.format(i=3))]
    passages = {p.text: p.id for p in hashed.catalog.passages(range(1, 100)).values()}
    ids = {n: next(pid for text, pid in passages.items() if text.startswith(t[:40]))
           for n, t in held}
    targets = [Target(CLAIM, claim, hashed.catalog.passages([ids[n]])[ids[n]].document_id,
                      ids[n], t) for n, t in held]
    pairs = make_pairs(labelled, hashed, targets)
    p = on.p_opposes(pairs)
    assert p[1] > 0.5 > p[0]  # the opposing-labelled lookalike opposes
    assert [s for s, _ in off.predict(pairs)][0] == [s for s, _ in off.predict(pairs)][1]


def test_one_side_labelled_is_not_enough(labelled: Engine) -> None:
    hashed = searcher(labelled, HashEmbedder(dim=256, name="test-hash-256"))
    claim = new_claim(labelled, CLAIM)
    for i in range(3):
        tag(labelled, claim, f"for{i}", FOR.format(i=i).rstrip("."), stance="supports")
    tag(labelled, claim, "against0", AGAINST.format(i=0).rstrip("."), stance="opposes")
    assert stance_reader(labelled, hashed, claim,
                         StanceSettings(claim_labels=True)).name == "cues"
