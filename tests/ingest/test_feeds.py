"""The feeds source against local RSS / Atom / Substack servers built from corpus posts: reading,
conditional GET, Substack backfill, hostile feeds.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from tests.ingest.feedkit import (
    configure,
    feeds_settings,
    fetch_all,
    run,
    state_of,
)
from tests.servers.feeds import FeedServer
from tests.servers.local import Reply
from tracker import store
from tracker.config import load_settings
from tracker.ingest.feedlist import FeedState, state_stream
from tracker.ingest.feeds import FeedsSource
from tracker.ingest.html import parse_body
from tracker.models import AuthorCreate
from tracker.store.engine import session_scope
from tracker.sync.sources import sync_source

# --- reading feeds ---------------------------------------------------------------------------


def test_rss_full_content_is_preferred_and_normalised(server: FeedServer) -> None:
    docs, saved = fetch_all(FeedsSource(feeds_settings(server, "/blog/rss.xml")))
    assert len(docs) == 6
    item = server.blog_items[2]
    doc = next(d for d in docs if d.title == item.title)
    assert (doc.source, doc.kind, doc.native_id, doc.url) == (
        "kaj", "entry", item.guid, item.link)
    assert doc.authors == [AuthorCreate(name="Kaj Sotala")]
    assert item.published is not None
    assert doc.posted_at == item.published.replace(microsecond=0)  # RFC 822: seconds
    assert doc.body_html == item.html  # content:encoded, not the 200-character description
    assert doc.body_text == parse_body(item.html, base_url=item.link).text
    assert len(doc.body_text) > 10 * len(doc.extra["summary"])
    assert doc.aliases == [f"url:{item.link.rstrip('/')}"]
    assert any(link.kind == "post" and (link.target_key or "").startswith("lw:")
               for d in docs for link in d.links)
    state = state_of(saved, server.url("/blog/rss.xml"))
    assert state.etag and state.last_modified and state.items == 6 and state.last_status == "ok"
    assert state.title == "Kaj Sotala" and not state.substack


def test_atom_feed(server: FeedServer) -> None:
    docs, _ = fetch_all(FeedsSource(feeds_settings(server, "/atom.xml")))
    assert len(docs) == 5
    assert {a.name for d in docs for a in d.authors} == {"Stuart Armstrong"}
    assert all(d.posted_at is not None and len(d.body_text) > 500 for d in docs)


def test_conditional_get_sends_only_the_server_validators(server: FeedServer) -> None:
    source = FeedsSource(feeds_settings(server, "/blog/rss.xml", "/atom.xml"))
    _, saved = fetch_all(source)
    docs, again = fetch_all(source, saved)
    assert docs == []
    rss_hits, atom_hits = server.hits("/blog/rss.xml"), server.hits("/atom.xml")
    assert "if-none-match" not in rss_hits[0].headers
    assert rss_hits[1].headers["if-none-match"] == state_of(saved, rss_hits[0].path and
                                                             server.url("/blog/rss.xml")).etag
    # The Atom feed sends no ETag: only If-Modified-Since goes back, exactly as given.
    assert "if-none-match" not in atom_hits[1].headers
    assert atom_hits[1].headers["if-modified-since"] == "Sun, 01 Nov 2026 12:00:00 GMT"
    for path in ("/blog/rss.xml", "/atom.xml"):
        state = state_of(again, server.url(path))
        assert state.last_status == "not modified" and state.items in (5, 6)


def test_server_ignoring_validators_adds_nothing_twice(
    server: FeedServer, sqlite_engine: Engine
) -> None:
    settings = load_settings().model_copy(deep=True)
    settings.sources.feeds = feeds_settings(server, "/blog/rss.xml")
    assert sync_source(sqlite_engine, settings, "feeds").counts.new == 6
    route = server.routes["/blog/rss.xml"]
    server.routes["/blog/rss.xml"] = lambda r: route(r.__class__(
        r.at, r.method, r.path, r.params, {}))  # a CDN that drops If-None-Match
    report = sync_source(sqlite_engine, settings, "feeds")
    assert (report.counts.new, report.counts.unchanged) == (0, 6)


def test_substack_feed_is_backfilled_from_the_archive_once(
    server: FeedServer, sqlite_engine: Engine
) -> None:
    settings = load_settings().model_copy(deep=True)
    settings.sources.feeds = feeds_settings(server, "/feed")
    first = sync_source(sqlite_engine, settings, "feeds")
    assert first.status == "ok" and first.counts.new == 25  # 20 in the feed, 5 from the archive
    offsets = [r.params["offset"] for r in server.hits("/api/v1/archive")]
    assert offsets == ["0", "10", "20", "25"]
    bodies = [r.path for r in server.requests if r.path.startswith("/api/v1/posts/")]
    assert len(bodies) == 5  # only posts the feed did not carry in full
    with session_scope(sqlite_engine) as session:
        oldest = server.substack_items[-1]
        doc = store.get_document(session=session, ref=oldest.link)
        assert doc.body_html == oldest.html and doc.kind == "entry"
        assert doc.extra["from"] == "substack archive"
        assert store.document_authors(session=session, document_id=doc.id or 0) == [
            AuthorCreate(name=oldest.author or "")]
    server.requests.clear()
    second = sync_source(sqlite_engine, settings, "feeds")
    assert second.counts.new == 0 and not server.hits("/api/v1/archive")
    assert server.hits("/feed")[0].headers["if-none-match"].startswith('W/"')


def test_backfill_that_fails_midway_resumes_where_it_stopped(
    server: FeedServer, sqlite_engine: Engine
) -> None:
    settings = load_settings().model_copy(deep=True)
    settings.sources.feeds = feeds_settings(server, "/feed", "/blog/rss.xml")
    archive = server.routes["/api/v1/archive"]
    server.routes["/api/v1/archive"] = lambda r: (
        Reply(503, b"busy") if r.params["offset"] == "20" else archive(r))
    report = sync_source(sqlite_engine, settings, "feeds")
    assert report.status == "ok" and report.failed == 1  # the other feed went on
    assert report.counts.new == 20 + 6
    with session_scope(sqlite_engine) as session:
        state = FeedState.load(store.get_cursor(session=session, source="feeds")[
            state_stream(server.url("/feed"))], "")
    assert (state.backfill_offset, state.backfilled) == (20, False)
    assert state.last_error is not None
    assert "the Substack archive failed at offset 20" in state.last_error
    assert "HTTP 503" in state.last_error and "resumes from there" in state.last_error
    server.routes["/api/v1/archive"] = archive
    server.requests.clear()
    again = sync_source(sqlite_engine, settings, "feeds")
    assert again.counts.new == 5
    assert [r.params["offset"] for r in server.hits("/api/v1/archive")] == ["20", "25"]


# --- hostile feeds ---------------------------------------------------------------------------


def test_permanent_redirect_is_followed_and_reported(server: FeedServer) -> None:
    docs, saved = fetch_all(FeedsSource(feeds_settings(server, "/moved")))
    assert len(docs) == 5
    state = state_of(saved, server.url("/moved"))
    assert state.warning == f"moved permanently to {server.url('/atom.xml')}; update the feed URL"


def test_wrong_and_missing_encoding_declarations(server: FeedServer) -> None:
    docs, saved = fetch_all(FeedsSource(feeds_settings(
        server, "/bad/wrong-encoding.xml", "/bad/no-encoding.xml")))
    assert len(docs) == 4
    assert any(d.title.startswith("Caf\u00e9 \u2014 ") for d in docs)
    wrong = state_of(saved, server.url("/bad/wrong-encoding.xml"))
    assert wrong.warning is not None and "wrong encoding declaration" in wrong.warning
    missing = state_of(saved, server.url("/bad/no-encoding.xml"))
    assert missing.last_status == "ok" and missing.items == 2


def test_malformed_xml_is_read_leniently_and_said_so(server: FeedServer) -> None:
    docs, saved = fetch_all(FeedsSource(feeds_settings(server, "/bad/malformed.xml")))
    state = state_of(saved, server.url("/bad/malformed.xml"))
    assert state.warning is not None and state.warning.startswith("not well-formed XML (")
    assert state.etag is None  # read in full again once it is fixed
    assert {d.title for d in docs} <= {i.title for i in server.bad_items}
    assert len(docs) >= 2


def test_no_dates_and_duplicate_guids(server: FeedServer) -> None:
    docs, saved = fetch_all(FeedsSource(feeds_settings(
        server, "/bad/no-dates.xml", "/bad/dup-guids.xml")))
    undated = [d for d in docs if d.source == "bad-no-dates-xml"]
    assert len(undated) == 3 and all(d.posted_at is None for d in undated)
    assert "3 entries have no date" in (state_of(saved, server.url("/bad/no-dates.xml")).warning
                                        or "")
    dup = [d for d in docs if d.source == "bad-dup-guids-xml"]
    # An exact repeat is dropped; a guid shared by different links goes by link instead.
    assert sorted(d.native_id for d in dup) == sorted(i.link for i in server.bad_items[:3])
    assert "1 entries repeated the guid" in (state_of(saved, server.url("/bad/dup-guids.xml"))
                                             .warning or "")


def test_a_10_mb_feed_is_parsed_and_a_limit_refuses_it(server: FeedServer) -> None:
    docs, saved = fetch_all(FeedsSource(feeds_settings(server, "/bad/huge.xml")))
    assert len(docs) > 300 and len(server.huge()) > 10_000_000
    assert state_of(saved, server.url("/bad/huge.xml")).last_status == "ok"
    small = feeds_settings(server, "/bad/huge.xml", "/atom.xml")
    docs, saved = fetch_all(FeedsSource(small), max_bytes=2_000_000)
    assert len(docs) == 5  # the other feed went on
    error = state_of(saved, server.url("/bad/huge.xml")).last_error or ""
    assert "sent more than 2,000,000 bytes; refused it" in error


@pytest.mark.parametrize(("path", "message"), [
    ("/bad/loop", "redirects in a loop (more than 5 redirects)"),
    ("/bad/html", "served an HTML page, not a feed; the page names a feed at "
                  "http://127.0.0.1:{port}/blog/rss.xml: `tracker feeds add "),
    ("/bad/gone", "HTTP 410 Gone from http://127.0.0.1:{port}/bad/gone; the feed is gone"),
    ("/bad/challenge", "bot challenge page"),
    ("/missing.xml", "HTTP 404 Not Found"),
])
def test_broken_feed_errors_are_clear(server: FeedServer, path: str, message: str) -> None:
    docs, saved = fetch_all(FeedsSource(feeds_settings(server, path, "/atom.xml")))
    assert len(docs) == 5
    state = state_of(saved, server.url(path))
    assert state.last_status == "error" and state.last_success is None
    assert message.format(port=server.port) in (state.last_error or "")


def test_all_feeds_failing_fails_the_source(server: FeedServer, sqlite_engine: Engine) -> None:
    settings = load_settings().model_copy(deep=True)
    settings.sources.feeds = feeds_settings(server, "/bad/html", "/bad/gone")
    report = sync_source(sqlite_engine, settings, "feeds")
    assert report.status == "failed" and report.failed == 2
    assert report.error == "feeds: all 2 feeds failed; `tracker status` shows why for each"


def test_broken_feeds_lose_nothing_and_show_in_status(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, server, "/blog/rss.xml", "/atom.xml", "/crosspost/rss.xml")
    code, out, err = run("sync")
    assert code == 0, err
    assert out.startswith("feeds: ok · 13 new")
    good = server.routes["/blog/rss.xml"]
    server.routes["/blog/rss.xml"] = server.routes["/bad/html"]
    server.routes["/atom.xml"] = server.routes["/bad/malformed.xml"]
    server.routes["/crosspost/rss.xml"] = server.routes["/bad/loop"]
    code, out, err = run("sync", "feeds")
    assert code == 0 and "1 failed" not in out and "2 failed" in out
    assert "kaj FAILED: " in err and "served an HTML page, not a feed" in err
    assert "originals FAILED: " in err and "redirects in a loop" in err
    code, out, _ = run("status", "--json")
    data = json.loads(out)
    feeds = {f["name"]: f for f in data["feeds"]}
    assert feeds["kaj"]["entries"] == 6  # nothing lost
    assert feeds["kaj"]["last_status"] == "error"
    assert "served an HTML page" in feeds["kaj"]["last_error"]
    assert feeds["kaj"]["last_success"] is not None
    assert feeds["stuart"]["entries"] >= 5 and "not well-formed" in feeds["stuart"]["warning"]
    assert feeds["originals"]["entries"] == 2
    feeds_row = next(s for s in data["sources"] if s["source"] == "feeds")
    assert feeds_row["documents"]["entry"] >= 13
    code, out, _ = run("status")
    assert code == 0
    assert "kaj" in out and "served an HTML page, not a feed" in out
    assert "redirects in a loop" in out and "not well-formed XML" in out
    server.routes["/blog/rss.xml"] = good
    code, out, _ = run("sync", "feeds")
    assert code == 0
    data = json.loads(run("status", "--json")[1])
    blog = next(f for f in data["feeds"] if f["name"] == "kaj")
    # Healthy again; the server answers 304 for the ETag it gave before the breakage.
    assert blog["last_status"] == "not modified" and blog["entries"] == 6
