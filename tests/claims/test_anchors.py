"""Finding a quote in a text: exact, typographic and loose matches mapped back to offsets."""

from __future__ import annotations

import pytest

from tests.claims.conftest import GOODHART
from tracker.store import anchors


def spans(text: str, quote: str) -> list[tuple[str, str]]:
    return [(f.level, text[f.start : f.end]) for f in anchors.locate(text, quote)]


def test_exact_quote_is_found_as_is() -> None:
    assert spans(GOODHART, "selecting on a proxy also selects for noise") == [
        ("exact", "selecting on a proxy also selects for noise")]


@pytest.mark.parametrize(("quote", "level", "found"), [
    # whitespace: runs, newlines, non-breaking and zero-width spaces
    ("Optimisation pressure finds the cracks", "typographic",
     "Optimisation pressure   finds the cracks"),
    ("Optimisation\u00a0pressure\n finds\u200b the cracks", "typographic",
     "Optimisation pressure   finds the cracks"),
    # quote style and dashes
    ('"When a measure becomes a target, it ceases to be a good measure."', "typographic",
     "“When a measure becomes a target, it ceases to be a good measure.”"),
    # punctuation, case and markdown marks that the rendered page does not show
    ("when a measure becomes a target it ceases to be a good measure", "loose",
     "When a measure becomes a target, it ceases to be a good measure"),
    ("Goodharts law says", "loose", "Goodhart's law says"),
    ("Four kinds Regressional Goodhart", "loose", "Four kinds\n\n- Regressional Goodhart"),
    ("extremes the proxy and the goal come apart. Optimisation pressure", "loose",
     "extremes the proxy and the goal come apart.\n\n> Optimisation pressure"),
])
def test_near_misses_of_whitespace_and_punctuation_match(quote: str, level: str,
                                                         found: str) -> None:
    assert spans(GOODHART, quote) == [(level, found)]


def test_a_quote_that_is_not_there_is_not_found_and_a_hint_points_near() -> None:
    assert anchors.locate(GOODHART, "optimising a proxy gently keeps it intact") == []
    hint = anchors.closest(GOODHART, "Extremal Goodhart: at the extremities the proxy and goal")
    assert hint is not None and hint.similarity > 80
    assert "extremes the proxy" in GOODHART[hint.start : hint.end]


def test_repeated_quote_is_ambiguous_until_context_picks_one() -> None:
    found = anchors.locate(GOODHART, "proxy")
    assert len(found) == 6
    assert anchors.choose(GOODHART, found) is None
    chosen = anchors.choose(GOODHART, found, prefix="will break the ")
    assert chosen is not None and GOODHART[chosen.start - 15 : chosen.start] == "will break the "
    chosen = anchors.choose(GOODHART, found, suffix=" breaks again")
    assert chosen is not None and GOODHART[chosen.end :].startswith(" breaks again")
    near = anchors.choose(GOODHART, found, near=len(GOODHART))
    assert near is not None and near.start == max(f.start for f in found)


def test_unicode_text_keeps_offsets_into_the_original() -> None:
    text = "前言。欺骗性对齐 is “likely” by default — 🙂 Ⅻ ﬁne. Café crème."
    cases = (("欺骗性对齐 is \"likely\"", "typographic"), ("🙂 XII fine", "typographic"),
             ("cafe crème", None), ("CAFÉ CRÈME", "loose"))
    for quote, level in cases:
        found = anchors.locate(text, quote)
        if level is None:
            assert found == []  # accents are letters, not punctuation: no match
            continue
        assert found and found[0].level == level
        assert anchors.normalise(text[found[0].start : found[0].end], "loose")[0] == \
            anchors.normalise(quote, "loose")[0]


def test_only_punctuation_or_too_long_finds_nothing() -> None:
    assert anchors.locate(GOODHART, "…!?") == []
    assert anchors.too_long("short text", "a much longer quote than the text")
    assert not anchors.too_long(GOODHART, "the proxy")
    assert anchors.context("abcdef", 2, 4) == ("ab", "ef")
