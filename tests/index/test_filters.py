"""Filters and hints mean what they say: literal author text, min_words, forum names."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.index.conftest import HashEmbedder, doc, put, run_index, searcher
from tests.index.test_search import corpus, found
from tracker.index.base import SearchFilters
from tracker.index.chunk import word_count
from tracker.index.hybrid import parse_hints

QUERY = "policy gradients regression learning"


def test_author_filter_wildcards_are_literal(engine: Engine, embedder: HashEmbedder) -> None:
    # One author whose forum slug has no underscore.
    put(engine, *corpus(), doc("solo", "Policy gradients alone", "Policy gradients regression.",
                               author="Yudkowsky"))
    run_index(engine, embedder)
    assert "solo" in found(engine, embedder, QUERY)
    by = lambda author: found(engine, embedder, QUERY, SearchFilters(authors=(author,)))  # noqa: E731
    assert by("christ") == ["rl"]
    # LIKE wildcards in a name match only themselves: nobody is called "%" or "p_ul".
    assert by("%") == []
    assert "solo" not in by("_") and "rl" in by("_")  # "_" is in the other slugs
    assert by("p_ul") == []
    assert by("christ%") == []
    assert by("\\") == []
    # A real underscore (in the forum slug "paul_christiano") still matches.
    assert by("paul_chr") == ["rl"]


def sentences(tag: str, n: int) -> str:
    """A paragraph of `n` words in sentences of five."""
    return " ".join(f"{tag}{i}{'.' if i % 5 == 4 else ''}" for i in range(n))


def test_no_passage_is_under_min_words(engine: Engine, embedder: HashEmbedder) -> None:
    body = "\n\n".join(["## Heading", sentences("alpha", 190), sentences("middle", 30),
                        sentences("omega", 190)])
    put(engine, doc("shorts", "Short pieces", body), doc("tiny", "Tiny", "Just a few words."))
    run_index(engine, embedder, max_words=200, min_words=100)
    search = searcher(engine, embedder)
    ids = {search.catalog.documents([r.document_id])[r.document_id].native_id: r.document_id
           for r in search.search("middle3 alpha3 omega3 few words", limit=5)}
    passages = search.catalog.document_passages(ids["shorts"])
    sizes = [word_count(p.text) for p in passages]
    assert len(passages) >= 2 and min(sizes) >= 100, sizes
    assert all(p.text == body[p.start : p.end] for p in passages)
    # The heading and the short middle paragraph sit inside passages of real size.
    heading = next(p for p in passages if "Heading" in p.text)
    middle = next(p for p in passages if "middle3" in p.text)
    assert word_count(heading.text) >= 100 and word_count(middle.text) >= 100
    # A document shorter than min_words is one passage.
    assert [word_count(p.text) for p in search.catalog.document_passages(ids["tiny"])] == [4]


def test_forum_hint_matches_any_spelling() -> None:
    for query in ("goodhart on the Alignment Forum", "goodhart ALIGNMENT FORUM",
                  "goodhart alignment forum", "goodhart AF", "goodhart Alignmentforum"):
        hints = parse_hints(query)
        assert hints.forums == {"alignmentforum"}, query
        assert hints.text.split()[0] == "goodhart" and "forum" not in hints.text.lower(), query


def test_alignment_forum_hint_lifts_af_posts(engine: Engine, embedder: HashEmbedder) -> None:
    body = "Policy gradients reduce to weighted regression on returns."
    # Same text: without the hint the lower document id (the LessWrong copy) ranks first.
    put(engine, doc("plain", "Policy gradients as regression", body))
    put(engine, doc("onaf", "Policy gradients as regression", body, af=True))
    run_index(engine, embedder)
    assert found(engine, embedder, "policy gradients regression")[:2] == ["plain", "onaf"]
    assert found(engine, embedder, "policy gradients regression on the Alignment Forum")[0] \
        == "onaf"
