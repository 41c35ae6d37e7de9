"""`tracker backfill` over real HTTP against the local ForumMagnum server (real corpus posts),
and how it meets documents that `tracker import` stored first."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from tests.conftest import REPO, SHARED
from tests.ingest import test_forum_sync
from tests.ingest.test_forum_sync import count_rows, expected_ids, stored, tracker
from tests.servers.forum import Fault, ForumData, ForumServer
from tracker import store
from tracker.config import load_settings
from tracker.models import Document, Revision
from tracker.store.engine import make_engine, session_scope

# The forum sync's fixtures: fresh sample sites, served over HTTP, endpoints in the env.
sites = test_forum_sync.sites
server = test_forum_sync.server


def cursor(source: str) -> dict[str, str]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            return store.get_cursor(session=session, source=source)
    finally:
        engine.dispose()


def distinct_urls(source: str) -> tuple[int, int]:
    """(documents, distinct URLs) of one source: equal when nothing is stored twice."""
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            where = col(Document.source) == source
            total = session.execute(select(func.count()).where(where)).scalar_one()
            urls = session.execute(
                select(func.count(func.distinct(Document.url))).where(where)).scalar_one()
            return int(total), int(urls)
    finally:
        engine.dispose()


def test_backfill_stores_the_whole_history_on_its_own_cursor(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    code, out, err = tracker("backfill", "eaforum")
    assert code == 0, err
    assert set(stored("eaforum")) == expected_ids(sites, "eaforum")
    assert "eaforum: ok" in out and "documents" in err  # progress lines, then the summary
    saved = cursor("eaforum")
    assert saved == {"backfill_posts": "done", "backfill_comments": "done"}  # never `posts`
    code, out, _ = tracker("status", "--json")
    [ea] = [h for h in json.loads(out)["history"] if h["source"] == "eaforum"]
    assert ea["backfill_done"] and ea["oldest"] is not None
    assert ea["oldest"][:10] == min(p["postedAt"] for p in sites["eaforum"].posts.values())[:10]
    # A later sync keeps its own cursor and adds nothing the backfill already stored.
    before = count_rows(Document)
    assert tracker("sync", "eaforum")[0] == 0
    assert count_rows(Document) == before
    assert cursor("eaforum")["backfill_posts"] == "done"


def test_unknown_source_is_one_usage_line(server: ForumServer) -> None:
    code, _, err = tracker("backfill", "arxiv")
    assert code == 2 and "'arxiv' has no backfill" in err and "Traceback" not in err


def test_import_then_sync_and_backfill_add_no_duplicates_and_pick_up_an_edit(
    server: ForumServer, sites: dict[str, ForumData], tmp_path: Path
) -> None:
    corpus = SHARED / "corpus" / "sample" / "posts_sample.jsonl"
    code, out, err = tracker("import", str(corpus), "--no-split")
    assert code == 0, err
    imported = {k: d.body_text for k, d in stored("lesswrong").items()}
    assert imported
    assert tracker("backfill", "lesswrong", "eaforum")[0] == 0
    assert tracker("sync", "lesswrong", "eaforum")[0] == 0
    for source in ("lesswrong", "eaforum"):
        # By site id: everything served once; the only others are imported posts the server
        # does not list (events, drafts).
        have = set(stored(source))
        assert expected_ids(sites, source) <= have
        assert not have - expected_ids(sites, source) - set(imported) - set(stored("eaforum"))
        total, urls = distinct_urls(source)
        assert total == urls  # by URL: once each
    # The server's text of an imported post differs (its HTML): kept as a revision.
    assert count_rows(Revision) > 0
    data = sites["lesswrong"]
    post = next(p for p in data.posts.values() if p["_id"] in imported and p.get("htmlBody"))
    time.sleep(0.01)
    data.edit_post(post["_id"], html="<p>Edited after the import.</p>")
    assert tracker("sync", "lesswrong")[0] == 0
    assert stored("lesswrong")[post["_id"]].body_text == "Edited after the import."


def test_backfill_through_faults_and_three_kills_stores_everything_exactly_once(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    rng = random.Random(16)
    expected = expected_ids(sites, "lesswrong")
    # Each request is slowed so that a kill lands mid-run; faults come and go between pages.
    server.faults.push(Fault.delay(0.05).only(site="lesswrong").repeat(None))
    for fault in (Fault.status(429, headers={"Retry-After": "1"}), Fault.status(500),
                  Fault.malformed_json()):
        server.faults.push(fault.only(site="lesswrong").after(rng.randint(1, 6)))
    for kill in range(3):
        process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "backfill", "lesswrong"], env={**os.environ},
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = len(stored("lesswrong")) + rng.randint(20, 120)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(stored("lesswrong")) < target \
                and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert len(stored("lesswrong")) < len(expected), f"kill {kill} came too late"
    # A challenge page stops the backfill at once; the next run goes on from its cursor.
    server.faults.clear()
    server.faults.push(Fault.challenge().only(site="lesswrong"))
    code, _, err = tracker("backfill", "lesswrong")
    assert code == 1 and "challenge" in err and "Traceback" not in err
    code, _, err = tracker("backfill", "lesswrong")
    assert code == 0, err
    assert set(stored("lesswrong")) == expected
    assert count_rows(Document) == len(expected)
    assert any(r.status == 429 for r in server.requests)
    assert "posts" not in cursor("lesswrong")  # the incremental cursor was never touched


def test_serve_backfills_a_slice_after_each_forum_sync(
    server: ForumServer, sites: dict[str, ForumData], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.service.scheduler import job_context, run_sync

    monkeypatch.setenv("TRACKER_BACKFILL__ENABLED", "true")
    monkeypatch.setenv("TRACKER_BACKFILL__PAGES", "2")
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__PAGE_SIZE", "20")
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__FIRST_SYNC_DAYS", "1")
    monkeypatch.setenv("TRACKER_SCHEDULE__INDEX", "false")
    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    with job_context(engine, settings):
        run_sync("eaforum")
    saved = cursor("eaforum")
    assert "posts" in saved  # the incremental sync ran and kept its own cursor
    assert saved["backfill_posts"] not in ("done", None)  # two pages in: part of the way
    # Two pages of 20; `after` is inclusive, so the second re-reads the first's last post.
    assert len(stored("eaforum")) == 39
    with job_context(engine, settings):
        run_sync("eaforum")  # the next slice finishes the posts (3 pages and an empty one)
    posts = {p["_id"] for p in sites["eaforum"].posts.values()
             if not p.get("isEvent") and not p.get("draft")}
    assert set(stored("eaforum")) == posts
    code, out, _ = tracker("status", "--json")
    [ea] = [h for h in json.loads(out)["history"] if h["source"] == "eaforum"]
    assert ea["backfill"] == {"posts": "done"} and not ea["backfill_done"]
    engine.dispose()
