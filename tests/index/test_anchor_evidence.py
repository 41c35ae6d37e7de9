"""Anchor text and citing sentences find the cited post on both backends, through the CLI:
SQLite (tantivy) and PostgreSQL (its tantivy replica, and the `keyword_anchor` table of the
ts_rank engine), including links resolved or removed after the first `tracker index`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.index.conftest import HashEmbedder, put, run_index
from tests.index.test_tantivy import ANCHOR, citing, real_posts
from tracker.cli import cli
from tracker.models import DocumentCreate
from tracker.store.engine import make_engine


@pytest.fixture
def store_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI works on this test's database (SQLite file or PostgreSQL)."""
    monkeypatch.setenv("TRACKER_DATABASE_URL", database_url)
    return database_url


def index_store(url: str, *docs: DocumentCreate, **index: object) -> None:
    """Store documents and run an index (hash vectors)."""
    engine = make_engine(url)
    try:
        put(engine, *docs)
        run_index(engine, HashEmbedder(), **index)
    finally:
        engine.dispose()


def keyword_found(query: str) -> list[str]:
    """Native ids `tracker search --json` found by keyword, best first."""
    result = CliRunner().invoke(cli, ["search", "--json", "--", query])
    assert result.exit_code == 0, result.output
    return [r["document"]["native_id"] for r in json.loads(result.stdout)["results"]
            if r["matched"]["keyword_rank"] is not None]


def test_anchor_text_alone_finds_the_cited_post(shared: Path, store_url: str) -> None:
    target = real_posts(shared, 3)[2]
    index_store(store_url, target, citing("c1", target, ANCHOR))
    # "Zorblaxian" is only in c1's anchor text: the cited post is found by it too. (The order
    # of the two differs: ts_rank has no IDF or length normalisation, BM25 has both.)
    assert set(keyword_found("zorblaxian treatise")) == {"c1", target.native_id}
    # A generic anchor ("here") adds nothing, but its sentence does.
    assert set(keyword_found("quuxification")) == {"c1", target.native_id}


def test_links_resolved_or_removed_later_reach_the_index(shared: Path, store_url: str) -> None:
    target = real_posts(shared, 4)[3]
    post = citing("c2", target, ANCHOR)
    index_store(store_url, post)  # the target is not stored yet: the link is unresolved
    assert keyword_found("zorblaxian") == ["c2"]
    index_store(store_url, target)  # stored later: the link resolves, the next index adds it
    assert set(keyword_found("zorblaxian")) == {"c2", target.native_id}
    index_store(store_url, post.model_copy(update={
        "body_html": "<p>Rewritten.</p>", "body_text": "Rewritten.", "links": []}))
    assert keyword_found("zorblaxian") == []


@pytest.mark.postgres
def test_postgres_anchor_rows_follow_the_links(shared: Path, pg_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With the ts_rank engine (`index.keyword_engine = "fts5"`), evidence is one row per
    cited document, replaced (not appended) when links change, and the queue is empty after
    `tracker index`."""
    monkeypatch.setenv("TRACKER_DATABASE_URL", pg_url)
    monkeypatch.setenv("TRACKER_INDEX__KEYWORD_ENGINE", "fts5")
    target = real_posts(shared, 2)[1]
    index_store(pg_url, target, citing("c4", target, ANCHOR), citing("c5", target, ANCHOR),
                keyword_engine="fts5")
    index_store(pg_url, citing("c5", target, '<p><a href="{url}">Glimmerfax essay</a></p>'),
                keyword_engine="fts5")
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT anchors FROM keyword_anchor")).scalars().all()
            queued = conn.execute(text("SELECT count(*) FROM keyword_anchor_outbox")).scalar()
        assert len(rows) == 1 and queued == 0
        assert rows[0].splitlines()[-1] == "Glimmerfax essay" and len(rows[0].splitlines()) == 3
        assert set(keyword_found("glimmerfax")) == {"c5", target.native_id}
    finally:
        engine.dispose()
