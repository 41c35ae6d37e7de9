"""LessWrong, the Alignment Forum and the EA Forum over ForumMagnum's GraphQL API.

Only the legacy `posts(input: {terms: …})` shape is used: the EA Forum accepts nothing else
(reference/sources.md §1.11). Posts and comments are synced by keyset on `postedAt`
(`view: "old"` / `allRecentComments` with `sortBy: "oldest"`), edits by `modifiedAt` /
`lastEditedAt` windows, and the last `refresh_days` are re-read on every sync because votes
do not change `modifiedAt`; whatever that complete re-read no longer lists was deleted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracker.config import ForumSettings
from tracker.errors import ChallengeError, SourceError
from tracker.ingest.base import Batch, Window
from tracker.ingest.html import parse_body
from tracker.ingest.http import server_text
from tracker.ingest.links import classify_url, forum_keys
from tracker.ingest.retry import Transient, policy
from tracker.models import AuthorCreate, DocumentCreate, utcnow
from tracker.text import clean_text, safe_url

log = logging.getLogger(__name__)

# ForumMagnum rejects offsets above 2000 ("Exceeded maximum value for skip").
MAX_OFFSET = 2000
ONE_MS = timedelta(milliseconds=1)

_USER = "{ _id slug username displayName }"
POST_FIELDS = f"""
  _id slug title pageUrl postedAt modifiedAt baseScore voteCount commentCount af question url
  legacyId wordCount htmlBody user {_USER} coauthors {_USER} tags {{ _id name slug }}
"""
COMMENT_FIELDS = f"""
  _id postId parentCommentId parentAnswerId topLevelCommentId postedAt lastEditedAt baseScore
  voteCount extendedScore af answer deleted deletedPublic htmlBody user {_USER}
  post {{ _id slug title }}
"""
POSTS_QUERY = (
    "query TrackerPosts($terms: JSON) {\n"
    f"  posts(input: {{terms: $terms}}) {{ results {{ {POST_FIELDS} }} }}\n}}"
)
COMMENTS_QUERY = (
    "query TrackerComments($terms: JSON) {\n"
    f"  comments(input: {{terms: $terms}}) {{ results {{ {COMMENT_FIELDS} }} }}\n}}"
)


class _User(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, alias="_id")
    slug: str | None = None
    username: str | None = None
    displayName: str | None = None  # noqa: N815 (GraphQL field name)

    def author(self) -> AuthorCreate | None:
        name = self.displayName or self.username or self.slug
        return AuthorCreate(name=clean_text(name), slug=self.slug) if name else None


class _Tag(BaseModel):
    name: str


class _Post(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(alias="_id")
    slug: str | None = None
    title: str = ""
    pageUrl: str | None = None  # noqa: N815
    postedAt: datetime  # noqa: N815
    modifiedAt: datetime | None = None  # noqa: N815
    baseScore: float | None = None  # noqa: N815
    voteCount: float | None = None  # noqa: N815
    commentCount: float | None = None  # noqa: N815
    af: bool = False
    question: bool = False
    url: str | None = None
    legacyId: str | None = None  # noqa: N815
    wordCount: int | None = None  # noqa: N815
    htmlBody: str | None = None  # noqa: N815
    user: _User | None = None
    coauthors: list[_User] | None = None
    tags: list[_Tag] | None = None


class _PostRef(BaseModel):
    id: str = Field(alias="_id")
    slug: str | None = None
    title: str | None = None


class _Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(alias="_id")
    postId: str | None = None  # noqa: N815
    parentCommentId: str | None = None  # noqa: N815
    parentAnswerId: str | None = None  # noqa: N815
    topLevelCommentId: str | None = None  # noqa: N815
    postedAt: datetime  # noqa: N815
    lastEditedAt: datetime | None = None  # noqa: N815
    baseScore: float | None = None  # noqa: N815
    voteCount: float | None = None  # noqa: N815
    extendedScore: dict[str, Any] | None = None  # noqa: N815
    af: bool = False
    answer: bool = False
    deleted: bool = False
    deletedPublic: bool = False  # noqa: N815
    htmlBody: str | None = None  # noqa: N815
    user: _User | None = None
    post: _PostRef | None = None


def agreement(extended: dict[str, Any] | None) -> dict[str, float]:
    """LessWrong's two-axis votes on a comment: the agreement score and how many voted on it.

    `extendedScore` is `{"agreement": 7, "agreementVoteCount": 3, ...}` on LW and the AF (the EA
    Forum adds reaction counts); anything else, or no such keys, gives nothing.
    """
    if not isinstance(extended, dict):
        return {}
    out: dict[str, float] = {}
    for key, name in (("agreement", "agreement"), ("agreementVoteCount", "agreement_votes")):
        value = extended.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and abs(value) < 1e9:
            out[name] = float(value)
    return out


def iso_ms(moment: datetime) -> str:
    """ForumMagnum's timestamp form, millisecond precision, UTC (`2022-06-05T22:05:52.224Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ForumSource:
    """One ForumMagnum site: `lesswrong`, `alignmentforum` (LW with `af: true`) or `eaforum`."""

    def __init__(
        self, name: str, settings: ForumSettings, *, now: Callable[[], datetime] = utcnow
    ) -> None:
        self.name = name
        self.settings = settings
        self.endpoint = settings.endpoint or ""
        # AF posts live in LessWrong's database: they are stored as `lesswrong` documents.
        self.store_source = "eaforum" if name == "eaforum" else "lesswrong"
        self.site = "ea" if name == "eaforum" else "lw"
        self.site_url = (
            "https://forum.effectivealtruism.org" if self.site == "ea"
            else "https://www.lesswrong.com"
        )
        self._now = now

    # --- the Source protocol ----------------------------------------------------------------

    def fetch(
        self, client: httpx.Client, cursor: Mapping[str, str], *, since: datetime | None = None
    ) -> Iterator[Batch]:
        """Posts, then comments, then edits of older ones, each a resumable stream."""
        started = self._now()
        first = started - timedelta(days=self.settings.first_sync_days)
        yield from self._keyset(client, cursor, "posts", since, first, started)
        if self.settings.comments:
            yield from self._keyset(client, cursor, "comments", since, first, started)
        yield from self._edits(client, cursor, "post_edits", started)
        if self.settings.comments:
            yield from self._edits(client, cursor, "comment_edits", started)

    # --- streams ----------------------------------------------------------------------------

    def _keyset(
        self,
        client: httpx.Client,
        cursor: Mapping[str, str],
        stream: str,
        since: datetime | None,
        first: datetime,
        started: datetime,
    ) -> Iterator[Batch]:
        """Page forward by `postedAt` from the cursor (re-reading the refresh window)."""
        saved = cursor.get(stream)
        refresh_from = started - timedelta(days=self.settings.refresh_days)
        if since is not None:
            start = since
        elif saved is not None:
            start = min(parse_time(saved), refresh_from)
        else:
            start = first
        after, seen = iso_ms(start), set[str]()
        while True:
            items = self._list(client, stream, {"after": after, "limit": self.settings.page_size})
            fresh = [item for item in items if item["_id"] not in seen]
            seen.update(item["_id"] for item in fresh)
            last = items[-1]["postedAt"] if items else after
            full = len(items) >= self.settings.page_size
            if full and parse_time(last) <= parse_time(after):
                # More than a page shares one timestamp: list that millisecond by offset.
                fresh += self._same_instant(client, stream, after, seen)
                last = iso_ms(parse_time(after) + ONE_MS)
            yield self._batch(stream, fresh, saved, last)
            if not full:
                break
            after = last
        if self.settings.refresh_days and not self.settings.af_only:
            kind = "post" if stream == "posts" else "comment"
            window = Window(self.store_source, kind, start, started, frozenset(seen))
            yield Batch(documents=[], windows=[window], note=f"{stream}: checked for deletions")

    def _same_instant(
        self, client: httpx.Client, stream: str, instant: str, seen: set[str]
    ) -> list[dict[str, Any]]:
        before = iso_ms(parse_time(instant) + ONE_MS)
        found: list[dict[str, Any]] = []
        for items in self._offset_pages(client, stream, {"after": instant, "before": before}):
            fresh = [item for item in items if item["_id"] not in seen]
            seen.update(item["_id"] for item in fresh)
            found += fresh
        return found

    def _edits(
        self, client: httpx.Client, cursor: Mapping[str, str], stream: str, started: datetime
    ) -> Iterator[Batch]:
        """Documents edited since the last sync, found by `modifiedAt` / `lastEditedAt`."""
        saved = cursor.get(stream)
        if saved is None:
            # A first sync fetches current texts anyway: edits start counting from now.
            yield Batch(documents=[], cursor={stream: iso_ms(started)})
            return
        field = "modifiedAt" if stream == "post_edits" else "lastEditedAt"
        base = "posts" if stream == "post_edits" else "comments"
        for items in self._windowed(client, base, field, parse_time(saved), started):
            yield self._batch(base, items, None, None)
        yield Batch(documents=[], cursor={stream: iso_ms(started)}, note=f"{stream}: done")

    def _windowed(
        self, client: httpx.Client, base: str, field: str, start: datetime, end: datetime
    ) -> Iterator[list[dict[str, Any]]]:
        """Offset pages of a time window, halving windows that hold more than an offset reaches."""
        terms = {"timeField": field, "after": iso_ms(start), "before": iso_ms(end)}
        pages = []
        for items in self._offset_pages(client, base, terms):
            pages.append(items)
            if len(pages) * self.settings.page_size > MAX_OFFSET and end - start > ONE_MS:
                middle = start + (end - start) / 2
                yield from self._windowed(client, base, field, start, middle)
                yield from self._windowed(client, base, field, middle, end)
                return
        yield from pages

    def _offset_pages(
        self, client: httpx.Client, stream: str, terms: dict[str, Any]
    ) -> Iterator[list[dict[str, Any]]]:
        offset = 0
        while offset <= MAX_OFFSET:
            page = {**terms, "limit": self.settings.page_size, "offset": offset}
            items = self._list(client, stream, page)
            yield items
            if len(items) < self.settings.page_size:
                return
            offset += self.settings.page_size

    # --- requests ---------------------------------------------------------------------------

    def _list(
        self, client: httpx.Client, stream: str, terms: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """One list query; `stream` picks posts or comments."""
        if stream.startswith("post"):
            terms = {"view": "old", "excludeEvents": True, **terms}
            query, field = POSTS_QUERY, "posts"
        else:
            terms = {"view": "allRecentComments", "sortBy": "oldest", **terms}
            query, field = COMMENTS_QUERY, "comments"
        if self.settings.af_only:
            terms["af"] = True
        data = self._graphql(client, query, {"terms": terms})
        results = (data.get(field) or {}).get("results")
        if not isinstance(results, list):
            raise SourceError(
                f"{self.name}: the answer to a {field} query had no results list; the API may "
                f"have changed", source=self.name,
            )
        return [item for item in results if isinstance(item, dict) and item.get("_id")]

    def _graphql(
        self, client: httpx.Client, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        retrying = policy(
            retries=self.settings.max_retries, backoff=0.0, max_backoff=0.0,
            on_retry=lambda e, _: log.warning("%s: %s, asking again", self.name, e),
        )
        try:
            payload: dict[str, Any] = retrying(self._post, client, body)
        except Transient as e:
            raise SourceError(
                f"{self.name}: {self.endpoint} kept sending {e} after "
                f"{self.settings.max_retries + 1} tries; nothing from that page was stored, "
                f"retry later", source=self.name,
            ) from e
        return self._data(payload)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
        """One request; `Transient` when the answer is unreadable JSON (ask again)."""
        response = client.post(self.endpoint, json=body)
        try:
            return self._decode(response)
        except _GarbledError as e:
            raise Transient(f"unreadable JSON ({e})") from e

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        kind = response.headers.get("content-type", "")
        if "html" in kind or response.content.lstrip()[:1] == b"<":
            raise ChallengeError(
                f"{self.name}: {self.endpoint} answered HTTP {response.status_code} with an HTML "
                f"page where JSON was expected (a challenge or error page); stopped this source. "
                f"Check the endpoint, and retry in an hour", source=self.name,
            )
        try:
            payload = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _GarbledError(f"{e.__class__.__name__} at byte {getattr(e, 'pos', '?')}") from e
        if not isinstance(payload, dict):
            raise _GarbledError("the top level is not an object")
        if response.status_code >= 400 and not payload.get("errors"):
            raise SourceError(
                f"{self.name}: {self.endpoint} answered HTTP {response.status_code}",
                source=self.name,
            )
        return payload

    def _data(self, payload: dict[str, Any]) -> dict[str, Any]:
        errors = payload.get("errors") or []
        data = payload.get("data")
        messages = server_text(
            "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict)))
        if not isinstance(data, dict) or not any(v is not None for v in data.values()):
            raise SourceError(
                f"{self.name}: the GraphQL API refused the query: {messages or 'no data'}",
                source=self.name,
            )
        if errors:
            # Resolver errors inside single results: keep the rest (GreaterWrong does the same).
            log.warning("%s: the API reported errors with partial data: %s", self.name, messages)
        return data

    # --- conversion -------------------------------------------------------------------------

    def _batch(
        self, stream: str, items: list[dict[str, Any]], saved: str | None, last: str | None
    ) -> Batch:
        convert = self._post_document if stream.startswith("post") else self._comment_document
        documents, failed = [], 0
        for item in items:
            try:
                document = convert(item)
            except (ValidationError, ValueError, TypeError) as e:
                failed += 1
                log.warning("%s: skipped %s %s: %s", self.name, stream, item.get("_id"), e)
                continue
            if document is not None:
                documents.append(document)
        cursor: dict[str, str] = {}
        if last is not None:
            # The refresh window re-reads older pages: never move a saved cursor backwards.
            keep = saved is not None and parse_time(saved) > parse_time(last)
            cursor[stream] = saved if keep and saved else last
        return Batch(documents=documents, cursor=cursor, failed=failed, note=last or "")

    def _post_document(self, item: dict[str, Any]) -> DocumentCreate:
        post = _Post.model_validate(item)
        # A pageUrl that is not http(s) (`javascript:`) gives way to the one we build.
        url = safe_url(post.pageUrl) or self._post_url(post)
        body = parse_body(post.htmlBody or "", base_url=url)
        links = list(body.links)
        # A link post cites what it links to, even when its body does not repeat the link.
        link_url = safe_url(post.url)
        target = classify_url(link_url, url, "link post") if link_url else None
        if target is not None and all(link.url != target.url for link in links):
            links.insert(0, target)
        authors = [u.author() for u in [post.user, *(post.coauthors or [])] if u is not None]
        return DocumentCreate(
            source=self.store_source,
            native_id=post.id,
            kind="post",
            url=url,
            title=clean_text(post.title),
            posted_at=post.postedAt,
            modified_at=post.modifiedAt,
            score=post.baseScore,
            vote_count=_int(post.voteCount),
            comment_count=_int(post.commentCount),
            af=post.af,
            question=post.question,
            link_url=link_url,
            body_html=post.htmlBody,
            body_text=body.text,
            authors=[a for a in authors if a is not None],
            tags=[clean_text(t.name) for t in post.tags or []],
            aliases=forum_keys(self.site, post.id, post.slug, post.legacyId),
            links=links,
            extra={"slug": post.slug, "word_count": post.wordCount},
        )

    def _post_url(self, post: _Post) -> str:
        url = f"{self.site_url}/posts/{post.id}/{post.slug or ''}".rstrip("/")
        # Ids and slugs come from the site too: controls in them are percent-encoded.
        return safe_url(url) or self.site_url

    def _comment_document(self, item: dict[str, Any]) -> DocumentCreate | None:
        comment = _Comment.model_validate(item)
        if self.settings.af_only and not comment.af:
            return None
        post = comment.post
        slug = post.slug if post and post.slug else "post"
        if comment.postId:
            url = f"{self.site_url}/posts/{comment.postId}/{slug}?commentId={comment.id}"
        else:
            url = f"{self.site_url}/comments/{comment.id}"  # wiki-tag discussion: no post
        url = safe_url(url) or self.site_url
        body = parse_body(comment.htmlBody or "", base_url=url)
        title = f"Comment on {clean_text(post.title)}" if post and post.title else "Comment"
        author = comment.user.author() if comment.user else None
        return DocumentCreate(
            source=self.store_source,
            native_id=comment.id,
            kind="comment",
            url=url,
            title=title,
            posted_at=comment.postedAt,
            modified_at=comment.lastEditedAt,
            score=comment.baseScore,
            vote_count=_int(comment.voteCount),
            af=comment.af,
            post_id=comment.postId,
            parent_id=comment.parentCommentId or comment.parentAnswerId,
            deleted=comment.deleted,
            body_html=comment.htmlBody,
            body_text=body.text,
            authors=[author] if author else [],
            aliases=forum_keys(self.site, comment.id),
            links=body.links,
            extra={"answer": comment.answer, "top_level_comment_id": comment.topLevelCommentId,
                   **agreement(comment.extendedScore)},
        )


class _GarbledError(Exception):
    """A response body that is not the JSON the API promises (truncated, malformed)."""


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
