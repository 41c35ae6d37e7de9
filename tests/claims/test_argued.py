"""`tracker argued`: the earliest and the strongest posts making an argument, on real corpus
posts (the sample corpus, through the forum parser), with citations and a cross-post."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.claims.conftest import HashEmbedder, doc, one_line_error, put, run, run_json
from tests.conftest import SHARED
from tests.index.conftest import T0, run_index, searcher, settings
from tracker.claims.argued import argued_before
from tracker.config import load_settings
from tracker.models import DocumentCreate, LinkCreate
from tracker.store.engine import make_engine

ARGUMENT = ("Goodhart's law: optimising hard for a proxy measure makes the proxy come apart "
            "from the goal it stood for")


def corpus_posts(n: int = 30) -> list[DocumentCreate]:
    """The first `n` LessWrong sample posts with a body, as the forum source yields them."""
    from tests.servers.forummagnum.corpus import _post_from_row
    from tracker.config import ForumSettings
    from tracker.ingest.forum import ForumSource

    source = ForumSource("lesswrong", ForumSettings())
    out = []
    with (SHARED / "corpus" / "sample" / "posts_sample.jsonl").open(encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            if row["forum"] in ("lesswrong", "alignmentforum") and row.get("body_html"):
                out.append(source._post_document(_post_from_row(row)))
            if len(out) == n:
                break
    return out


def argument_posts() -> list[DocumentCreate]:
    """The original (2015), a later restatement citing it, its cross-post, and a newer echo."""
    body = ("When you optimise hard for a proxy measure, the proxy comes apart from the goal it "
            "stood for. This is Goodhart's law, and it is why optimising a proxy hard fails.")
    original = doc("orig", "Goodhart's law and proxies", body, posted=T0 - timedelta(days=3000))
    original.aliases = ["url:example.org/orig"]
    later = doc("later", "Proxies come apart under optimisation", body + " As argued before.",
                posted=T0)
    later.links = [LinkCreate(url="https://example.org/orig", kind="external",
                              target_key="url:example.org/orig")]
    echo = doc("echo", "Optimising proxies", "Optimising hard for a proxy measure makes the "
               "proxy come apart from the goal: Goodhart's law.", posted=T0 + timedelta(days=9))
    echo.links = list(later.links)
    copy = doc("orig-copy", "Goodhart's law and proxies", body, source="ada-blog",
               kind="entry", posted=T0 - timedelta(days=2999))  # the blog copy: same work
    return [original, later, echo, copy]


@pytest.fixture
def engine() -> Engine:
    """The CLI's own store with real posts, the argument's posts, indexed by a hash model."""
    engine = make_engine(load_settings().sqlalchemy_url)
    put(engine, *corpus_posts(), *argument_posts())
    run_index(engine, HashEmbedder(dim=256, name="test-hash-256"))
    return engine


def titles(rows: list[dict[str, Any]]) -> list[str]:
    return [r["title"] for r in rows]


def test_argued_finds_the_original_first_and_the_most_cited_strongest(engine: Engine) -> None:
    data = run_json("argued", ARGUMENT, "--limit", "5")
    assert data["vectors"] is False  # the CLI's model is not the one that indexed: keywords
    earliest, strongest = data["earliest"], data["strongest"]
    assert earliest[0]["title"] == "Goodhart's law and proxies"
    assert earliest[0]["posted_at"].startswith(str((T0 - timedelta(days=3000)).date()))
    dates = [r["posted_at"] for r in earliest]
    assert dates == sorted(dates)
    # the cross-post is one work: it is listed once, with the copy's address
    assert titles(earliest).count("Goodhart's law and proxies") == 1
    assert titles(strongest).count("Goodhart's law and proxies") == 1
    top = strongest[0]
    assert top["title"] == "Goodhart's law and proxies" and top["cited_by"] >= 2
    assert len(top["also_at"]) == 1  # the other copy of the work, by its address
    assert top["cited_by_matches"] >= 2
    for row in earliest + strongest:
        assert set(row) >= {"document_id", "title", "authors", "posted_at", "url", "source",
                            "kind", "quote", "start", "end", "score", "cited_by",
                            "cited_by_matches", "also_at"}
        assert 0 <= row["start"] < row["end"]
    code, out, _ = run("argued", ARGUMENT)
    assert code == 0 and "earliest:" in out and "strongest" in out and "cited by" in out


def test_argued_on_a_real_post_and_with_vectors(engine: Engine) -> None:
    post = corpus_posts(5)[2]
    sentence = " ".join(post.body_text.split()[40:80])
    data = run_json("argued", sentence, "--limit", "3")
    assert post.title in titles(data["strongest"])
    model = HashEmbedder(dim=256, name="test-hash-256")
    report = argued_before(engine, settings(), sentence, limit=3,
                           searcher=searcher(engine, model))
    assert report.vectors and post.title in [p.title for p in report.strongest]


@pytest.mark.parametrize(("args", "message"), [
    ((), "Nothing to look for"), (("   ",), "Nothing to look for"),
    (("x" * 25_000,), "give the argument in at most 20000"),
    (("--file", "/nonexistent/draft.md"), "Cannot read /nonexistent/draft.md"),
])
def test_bad_input_is_one_line(engine: Engine, args: tuple[str, ...], message: str) -> None:
    code, _, err = run("argued", *args)
    assert code == 1 and message in one_line_error(err)
