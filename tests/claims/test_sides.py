"""Both sides of a claim: the stance model (learned from labels on all claims, abstaining when
unsure), counter-argument retrieval, and `claim suggest --json`'s supporting and opposing lists,
through the CLI; bad input loses no label."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from tests.claims.conftest import doc, one_line_error, put, run, run_json
from tests.index.conftest import run_index
from tracker.config import load_settings
from tracker.index.stance import (
    UNCLEAR,
    Discourse,
    Pair,
    StanceSettings,
    counter_queries,
    fit_stance_model,
    negate,
)
from tracker.store.engine import make_engine

FOR = ["{t} clearly holds, and the evidence shows that it does.",
       "Indeed {t}: I argue that this is right and the data confirm it.",
       "We have good evidence for this: {t}, therefore we should act on it."]
AGAINST = ["I disagree that {t}; this argument proves too much.",
           "The case against it: {t} is wrong, and the objection stands.",
           "I don't think {t}. My rebuttal: it doesn't follow."]
TOPICS = ["deceptive alignment is likely", "takeoff will be fast", "proxies break",
          "interpretability scales", "debate is safe", "oracles are safe"]


def pairs_for(topics: list[str]) -> tuple[list[Pair], list[str]]:
    pairs, stances = [], []
    for topic in topics:
        for template in FOR:
            pairs.append(Pair(topic, template.format(t=topic)))
            stances.append("supports")
        for template in AGAINST:
            pairs.append(Pair(topic, template.format(t=topic)))
            stances.append("opposes")
    return pairs, stances


def test_negation_and_counter_phrasings() -> None:
    assert negate("Deceptive alignment is likely by default") == \
        "Deceptive alignment is not likely by default"
    assert negate("AI will not be aligned by default") == "AI will be aligned by default"
    assert negate("Proxies break") == "It is not true that proxies break"
    queries = counter_queries("Proxies break.")
    assert queries[0] == "It is not true that proxies break"
    assert any("disagree" in q for q in queries) and any("wrong" in q for q in queries)


def replies_for(topics: list[str]) -> tuple[list[Pair], list[str]]:
    """Opposing passages are replies with negative agreement: only the discourse tells."""
    pairs, stances = [], []
    for topic in topics:
        for i in range(4):
            text = f"Some thoughts on {topic}, number {i}."
            pairs.append(Pair(topic, text))
            stances.append("supports")
            pairs.append(Pair(topic, text, discourse=Discourse(comment=True, agreement=-3)))
            stances.append("opposes")
    return pairs, stances


def test_the_model_learns_from_labels_and_beats_the_constant_on_held_out_claims() -> None:
    train, train_y = replies_for(TOPICS[:4])
    test, test_y = replies_for(TOPICS[4:])
    model = fit_stance_model(train, train_y, StanceSettings(abstain_below=0.5))
    assert model.learned and model.labels == len(train)
    predicted = [s for s, _ in model.predict(test)]
    accuracy = np.mean([p == t for p, t in zip(predicted, test_y, strict=True)])
    assert accuracy == 1.0  # the constant gets 0.5, the cue-word rule too


def test_a_model_that_does_not_beat_the_cue_words_on_unseen_claims_is_not_used() -> None:
    pairs, stances = pairs_for(TOPICS)  # the cue-word rule reads these perfectly already
    model = fit_stance_model(pairs, stances)
    assert not model.learned and model.labels == len(pairs)
    assert [s for s, _ in model.predict(pairs)] == stances


def test_too_few_labels_fall_back_to_cue_words_and_abstain_when_unsure() -> None:
    pairs, stances = pairs_for(TOPICS[:1])
    model = fit_stance_model(pairs, stances)  # 3 of each side: below min_per_side (4)
    assert not model.learned
    neutral = Pair("proxies break", "Here is a table of numbers from the experiment.")
    [(stance, confidence)] = model.predict([neutral])
    assert stance == "supports" and confidence < 0.8  # the prior: most tagged passages agree
    wary = fit_stance_model(pairs, stances, StanceSettings(cue_abstain_below=0.8))
    assert wary.predict([neutral])[0][0] == UNCLEAR
    [(stance, _)] = model.predict([Pair("proxies break", AGAINST[0].format(t="proxies break"))])
    assert stance == "opposes"


def test_a_reply_to_a_supporting_post_leans_opposing() -> None:
    model = fit_stance_model([], [])
    plain = Pair("proxies break", "That sounds off to me.")
    reply = Pair("proxies break", "That sounds off to me.",
                 discourse=Discourse(comment=True, parent_stance="supports", agreement=-4))
    assert model.p_opposes([reply])[0] > model.p_opposes([plain])[0]


@pytest.fixture
def engine() -> Engine:
    """The CLI's store: posts for and against three claims, indexed (keyword search)."""
    from tests.claims.conftest import HashEmbedder

    engine = make_engine(load_settings().sqlalchemy_url)
    docs = []
    for n, topic in enumerate(["proxies break", "takeoff is fast", "debate is safe"]):
        for i, template in enumerate(FOR + AGAINST):
            docs.append(doc(f"d{n}{i}", f"On {topic} {i}", template.format(t=topic)))
    put(engine, *docs)
    run_index(engine, HashEmbedder(name="another-model"))
    return engine


def test_suggest_lists_both_sides_and_learns_stance_from_other_claims(engine: Engine) -> None:
    proxies = str(run_json("claim", "add", "proxies break")["id"])
    takeoff = str(run_json("claim", "add", "takeoff is fast")["id"])
    for i, template in enumerate(FOR + AGAINST):  # label every passage of one claim
        stance = "supports" if i < len(FOR) else "opposes"
        run_json("claim", "tag", takeoff, f"d1{i}", "--quote",
                 template.format(t="takeoff is fast"), "--stance", stance)
    data = run_json("claim", "suggest", proxies)
    assert data["learning"]["stance_model"] == "cues"  # 3 labels a side: not yet
    debate = str(run_json("claim", "add", "debate is safe")["id"])
    for i, template in enumerate(FOR + AGAINST):  # and of another: 6 a side
        stance = "supports" if i < len(FOR) else "opposes"
        run_json("claim", "tag", debate, f"d2{i}", "--quote",
                 template.format(t="debate is safe"), "--stance", stance)
    data = run_json("claim", "suggest", proxies)
    assert data["learning"]["stance_model"] == "learned"
    assert data["learning"]["stance_labels"] == 12
    supporting = {r["document"]["native_id"] for r in data["supporting"]}
    opposing = {r["document"]["native_id"] for r in data["opposing"]}
    assert opposing >= {"d03", "d04", "d05"}  # every argument against the fresh claim
    assert supporting & {"d00", "d01", "d02"} and not supporting & {"d03", "d04", "d05"}
    assert all(r["stance"] == "opposes" for r in data["opposing"]
               if r["document"]["native_id"] in {"d03", "d04", "d05"})
    code, out, _ = run("claim", "suggest", proxies)
    assert code == 0 and "\nsupporting:" in out and "\nopposing:" in out


def test_bad_claims_and_a_vanished_quote_lose_no_label(engine: Engine) -> None:
    claim = str(run_json("claim", "add", "proxies break")["id"])
    link = run_json("claim", "tag", claim, "d00", "--quote", "clearly holds",
                    "--stance", "supports")
    for args, message in ((("claim", "add", ""), "A claim needs text"),
                          (("claim", "add", "x" * 10_000), "at most 4000"),
                          (("claim", "edit", claim, "y" * 10_000), "at most 4000"),
                          (("argued", ""), "Nothing to look for")):
        code, _, err = run(*args)
        assert code == 1 and message in one_line_error(err)
    put(engine, doc("d00", "On proxies break 0", "Rewritten: nothing of the old words."))
    shown = run_json("claim", "show", claim)
    assert [(x["id"], x["status"]) for x in shown["links"]] == [(link["id"], "stale")]
    assert shown["claim"]["text"] == "proxies break"
    data = run_json("claim", "suggest", claim)  # suggestions go on; the stale label stays
    assert data["supporting"] or data["opposing"]
    assert [(x["id"], x["status"]) for x in run_json("claim", "show", claim)["links"]
            if x["status"] != "suggested"] == [(link["id"], "stale")]
