"""Claims and links in the store, on SQLite and a real PostgreSQL: tagging, merging, deleting,
and anchors that follow an edit or go stale."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.claims.conftest import GOODHART, doc, links, new_claim, put, tag
from tracker import store
from tracker.errors import NotFoundError, TrackerError
from tracker.models import ClaimLink
from tracker.store.engine import session_scope


def test_claims_are_added_listed_edited_and_counted(engine: Engine) -> None:
    first = new_claim(engine, "  Deceptive alignment\n is likely   by default ")
    second = new_claim(engine, "Takeoff will be slow 🐢 — 慢")
    with session_scope(engine) as session:
        rows = store.list_claims(session=session)
        assert [c.text for c in rows] == ["Deceptive alignment is likely by default",
                                          "Takeoff will be slow 🐢 — 慢"]
        store.edit_claim(session=session, claim_id=first, text="Deceptive alignment is likely")
        assert store.get_claim(session=session, claim_id=first).text == \
            "Deceptive alignment is likely"
        counts = store.count_links(session=session, claim_ids=[first, second])
    assert counts[second] == {"supports": 0, "opposes": 0, "mentions": 0, "stale": 0,
                              "suggested": 0, "rejected": 0}


@pytest.mark.parametrize("text", ["", "   ", "\x1b[31m\x00 \u202e", "x" * 4001])
def test_empty_or_huge_claims_are_refused(engine: Engine, text: str) -> None:
    with session_scope(engine) as session, pytest.raises(TrackerError, match="claim"):
        store.add_claim(session=session, text=text)


def test_unknown_claim_and_link_ids_are_not_found(engine: Engine) -> None:
    with session_scope(engine) as session:
        with pytest.raises(NotFoundError, match="No claim 999. `tracker claim list`"):
            store.get_claim(session=session, claim_id=999)
        with pytest.raises(NotFoundError, match="No claim link 5"):
            store.accept_link(session=session, link_id=5)
        with pytest.raises(NotFoundError, match="No claim -1"):
            store.merge_claims(session=session, source_id=-1, target_id=1)


def test_tag_anchors_the_exact_text_with_span_context_and_revision(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    link = tag(engine, claim, "g", "when a measure becomes a target it ceases to be a good "
               "measure", note="the classic")
    with session_scope(engine) as session:
        document = store.get_document(session=session, ref="g")
    assert link.quote == "When a measure becomes a target, it ceases to be a good measure"
    assert GOODHART[link.start : link.end] == link.quote
    assert GOODHART[: link.start].endswith(link.prefix) and link.prefix.endswith("says: “")
    assert GOODHART[link.end :].startswith(link.suffix) and len(link.suffix) == 32
    assert link.revision == document.content_hash
    assert (link.stance, link.origin, link.status, link.note) == \
        ("supports", "user", "confirmed", "the classic")
    again = tag(engine, claim, "g", "When a measure becomes a target, it ceases to be a good "
                "measure", stance="mentions")
    assert again.id == link.id and again.stance == "mentions"  # the same span: updated


@pytest.mark.parametrize(("quote", "message"), [
    ("", "The quote is empty"),
    ("   \n ", "The quote is empty"),
    (GOODHART + " and more", "is longer than the text of document"),
    ("proxies are always fine to optimise", "is not in document"),
    ("the proxy", "occurs 2 times in document .* --prefix/--suffix .* --occurrence N"),
])
def test_bad_quotes_are_refused_clearly(engine: Engine, quote: str, message: str) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    with pytest.raises(TrackerError, match=message):
        tag(engine, claim, "g", quote)
    assert links(engine, claim) == []


def test_not_found_names_the_closest_text(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    with pytest.raises(TrackerError) as caught:
        tag(engine, claim, "g", "Extremal Goodhart: at the extremities the proxy and goal part")
    assert "The closest text" in caught.value.msg and "extremes the proxy" in caught.value.msg


def test_ambiguous_quote_is_resolved_by_context_or_occurrence(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    by_prefix = tag(engine, claim, "g", "the proxy", prefix="will break ")
    assert GOODHART[by_prefix.start - 11 : by_prefix.start] == "will break "
    second = tag(engine, claim, "g", "the proxy", occurrence=1, stance="opposes")
    assert second.start < by_prefix.start
    with pytest.raises(TrackerError, match="--occurrence 3: the quote occurs 2 time"):
        tag(engine, claim, "g", "the proxy", occurrence=3)


def test_unicode_quotes_and_claims(engine: Engine) -> None:
    body = ("前言。欺骗性对齐是默认的可能结果。\n\n"
            "RTL: \u05e9\u05dc\u05d5\u05dd עולם. Emoji 🙂🙃 here.")
    put(engine, doc("u", "Ünïcödé 🙂", body))
    claim = new_claim(engine, "欺骗性对齐 🙂 is likely")
    link = tag(engine, claim, "u", "欺骗性对齐是默认的可能结果")
    assert body[link.start : link.end] == "欺骗性对齐是默认的可能结果"
    emoji = tag(engine, claim, "u", "emoji 🙂🙃")
    assert body[emoji.start : emoji.end] == "Emoji 🙂🙃"


def test_merge_keeps_every_link(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART), doc("h", "Other", "A proxy is not the goal."))
    a, b, c = new_claim(engine, "A"), new_claim(engine, "B"), new_claim(engine, "C")
    kept = [tag(engine, a, "g", "selecting on a proxy also selects for noise").id,
            tag(engine, a, "h", "A proxy is not the goal", stance="opposes").id,
            tag(engine, b, "g", "selecting on a proxy also selects for noise").id,
            tag(engine, c, "g", "at the extremes", stance="mentions").id]
    with session_scope(engine) as session:
        store.reject_link(session=session, link_id=kept[1])
        store.merge_claims(session=session, source_id=c, target_id=a)
        target, moved = store.merge_claims(session=session, source_id=a, target_id=b)
        assert (target.id, moved) == (b, 3)
        with pytest.raises(TrackerError, match="was merged into claim"):
            store.merge_claims(session=session, source_id=a, target_id=c)
        with pytest.raises(TrackerError, match="into itself"):
            store.merge_claims(session=session, source_id=b, target_id=b)
        assert store.get_claim(session=session, claim_id=a).id == b  # a names b now
        assert store.get_claim(session=session, claim_id=c).id == b
        assert [x.id for x in store.list_claims(session=session)] == [b]
    after = links(engine, b)
    assert sorted(k.id for k in after) == sorted(kept)  # nothing lost, duplicates included
    assert {k.id: k.status for k in after}[kept[1]] == "rejected"
    with session_scope(engine) as session:
        assert store.delete_claim(session=session, claim_id=b) == 4
        assert store.list_claims(session=session, merged=True) == []  # a and c went with b


def edit(engine: Engine, body: str, title: str = "Goodhart") -> None:
    put(engine, doc("g", title, body))


def one(engine: Engine, claim: int) -> ClaimLink:
    [link] = links(engine, claim)
    return link


def test_anchor_moves_with_an_edit_that_keeps_the_quote(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    quote = "selecting on a proxy also selects for noise"
    before = tag(engine, claim, "g", quote)
    edit(engine, "A new first paragraph.\n\n" + GOODHART.replace("   ", " "))
    moved = one(engine, claim)
    assert moved.status == "confirmed" and moved.quote == quote
    assert moved.start == before.start + len("A new first paragraph.\n\n") - 0 * 2
    with session_scope(engine) as session:
        document = store.get_document(session=session, ref="g")
        assert document.body_text[moved.start : moved.end] == quote
        assert moved.revision == document.content_hash != before.revision
        assert len(store.get_revisions(session=session, document_id=document.id or 0)) == 1
    edit(engine, document.body_text, title="Goodhart, retitled")  # title only: same span
    retitled = one(engine, claim)
    assert (retitled.start, retitled.status) == (moved.start, "confirmed")
    assert retitled.revision != moved.revision


def test_typographic_edit_follows_but_a_rewording_goes_stale(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    before = tag(engine, claim, "g", "Optimisation pressure finds the cracks in any proxy")
    edit(engine, GOODHART.replace("Optimisation pressure   finds", "Optimisation pressure finds"))
    follows = one(engine, claim)
    assert follows.status == "confirmed"
    assert follows.quote == "Optimisation pressure finds the cracks in any proxy"
    reworded = GOODHART.replace("   finds the cracks in any proxy", " exploits any proxy")
    edit(engine, reworded)
    stale = one(engine, claim)
    # Stale: kept with its old quote, span and revision; never moved, never deleted.
    assert stale.status == "stale"
    assert (stale.quote, stale.start, stale.end, stale.revision) == \
        (follows.quote, follows.start, follows.end, follows.revision)
    assert stale.revision != before.revision
    with session_scope(engine) as session, pytest.raises(TrackerError, match="no longer in"):
        store.accept_link(session=session, link_id=stale.id or 0)
    with session_scope(engine) as session:
        confirmed = store.accept_link(session=session, link_id=stale.id or 0,
                                       quote="Optimisation pressure exploits any proxy")
        assert confirmed.status == "confirmed" and reworded[confirmed.start:confirmed.end] == \
            "Optimisation pressure exploits any proxy"


def test_stale_link_stays_stale_until_confirmed_even_if_the_text_returns(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    tag(engine, claim, "g", "selecting on a proxy also selects for noise")
    edit(engine, "Completely different text.")
    assert one(engine, claim).status == "stale"
    edit(engine, GOODHART)  # reverted
    reverted = one(engine, claim)
    assert reverted.status == "stale"
    with session_scope(engine) as session:
        confirmed = store.accept_link(session=session, link_id=reverted.id or 0)
        document = store.get_document(session=session, ref="g")
        assert confirmed.status == "confirmed" and confirmed.revision == document.content_hash


def test_repeated_quote_after_an_edit_follows_its_own_context(engine: Engine) -> None:
    body = "Intro. The proxy breaks here. Middle part. The proxy breaks there. End."
    put(engine, doc("g", "Goodhart", body))
    claim = new_claim(engine)
    link = tag(engine, claim, "g", "The proxy breaks", suffix=" there")
    edit(engine, "New intro. The proxy breaks here. More middle. The proxy breaks there. End.")
    moved = one(engine, claim)
    assert moved.suffix.startswith(" there") and moved.start > link.start


def test_suggestions_whose_passage_is_gone_are_dropped_not_kept(engine: Engine) -> None:
    put(engine, doc("g", "Goodhart", GOODHART))
    claim = new_claim(engine)
    with session_scope(engine) as session:
        document = store.get_document(session=session, ref="g")
        [saved] = store.save_suggestions(session=session, claim_id=claim, rows=[
            store.Suggested(document.id or 0, 1, 0, 20, 0.5, "supports")])
        rejected = store.reject_link(session=session, link_id=saved.id or 0)
    edit(engine, "Nothing of the old text.")
    assert [(k.id, k.status) for k in links(engine, claim)] == [(rejected.id, "rejected")]
