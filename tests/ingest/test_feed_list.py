"""The feed list (add, list, remove, import, export) and cross-posts between feeds and forums,
through the CLI and the store.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from tests.ingest.feedkit import (
    configure,
    run,
)
from tests.servers.feeds import FeedServer, post_time
from tracker import store
from tracker.config import load_settings
from tracker.ingest.feedlist import feed_name
from tracker.ingest.html import parse_body
from tracker.models import AuthorCreate, CrossPost, Document, DocumentCreate
from tracker.store.engine import make_engine, session_scope

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


def test_a_forum_post_citing_its_blog_original_is_one_work_in_either_order(
    engine: Engine,
) -> None:
    """`link+title`: same title, one cites the other, whoever is written first; posted too far
    apart and under other names for the title rules. Citations between two forum posts with
    one title (or a post citing an entry of another title) pair nothing."""
    for n, entry_first in enumerate((True, False)):
        entry, post, twin, other = _cited_original(n)
        for batch in ([entry], [post, twin, other]) if entry_first else ([post, twin, other],
                                                                          [entry]):
            with session_scope(engine) as session:
                store.upsert_documents(session=session, documents=batch)
        assert _crossposts(engine) == [("someblog", "lesswrong", "link+title")] * (n + 1)


def _cited_original(n: int) -> list[DocumentCreate]:
    """A blog entry, a forum post of the same title citing it, a forum twin citing that post,
    and a forum post of another title citing the entry (round `n` of a test: own ids, title)."""
    from tracker.ingest.links import url_key
    from tracker.models import LinkCreate

    when = datetime(2022, 5, 1, tzinfo=UTC)
    url = f"https://someblog.example/p/orig{n}"
    entry = DocumentCreate(source="someblog", native_id=f"orig{n}", kind="entry", url=url,
                           title=f"On Corrigibility, part {['one', 'two'][n]}",
                           posted_at=when, body_text="Original.",
                           authors=[AuthorCreate(name="Blog Pen Name")], aliases=[url_key(url)])
    cite = LinkCreate(url=url, kind="external", target_key=url_key(url))
    post_id, twin_id, other_id = (f"{c * 16}{n}" for c in "pqr")
    post = DocumentCreate(source="lesswrong", native_id=post_id, kind="post", title=entry.title,
                          posted_at=when + timedelta(days=60), body_text="Cross-posted.",
                          authors=[AuthorCreate(name="Forum Name")], aliases=[f"lw:{post_id}"],
                          links=[cite])
    cites_post = LinkCreate(url=f"https://www.lesswrong.com/posts/{post_id}", kind="post",
                            target_key=f"lw:{post_id}")
    twin = post.model_copy(update={"native_id": twin_id, "aliases": [], "links": [cites_post]})
    other = post.model_copy(update={"native_id": other_id, "aliases": [],
                                    "title": f"Something else entirely {n}"})
    return [entry, post, twin, other]


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
