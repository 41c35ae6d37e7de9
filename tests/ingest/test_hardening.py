"""Trust nothing from a site: byte caps, XML bombs, hostile text and URLs, feed discovery.

Every hostile answer comes from a real HTTP server on 127.0.0.1 (tests/servers/).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlmodel import col, select

from tests.servers.arxiv import ATOM_TYPE, error_feed, feed, load_papers
from tests.servers.bomb import BombServer
from tests.servers.forum import Fault, ForumServer, Site, format_timestamp, sample_sites
from tests.servers.local import LocalServer, Reply, Request
from tracker.cli import cli
from tracker.config import ArxivSettings, FeedConfig, FeedsSettings, ForumSettings, load_settings
from tracker.errors import ConfigError, SourceError
from tracker.ingest.arxiv import ArxivSource
from tracker.ingest.feeds import FeedsSource, discover_feed
from tracker.ingest.forum import ForumSource
from tracker.ingest.http import make_client
from tracker.ingest.opml import parse_opml
from tracker.ingest.retry import wait_seconds
from tracker.models import Document, DocumentCreate, SyncState
from tracker.store.engine import make_engine, session_scope

# ESC/CSI (clear screen, red), OSC (set the window title), 8-bit CSI, a bidi override.
HOSTILE = "\x1b[2J\x1b[31mboom\x1b]0;pwned\x07 \x9b2Jagain\u202e end"
# What XML 1.0 can carry of it: C1 controls and bidi overrides, no ESC.
HOSTILE_XML = "\x9b2J\x9b31mbad query\u202e"
BAD_CHARS = ("\x1b", "\x9b", "\x07", "\u202e")
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
              for i in range(1, 10))
    + "]>\n{root}"
)


def clean(text: str) -> bool:
    return not any(c in text for c in BAD_CHARS)


def client(source: str, **kwargs: object) -> httpx.Client:
    options: dict[str, object] = {"delay": 0, "timeout": 10, "max_retries": 1, "backoff": 0,
                                  "max_backoff": 0, **kwargs}
    return make_client(source, user_agent="tracker-tests (contact: tests@example.org)",
                       **options)  # type: ignore[arg-type]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def count(model: type, source: str) -> int:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            query = select(func.count()).select_from(model).where(col(model.source) == source)
            return int(session.execute(query).scalar_one())
    finally:
        engine.dispose()


# --- bounded reads ---------------------------------------------------------------------------


def test_every_source_has_a_byte_cap_by_default() -> None:
    sources = load_settings().sources
    assert sources.lesswrong.max_bytes == sources.eaforum.max_bytes == 32_000_000
    assert sources.arxiv.max_bytes == 64_000_000
    assert sources.feeds.max_bytes == 16_000_000


@pytest.mark.parametrize(("source", "path", "content_type"), [
    ("lesswrong", "/graphql", "application/json"),
    ("arxiv", "/api/query", ATOM_TYPE),
])
def test_gzip_bomb_stops_the_sync_with_one_line_and_stores_nothing(
    monkeypatch: pytest.MonkeyPatch, source: str, path: str, content_type: str
) -> None:
    # 50 MB of zeros in about 50 KB of gzip, against a 1 MB cap.
    with BombServer(50_000_000, content_type) as bomb:
        prefix = f"TRACKER_SOURCES__{source.upper()}__"
        monkeypatch.setenv(prefix + "ENDPOINT", bomb.base + path)
        monkeypatch.setenv(prefix + "DELAY", "0")
        monkeypatch.setenv(prefix + "MAX_BYTES", str(1 << 20))
        code, err = run("sync", source)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {source}: ")
    assert "more than 1,048,576 bytes" in lines[0]
    assert f"sources.{source}.max_bytes" in lines[0]
    assert count(Document, source) == 0
    assert count(SyncState, source) == 0


def laughs(root: str) -> bytes:
    return LAUGHS.replace("{root}", root).encode()


def test_billion_laughs_in_arxiv_xml_is_refused(tmp_path: Path) -> None:
    atom = '<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>'
    with LocalServer(lambda r: Reply(200, laughs(atom), ATOM_TYPE)) as server:
        source = ArxivSource(ArxivSettings(endpoint=server.base + "/api/query"))
        with client("arxiv") as http, pytest.raises(SourceError) as caught:
            source.fetch_one(http, "2101.00001")
    assert "entity declarations" in caught.value.msg
    assert len(server.requests) == 1  # refused, not asked again


def test_billion_laughs_in_opml_is_refused() -> None:
    opml = '<opml version="2.0"><body><outline xmlUrl="https://a.org/feed" text="&lol9;"/>' \
           "</body></opml>"
    with pytest.raises(ConfigError, match="declares XML entities"):
        parse_opml(laughs(opml), "bomb.opml")


def test_billion_laughs_in_a_feed_is_refused() -> None:
    rss = '<rss version="2.0"><channel><title>&lol9;</title><item><title>x</title>' \
          "<link>https://a.org/1</link></item></channel></rss>"
    with LocalServer(lambda r: Reply(200, laughs(rss), "application/rss+xml")) as server:
        notes = feed_notes(server.base + "/rss")
    assert "declares XML entities" in notes[0]


def feed_notes(url: str) -> list[str]:
    """Each batch note of a one-feed sync that fails (the failure is in the note)."""
    settings = FeedsSettings(feeds=[FeedConfig(url=url, name="one")], delay=0, max_retries=0)
    notes = []
    with client("feeds") as http, pytest.raises(SourceError, match="all 1 feeds failed"):
        for batch in FeedsSource(settings).fetch(http, {}):
            notes.append(batch.note)
    return notes


# --- server text in error lines --------------------------------------------------------------


@pytest.fixture
def forum(shared: Path) -> Iterator[ForumServer]:
    sites = sample_sites(shared / "corpus")
    with ForumServer(sites=[Site.lesswrong(sites["lesswrong"])]) as server:
        yield server


def forum_source(server: ForumServer) -> ForumSource:
    settings = ForumSettings(endpoint=server.site_url("lesswrong"), delay=0, max_retries=0,
                             comments=False, refresh_days=0)
    return ForumSource("lesswrong", settings)


def test_graphql_error_messages_are_cleaned_and_bounded(forum: ForumServer) -> None:
    forum.faults.push(Fault.graphql_errors(partial=False, message=HOSTILE + "x" * 5000))
    with client("lesswrong") as http, pytest.raises(SourceError) as caught:
        list(forum_source(forum).fetch(http, {}, since=datetime.now(UTC)))
    message = caught.value.msg
    assert clean(message) and "boom" in message and "again" in message
    assert len(message) < 500


def test_http_reason_phrases_are_bounded() -> None:
    # httpx drops non-ASCII bytes from reason phrases (h11 refuses ESC), but not their length.
    reply = Reply(503, b"busy", reason="Busy \x9b2J now " + "x" * 3000)
    with LocalServer(lambda r: reply) as server:
        source = ArxivSource(ArxivSettings(endpoint=server.base + "/api/query"))
        with client("arxiv") as http, pytest.raises(SourceError) as caught:
            source.fetch_one(http, "2101.00001")
    assert "answered HTTP 503 Busy 2J now xxx" in caught.value.msg
    assert len(caught.value.msg) < 500 and clean(caught.value.msg)


def test_arxiv_error_summaries_are_cleaned() -> None:
    with LocalServer(lambda r: error_feed(HOSTILE_XML, r.params)) as server:
        source = ArxivSource(ArxivSettings(endpoint=server.base + "/api/query"))
        with client("arxiv") as http, pytest.raises(SourceError) as caught:
            source.fetch_one(http, "2101.00001")
    assert clean(caught.value.msg) and "bad query" in caught.value.msg


def test_feed_reason_phrases_are_bounded() -> None:
    reply = Reply(404, b"gone", reason="Not Found " + "x" * 3000)
    with LocalServer(lambda r: reply) as server:
        notes = feed_notes(server.base + "/rss")
    assert "HTTP 404 Not Found xxx" in notes[0] and len(notes[0]) < 600


# --- URLs from sites -------------------------------------------------------------------------


def test_forum_urls_that_are_not_http_are_replaced(forum: ForumServer, shared: Path) -> None:
    now = datetime.now(UTC)
    data = forum.sites["lesswrong"].data
    base = next(p for p in data.posts.values() if p.get("htmlBody"))
    data.add_post({**base, "_id": "hostileAAAAAAAAAA", "slug": "hostile",
                   "postedAt": format_timestamp(now - timedelta(hours=1)),
                   "pageUrl": "javascript:alert(document.cookie)", "url": "javascript:evil()"})
    with client("lesswrong") as http:
        docs = [d for b in forum_source(forum).fetch(http, {}, since=now - timedelta(hours=2))
                for d in b.documents]
    doc = next(d for d in docs if d.native_id == "hostileAAAAAAAAAA")
    assert doc.url == "https://www.lesswrong.com/posts/hostileAAAAAAAAAA/hostile"
    assert doc.link_url is None


def test_feed_links_keep_only_web_urls() -> None:
    items = "".join(f"<item><title>t{i}</title><guid>g{i}</guid><link>{link}</link></item>"
                    for i, link in enumerate(["javascript:alert(1)", "https://a.org/x\u202ey"]))
    rss = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    with LocalServer(lambda r: Reply(200, rss, "application/rss+xml")) as server:
        settings = FeedsSettings(feeds=[FeedConfig(url=server.base + "/rss", name="one")],
                                 delay=0)
        with client("feeds") as http:
            docs = [d for b in FeedsSource(settings).fetch(http, {}) for d in b.documents]
    assert [d.url for d in docs] == [None, "https://a.org/x%E2%80%AEy"]


def test_arxiv_links_keep_only_web_urls(shared: Path) -> None:
    paper = load_papers(shared / "corpus")[0]
    body = feed([paper], total=1, start=0, params={}).replace(
        f'href="https://arxiv.org/abs/{paper.arxiv_id}v1"'.encode(), b'href="javascript:x()"')
    with LocalServer(lambda r: Reply(200, body, ATOM_TYPE)) as server:
        source = ArxivSource(ArxivSettings(endpoint=server.base + "/api/query"))
        with client("arxiv") as http:
            doc: DocumentCreate = source.fetch_one(http, paper.arxiv_id)
    assert doc.extra["abs_url"] == f"https://arxiv.org/abs/{paper.arxiv_id}"


# --- feed autodiscovery ----------------------------------------------------------------------


@pytest.mark.parametrize("tag", [
    '<link href="/feed.xml" type="application/rss+xml" rel="alternate">',
    "<LINK REL=alternate TYPE=application/atom+xml HREF=/feed.xml>",
    "<link rel='alternate feed' type='application/rss+xml' href='feed.xml'>",
    '<link\n  rel="Alternate"\n  href="/feed.xml"\n  type="application/RSS+xml; charset=utf-8">',
])
def test_feed_autodiscovery_reads_odd_html(tag: str) -> None:
    page = f"<!doctype html><html><head><title>b</title>{tag}</head><body>x</body></html>"
    assert discover_feed(page.encode(), "https://blog.example.org/") == \
        "https://blog.example.org/feed.xml"


def test_feed_autodiscovery_ignores_stylesheets_and_non_web_hrefs() -> None:
    page = ('<link rel="stylesheet" type="text/css" href="/s.css">'
            '<link rel="alternate" type="application/rss+xml" href="javascript:x()">')
    assert discover_feed(page, "https://blog.example.org/") is None


def test_html_page_names_its_feed_in_the_error() -> None:
    page = b"<html><head><LINK TYPE='application/atom+xml' REL='alternate feed' HREF=atom>"
    with LocalServer(lambda r: Reply(200, page, "text/html")) as server:
        notes = feed_notes(server.base + "/blog/")
    assert f"the page names a feed at {server.base}/blog/atom" in notes[0]


# --- the retry policy ------------------------------------------------------------------------


def test_retry_waits_double_honour_retry_after_cap_and_never_undercut_the_delay() -> None:
    assert [wait_seconds(n, backoff=1, max_backoff=5) for n in range(4)] == [1, 2, 4, 5]
    assert wait_seconds(0, backoff=1, max_backoff=60, retry_after=30) == 30
    assert wait_seconds(0, backoff=1, max_backoff=10, retry_after=30) == 10
    assert wait_seconds(0, backoff=0.1, max_backoff=10, floor=3) == 3


def test_transport_sleeps_by_the_policy_and_stops_on_a_challenge() -> None:
    replies = [Reply(503, b"x"), Reply(429, b"x", headers={"Retry-After": "1"}), Reply(200, b"ok"),
               Reply(429, b"<html>Vercel Security Checkpoint</html>", "text/html",
                     {"x-vercel-mitigated": "challenge"})]

    def answer(request: Request) -> Reply:
        return replies.pop(0)

    slept: list[float] = []
    with LocalServer(answer) as server, client("lesswrong", max_retries=3, backoff=0.1,
                                               max_backoff=0.6, delay=0.25,
                                               sleep=slept.append) as http:
        assert http.get(server.base).text == "ok"
        assert [round(s, 2) for s in slept if s >= 0.25] == [0.25, 0.6]
        with pytest.raises(SourceError, match="challenge page"):
            http.get(server.base)
    assert len(server.requests) == 4

