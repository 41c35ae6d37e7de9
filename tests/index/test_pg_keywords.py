"""One ranking, two backends: on PostgreSQL the keyword side is a tantivy replica kept in step
from an outbox, and ranks as SQLite's tantivy does (issue 19).

The contract test stores the same 300 real corpus posts in a SQLite file and in a real
PostgreSQL, indexes both through `tracker index` (hash vectors) and runs 30 queries through
the hybrid searcher on each. The replica tests check what differs from SQLite: several
replicas share one outbox, a sync never reads past a transaction still writing, rows are
pruned by age, and `tracker doctor` reports the replica.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from tests.conftest import fresh_pg_database
from tests.index.conftest import HashEmbedder, put, run_index, searcher
from tracker.cli import cli
from tracker.index.backends import open_keyword_index
from tracker.index.base import SearchFilters
from tracker.index.tantivyreplica import PgTantivyKeywordIndex
from tracker.models import DocumentCreate
from tracker.search.keywords import sync_keywords
from tracker.store.engine import make_engine

pytestmark = pytest.mark.postgres
POSTS = 300


def real_posts(shared: Path, n: int) -> list[DocumentCreate]:
    """The first `n` LessWrong/AF posts with a body of posts.jsonl.gz, as a sync stores them."""
    from tests.servers.forummagnum.corpus import _post_from_row
    from tracker.config import ForumSettings
    from tracker.ingest.forum import ForumSource

    source, found = ForumSource("lesswrong", ForumSettings()), []
    with gzip.open(shared / "corpus" / "posts.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row.get("body_html") and row["forum"] in ("lesswrong", "alignmentforum"):
                found.append(source._post_document(_post_from_row(row)))
                if len(found) == n:
                    break
    return found


def queries_from(posts: list[DocumentCreate]) -> list[str]:
    """30 vague queries: four longer words from the middle of every tenth post's body."""
    queries = []
    for post in posts[::10][:30]:
        words = re.findall(r"[A-Za-z]{7,}", post.body_text or "")
        middle = len(words) // 2
        queries.append(" ".join(words[middle : middle + 4]))
    return queries


@pytest.fixture(scope="module")
def both(shared: Path, pg_server: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[list[str]]]]:
    """The top 10 native ids of every query on each backend, the stores built once."""
    posts = real_posts(shared, POSTS)
    queries = queries_from(posts)
    home = tmp_path_factory.mktemp("pg-keywords-home")
    tops: dict[str, list[list[str]]] = {}
    with fresh_pg_database(pg_server) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("TRACKER_HOME", str(home))
        for name, store in (("sqlite", f"sqlite:///{home / 'same.db'}"), ("postgres", url)):
            engine = make_engine(store)
            put(engine, *posts)
            run_index(engine, HashEmbedder())
            hybrid = searcher(engine, HashEmbedder())
            hybrid.embedder = None  # the keyword side, as `--no-vectors` measures it
            tops[name] = []
            for query in queries:
                results = hybrid.search(query, SearchFilters(), limit=10)
                docs = hybrid.catalog.documents(r.document_id for r in results)
                tops[name].append([docs[r.document_id].native_id for r in results])
            assert name != "postgres" or isinstance(hybrid.keyword, PgTantivyKeywordIndex)
            engine.dispose()
        yield tops


def test_same_top_result_on_both_backends(both: dict[str, list[list[str]]]) -> None:
    firsts = [(s[:1], p[:1]) for s, p in zip(both["sqlite"], both["postgres"], strict=True)]
    assert len(firsts) == 30 and all(s for s, _ in firsts)
    same = sum(s == p for s, p in firsts)
    assert same >= 27, firsts  # at least 90%
    # the whole top 10 too, as the same engine ranks the same passages
    assert sum(s == p for s, p in zip(both["sqlite"], both["postgres"], strict=True)) >= 27


# --- the replica ---------------------------------------------------------------------------

def replica(engine: Engine, home: Path, monkeypatch: pytest.MonkeyPatch) -> PgTantivyKeywordIndex:
    """The replica a process with this data directory keeps."""
    monkeypatch.setenv("TRACKER_HOME", str(home))
    index = open_keyword_index(engine)
    assert isinstance(index, PgTantivyKeywordIndex) and str(home) in str(index.folder)
    return index


def hits(index: Any, query: str) -> set[int]:
    return {h.document_id for h in index.search(query, 10, SearchFilters())}


def test_two_replicas_each_apply_every_change(shared: Path, pg_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    posts = real_posts(shared, 3)
    engine = make_engine(pg_url)
    put(engine, *posts)
    replica(engine, tmp_path / "a", monkeypatch)
    run_index(engine, HashEmbedder())
    replica(engine, tmp_path / "b", monkeypatch)  # built while all three posts are stored
    sync_keywords(engine)
    first = replica(engine, tmp_path / "a", monkeypatch)
    word = "zorblaxification"
    assert hits(first, word) == set()
    put(engine, posts[0].model_copy(update={"body_html": f"<p>{word}</p>",
                                            "body_text": word}))
    run_index(engine, HashEmbedder())  # replica a catches up: old passages out, new one in
    assert len(hits(first, word)) == 1 and first.backlog() == 0
    second = replica(engine, tmp_path / "b", monkeypatch)
    assert second.backlog() > 0  # a did not delete what b still needs
    assert hits(second, word) == set()
    sync_keywords(engine)
    assert len(hits(second, word)) == 1 and second.backlog() == 0
    assert second.count() == first.count()
    title = posts[2].title
    assert hits(second, title) == hits(first, title) != set()
    engine.dispose()


def test_a_sync_waits_for_a_transaction_still_writing(shared: Path, pg_url: str,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url)
    put(engine, *real_posts(shared, 2))
    index = replica(engine, tmp_path / "a", monkeypatch)
    run_index(engine, HashEmbedder())
    got: list[Any] = []
    with engine.connect() as writer:
        # an open transaction deleting a passage: its outbox row and any id it allocates are
        # not visible yet, so no sync may move past them
        writer.execute(text("DELETE FROM passage WHERE id = (SELECT max(id) FROM passage)"))
        waiting = threading.Thread(target=lambda: got.append(index.horizon()))
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and not got
        writer.commit()
    waiting.join(60)
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT max(seq) FROM keyword_outbox")).scalar_one()
    assert got and got[0].seq == newest
    engine.dispose()


def test_a_replica_behind_the_pruned_outbox_rebuilds(shared: Path, pg_url: str,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    posts = real_posts(shared, 2)
    engine = make_engine(pg_url)
    put(engine, *posts)
    replica(engine, tmp_path / "a", monkeypatch)
    run_index(engine, HashEmbedder())
    stale = replica(engine, tmp_path / "b", monkeypatch)
    sync_keywords(engine)
    put(engine, posts[1].model_copy(update={"body_html": "<p>Rewritten.</p>",
                                            "body_text": "Rewritten."}))
    replica(engine, tmp_path / "a", monkeypatch)
    run_index(engine, HashEmbedder())  # a applies the changes; b is away
    with engine.begin() as conn:  # ... for longer than the outbox keeps rows
        conn.execute(text("UPDATE keyword_outbox SET at = now() - interval '30 days'"))
    sync_keywords(engine)  # a's next sync prunes them
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM keyword_outbox")).scalar_one() == 0
    replica(engine, tmp_path / "b", monkeypatch)
    assert stale.stale().startswith("behind changes pruned")
    assert sync_keywords(engine).rebuilt.startswith("behind changes pruned")
    assert hits(stale, "rewritten") and stale.stale() == ""
    engine.dispose()


def test_doctor_reports_the_replica(shared: Path, pg_url: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", pg_url)
    engine = make_engine(pg_url)
    put(engine, *real_posts(shared, 2))
    run_index(engine, HashEmbedder())
    engine.dispose()

    def keyword_finding() -> dict[str, str]:
        result = CliRunner().invoke(cli, ["doctor", "--json"])
        found: dict[str, str] = {f["part"]: f for f in json.loads(result.stdout)}[
            "keyword index"]
        return found

    finding = keyword_finding()
    assert finding["state"] == "ok" and "tantivy replica at" in finding["what"], finding
    assert "in step" in finding["what"]
    folder = Path(finding["what"].split("replica at ")[1].split(":")[0])
    shutil.rmtree(folder)
    finding = keyword_finding()
    assert finding["state"] == "broken" and finding["fix"] == "tracker doctor --repair"
    result = CliRunner().invoke(cli, ["doctor", "--repair"])
    assert "keyword index (tantivy) rebuilt" in result.output, result.output
    assert keyword_finding()["state"] == "ok"


def test_a_search_answers_while_another_process_writes_the_replica(
        shared: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catching the replica up at search time is skipped, not fatal, while another process
    holds the writer (eight readers opening searches at once on one data directory)."""
    monkeypatch.setenv("TRACKER_DATABASE_URL", pg_url)
    engine = make_engine(pg_url)
    posts = real_posts(shared, 3)
    put(engine, *posts)
    run_index(engine, HashEmbedder())
    keyword = open_keyword_index(engine)
    assert isinstance(keyword, PgTantivyKeywordIndex)
    held = keyword.writer()  # what another process's catch-up would hold
    try:
        word = posts[0].title.split()[0]
        result = CliRunner().invoke(cli, ["search", "--json", word])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["results"], result.output
        result = CliRunner().invoke(cli, ["index"])
        assert result.exit_code == 1 and "being written by another process" in result.output
        assert "Traceback" not in result.output
    finally:
        held.close()
        engine.dispose()
