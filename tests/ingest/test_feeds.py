"""The feeds source against local RSS / Atom / Substack servers built from corpus posts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func
from sqlmodel import col, select

from tests.servers.feeds import FeedServer, load_posts, post_time
from tests.servers.local import Reply
from tracker import store
from tracker.cli import cli
from tracker.config import FeedsSettings, load_settings
from tracker.ingest.feedlist import FeedState, feed_name, slug, state_stream
from tracker.ingest.feeds import FeedsSource
from tracker.ingest.html import parse_body
from tracker.ingest.http import make_client
from tracker.models import AuthorCreate, CrossPost, Document, DocumentCreate
from tracker.store.engine import make_engine, session_scope
from tracker.sync.sources import sync_source


@pytest.fixture(scope="session")
def posts(shared: Path) -> list[dict[str, object]]:
    return load_posts(shared / "corpus")


@pytest.fixture
def server(posts: list[dict[str, object]]) -> Iterator[FeedServer]:
    with FeedServer(posts) as running:
        yield running


def client_for(max_bytes: int | None = 16_000_000) -> httpx.Client:
    return make_client("feeds", user_agent="tracker-tests (contact: tests@example.org)",
                       delay=0, timeout=10, max_retries=1, backoff=0, max_backoff=0,
                       max_bytes=max_bytes)


NAMES = {"/blog/rss.xml": "kaj", "/atom.xml": "stuart", "/feed": "ea-digest",
         "/crosspost/rss.xml": "originals"}


def feed_config(server: FeedServer, path: str) -> dict[str, str]:
    """A feed of the server, named after its path (names are otherwise the host's)."""
    return {"url": server.url(path), "name": NAMES.get(path) or slug(path)}


def feeds_settings(server: FeedServer, *paths: str, **overrides: object) -> FeedsSettings:
    feeds = [feed_config(server, p) for p in paths]
    return FeedsSettings.model_validate(
        {"feeds": feeds, "delay": 0, "max_retries": 1, "backoff": 0, **overrides})


def configure(monkeypatch: pytest.MonkeyPatch, server: FeedServer, *paths: str,
              **env: str) -> None:
    """Point the CLI at the server: only the feeds source, with these feeds."""
    for name in ("LESSWRONG", "ALIGNMENTFORUM", "EAFORUM", "ARXIV"):
        monkeypatch.setenv(f"TRACKER_SOURCES__{name}__ENABLED", "false")
    feeds = [feed_config(server, p) for p in paths]
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__FEEDS", json.dumps(feeds))
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__DELAY", "0")
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__BACKOFF", "0")
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__MAX_RETRIES", "1")
    for name, value in env.items():
        monkeypatch.setenv(f"TRACKER_SOURCES__FEEDS__{name.upper()}", value)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def fetch_all(source: FeedsSource, cursor: dict[str, str] | None = None,
              max_bytes: int | None = 16_000_000) -> tuple[list[DocumentCreate], dict[str, str]]:
    """Run a source to the end; the cursor values it would have saved."""
    docs: list[DocumentCreate] = []
    saved = dict(cursor or {})
    with client_for(max_bytes) as client:
        for batch in source.fetch(client, saved):
            docs += batch.documents
            saved.update(batch.cursor)
    return docs, saved


def state_of(saved: dict[str, str], url: str) -> FeedState:
    return FeedState.load(saved[state_stream(url)], url)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'feeds.db'}")
    yield engine
    engine.dispose()


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


# --- the feed list ---------------------------------------------------------------------------


def test_default_feed_list() -> None:
    settings = load_settings()
    names = [f.name for f in settings.sources.feeds.feeds]
    assert {"astralcodexten", "importai", "mlsafety", "cold-takes", "planned-obsolescence",
            "aiimpacts", "vkrakovna", "bounded-regret", "miri"} <= set(names)
    assert settings.sources.feeds.enabled and settings.sources.arxiv.enabled
    assert next(f for f in settings.sources.feeds.feeds
                if f.name == "cold-takes").url == "https://www.cold-takes.com/rss/"


def test_feed_names() -> None:
    assert feed_name("https://importai.substack.com/feed", set()) == "importai"
    assert feed_name("https://www.cold-takes.com/rss/", set()) == "cold-takes-com"
    assert feed_name("https://example.org/blog/feed.xml", {"example-org"}) == "example-org-blog"
    assert feed_name("https://example.org/feed", {"example-org"}) == "example-org-2"


def test_feeds_add_list_remove_import_export(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, server, "/atom.xml")
    assert run("feeds", "add", server.url("/blog/rss.xml"), "--name", "kaj",
               "--author", "Kaj Sotala") == (0, f"added kaj: {server.url('/blog/rss.xml')}\n", "")
    code, out, _ = run("feeds", "add", server.url("/blog/rss.xml"))
    assert out == f"already listed as kaj: {server.url('/blog/rss.xml')}\n"
    code, _, err = run("feeds", "add", "https://example.org/feed", "--name", "arxiv")
    assert code == 2 and "'arxiv' is the name of a source" in err
    code, _, err = run("feeds", "add", "not a url")
    assert code == 2 and "is not an http(s) URL" in err
    opml_file = tmp_path / "list.opml"
    opml_file.write_bytes(server.routes["/opml"](None).body)  # type: ignore[arg-type]
    code, out, err = run("feeds", "import", str(opml_file))
    assert code == 0
    assert out.splitlines() == [
        f"already listed kaj: {server.url('/blog/rss.xml')}",
        f"already listed stuart: {server.url('/atom.xml')}",
        f"added ea-digest: {server.url('/feed')}",
    ]
    assert "1 feeds added, 2 already listed" in err
    code, out, _ = run("feeds", "list", "--json")
    listed = [(f["name"], f["origin"]) for f in json.loads(out)]
    assert listed == [("stuart", "config"), ("kaj", "added"), ("ea-digest", "added")]
    code, out, _ = run("sync", "feeds")
    assert code == 0
    code, out, _ = run("feeds", "list")
    assert f"  kaj (added)  {server.url('/blog/rss.xml')}\n    ok · 6 entries (6 in feed) · " in out
    code, out, _ = run("feeds", "export")
    root = ET.fromstring(out)
    assert [o.get("xmlUrl") for o in root.iter("outline")] == [
        server.url("/atom.xml"), server.url("/blog/rss.xml"), server.url("/feed")]
    assert [o.get("title") for o in root.iter("outline")] == [
        "Stuart Armstrong", "Kaj Sotala", "EA Digest"]
    code, _, err = run("feeds", "remove", "stuart")
    assert code == 2 and "configured in sources.feeds.feeds" in err
    assert run("feeds", "remove", "kaj")[0] == 0
    code, out, _ = run("feeds", "list", "--json")
    assert [f["name"] for f in json.loads(out)] == ["stuart", "ea-digest"]
    code, out, _ = run("show", server.blog_items[0].link)
    assert code == 0 and "Kaj Sotala" in out  # entries stay after the feed is removed
    bad = tmp_path / "bad.opml"
    bad.write_text("<html><body>not opml</body></html>")
    code, _, err = run("feeds", "import", str(bad))
    assert code == 2 and "is not OPML" in err


def test_sync_covers_every_configured_source(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch, shared: Path
) -> None:
    from tests.servers.arxiv import ArxivServer, load_fixtures

    configure(monkeypatch, server, "/atom.xml")
    monkeypatch.setenv("TRACKER_SOURCES__ARXIV__ENABLED", "true")
    with ArxivServer([], load_fixtures(shared / "fixtures" / "arxiv")) as arxiv:
        monkeypatch.setenv("TRACKER_SOURCES__ARXIV__ENDPOINT", arxiv.url)
        monkeypatch.setenv("TRACKER_SOURCES__ARXIV__DELAY", "0")
        code, out, err = run("sync")
        assert code == 0, err
        assert [line.split(":")[0] for line in out.splitlines()] == ["arxiv", "feeds"]
        assert arxiv.query_requests()


# --- cross-posts -----------------------------------------------------------------------------


def forum_post(row: dict[str, object]) -> DocumentCreate:
    """A corpus post as the forum source stores it."""
    url = str(row["url"])
    body = parse_body(str(row["body_html"]), base_url=url)
    return DocumentCreate(
        source="lesswrong", native_id=str(row["id"]), kind="post", url=url,
        title=str(row["title"]), posted_at=post_time(row),
        link_url=str(row["link_url"]) if row.get("link_url") else None,
        body_html=str(row["body_html"]), body_text=body.text,
        authors=[AuthorCreate(name=str(row["author"]), slug=str(row["author_slug"]))],
        aliases=[f"lw:{row['id']}"], links=body.links,
    )


def _crossposts(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.exec(select(CrossPost)).all()
        out = []
        for row in rows:
            copy = session.get(Document, row.document_id)
            same = session.get(Document, row.same_as_id)
            assert copy is not None and same is not None
            out.append((copy.source, same.source, row.reason))
        return sorted(out)


@pytest.mark.parametrize("forum_first", [True, False])
def test_blog_post_and_forum_copy_are_one_work(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch, forum_first: bool
) -> None:
    configure(monkeypatch, server, "/blog/rss.xml", "/crosspost/rss.xml")
    engine = make_engine(load_settings().sqlalchemy_url)
    kaj = server.by_author("Kaj_Sotala")[:6]
    links = [p for p in server.posts if p["id"] in ("i42Dfoh4HtsCAfXxL", "NQgWL7tvAPgN2LTLn")]
    forum = [forum_post(p) for p in [*kaj, *links]]
    if forum_first:
        with session_scope(engine) as session:
            store.upsert_documents(session=session, documents=forum)
    assert run("sync", "feeds")[0] == 0
    if not forum_first:
        with session_scope(engine) as session:
            store.upsert_documents(session=session, documents=forum)
    pairs = _crossposts(engine)
    assert pairs.count(("kaj", "lesswrong", "title+author")) == 6
    assert pairs.count(("originals", "lesswrong", "link_url")) == 2
    assert len(pairs) == 8
    with session_scope(engine) as session:
        hidden = session.exec(select(func.count()).select_from(Document).where(
            col(Document.id).not_in(select(CrossPost.document_id)))).one()
        assert hidden == 8  # search shows each work once: the forum copies
    entry = server.blog_items[0]
    code, out, _ = run("show", entry.link)
    assert code == 0
    post = kaj[0]
    assert "same work as [" in out and f"lesswrong:{post['id']}" in out
    code, out, _ = run("show", f"lesswrong:{post['id']}", "--json")
    [same] = json.loads(out)["same_work"]
    assert (same["url"], same["reason"]) == (entry.link, "title+author")
    engine.dispose()


def test_same_title_far_apart_or_by_someone_else_is_not_a_crosspost(
    server: FeedServer, engine: Engine
) -> None:
    row = server.by_author("Kaj_Sotala")[0]
    post = forum_post(row)
    entry = DocumentCreate(
        source="someblog", native_id="e1", kind="entry", url="https://someblog.example/e1",
        title=post.title, posted_at=post_time(row) + timedelta(days=40),
        body_text="Another text.", authors=[AuthorCreate(name="Kaj Sotala")])
    other = entry.model_copy(update={"native_id": "e2", "url": "https://someblog.example/e2",
                                     "posted_at": post_time(row) + timedelta(days=5),
                                     "authors": [AuthorCreate(name="Someone Else")],
                                     "title": "Open thread"})
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=[post, entry, other])
        store.upsert_documents(session=session, documents=[
            post.model_copy(update={"native_id": "zzzzzzzzzzzzzzzzz", "title": "Open thread",
                                    "aliases": []})])
    assert _crossposts(engine) == []


def test_same_work_on_two_feeds_and_the_forum_keeps_one_canonical(engine: Engine) -> None:
    when = datetime(2023, 3, 1, 12, tzinfo=UTC)
    base = DocumentCreate(source="feed-a", native_id="a", kind="entry",
                          url="https://a.example/p/how-we-could-stumble",
                          title="How we could stumble into AI catastrophe", posted_at=when,
                          body_text="Text.", authors=[AuthorCreate(name="Holden Karnofsky")])
    mirror = base.model_copy(update={"source": "feed-b", "native_id": "b",
                                     "url": "https://b.example/how-we-could-stumble",
                                     "authors": [AuthorCreate(name="HoldenKarnofsky")]})
    forum = base.model_copy(update={"source": "lesswrong", "native_id": "fffffffffffffffff",
                                    "kind": "post", "posted_at": when + timedelta(days=2),
                                    "url": "https://www.lesswrong.com/posts/fffffffffffffffff/x",
                                    "authors": [AuthorCreate(name="HoldenKarnofsky")]})
    for doc in (base, mirror, forum):
        with session_scope(engine) as session:
            store.upsert_documents(session=session, documents=[doc])
    with session_scope(engine) as session:
        visible = session.exec(select(Document.source).where(
            col(Document.id).not_in(select(CrossPost.document_id)))).all()
        assert visible == ["lesswrong"]
        post = store.get_document(session=session, ref="lesswrong:fffffffffffffffff")
        assert post.id is not None
        others = store.same_work(session=session, document_id=post.id)
        assert sorted(d.source for d, _ in others) == ["feed-a", "feed-b"]
