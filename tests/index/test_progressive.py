"""The progressive index: embedding in priority order, and each tier's coverage in
`tracker status`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from tests.conftest import SHARED
from tests.index.conftest import HashEmbedder
from tracker.cli import cli
from tracker.config import load_settings
from tracker.models import Document, Passage, PassageEmbedding
from tracker.search.indexing import index_documents
from tracker.service.interests import record_reading
from tracker.store.engine import make_engine, session_scope

MODEL = "test-hash-64"


@pytest.fixture
def imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample's posts and Arbital comments, imported and split (no vectors yet)."""
    monkeypatch.setenv("TRACKER_INDEX__MODEL", MODEL)
    monkeypatch.setenv("TRACKER_INDEX__GROUP_SIZE", "16")
    sample = SHARED / "corpus" / "sample"
    result = CliRunner().invoke(cli, ["import", str(sample / "posts_sample.jsonl"),
                                      str(sample / "comments_sample.jsonl")])
    assert result.exit_code == 0, result.output


def _embedded_documents(engine: object) -> list[Document]:
    with session_scope(engine) as session:  # type: ignore[arg-type]
        stmt = (select(Document).join(Passage, col(Passage.document_id) == col(Document.id))
                .join(PassageEmbedding, col(PassageEmbedding.passage_id) == col(Passage.id)))
        return list(session.exec(stmt).unique().all())


def test_opened_documents_then_high_karma_posts_are_embedded_first(imported: None) -> None:
    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(engine) as session:
        posts = session.exec(select(Document).where(col(Document.kind) == "post",
                                                    col(Document.body_text) != "")).all()
        opened = min(posts, key=lambda d: d.score or 0)  # the least-voted post
        assert opened.id is not None
        record_reading(session=session, document_id=opened.id)
        top = max(d.score or 0 for d in posts)
    report = index_documents(engine, settings, embedder=HashEmbedder(name=MODEL), limit=16)
    assert report.embedded == 16
    done = _embedded_documents(engine)
    assert opened.id in {d.id for d in done}
    others = [d for d in done if d.id != opened.id]
    assert all(d.kind == "post" for d in others)  # posts before comments
    assert max(d.score or 0 for d in others) == top
    engine.dispose()


def test_status_reports_each_tier_and_search_over_partial_coverage_says_so(
    imported: None,
) -> None:
    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    index_documents(engine, settings, embedder=HashEmbedder(name=MODEL), limit=32)
    engine.dispose()
    result = CliRunner().invoke(cli, ["status", "--json"])
    assert result.exit_code == 0, result.output
    [tier] = json.loads(result.stdout)["index"]
    assert tier["model"] == MODEL and tier["embedded"] == 32
    assert tier["passages"] > 32 and 0 < tier["share"] < 1
    assert tier["rate"] > 0 and tier["eta_seconds"] > 0
    result = CliRunner().invoke(cli, ["status"])
    assert f"index: {MODEL}: 32 of {tier['passages']} passages embedded" in result.stdout
    from tracker.cli.context import Context
    from tracker.cli.history import coverage_note

    note = coverage_note(Context())
    assert note is not None and note.startswith(f"dense search covers 32 of {tier['passages']}")


def test_a_store_with_only_recent_posts_says_how_to_get_the_history(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 0
    [hint] = [line for line in result.stdout.splitlines() if "whole history" in line]
    assert "tracker import FILE" in hint and "tracker backfill" in hint and " h of polite" in hint
