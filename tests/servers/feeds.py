"""Local blog and newsletter feeds for tests, over real HTTP on 127.0.0.1.

The feeds are written for the tests from real posts in shared/corpus/sample (titles, authors,
dates and HTML bodies as the forums published them):

- `/blog/rss.xml`: RSS 2.0 with `content:encoded` and `dc:creator` (Kaj Sotala's posts, as
  his blog would carry them), ETag and Last-Modified, 304 on a matching validator;
- `/atom.xml`: Atom 1.0 (Stuart Armstrong's posts), Last-Modified only;
- `/feed`: a Substack publication (EA Forum posts): `<generator>Substack</generator>`, at most
  20 items, a weak ETag and no Last-Modified, plus `/api/v1/archive?sort=new&limit=&offset=`
  and `/api/v1/posts/<slug>` for the backfill;
- `/crosspost/rss.xml`: the blog originals of forum link posts ("Babble", "Spaghetti Towers");
- `/opml`: an OPML list of the feeds above;
- hostile ones under `/bad/`: malformed XML, a wrong and a missing encoding declaration, no
  dates, duplicate guids, a 10 MB feed, a redirect loop, an HTML page, 410 Gone, a challenge.

`server.routes` maps a path to a function returning a `Reply`; tests replace or break feeds
by assigning to it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from tests.servers.local import LocalServer, Reply, Request

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ARCHIVE_PAGE_MAX = 10  # this server pages the archive 10 at a time whatever `limit` asks
SUBSTACK_HOST = "https://ea-digest.substack.com"


@dataclass
class Item:
    """One feed item, from a real post."""

    title: str
    link: str
    guid: str
    author: str | None
    published: datetime | None
    html: str
    summary: str = ""
    slug: str = ""
    categories: list[str] = field(default_factory=list)


def load_posts(corpus: Path) -> list[dict[str, object]]:
    """The sample posts that have an HTML body."""
    with (corpus / "sample" / "posts_sample.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [r for r in rows if r.get("body_html")]


def post_time(row: dict[str, object]) -> datetime:
    """A corpus post's `posted_at` as an aware datetime."""
    moment = datetime.fromisoformat(str(row["posted_at"]).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _plain(html: str, limit: int = 200) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())[:limit]


def item_from(
    row: dict[str, object],
    *,
    base: str,
    author: str | None,
    delay_hours: int = 6,
    link: str | None = None,
) -> Item:
    """A blog copy of a corpus post, published a few hours after the forum post."""
    title = str(row["title"])
    slug = _slug(title)
    url = link or f"{base}/{slug}/"
    html = str(row["body_html"])
    return Item(
        title=title,
        link=url,
        guid=url,
        author=author,
        published=post_time(row) + timedelta(hours=delay_hours),
        html=html,
        summary=_plain(html),
        slug=slug,
    )


# --- documents -------------------------------------------------------------------------------


def rss(
    title: str,
    link: str,
    items: list[Item],
    *,
    generator: str | None = None,
    encoding: str | None = "utf-8",
    full: bool = True,
) -> str:
    """An RSS 2.0 document with the content, dc and atom namespaces (Substack's shape)."""
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    head = (
        f'{declaration}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n'
        f"<channel>\n<title>{escape(title)}</title>\n<link>{escape(link)}</link>\n"
        "<description>Written for tracker's tests from real posts</description>\n"
    )
    if generator:
        head += f"<generator>{escape(generator)}</generator>\n"
    return head + "".join(_rss_item(i, full) for i in items) + "</channel>\n</rss>\n"


def _rss_item(item: Item, full: bool) -> str:
    parts = [
        f"<item>\n<title><![CDATA[{item.title}]]></title>",
        f"<description><![CDATA[{item.summary}]]></description>",
        f"<link>{escape(item.link)}</link>",
        f'<guid isPermaLink="false">{escape(item.guid)}</guid>',
    ]
    if item.author:
        parts.append(f"<dc:creator><![CDATA[{item.author}]]></dc:creator>")
    if item.published:
        parts.append(f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>")
    parts += [f"<category>{escape(c)}</category>" for c in item.categories]
    if full:
        body = item.html.replace("]]>", "]]]]><![CDATA[>")
        parts.append(f"<content:encoded><![CDATA[{body}]]></content:encoded>")
    return "\n".join(parts) + "\n</item>\n"


def atom(title: str, link: str, items: list[Item]) -> str:
    """An Atom 1.0 document with HTML content."""
    updated = max((i.published for i in items if i.published), default=datetime.now(UTC))
    entries = []
    for item in items:
        stamp = (item.published or updated).strftime("%Y-%m-%dT%H:%M:%SZ")
        author = f"<author><name>{escape(item.author)}</name></author>" if item.author else ""
        entries.append(
            f"<entry>\n<id>{escape(item.guid)}</id>\n<title>{escape(item.title)}</title>\n"
            f'<link rel="alternate" type="text/html" href={quoteattr(item.link)}/>\n'
            f"<published>{stamp}</published>\n<updated>{stamp}</updated>\n{author}\n"
            f"<summary>{escape(item.summary)}</summary>\n"
            f'<content type="html">{escape(item.html)}</content>\n</entry>\n'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>{escape(title)}</title>\n<id>{escape(link)}</id>\n"
        f'<link rel="alternate" href={quoteattr(link)}/>\n'
        f"<updated>{updated.strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>\n"
        + "".join(entries)
        + "</feed>\n"
    )


def opml(feeds: list[tuple[str, str]]) -> str:
    """An OPML 2.0 list, the feeds nested in a category outline like real readers export."""
    outlines = "".join(
        f'      <outline type="rss" text={quoteattr(t)} title={quoteattr(t)} '
        f"xmlUrl={quoteattr(u)}/>\n"
        for t, u in feeds
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n  <head>'
        "<title>Alignment reading</title></head>\n  <body>\n"
        f'    <outline text="Alignment">\n{outlines}    </outline>\n  </body>\n</opml>\n'
    )


# --- the server ------------------------------------------------------------------------------


Route = Callable[[Request], Reply]


class FeedServer(LocalServer):
    """Feeds built from corpus posts, each at its own path."""

    def __init__(self, posts: list[dict[str, object]]) -> None:
        super().__init__(self._handle)
        self.posts = posts
        self.routes: dict[str, Route] = {}
        self._build()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"{self.base}{path}"

    def hits(self, path: str) -> list[Request]:
        """Requests made to a path."""
        return [r for r in self.requests if r.path == path]

    def _handle(self, request: Request) -> Reply:
        route = self.routes.get(request.path)
        if route is None and request.path.startswith("/api/v1/posts/"):
            route = self.routes.get("/api/v1/posts/*")
        if route is None:
            return Reply(404, b"<html><body>Not found</body></html>", "text/html")
        return route(request)

    def by_author(
        self, author: str, forums: tuple[str, ...] = ("lesswrong", "alignmentforum")
    ) -> list[dict[str, object]]:
        """Corpus posts of one author, oldest first."""
        rows = [p for p in self.posts if p["author"] == author and p["forum"] in forums]
        return sorted(rows, key=post_time)

    def _build(self) -> None:
        kaj = [
            item_from(r, base="https://kajsotala.fi/blog", author="Kaj Sotala")
            for r in self.by_author("Kaj_Sotala")[:6]
        ]
        self.blog_items = kaj
        self.routes["/blog/rss.xml"] = validated(
            lambda: rss("Kaj Sotala", "https://kajsotala.fi/", self.blog_items).encode(),
            RSS_TYPE,
            etag=True,
            last_modified=True,
        )
        stuart = [
            item_from(r, base="https://stuartarmstrong.net", author="Stuart Armstrong")
            for r in self.by_author("Stuart_Armstrong")[:5]
        ]
        self.routes["/atom.xml"] = validated(
            lambda: atom("Stuart Armstrong", "https://stuartarmstrong.net/", stuart).encode(),
            ATOM_TYPE,
            etag=False,
            last_modified=True,
        )
        self._build_substack()
        self._build_crossposts()
        self.routes["/opml"] = static(
            opml(
                [
                    ("Kaj Sotala", self.url("/blog/rss.xml")),
                    ("Stuart Armstrong", self.url("/atom.xml")),
                    ("EA Digest", self.url("/feed")),
                ]
            ).encode(),
            "text/x-opml",
        )
        self._build_bad()

    def _build_substack(self) -> None:
        rows = sorted((p for p in self.posts if p["forum"] == "eaforum"), key=post_time)[-25:]
        items = []
        for row in reversed(rows):  # newest first, as Substack lists them
            item = item_from(row, base=SUBSTACK_HOST, author=str(row["author"]))
            item.link = item.guid = f"{SUBSTACK_HOST}/p/{item.slug}"
            items.append(item)
        self.substack_items = items
        self.routes["/feed"] = validated(
            lambda: rss(
                "EA Digest", SUBSTACK_HOST, self.substack_items[:20], generator="Substack"
            ).encode(),
            RSS_TYPE,
            etag=True,
            last_modified=False,
            weak=True,
        )
        self.routes["/api/v1/archive"] = self._archive
        self.routes["/api/v1/posts/*"] = self._post

    def _archive(self, request: Request) -> Reply:
        offset = int(request.params.get("offset", "0"))
        limit = min(int(request.params.get("limit", "12")), ARCHIVE_PAGE_MAX)
        page = self.substack_items[offset : offset + limit]
        data = [_archive_json(i, with_body=False) for i in page]
        return Reply(200, json.dumps(data).encode(), "application/json; charset=utf-8")

    def _post(self, request: Request) -> Reply:
        slug = request.path.rsplit("/", 1)[-1]
        for item in self.substack_items:
            if item.slug == slug:
                body = json.dumps(_archive_json(item, with_body=True)).encode()
                return Reply(200, body, "application/json; charset=utf-8")
        return Reply(404, b'{"error":"Post not found"}', "application/json")

    def _build_crossposts(self) -> None:
        originals = []
        for post_id in ("i42Dfoh4HtsCAfXxL", "NQgWL7tvAPgN2LTLn"):
            row = next(p for p in self.posts if p["id"] == post_id)
            link = str(row["link_url"])
            originals.append(
                item_from(row, base="", author=str(row["author"]), delay_hours=-30, link=link)
            )
        self.crosspost_items = originals
        self.routes["/crosspost/rss.xml"] = validated(
            lambda: rss("Originals", "https://example.org/", self.crosspost_items).encode(),
            RSS_TYPE,
            etag=True,
            last_modified=False,
        )

    def _build_bad(self) -> None:
        wei = [
            item_from(r, base="https://weidai.example", author="Wei Dai")
            for r in self.by_author("Wei Dai")[:4]
        ]
        self.bad_items = wei
        good = rss("Wei Dai", "https://weidai.example/", wei)
        cut = good.index("</item>", good.index("</item>") + 1)
        self.routes["/bad/malformed.xml"] = static(
            (good[:cut] + "</channel>" + good[cut:]).encode(), RSS_TYPE
        )
        latin = rss("Caf\u00e9 \u201cquotes\u201d", "https://weidai.example/", wei[:2])
        self.routes["/bad/wrong-encoding.xml"] = static(
            latin.replace("<title><![CDATA[", "<title><![CDATA[Caf\u00e9 \u2014 ", 1).encode(
                "windows-1252", "replace"
            ),
            "application/xml",
        )
        self.routes["/bad/no-encoding.xml"] = static(
            rss(
                "Na\u00efve \u2014 no declaration",
                "https://weidai.example/",
                wei[:2],
                encoding=None,
            ).encode("utf-8"),
            "application/octet-stream",
        )
        undated = [
            Item(i.title, i.link, i.guid, i.author, None, i.html, i.summary) for i in wei[:3]
        ]
        self.routes["/bad/no-dates.xml"] = static(
            rss("No dates", "https://weidai.example/", undated).encode(), RSS_TYPE
        )
        same = [
            Item(i.title, i.link, wei[0].guid, i.author, i.published, i.html, i.summary)
            for i in wei[1:3]
        ]
        self.routes["/bad/dup-guids.xml"] = static(
            rss("Dup", "https://weidai.example/", [wei[0], wei[0], *same]).encode(), RSS_TYPE
        )
        self.routes["/bad/huge.xml"] = lambda _r: Reply(200, self.huge(), RSS_TYPE)
        self.routes["/moved"] = redirect("/atom.xml", status=301)
        self.routes["/bad/loop"] = redirect("/bad/loop2")
        self.routes["/bad/loop2"] = redirect("/bad/loop")
        page = (
            "<!DOCTYPE html><html><head><title>Kaj Sotala</title>"
            '<link rel="alternate" type="application/rss+xml" title="RSS" '
            'href="/blog/rss.xml"></head><body><h1>Blog</h1></body></html>'
        )
        self.routes["/bad/html"] = static(page.encode(), "text/html; charset=utf-8")
        self.routes["/bad/gone"] = lambda _r: Reply(410, b"Gone", "text/plain")
        self.routes["/bad/challenge"] = lambda _r: Reply(
            403,
            b"<!DOCTYPE html><title>Just a moment...</title>",
            "text/html",
            {"cf-mitigated": "challenge"},
        )
        self._huge: bytes | None = None

    def huge(self) -> bytes:
        """A 10 MB RSS feed of real post bodies (built once)."""
        if self._huge is None:
            rows = self.by_author("abramdemski")
            items, size, n = [], 0, 0
            while size < 10_000_000:
                row = rows[n % len(rows)]
                item = item_from(row, base="https://huge.example", author="Abram Demski")
                item.link = item.guid = f"https://huge.example/{n}/{item.slug}"
                items.append(item)
                size += len(item.html) + 500
                n += 1
            self._huge = rss("Huge", "https://huge.example/", items).encode()
        return self._huge


def _archive_json(item: Item, *, with_body: bool) -> dict[str, object]:
    data: dict[str, object] = {
        "id": int(hashlib.sha1(item.slug.encode()).hexdigest()[:8], 16),
        "slug": item.slug,
        "title": item.title,
        "subtitle": item.summary[:80],
        "description": item.summary,
        "canonical_url": item.link,
        "post_date": item.published.strftime("%Y-%m-%dT%H:%M:%S.000Z") if item.published else None,
        "audience": "everyone",
        "type": "newsletter",
        "wordcount": len(item.html.split()),
        "publishedBylines": [{"id": 1, "name": item.author}] if item.author else [],
        "postTags": [],
        "truncated_body_text": item.summary,
    }
    if with_body:
        data["body_html"] = item.html
    return data


def static(body: bytes, content_type: str) -> Route:
    """A route that always answers the same body."""
    return lambda _request: Reply(200, body, content_type)


def redirect(path: str, status: int = 302) -> Route:
    """A route that redirects to another path."""
    return lambda _request: Reply(status, b"", "text/plain", {"Location": path})


def validated(
    make: Callable[[], bytes],
    content_type: str,
    *,
    etag: bool,
    last_modified: bool,
    weak: bool = False,
) -> Route:
    """A route with conditional GET: 304 when If-None-Match / If-Modified-Since match."""
    stamp = format_datetime(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), usegmt=True)

    def route(request: Request) -> Reply:
        body = make()
        tag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        tag = f"W/{tag}" if weak else tag
        headers = {}
        if etag:
            headers["ETag"] = tag
        if last_modified:
            headers["Last-Modified"] = stamp
        if (etag and request.headers.get("if-none-match") == tag) or (
            last_modified and not etag and request.headers.get("if-modified-since") == stamp
        ):
            return Reply(304, b"", content_type, headers)
        return Reply(200, body, content_type, headers)

    return route
