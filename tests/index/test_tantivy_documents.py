"""The document-level keyword index: whole documents ranked by BM25, kept in step with the
passages (new, edited, deleted documents; anchors), rebuilt when missing, idempotent after a
crash between its commit and the passage index's."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from tests.index.conftest import HashEmbedder, doc, put, run_index
from tracker.cli import cli
from tracker.config import load_settings
from tracker.index.base import SearchFilters
from tracker.index.tantivydocs import DocumentRow
from tracker.search.keywords import sync_keywords, tantivy_index
from tracker.store.engine import make_engine

# Two paragraphs far apart: with passages of 40 words, each word is in a different passage.
FILLER = " ".join(["ordinary words fill this paragraph about nothing much"] * 6)
SPREAD = doc("spread", "A post", f"The glimmerwick idea first.\n\n{FILLER}\n\n{FILLER}\n\n"
             f"Later the thornbury point.")
ONE = doc("one", "Another post", f"Only glimmerwick here.\n\n{FILLER}")
OTHER = doc("other", "A third post", f"Only thornbury here.\n\n{FILLER}")


def engine():  # type: ignore[no-untyped-def]
    return make_engine(load_settings().sqlalchemy_url)


def index(*docs):  # type: ignore[no-untyped-def]
    e = engine()
    try:
        put(e, *docs)
        run_index(e, HashEmbedder(), max_words=40, min_words=10)
    finally:
        e.dispose()


def by_document(query: str, **filters: object) -> list[str]:
    """Native ids of the document index's hits, best first."""
    e = engine()
    try:
        keywords = tantivy_index(e)
        found = keywords.search_documents(query, 10, SearchFilters(**filters))  # type: ignore[arg-type]
        from tracker.index.catalog import Catalog

        infos = Catalog(e).documents(d for d, _ in found)
        return [infos[d].native_id for d, _ in found]
    finally:
        e.dispose()


def test_words_spread_over_a_document_rank_it_first() -> None:
    index(SPREAD, ONE, OTHER)
    assert by_document("glimmerwick thornbury")[0] == "spread"
    # The passage list alone cannot see that: each passage holds one of the words.
    result = CliRunner().invoke(cli, ["search", "--json", "glimmerwick", "thornbury"])
    assert result.exit_code == 0, result.output
    ranks = {r["document"]["native_id"]: r["matched"]["keyword_rank"]
             for r in json.loads(result.stdout)["results"]}
    assert ranks["spread"] == 1  # the document's own keyword rank
    assert by_document("glimmerwick", kinds=("comment",)) == []


def test_edits_and_deletions_reach_the_document_index() -> None:
    index(SPREAD, ONE)
    index(SPREAD.model_copy(update={"body_text": "Now only about quillfeather."}))
    assert by_document("thornbury") == []
    assert by_document("quillfeather") == ["spread"]
    index(ONE.model_copy(update={"deleted": True}))
    assert by_document("glimmerwick") == []


def test_anchor_text_of_a_later_citation_is_indexed() -> None:
    from tracker.models import LinkCreate

    index(ONE.model_copy(update={"aliases": ["test:one"]}))
    citing = doc("citer", "Citing", "See the post.").model_copy(update={"links": [LinkCreate(
        url=ONE.url or "", kind="post", target_key="test:one",
        anchor_text="the vorpalish manifesto")]})
    index(citing)
    assert by_document("vorpalish manifesto") == ["one"]  # its anchors, not the body


def test_missing_folder_is_rebuilt_by_search_and_doctor_says_so() -> None:
    index(SPREAD, ONE, OTHER)
    e = engine()
    folder = tantivy_index(e).documents.folder
    e.dispose()
    shutil.rmtree(folder)
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1 and "document index missing" in result.stdout, result.output
    result = CliRunner().invoke(cli, ["search", "--json", "glimmerwick", "thornbury"])
    assert result.exit_code == 0, result.output
    assert "document index" in result.stderr
    ranks = {r["document"]["native_id"]: r["matched"]["keyword_rank"]
             for r in json.loads(result.stdout)["results"]}
    assert ranks["spread"] == 1
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output


def test_replaying_after_a_crash_adds_no_second_copy() -> None:
    """A crash after the document index committed but before the outbox was cleared (or with
    the watermark behind the rows) replays the same documents: still one row each."""
    index(SPREAD, ONE, OTHER)
    e = engine()
    try:
        documents = tantivy_index(e).documents
        assert documents.count() == 3
        writer = documents.writer()
        try:  # the watermark back at 0, the rows still there
            writer.add([DocumentRow(999_999, 1, "decoy")])
            writer.delete([999_999])
            writer.commit(0)
        finally:
            writer.close()
        report = sync_keywords(e)
        assert report.documents == 3
        assert documents.count() == 3
        assert by_document("glimmerwick") == ["one", "spread"]
    finally:
        e.dispose()
