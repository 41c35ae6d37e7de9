"""Files a user can download, read as documents: the Alignment Research Dataset's JSONL and the
corpus files (`posts.jsonl.gz`, `papers.jsonl`, `comments.jsonl`).

Every line either becomes a `DocumentCreate` keyed by its real site id (forum posts, from the
URL when the record carries none), its arXiv id, or its canonical URL, or is counted as a skip
with a reason. Nothing here touches the database.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tracker.errors import TrackerError
from tracker.ingest.html import markdown_html, parse_body
from tracker.ingest.links import arxiv_key, classify_url, doi_key, forum_keys, url_key
from tracker.models import AuthorCreate, DocumentCreate
from tracker.text import clean_text, safe_url

# The longest line read: the largest real post in the corpus is ~2 MB of HTML; a 50 MB line is
# junk (or an attack) and is skipped without ever holding it in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
_MAX_ID = 255  # Document.native_id's column width
_SITE_SOURCE = {"lw": "lesswrong", "ea": "eaforum"}
# ARD source names that are forum posts (their site id comes from the URL).
_ARD_FORUMS = {"lesswrong": "lw", "alignmentforum": "lw", "eaforum": "ea"}
FORMATS = ("ard", "corpus-posts", "corpus-papers", "corpus-comments")
# The Alignment Research Dataset's other sources (StampyAI/alignment-research-dataset): blogs,
# newsletters, Arbital, books and reports, keyed by canonical URL under their own name. A
# source not listed here is counted as a skip rather than guessed at.
ARD_SOURCES = frozenset({
    "agentmodels", "agisf", "aiimpacts", "aisafety.camp", "aisafety.info", "ai_alignment_playlist",
    "alignment_newsletter", "arbital", "audio_transcripts", "carado.moe", "cold_takes",
    "deepmind_blog", "deepmind_technical_blog", "distill", "eleuther.ai", "gdocs",
    "generative.ink", "gwern_blog", "importai", "jsteinhardt_blog", "markdown", "miri",
    "ml_safety_newsletter", "nonarxiv_papers", "openai.research", "qualiacomputing",
    "rob_miles_ai_safety", "special_docs", "vkrakovna_blog", "waitbutwhy", "yudkowsky_blog",
    "youtube",
})


class Unmapped(ValueError):
    """A record that cannot be keyed to a real site id or URL; the message is the reason."""


@dataclass
class Line:
    """One line of a file: its number and either a record or why it could not be read."""

    number: int
    record: dict[str, Any] | None
    problem: str | None = None


def open_lines(path: Path) -> IO[bytes]:
    """The file as bytes, gunzipped when it is gzip."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_lines(handle: IO[bytes], *, max_bytes: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """Each non-empty line parsed as a JSON object, or the reason it could not be."""
    for raw in read_raw_lines(handle, max_bytes=max_bytes):
        yield parse_line(raw)


RawLine = tuple[int, bytes | None, str | None]
"""A line as read: its number and its bytes, or None and why it was not kept (too long)."""


def read_raw_lines(handle: IO[bytes], *, max_bytes: int = MAX_LINE_BYTES) -> Iterator[RawLine]:
    """Each non-empty line as bytes, JSON not parsed yet (`tracker import` parses it in its
    worker processes: json.loads of the 136 MB corpus posts is ~6 s of one core)."""
    number = 0
    while True:
        raw = handle.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            _skip_rest(handle)
            yield number, None, f"line over {max_bytes // 2**20} MiB"
            continue
        if not raw.strip():
            continue
        yield number, raw, None


def _skip_rest(handle: IO[bytes]) -> None:
    while True:
        piece = handle.readline(_READ_CHUNK)
        if not piece or piece.endswith(b"\n"):
            return


def parse_line(raw: RawLine) -> Line:
    """A raw line parsed as a JSON object, or the reason it could not be."""
    number, data, problem = raw
    if data is None:
        return Line(number, None, problem)
    try:
        record = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return Line(number, None, "unreadable JSON (truncated or malformed)")
    if not isinstance(record, dict):
        return Line(number, None, "not a JSON object")
    return Line(number, record)


def detect_format(record: dict[str, Any], path: Path) -> str:
    """Which kind of file a first record belongs to; TrackerError for none of them."""
    if {"source", "text", "url"} <= record.keys() and "date_published" in record:
        return "ard"
    if "forum" in record and "post_id" in record and "parent_id" in record:
        return "corpus-comments"
    if "forum" in record and "posted_at" in record:
        return "corpus-posts"
    if "venue" in record or "arxiv_id" in record or "abstract" in record:
        return "corpus-papers"
    raise TrackerError(
        f"{path}: line 1 is JSON but not a record tracker can import (fields: "
        f"{', '.join(sorted(record)[:8])}); give an Alignment Research Dataset .jsonl file or "
        f"the corpus posts.jsonl.gz, papers.jsonl or comments.jsonl")


def converter(fmt: str) -> Callable[[dict[str, Any]], DocumentCreate]:
    """The function that maps one record of `fmt` to a document (raising `Unmapped`)."""
    return {"ard": ard_document, "corpus-posts": corpus_post, "corpus-papers": corpus_paper,
            "corpus-comments": corpus_comment}[fmt]


# --- the Alignment Research Dataset -----------------------------------------------------------


def ard_document(record: dict[str, Any]) -> DocumentCreate:
    """One ARD record: forum posts by site id (from the URL), arXiv papers by arXiv id, the
    rest (blogs, Arbital, reports) by canonical URL under the ARD source's name."""
    source = _text(record.get("source")).lower()
    if not source:
        raise Unmapped("no source")
    url = safe_url(_text(record.get("url")))
    title = clean_text(_text(record.get("title")))
    text = clean_text(_text(record.get("text")))
    authors = _authors(record.get("authors"))
    posted = _time(record.get("date_published"))
    extra = {"imported_from": "ard", "ard_id": _text(record.get("id"))[:_MAX_ID]}
    if summary := clean_text(_summary(record.get("summary"))):
        extra["summary"] = summary
    if source in _ARD_FORUMS:
        site, native_id = _forum_id(url, _ARD_FORUMS[source])
        return _forum_post(site, native_id, url, title, text, authors, posted,
                           af=source == "alignmentforum", extra=extra)
    if source == "arxiv":
        key = arxiv_key(_text(record.get("id"))) or _arxiv_from_url(url)
        if key is None:
            raise Unmapped("arxiv record without an arXiv id in its id or URL")
        return _paper(key, title, text, authors, posted, extra)
    if source not in ARD_SOURCES:
        raise Unmapped(f"unknown ARD source '{source[:40]}'")
    return _entry(source, url, title, text, authors, posted, extra)


def _forum_id(url: str | None, expected_site: str) -> tuple[str, str]:
    link = classify_url(url) if url else None
    key = link.target_key if link and link.kind == "post" else None
    if not key or ":" not in key or "-" in key.split(":", 1)[0]:
        raise Unmapped("a forum record whose URL names no post id")
    site, native_id = key.split(":", 1)
    if site not in _SITE_SOURCE:
        raise Unmapped(f"a forum record whose URL is on another site ({site})")
    return site, native_id


def _forum_post(
    site: str, native_id: str, url: str | None, title: str, text: str,
    authors: list[AuthorCreate], posted: datetime | None, *, af: bool, extra: dict[str, Any],
    html: str | None = None, slug: str | None = None, base_url: str | None = None,
    **fields: Any,
) -> DocumentCreate:
    body_text, links = text, []
    if html:
        body = parse_body(html, base_url=base_url or url)
        body_text, links = body.text, list(body.links)
    return DocumentCreate(
        source=_SITE_SOURCE[site], native_id=native_id, kind="post", url=url, title=title,
        posted_at=posted, af=af, body_html=html, body_text=body_text, authors=authors,
        aliases=forum_keys(site, native_id, slug or _slug(url)), links=links, extra=extra,
        **fields,
    )


def _paper(key: str, title: str, text: str, authors: list[AuthorCreate],
           posted: datetime | None, extra: dict[str, Any]) -> DocumentCreate:
    native_id = key.removeprefix("arxiv:")
    return DocumentCreate(
        source="arxiv", native_id=native_id, kind="paper", url=f"https://arxiv.org/abs/{native_id}",
        title=title, posted_at=posted, body_text=text, authors=authors, aliases=[key],
        extra=extra,
    )


def _entry(
    source: str, url: str | None, title: str, text: str, authors: list[AuthorCreate],
    posted: datetime | None, extra: dict[str, Any], *, kind: str = "entry",
) -> DocumentCreate:
    if not url or not url.startswith(("http://", "https://")):
        raise Unmapped("no http(s) URL to key the document by")
    if len(url) > _MAX_ID:
        raise Unmapped(f"URL longer than {_MAX_ID} characters")
    return DocumentCreate(
        source=source[:64], native_id=url, kind=kind, url=url, title=title, posted_at=posted,
        body_text=text, authors=authors, aliases=[url_key(url)], extra=extra,
    )


# --- the corpus files -------------------------------------------------------------------------


def corpus_post(record: dict[str, Any]) -> DocumentCreate:
    """A `posts.jsonl.gz` row: LW/AF/EA posts by site id, Arbital pages, TurnTrout essays."""
    forum = _text(record.get("forum"))
    native_id = _text(record.get("id"))
    url = safe_url(_text(record.get("url")))
    title = clean_text(_text(record.get("title")))
    author = _text(record.get("author"))
    authors = [AuthorCreate(name=clean_text(author), slug=record.get("author_slug") or None)
               ] if author else []
    posted = _time(record.get("posted_at"))
    extra: dict[str, Any] = {"imported_from": "corpus"}
    fields: dict[str, Any] = {
              "score": _float(record.get("score")), "vote_count": _int(record.get("vote_count")),
              "comment_count": _int(record.get("comment_count")),
              "question": bool(record.get("is_question")),
              "link_url": safe_url(_text(record.get("link_url")))}
    tags = [clean_text(str(t)) for t in record.get("tags") or []][:50]
    if forum in ("lesswrong", "alignmentforum", "eaforum"):
        site = "ea" if forum == "eaforum" else "lw"
        if not _is_site_id(native_id):
            raise Unmapped("no real site id (a synthetic id from an archive)")
        # A post kept only as Markdown (TurnTrout's essays merged into their LW posts) is
        # still a post with a body: the forum serves it as HTML.
        # Its site-relative links are the essay site's pages.
        html, base = record.get("body_html"), None
        if not html:
            html = markdown_html(_text(record.get("body_markdown")))
            base = safe_url(_text(record.get("turntrout_permalink"))) or None
        doc = _forum_post(site, native_id, url, title, "", authors, posted,
                          af=bool(record.get("af")) or forum == "alignmentforum", extra=extra,
                          html=html or None, base_url=base, **fields)
        return doc.model_copy(update={"tags": tags})
    text = clean_text(_text(record.get("body_markdown")))
    if forum == "arbital":
        page = native_id.removeprefix("arbital:")
        return DocumentCreate(source="arbital", native_id=page, kind="post", url=url, title=title,
                              posted_at=posted, body_text=text, authors=authors, tags=tags,
                              aliases=[url_key(url)] if url else [], extra=extra,
                              **{k: v for k, v in fields.items() if k != "link_url"})
    doc = _entry(forum.split(".")[0] or "blog", url, title, text, authors, posted, extra)
    return doc.model_copy(update={"tags": tags})


def corpus_paper(record: dict[str, Any]) -> DocumentCreate:
    """A `papers.jsonl` row: arXiv papers by arXiv id, the rest by DOI or URL."""
    title = clean_text(_text(record.get("title")))
    authors = _authors(record.get("authors"))
    posted = _time(record.get("date")) or _year(record.get("year"))
    parts = [record.get(k) for k in ("abstract", "summary", "opinion")]
    text = clean_text("\n\n".join(_text(p) for p in parts if p))
    url = safe_url(_text(record.get("url")))
    extra: dict[str, Any] = {"imported_from": "corpus", "venue": _text(record.get("venue")),
                             "corpus_id": _text(record.get("id"))}
    key = arxiv_key(_text(record.get("arxiv_id"))) or _arxiv_from_url(url) or arxiv_key(
        _text(record.get("id")))
    if key:
        return _paper(key, title, text, authors, posted, extra)
    if url and (link := classify_url(url)) is not None and link.kind in ("post", "comment"):
        raise Unmapped("a forum post listed as a paper (import the post itself)")
    if doi := _text(record.get("doi")):
        aliases = [doi_key(doi)] + ([url_key(url)] if url else [])
        return DocumentCreate(source="papers", native_id=doi_key(doi)[:_MAX_ID], kind="paper",
                              url=url, title=title, posted_at=posted, body_text=text,
                              authors=authors, aliases=aliases, extra=extra)
    if url:
        return _entry("papers", url, title, text, authors, posted, extra, kind="paper")
    # No URL, DOI or arXiv id (most Alignment Newsletter rows): the dataset's own id is the
    # only stable key, so a re-import of the same file updates the row.
    corpus_id = _text(record.get("id"))
    if not corpus_id:
        raise Unmapped("a paper with no id, URL, DOI or arXiv id")
    return DocumentCreate(source="papers", native_id=corpus_id[:_MAX_ID], kind="paper", title=title,
                          posted_at=posted, body_text=text, authors=authors, extra=extra)


def corpus_comment(record: dict[str, Any]) -> DocumentCreate:
    """A `comments.jsonl` row (Arbital comments, with their page and parent)."""
    native_id = _text(record.get("id")).removeprefix("arbital:")
    if not native_id:
        raise Unmapped("no id")
    post = _text(record.get("post_id")).removeprefix("arbital:") or None
    parent = _text(record.get("parent_id")).removeprefix("arbital:") or None
    author = clean_text(_text(record.get("author")))
    return DocumentCreate(
        source=_text(record.get("forum")) or "arbital", native_id=native_id, kind="comment",
        url=safe_url(_text(record.get("url"))), title="Comment", posted_at=_time(
            record.get("posted_at")), score=_float(record.get("score")), post_id=post,
        parent_id=parent, body_text=clean_text(_text(record.get("body_markdown"))),
        authors=[AuthorCreate(name=author)] if author else [],
        extra={"imported_from": "corpus", "anchor_text": record.get("anchor_text")},
    )


# --- small readers ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _summary(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return _text(value)


def _authors(value: Any) -> list[AuthorCreate]:
    names = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    cleaned = (clean_text(n.strip()) for n in names if isinstance(n, str) and n.strip())
    return [AuthorCreate(name=name[:255]) for name in dict.fromkeys(cleaned)]


def _time(value: Any) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _year(value: Any) -> datetime | None:
    return datetime(int(value), 1, 1, tzinfo=UTC) if isinstance(value, int) and value > 0 else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _is_site_id(native_id: str) -> bool:
    return len(native_id) in (17, 24) and native_id.isalnum()


def _slug(url: str | None) -> str | None:
    if not url or "/posts/" not in url:
        return None
    rest = url.split("/posts/", 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/").split("/")
    return rest[1].lower() if len(rest) > 1 and rest[1] else None


def _arxiv_from_url(url: str | None) -> str | None:
    link = classify_url(url) if url else None
    return link.target_key if link and link.kind == "arxiv" else None
