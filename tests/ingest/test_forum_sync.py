"""`tracker sync` of LessWrong, the Alignment Forum and the EA Forum over real HTTP.

The server (tests/servers/forum.py) validates every query against a schema with ForumMagnum's
field names and serves real corpus posts with comment threads built from real text.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlmodel import col, select

from tests.conftest import REPO, SHARED
from tests.servers.forum import (
    Fault,
    ForumData,
    ForumServer,
    Site,
    format_timestamp,
    make_same_timestamp_posts,
    sample_sites,
)
from tracker import store
from tracker.cli import cli
from tracker.config import load_settings
from tracker.models import Document, Revision
from tracker.store.engine import make_engine, session_scope

CONTACT = "tests@example.invalid"


@pytest.fixture
def sites() -> dict[str, ForumData]:
    """Fresh, mutable copies of the sample corpus as LessWrong and EA Forum data."""
    return sample_sites(SHARED / "corpus")


@pytest.fixture
def server(sites: dict[str, ForumData], monkeypatch: pytest.MonkeyPatch) -> Iterator[ForumServer]:
    lw, ea = sites["lesswrong"], sites["eaforum"]
    with ForumServer(sites=[Site.lesswrong(lw), Site.eaforum(ea)]) as srv:
        for name, site in (("LESSWRONG", "lesswrong"), ("ALIGNMENTFORUM", "lesswrong"),
                           ("EAFORUM", "eaforum")):
            monkeypatch.setenv(f"TRACKER_SOURCES__{name}__ENDPOINT", srv.site_url(site))
            monkeypatch.setenv(f"TRACKER_SOURCES__{name}__DELAY", "0")
            monkeypatch.setenv(f"TRACKER_SOURCES__{name}__BACKOFF", "0.05")
            monkeypatch.setenv(f"TRACKER_SOURCES__{name}__MAX_BACKOFF", "3")
            monkeypatch.setenv(f"TRACKER_SOURCES__{name}__FIRST_SYNC_DAYS", "20000")
        monkeypatch.setenv("TRACKER_CONTACT", CONTACT)
        for other in ("ARXIV", "FEEDS"):
            monkeypatch.setenv(f"TRACKER_SOURCES__{other}__ENABLED", "false")
        yield srv


def tracker(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def expected_ids(sites: dict[str, ForumData], site: str) -> set[str]:
    """What a complete sync must store: listed posts (events excluded) and visible comments
    (those on events included: a comment is discourse wherever it was posted)."""
    data = sites[site]
    posts = {p["_id"] for p in data.posts.values()
             if not p.get("isEvent") and not p.get("draft")}
    comments = {c["_id"] for c in data.comments.values() if not c.get("deleted")}
    return posts | comments


def stored(source: str) -> dict[str, Document]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            rows = session.exec(select(Document).where(col(Document.source) == source)).all()
            return {row.native_id: row for row in rows}
    finally:
        engine.dispose()


def count_rows(model: Any) -> int:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            return session.execute(select(func.count()).select_from(model)).scalar_one()
    finally:
        engine.dispose()


def recent_posts(data: ForumData, n: int, days_ago: float) -> list[dict[str, Any]]:
    """Real sample posts re-dated into the refresh window (the sample is years old)."""
    stamp = format_timestamp(datetime.now(UTC) - timedelta(days=days_ago))
    source = [p for p in data.posts.values() if p.get("htmlBody")][:n]
    return [data.add_post(p) for p in make_same_timestamp_posts(n, stamp, source, seed=7)]


# --- a whole sync ------------------------------------------------------------------------


def test_full_sync_stores_everything_once_and_a_rerun_adds_nothing(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    code, out, err = tracker("sync", "lesswrong", "alignmentforum", "eaforum")
    assert code == 0, err
    lw, ea = stored("lesswrong"), stored("eaforum")
    assert set(lw) == expected_ids(sites, "lesswrong")
    assert set(ea) == expected_ids(sites, "eaforum")
    assert stored("alignmentforum") == {}  # AF posts are LessWrong documents with `af` set
    af_posts = {p["_id"] for p in sites["lesswrong"].posts.values() if p["af"]}
    assert af_posts and {k for k, d in lw.items() if d.kind == "post" and d.af} == af_posts - {
        p["_id"] for p in sites["lesswrong"].posts.values() if p.get("isEvent")}
    assert "lesswrong: ok" in out and "eaforum: ok" in out

    before = count_rows(Document)
    code, out, _ = tracker("sync", "lesswrong", "alignmentforum", "eaforum")
    assert code == 0
    assert count_rows(Document) == before and count_rows(Revision) == 0
    assert "lesswrong: ok · 0 new, 0 updated" in out
    assert "eaforum: ok · 0 new, 0 updated" in out


def test_requests_are_polite(server: ForumServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__DELAY", "0.2")
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__EXTRA_HEADER", "X-Forum-Access: s3cret-token")
    result = CliRunner().invoke(cli, ["-v", "sync", "eaforum"])
    assert result.exit_code == 0, result.stderr
    requests = [r for r in server.requests if r.site == "eaforum"]
    assert len(requests) >= 5
    assert all(r.method == "POST" for r in requests)
    assert all(r.user_agent.startswith("tracker/") and CONTACT in r.user_agent for r in requests)
    assert all(r.headers.get("x-forum-access") == "s3cret-token" for r in requests)
    assert "s3cret-token" not in result.stderr + result.stdout
    assert len({r.client for r in requests}) == 1  # one kept-alive connection
    gaps = [b.time - a.time for a, b in zip(requests, requests[1:], strict=False)]
    assert min(gaps) >= 0.19
    # Only the legacy `input: {terms}` shape, always with a view and an explicit limit.
    for record in requests:
        for op in record.operations:
            assert op.terms.get("view") in {"old", "allRecentComments"}
            assert 1 <= op.terms["limit"] <= 500


def test_threads_answers_and_parents_are_kept(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    assert tracker("sync", "lesswrong")[0] == 0
    lw = stored("lesswrong")
    served = sites["lesswrong"].comments
    replies = [c for c in served.values() if c.get("parentCommentId") and not c.get("deleted")]
    answers = [c for c in served.values() if c.get("answer") and not c.get("deleted")]
    assert replies and answers
    for comment in replies:
        doc = lw[comment["_id"]]
        assert doc.kind == "comment" and doc.post_id == comment["postId"]
        assert doc.parent_id == comment["parentCommentId"]
    for answer in answers:
        assert lw[answer["_id"]].extra["answer"] is True
        assert lw[answer["_id"]].parent_id is None
    # LessWrong's agree/disagree axis (`extendedScore`) is kept on every comment
    for comment in replies:
        votes = comment["extendedScore"]
        extra = lw[comment["_id"]].extra
        assert extra["agreement"] == votes["agreement"]
        assert extra["agreement_votes"] == votes["agreementVoteCount"]
    assert any(lw[c["_id"]].extra["agreement"] < 0 for c in replies)

    question = next(p for p in sites["lesswrong"].posts.values()
                    if p.get("question") and any(a["postId"] == p["_id"] for a in answers))
    code, out, _ = tracker("show", question["_id"], "--depth", "10")
    assert code == 0
    assert f"--- {sum(1 for d in lw.values() if d.post_id == question['_id'])} comments ---" in out
    code, out, _ = tracker("show", question["_id"], "--json")
    data = json.loads(out)
    assert data["question"] is True and data["kind"] == "post"
    assert {c["native_id"] for c in data["comments"]} == {
        k for k, d in lw.items() if d.post_id == question["_id"]}


def test_many_posts_sharing_one_timestamp_all_arrive(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    source = [p for p in sites["eaforum"].posts.values() if p.get("htmlBody")]
    same = make_same_timestamp_posts(250, "2019-06-01T12:00:00.000Z", source, seed=3)
    sites["eaforum"].add_posts(same)
    code, _, err = tracker("sync", "eaforum")
    assert code == 0, err
    ea = stored("eaforum")
    assert {p["_id"] for p in same} <= set(ea)
    assert set(ea) == expected_ids(sites, "eaforum")


# --- edits, scores, deletions ---------------------------------------------------------------


def test_edits_are_picked_up_and_keep_a_revision(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    assert tracker("sync", "eaforum")[0] == 0
    data = sites["eaforum"]
    old_post = min(data.posts.values(), key=lambda p: p["postedAt"])  # far outside the refresh
    comment = next(c for c in data.comments.values() if not c.get("deleted"))
    before = stored("eaforum")[old_post["_id"]].body_text
    time.sleep(0.01)
    data.edit_post(old_post["_id"], html="<p>Edited: the argument now rests on a new premise.</p>")
    data.edit_comment(comment["_id"], "<p>Edited comment text.</p>")
    code, out, _ = tracker("sync", "eaforum")
    assert code == 0
    ea = stored("eaforum")
    assert ea[old_post["_id"]].body_text == "Edited: the argument now rests on a new premise."
    assert ea[comment["_id"]].body_text == "Edited comment text."
    assert "2 updated" in out
    with session_scope(make_engine(load_settings().sqlalchemy_url)) as session:
        doc_id = ea[old_post["_id"]].id
        assert doc_id is not None
        revisions = store.get_revisions(session=session, document_id=doc_id)
    assert [r.body_text for r in revisions] == [before]


def test_recent_scores_refresh_and_deletions_are_marked(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    data = sites["eaforum"]
    fresh = recent_posts(data, 3, days_ago=2)
    data.add_comment({"_id": "aaaaaaaaaaaaaaaaa", "postId": fresh[0]["_id"],
                      "postedAt": fresh[0]["postedAt"], "htmlBody": "<p>A real reply.</p>"})
    assert tracker("sync", "eaforum")[0] == 0
    data.set_score(fresh[0]["_id"], 321.0, vote_count=99)  # votes leave modifiedAt alone
    data.delete_post(fresh[1]["_id"])
    data.delete_comment("aaaaaaaaaaaaaaaaa")
    code, out, _ = tracker("sync", "eaforum")
    assert code == 0
    ea = stored("eaforum")
    assert ea[fresh[0]["_id"]].score == 321.0 and ea[fresh[0]["_id"]].vote_count == 99
    assert ea[fresh[1]["_id"]].deleted and ea["aaaaaaaaaaaaaaaaa"].deleted
    assert not ea[fresh[2]["_id"]].deleted
    assert ea[fresh[1]["_id"]].body_text  # kept, only flagged
    assert "2 deleted" in out


def test_since_backfills_older_documents(server: ForumServer, sites: dict[str, ForumData],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__FIRST_SYNC_DAYS", "30")
    assert tracker("sync", "eaforum")[0] == 0
    assert stored("eaforum") == {}  # the sample is years old: nothing in the first window
    assert tracker("sync", "eaforum", "--since", "2017-01-01")[0] == 0
    ea = stored("eaforum")
    posts = [d for d in ea.values() if d.kind == "post"]
    assert posts and all(d.posted_at and d.posted_at.year >= 2017 for d in posts)
    assert len(posts) == sum(1 for p in sites["eaforum"].posts.values()
                             if p["postedAt"] >= "2017-01-01" and not p.get("isEvent"))


# --- faults ---------------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured(server: ForumServer, sites: dict[str, ForumData]) -> None:
    limited = Fault.status(429, headers={"Retry-After": "1"})
    server.faults.push(limited.only(site="eaforum").after(2))
    code, _, err = tracker("sync", "eaforum")
    assert code == 0, err
    log = [r for r in server.requests if r.site == "eaforum"]
    limited = next(i for i, r in enumerate(log) if r.status == 429)
    assert log[limited + 1].time - log[limited].time >= 1.0
    assert set(stored("eaforum")) == expected_ids(sites, "eaforum")


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(500),
        Fault.status(503).repeat(2),
        Fault.truncated_json(),
        Fault.malformed_json(),
        Fault.disconnect(),
    ],
    ids=["500", "503-twice", "truncated", "malformed", "disconnect"],
)
def test_transient_faults_are_retried_and_lose_nothing(
    server: ForumServer, sites: dict[str, ForumData], fault: Fault
) -> None:
    server.faults.push(fault.only(site="eaforum").after(1))
    code, _, err = tracker("sync", "eaforum")
    assert code == 0, err
    assert any(r.fault for r in server.requests)
    assert set(stored("eaforum")) == expected_ids(sites, "eaforum")


def test_timeout_is_retried(server: ForumServer, sites: dict[str, ForumData],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__TIMEOUT", "0.5")
    server.faults.push(Fault.delay(1.5).only(site="eaforum").after(1))
    code, _, err = tracker("sync", "eaforum")
    assert code == 0, err
    assert set(stored("eaforum")) == expected_ids(sites, "eaforum")


def test_persistent_garbage_fails_the_source_cleanly_and_a_rerun_completes(
    server: ForumServer, sites: dict[str, ForumData], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__MAX_RETRIES", "2")
    server.faults.push(Fault.malformed_json().only(site="eaforum").after(2).repeat(None))
    code, out, err = tracker("sync", "eaforum")
    assert code == 1
    assert "eaforum: failed" in out
    assert err.strip().splitlines()[-1].startswith("error: eaforum: ")
    assert "unreadable JSON" in err and "Traceback" not in err
    partial = stored("eaforum")
    assert 0 < len(partial) < len(expected_ids(sites, "eaforum"))
    server.faults.clear()
    assert tracker("sync", "eaforum")[0] == 0
    assert set(stored("eaforum")) == expected_ids(sites, "eaforum")
    assert count_rows(Document) == len(expected_ids(sites, "eaforum"))


def test_challenge_stops_that_source_and_the_others_go_on(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    server.faults.push(Fault.challenge().only(site="lesswrong").repeat(None))
    code, out, err = tracker("sync", "lesswrong", "eaforum")
    assert code == 1
    assert "lesswrong: failed" in out and "eaforum: ok" in out
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert "bot challenge" in line and "Retry after" in line
    assert len([r for r in server.requests if r.site == "lesswrong"]) == 1  # no hammering
    assert set(stored("eaforum")) == expected_ids(sites, "eaforum")
    code, out, _ = tracker("status", "--json")
    lesswrong = next(s for s in json.loads(out)["sources"] if s["source"] == "lesswrong")
    assert lesswrong["last_error"]["status"] == "failed"
    assert lesswrong["last_error"]["retry_after"] is not None


def test_html_where_json_was_expected_stops_the_source(server: ForumServer) -> None:
    server.faults.push(Fault.html_page().only(site="eaforum"))
    code, _, err = tracker("sync", "eaforum")
    assert code == 1
    assert "HTML page where JSON was expected" in err


def test_graphql_errors_with_partial_data_keep_the_rest(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    dropped = Fault.graphql_errors(mode="drop", index=0)
    server.faults.push(dropped.only(site="eaforum", root="posts"))
    code, out, _ = tracker("sync", "eaforum")
    assert code == 0
    missing = expected_ids(sites, "eaforum") - set(stored("eaforum"))
    assert len(missing) <= 1  # only the document the API failed on
    assert tracker("sync", "eaforum", "--since", "2000-01-01")[0] == 0
    assert set(stored("eaforum")) == expected_ids(sites, "eaforum")


def test_killed_mid_sync_then_rerun_loses_and_duplicates_nothing(
    server: ForumServer, sites: dict[str, ForumData], tmp_path: Path
) -> None:
    server.faults.push(Fault.delay(0.3).only(site="lesswrong").repeat(None))
    env = {**os.environ}
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "sync", "lesswrong"], env=env, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(stored("lesswrong")) < 150:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()
    partial = len(stored("lesswrong"))
    assert 0 < partial < len(expected_ids(sites, "lesswrong"))
    server.faults.clear()
    code, _, err = tracker("sync", "lesswrong")
    assert code == 0, err
    assert set(stored("lesswrong")) == expected_ids(sites, "lesswrong")
    assert count_rows(Document) == len(expected_ids(sites, "lesswrong"))
    code, out, _ = tracker("status", "--json")
    runs = next(s for s in json.loads(out)["sources"] if s["source"] == "lesswrong")
    assert runs["last_run"]["status"] == "ok"
    assert runs["last_error"]["status"] == "interrupted"


# --- reading what was synced ------------------------------------------------------------------


def _recorded_post() -> dict[str, Any]:
    """The real recorded LessWrong response for "AGI Ruin: A List of Lethalities"."""
    path = SHARED / "fixtures" / "lesswrong" / "post_single_by_id_uMQ3cqWDPHhjtiesc.json"
    post: dict[str, Any] = json.loads(path.read_text())["data"]["post"]["result"]
    post["user"]["_id"] = "userEliezerYudkow"  # the recording did not ask for the user's id
    return post


def test_citations_resolve_in_either_order_of_arrival(
    server: ForumServer, sites: dict[str, ForumData], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__COMMENTS", "false")
    data = sites["lesswrong"]
    data.add_post(_recorded_post())
    assert tracker("sync", "lesswrong")[0] == 0
    code, out, _ = tracker("links", "uMQ3cqWDPHhjtiesc", "--json")
    assert code == 0
    links = json.loads(out)["links"]
    death = [x for x in links if x["target_key"] == "lw:j9Q8bRmwCgXRYAgcJ"]
    assert death and death[0]["kind"] == "post" and death[0]["document"] is None

    # The cited post arrives in a later sync: the old link now resolves to it.
    template = next(p for p in data.posts.values() if p.get("htmlBody"))
    data.add_post({**template, "_id": "j9Q8bRmwCgXRYAgcJ",
                   "slug": "miri-announces-new-death-with-dignity-strategy",
                   "title": "MIRI announces new \"Death With Dignity\" strategy",
                   "pageUrl": "https://www.lesswrong.com/posts/j9Q8bRmwCgXRYAgcJ/"
                              "miri-announces-new-death-with-dignity-strategy",
                   "postedAt": "2022-04-02T00:43:19.221Z"})
    assert tracker("sync", "lesswrong", "--since", "2022-01-01")[0] == 0
    code, out, _ = tracker("links", "uMQ3cqWDPHhjtiesc", "--json")
    resolved = [x for x in json.loads(out)["links"] if x["target_key"] == "lw:j9Q8bRmwCgXRYAgcJ"]
    assert resolved[0]["document"]["native_id"] == "j9Q8bRmwCgXRYAgcJ"
    code, out, _ = tracker("links", "j9Q8bRmwCgXRYAgcJ", "--cited-by")
    assert code == 0 and "AGI Ruin: A List of Lethalities" in out

    # Links among sample posts that were both served resolve too.
    code, out, _ = tracker("show", "uMQ3cqWDPHhjtiesc")
    assert code == 0 and out.startswith("AGI Ruin: A List of Lethalities\n")
    assert "Eliezer Yudkowsky" in out and "956 karma" in out


HOSTILE_TITLE = "Totally normal \x1b]0;owned\x07title \x1b[2J\x9b31m"
HOSTILE_BODY = ("<p>Before \x1b[31mred\x1b[0m after \x1b]8;;http://evil.example\x1b\\link\x1b]8;;"
                "\x1b\\ end\u202e.</p><p>NUL\x00 and BEL\x07 and DEL\x7f.</p>")


def test_escape_sequences_in_posts_never_reach_the_terminal(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    data = sites["eaforum"]
    template = next(p for p in data.posts.values() if p.get("htmlBody"))
    data.add_post({**template, "_id": "hostileHostile123", "title": HOSTILE_TITLE,
                   "htmlBody": HOSTILE_BODY,
                   "user": {**template["user"], "displayName": "Mallory\x1b[5m"}})
    assert tracker("sync", "eaforum")[0] == 0
    for args in (["show", "hostileHostile123"], ["show", "hostileHostile123", "--json"],
                 ["links", "hostileHostile123"], ["status"]):
        code, out, _ = tracker(*args)
        assert code == 0
        assert not any(ch in out for ch in "\x1b\x07\x00\x7f\x9b\u202e"), args
    code, out, _ = tracker("show", "hostileHostile123")
    assert "Before red after link end." in out and "Totally normal title" in out


def test_a_link_post_cites_what_it_links_to(
    server: ForumServer, sites: dict[str, ForumData]
) -> None:
    data = sites["eaforum"]
    template = next(p for p in data.posts.values() if p.get("htmlBody"))
    data.add_post({**template, "_id": "linkPostLinkPost1",
                   "url": "https://arxiv.org/abs/1606.06565v2",
                   "htmlBody": "<p>Cross-posted for discussion.</p>"})
    assert tracker("sync", "eaforum")[0] == 0
    code, out, _ = tracker("links", "linkPostLinkPost1", "--json")
    [link] = json.loads(out)["links"]
    assert (link["kind"], link["target_key"], link["anchor_text"]) == (
        "arxiv", "arxiv:1606.06565", "link post")
