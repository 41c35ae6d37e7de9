"""Blogs and newsletters over RSS and Atom (feedparser), with Substack archive backfill.

Each feed keeps its own state in the source's cursor map (stream `feed:<url>`, a small JSON
object): its ETag and Last-Modified, whether it was backfilled, and its health. The state is
saved in the transaction that writes the feed's entries, so a crash never records a feed as
read when its entries were not stored. A broken feed records its error and the sync goes on
to the next one; nothing already stored is touched, because feeds only add and update.
Conditional GET follows reference/sources.md §3.4: validators are sent only as the server gave
them, and entries are de-duplicated by guid (else link) because many servers ignore them.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.api
import httpx
from defusedxml import DefusedXmlException
from selectolax.lexbor import LexborHTMLParser

from tracker.config import FeedsSettings
from tracker.errors import SourceError
from tracker.ingest.base import Batch
from tracker.ingest.feedlist import Feed, FeedState, resolve_feeds
from tracker.ingest.html import parse_body
from tracker.ingest.http import server_text
from tracker.ingest.links import url_key
from tracker.ingest.substack import ArchivePost, SubstackError, archive_page, archive_post
from tracker.models import AuthorCreate, DocumentCreate, utcnow
from tracker.text import clean_text, safe_url

log = logging.getLogger(__name__)

_MAX_NATIVE_ID = 255
_SUMMARY_CHARS = 500
_FEED_TYPES = ("application/rss+xml", "application/atom+xml")
# Feedparser's strict parser is expat through defusedxml: no entity-expansion bombs, no
# external entities. (The list is feedparser's own hook for choosing a SAX driver.)
feedparser.api.PREFERRED_XML_PARSERS[:] = ["defusedxml.expatreader"]


class FeedError(Exception):
    """One feed failed; the message says why and what to do."""


# --- the source ------------------------------------------------------------------------------


@dataclass
class _Box:
    """A feed's state as last committed; replaced only once a batch has been written."""

    state: FeedState


@dataclass
class ParsedFeed:
    """A feed document read into entries, with what was odd about it."""

    title: str | None
    documents: list[DocumentCreate]
    substack: bool = False
    well_formed: bool = True
    failed: int = 0
    warnings: list[str] = field(default_factory=list)


class FeedsSource:
    """Every configured and added feed, one after another."""

    name = "feeds"

    def __init__(self, settings: FeedsSettings, *, now: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self._now = now

    def fetch(
        self, client: httpx.Client, cursor: Mapping[str, str], *, since: datetime | None = None
    ) -> Iterator[Batch]:
        """Each feed in turn; a feed that fails is recorded and the next one goes on.

        Raises:
            SourceError: every feed failed (each one's reason is in `tracker status`).
        """
        feeds = resolve_feeds(self.settings, cursor)
        failed = 0
        for feed in feeds:
            box = _Box(FeedState.load(cursor.get(feed.stream), feed.url))
            try:
                yield from self._sync_feed(client, feed, box)
            except (SourceError, FeedError, SubstackError, httpx.HTTPError) as e:
                failed += 1
                message = _reason(feed, e)
                log.warning("feeds: %s: %s", feed.name, message)
                state = box.state.failed(message, self._now())
                yield Batch(documents=[], cursor={feed.stream: state.dump()}, failed=1,
                            note=f"{feed.name} FAILED: {message}")
        if feeds and failed == len(feeds):
            raise SourceError(f"feeds: all {failed} feeds failed; `tracker status` shows why "
                              f"for each", source=self.name)

    def _sync_feed(self, client: httpx.Client, feed: Feed, box: _Box) -> Iterator[Batch]:
        response = client.get(feed.url, headers=_validators(box.state))
        now = self._now()
        seen: set[str] = set()
        if response.status_code == 304:
            state = box.state.model_copy(update={
                "last_checked": now, "last_success": now, "last_status": "not modified"})
            yield Batch(documents=[], cursor={feed.stream: state.dump()},
                        note=f"{feed.name}: not modified")
        else:
            parsed = read_feed(feed, response)
            state = _after_read(box.state, feed, response, parsed, now)
            seen = {d.native_id for d in parsed.documents}
            yield Batch(documents=parsed.documents, cursor={feed.stream: state.dump()},
                        failed=parsed.failed, note=f"{feed.name}: {len(parsed.documents)} entries")
        box.state = state
        if self.settings.backfill and state.substack and not state.backfilled:
            yield from self._backfill(client, feed, box, seen)

    def _backfill(
        self, client: httpx.Client, feed: Feed, box: _Box, seen: set[str]
    ) -> Iterator[Batch]:
        """Older posts from the Substack archive, 50 a page, resumable by offset."""
        offset = box.state.backfill_offset
        while offset < self.settings.backfill_max:
            limit = min(50, self.settings.backfill_max - offset)
            try:
                posts = archive_page(client, feed.url, offset=offset, limit=limit)
            except SourceError as e:
                raise SubstackError(f"the Substack archive failed at offset {offset} "
                                    f"({_reason(feed, e)}); the backfill resumes from there on "
                                    f"the next sync") from e
            if not posts:
                break
            documents, failed = [], 0
            for post in posts:
                try:
                    document = self._archive_document(client, feed, post, seen)
                except ValueError as e:
                    failed += 1
                    log.warning("feeds: %s: skipped archive post %s: %s", feed.name, post.slug, e)
                    continue
                if document is not None:
                    documents.append(document)
            offset += len(posts)
            state = box.state.model_copy(update={"backfill_offset": offset})
            yield Batch(documents=documents, cursor={feed.stream: state.dump()}, failed=failed,
                        note=f"{feed.name}: archive, {offset} posts")
            box.state = state
        state = box.state.model_copy(update={"backfilled": True})
        yield Batch(documents=[], cursor={feed.stream: state.dump()},
                    note=f"{feed.name}: archive done")
        box.state = state

    def _archive_document(
        self, client: httpx.Client, feed: Feed, post: ArchivePost, seen: set[str]
    ) -> DocumentCreate | None:
        link = safe_url(post.canonical_url) or safe_url(f"{_site_root(feed.url)}/p/{post.slug}")
        if link is None:
            raise ValueError(f"no http(s) URL for the archive post {post.slug!r}")
        if link in seen:
            return None  # the feed itself just gave this post in full
        body = post.body_html
        if body is None and self.settings.backfill_bodies:
            try:
                body = archive_post(client, feed.url, post.slug).body_html
            except SubstackError as e:
                log.warning("feeds: %s: %s; storing the archive's excerpt", feed.name, e)
        if body is None:
            text = post.truncated_body_text or post.description or post.subtitle or ""
            body = f"<p>{html.escape(text)}</p>" if text else ""
        authors = [b.name for b in post.publishedBylines if b.name]
        extra = {"feed_url": feed.url, "audience": post.audience, "from": "substack archive"}
        if post.subtitle:
            extra["summary"] = clean_text(post.subtitle)[:_SUMMARY_CHARS]
        return _document(feed, native_id=link, link=link, title=post.title, body_html=body,
                         posted=post.post_date, modified=None, authors=authors, tags=[],
                         extra=extra)


# --- reading a feed --------------------------------------------------------------------------


def read_feed(feed: Feed, response: httpx.Response) -> ParsedFeed:
    """A feed response as documents.

    Raises:
        FeedError: the response is an error, an HTML page, empty, or not a feed at all.
    """
    if response.status_code >= 400:
        gone = "; the feed is gone, remove it" if response.status_code == 410 else ""
        raise FeedError(f"HTTP {response.status_code} {server_text(response.reason_phrase)} "
                        f"from {response.url}{gone}")
    content = response.content
    content_type = response.headers.get("content-type", "")
    if not content.strip():
        raise FeedError(f"{response.url} answered an empty body, not a feed")
    if _is_html(content, content_type):
        raise FeedError(f"{response.url} served an HTML page, not a feed{_feed_hint(response)}")
    try:
        parsed = feedparser.parse(content, response_headers={
            "content-type": content_type or "application/xml",
            "content-location": str(response.url)})
    except DefusedXmlException as e:
        raise FeedError(f"{response.url} declares XML entities or external references "
                        f"({type(e).__name__}), which no feed needs; refused it") from e
    if not _get(parsed, "version"):
        problem = _get(parsed, "bozo_exception") if _get(parsed, "bozo") else None
        detail = f" ({_sax_message(problem)})" if problem is not None else ""
        raise FeedError(f"{response.url} is not an RSS or Atom feed{detail}")
    result = _entries(feed, parsed)
    result.warnings[:0] = _bozo_warnings(parsed, result)
    if response.history and response.history[0].status_code in (301, 308):
        result.warnings.append(f"moved permanently to {response.url}; update the feed URL")
    return result


def _entries(feed: Feed, parsed: Any) -> ParsedFeed:
    meta = _get(parsed, "feed") or {}
    fallback = [feed.author] if feed.author else _names(_get(meta, "authors"))
    generator = str(_get(meta, "generator") or "")
    result = ParsedFeed(title=clean_text(_get(meta, "title") or "") or None, documents=[],
                        substack=bool(feed.substack) or "substack" in generator.lower())
    ids = _native_ids(parsed.entries)
    repeated = undated = 0
    known: set[str] = set()
    for entry, native_id in zip(parsed.entries, ids, strict=True):
        if native_id in known:
            repeated += 1
            continue
        known.add(native_id)
        try:
            document = _entry_document(feed, entry, native_id, fallback)
        except (ValueError, TypeError, OverflowError) as e:
            result.failed += 1
            log.warning("feeds: %s: skipped entry %s: %s", feed.name, native_id, e)
            continue
        undated += document.posted_at is None
        result.documents.append(document)
    if repeated:
        result.warnings.append(f"{repeated} entries repeated the guid of an earlier entry; "
                               f"kept the first of each")
    if undated:
        result.warnings.append(f"{undated} entries have no date; stored without one")
    return result


def _entry_document(
    feed: Feed, entry: Any, native_id: str, fallback: list[str]
) -> DocumentCreate:
    # Only http(s) links are kept: a `javascript:` link is dropped, not stored.
    link = safe_url(_get(entry, "link"))
    body_html, summary = _content(entry)
    published = _when(_get(entry, "published_parsed")) or _when(_get(entry, "created_parsed"))
    updated = _when(_get(entry, "updated_parsed"))
    extra: dict[str, Any] = {"feed_url": feed.url, "guid": _get(entry, "id")}
    if summary:
        extra["summary"] = summary[:_SUMMARY_CHARS]
    return _document(
        feed, native_id=native_id, link=link, title=_get(entry, "title") or "",
        body_html=body_html, posted=published or updated,
        modified=updated if published and updated and updated != published else None,
        authors=_names(_get(entry, "authors")) or fallback,
        tags=[str(_get(t, "term")) for t in _get(entry, "tags") or [] if _get(t, "term")],
        extra=extra,
    )


def _document(
    feed: Feed, *, native_id: str, link: str | None, title: str, body_html: str,
    posted: datetime | None, modified: datetime | None, authors: Sequence[str],
    tags: Sequence[str], extra: dict[str, Any],
) -> DocumentCreate:
    body = parse_body(body_html, base_url=link or feed.url)
    return DocumentCreate(
        source=feed.name,
        native_id=native_id,
        kind="entry",
        url=link,
        title=clean_text(" ".join(title.split())),
        posted_at=posted,
        modified_at=modified,
        body_html=body_html or None,
        body_text=body.text,
        authors=[AuthorCreate(name=clean_text(name)) for name in dict.fromkeys(authors)],
        tags=list(dict.fromkeys(clean_text(t) for t in tags))[:50],
        aliases=[url_key(link)] if link else [],
        links=body.links,
        extra=extra,
    )


def _native_ids(entries: Sequence[Any]) -> list[str]:
    """Guid, else link, else a hash of the entry; a guid shared by different links is broken
    (some feeds give every item the site's URL), so those entries go by link."""
    links_by_guid: dict[str, set[str]] = {}
    for entry in entries:
        guid = (_get(entry, "id") or "").strip()
        if guid:
            links_by_guid.setdefault(guid, set()).add((_get(entry, "link") or "").strip())
    ids = []
    for entry in entries:
        guid = (_get(entry, "id") or "").strip()
        link = (_get(entry, "link") or "").strip()
        if guid and link and len(links_by_guid[guid]) > 1:
            guid = ""
        ident = clean_text(guid or link) or _entry_hash(entry)
        if len(ident) > _MAX_NATIVE_ID:
            ident = "sha256:" + hashlib.sha256(ident.encode()).hexdigest()
        ids.append(ident)
    return ids


def _entry_hash(entry: Any) -> str:
    seed = "\x00".join(str(_get(entry, k) or "") for k in ("title", "published", "summary"))
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def _content(entry: Any) -> tuple[str, str]:
    """The fullest body (`content:encoded` over the summary) as HTML, and the summary text."""
    summary = _get(entry, "summary") or ""
    summary_type = _get(_get(entry, "summary_detail") or {}, "type") or "text/html"
    contents = [c for c in _get(entry, "content") or [] if _get(c, "value")]
    if contents:
        best = max(contents, key=lambda c: len(_get(c, "value") or ""))
        body = _as_html(_get(best, "value") or "", _get(best, "type") or "text/html")
    else:
        body = _as_html(summary, summary_type)
    summary_text = parse_body(_as_html(summary, summary_type)).text if contents else ""
    return body, summary_text


def _as_html(value: str, content_type: str) -> str:
    if "html" in content_type:
        return value
    paragraphs = [p.strip() for p in value.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _names(authors: Any) -> list[str]:
    names = []
    for author in authors or []:
        name = " ".join(str(_get(author, "name") or "").split())
        if name and "@" not in name:
            names.append(name)
    return names


def _get(data: Any, key: str) -> Any:
    """A feedparser value without FeedParserDict's aliasing (`updated` → `published` is
    deprecated and warns; absent means absent here)."""
    return dict.get(data, key) if isinstance(data, dict) else None


def _when(parsed: time.struct_time | None) -> datetime | None:
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def _bozo_warnings(parsed: Any, result: ParsedFeed) -> list[str]:
    problem = _get(parsed, "bozo_exception") if _get(parsed, "bozo") else None
    if problem is None:
        return []
    name = type(problem).__name__
    if name == "CharacterEncodingOverride":
        return [f"wrong encoding declaration: {problem}"]
    if name in ("CharacterEncodingUnknown", "NonXMLContentType"):
        return [f"{problem}"]
    result.well_formed = False
    return [f"not well-formed XML ({_sax_message(problem)}); read {len(result.documents)} "
            f"entries leniently"]


def _sax_message(problem: Any) -> str:
    line = getattr(problem, "getLineNumber", None)
    if callable(line):
        return f"{problem.getMessage()} at line {line()}, column {problem.getColumnNumber()}"
    return str(problem)


def _after_read(
    state: FeedState, feed: Feed, response: httpx.Response, parsed: ParsedFeed, now: datetime
) -> FeedState:
    """The state after a successful read; validators are kept only from a well-formed feed,
    so a feed that is fixed later is read in full again."""
    good = parsed.well_formed
    return state.model_copy(update={
        "etag": response.headers.get("etag") if good else None,
        "last_modified": response.headers.get("last-modified") if good else None,
        "title": feed.title or parsed.title or state.title,
        "substack": parsed.substack,
        "last_checked": now, "last_success": now, "last_status": "ok",
        "warning": server_text("; ".join(parsed.warnings), 1000) or None,
        "items": len(parsed.documents),
    })


def _validators(state: FeedState) -> dict[str, str]:
    """Conditional-GET headers, only with values the server sent (FreshRSS #6056)."""
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _is_html(content: bytes, content_type: str) -> bool:
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    return "text/html" in content_type.lower() and not head.startswith((b"<?xml", b"<rss",
                                                                        b"<feed", b"<rdf"))


def _feed_hint(response: httpx.Response) -> str:
    """Point at the feed an HTML page names in a `<link rel="alternate">`, if any."""
    url = discover_feed(response.content[:200_000], str(response.url))
    if url is not None:
        return f"; the page names a feed at {url}: `tracker feeds add {url}`"
    return "; give the feed's own URL (often /feed or /rss)"


def discover_feed(page: bytes | str, base_url: str) -> str | None:
    """The first RSS or Atom feed an HTML page names with `<link rel="alternate" type=…>`.

    Parsed as HTML (selectolax), so attribute order, quoting, case and rel lists
    (`rel="alternate feed"`) do not matter; a relative href is resolved against `base_url`.
    """
    text = page.decode("utf-8", "replace") if isinstance(page, bytes) else page
    for node in LexborHTMLParser(text).css("link[href]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        kind = (node.attributes.get("type") or "").strip().lower().split(";")[0].strip()
        href = (node.attributes.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            url = safe_url(urljoin(base_url, href))
            if url is not None:
                return url
    return None


def _reason(feed: Feed, error: Exception) -> str:
    if isinstance(error, httpx.TooManyRedirects):
        return f"{feed.url} redirects in a loop (more than 5 redirects); check the URL"
    if isinstance(error, SourceError):
        return error.msg.removeprefix("feeds: ")
    if isinstance(error, httpx.HTTPError):
        return f"{feed.url}: {type(error).__name__}: {server_text(str(error))}"
    return str(error)


def _site_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
