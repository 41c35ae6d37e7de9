"""A local ForumMagnum GraphQL server (LessWrong, Alignment Forum, EA Forum) for tests.

It speaks the protocol described in shared/reference/sources.md §1, over real HTTP/1.1:

- the schema in forum_schema.graphql, validated with graphql-core; validation errors are
  HTTP 400 bodies in Apollo's shape, with graphql-js wording;
- the legacy `posts(input: {terms})` shape and the newer `posts(selector: {<view>: {...}})`
  shape (the EA Forum site accepts only the legacy one);
- the post and comment views and their quirks: `after` inclusive, `before` exclusive, an
  unknown view silently gives the default order, a missing limit means 5000, an offset over
  2000 is an error, `allRecentComments` returns 5 by default, the `postComments*` views skip
  answers and ignore after/before, a comments query without a view ignores `postId`;
- resolver errors as HTTP 200 with partial `data` plus `errors[]`.

Posts come from the real corpus (shared/corpus); comment threads are built from real text.
Tests inject faults (429, Vercel challenge, truncated JSON, delays...) through
`server.faults`, or from another process through `POST /_control`.
Run `python -m tests.servers.forum --corpus ../shared/corpus [--full]` to serve it by hand.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import gc
import gzip
import hashlib
import html as html_lib
import json
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple, cast
from urllib.parse import parse_qs, unquote, urlsplit

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    build_schema,
    execute_sync,
    get_named_type,
    get_operation_ast,
    is_list_type,
    is_non_null_type,
    parse,
    specified_rules,
    validate,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values
from graphql.pyutils import Undefined

Doc = dict[str, Any]

LESSWRONG_ORIGIN = "https://www.lesswrong.com"
ALIGNMENTFORUM_ORIGIN = "https://www.alignmentforum.org"
EAFORUM_ORIGIN = "https://forum.effectivealtruism.org"
SCHEMA_PATH = Path(__file__).with_name("forum_schema.graphql")
CORPUS_FULL = "posts.jsonl.gz"
CORPUS_SAMPLE = "sample/posts_sample.jsonl"

MAX_DOCUMENTS = 5000  # maxDocumentsPerRequest in LW's server/settings/sharedSettings.ts
MAX_SKIP = 2000  # maxAllowedApiSkip, lib/instanceSettings.ts (PR #6347)
FORUMS = ("lesswrong", "alignmentforum", "eaforum")
_SITE_OF_FORUM = {"lesswrong": "lesswrong", "alignmentforum": "lesswrong", "eaforum": "eaforum"}
_ORIGIN_OF_SITE = {
    "lesswrong": LESSWRONG_ORIGIN,
    "alignmentforum": ALIGNMENTFORUM_ORIGIN,
    "eaforum": EAFORUM_ORIGIN,
}
# Meteor's Random.id() alphabet, which ForumMagnum ids are drawn from.
_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
_VALID_ID = re.compile(r"[A-Za-z0-9]{17}|[0-9a-f]{24}")
# The LW "AI" tag (ForumMagnum 2024-01-22-backfillReviewWinners.ts); every AF post carries it.
AI_TAG: Doc = {"_id": "sYm3HiWcfZvrGu3ui", "name": "AI", "slug": "ai", "core": True}


class QueryError(Exception):
    """A resolver error: the site answers HTTP 200, nulls the field and lists it in errors[]."""


# --------------------------------------------------------------------------------------------
# Small helpers: timestamps, ids, slugs, HTML
# --------------------------------------------------------------------------------------------

_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def format_timestamp(value: datetime) -> str:
    """Format a datetime the way the site does: UTC, milliseconds, `2022-06-05T22:05:52.224Z`."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"  # 3x faster than strftime


def parse_timestamp(value: object) -> str:
    """Normalise an ISO date/datetime string, datetime or epoch-ms number to the site's form.

    All stored dates use this one form, so comparing the strings compares the instants.

    Raises:
        ValueError: the value is not a date.
    """
    if isinstance(value, str) and _CANONICAL_TS.fullmatch(value):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_timestamp(datetime.fromtimestamp(value / 1000, UTC))
    if isinstance(value, str) and value.strip():
        return format_timestamp(datetime.fromisoformat(value.strip()))
    raise ValueError(f"Not a date: {value!r}")


def utc_now() -> str:
    """The current time in the site's timestamp form."""
    return format_timestamp(datetime.now(UTC))


def derive_id(key: str) -> str:
    """A stable 17-character id in ForumMagnum's alphabet, derived from `key`."""
    number = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest(), "big")
    chars = []
    for _ in range(17):
        number, digit = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return "".join(chars)


# Byte -> id character; the 256 % 55 bias is irrelevant for test ids and this is 5x faster.
_ID_BYTES = bytes(ord(_ID_ALPHABET[b % len(_ID_ALPHABET)]) for b in range(256))


def _random_id(rng: random.Random) -> str:
    return rng.randbytes(17).translate(_ID_BYTES).decode("ascii")


def slugify(title: str) -> str:
    """The slug ForumMagnum would make from a title."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "untitled"


_DOC_HEAD = re.compile(r"\A\s*<html>\s*<head>.*?</head>\s*<body>", re.S | re.I)
_DOC_TAIL = re.compile(r"</body>\s*</html>\s*\Z", re.I)
_TAG = re.compile(r"<[^>]+>")
_BLOCK_TAG = re.compile(r"</?(?:p|div|h[1-6]|li|ul|ol|blockquote|br|tr|pre|hr)\b[^>]*>", re.I)
_BLANK_LINES = re.compile(r"\n\s*\n\s*")


def _strip_document_wrapper(body: str) -> str:
    """Drop the `<html><head>…</head><body>` wrapper of some scraped bodies (LW never sends it)."""
    return _DOC_TAIL.sub("", _DOC_HEAD.sub("", body))


@functools.lru_cache(maxsize=4096)
def html_to_text(body: str) -> str:
    """Plain text of an HTML body, one line per block (like `plaintextMainText`)."""
    text = html_lib.unescape(_TAG.sub("", _BLOCK_TAG.sub("\n", body)))
    return _BLANK_LINES.sub("\n\n", text).strip()


_MD_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"<a\s[^>]*?href=[\"']([^\"']*)[\"'][^>]*>(.*?)</a>", re.S | re.I), r"[\2](\1)"),
    (re.compile(r"</?(?:strong|b)>", re.I), "**"),
    (re.compile(r"</?(?:em|i)>", re.I), "*"),
    (re.compile(r"<h([1-6])[^>]*>", re.I), lambda m: "\n\n" + "#" * int(m[1]) + " "),
    (re.compile(r"<li[^>]*>", re.I), "\n- "),
    (re.compile(r"<br\s*/?>", re.I), "  \n"),
    (re.compile(r"</(?:p|h[1-6]|div|blockquote|ul|ol)>", re.I), "\n\n"),
)


@functools.lru_cache(maxsize=1024)
def html_to_markdown(body: str) -> str:
    """A rough markdown rendering of an HTML body, for `contents { markdown }`."""
    for pattern, repl in _MD_RULES:
        body = pattern.sub(repl, body)
    return _BLANK_LINES.sub("\n\n", html_lib.unescape(_TAG.sub("", body))).strip()


_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_MD_STRONG = re.compile(r"\*\*(.+?)\*\*")
_MD_EM = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_ARBITAL_WIKILINK = re.compile(r"\[[-+]?[0-9a-z]{1,5} ([^\]]+)\]")


def markdown_to_html(text: str) -> str:
    """Simple `<p>` HTML from markdown: paragraphs, links, bold and italics."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", _ARBITAL_WIKILINK.sub(r"\1", text)):
        if not block.strip():
            continue
        escaped = html_lib.escape(block.strip(), quote=False)
        escaped = _MD_LINK.sub(r'<a href="\2">\1</a>', escaped)
        escaped = _MD_EM.sub(r"<em>\1</em>", _MD_STRONG.sub(r"<strong>\1</strong>", escaped))
        paragraphs.append(f"<p>{escaped.replace(chr(10), '<br>')}</p>")
    return "".join(paragraphs)


@functools.lru_cache(maxsize=4096)
def _count_words(body: str) -> int:
    return len(_TAG.sub(" ", body).split())


def word_count(body: str | None) -> int | None:
    """Words in an HTML body (tags dropped, entities kept), or None without one."""
    return None if body is None else _count_words(body)


_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.I)
_POST_ROUTE = re.compile(
    r"/(?:posts|events)/([A-Za-z0-9]{17}|[0-9a-f]{24})(?:[/?#]|$)|/s/[^/]+/p/([A-Za-z0-9]{17})"
)
_USER_ROUTE = re.compile(r"/users/([^/?#]+)")
_TAG_ROUTE = re.compile(r"/(?:tag|w)/([^/?#]+)")
_ONSITE_HOSTS = {
    LESSWRONG_ORIGIN: frozenset(
        {
            "lesswrong.com",
            "lesserwrong.com",
            "lessestwrong.com",
            "baserates.org",
            "alignmentforum.org",
            "alignment-forum.com",
            "greaterwrong.com",
        }
    ),
    EAFORUM_ORIGIN: frozenset({"forum.effectivealtruism.org", "ea.greaterwrong.com"}),
}


# --------------------------------------------------------------------------------------------
# Sorted index: (value, _id) pairs, bisect windows
# --------------------------------------------------------------------------------------------


class _SortedIndex:
    """`(value, _id)` pairs of one field, ascending, so a window is two bisects."""

    def __init__(self, field_name: str) -> None:
        self.field = field_name
        self.keys: list[tuple[Any, str]] = []

    def extend(self, docs: Iterable[Doc]) -> None:
        f = self.field
        self.keys.extend((d[f], d["_id"]) for d in docs if d.get(f) is not None)
        self.keys.sort()  # timsort merges the old and new sorted runs in O(n)

    def add(self, doc: Doc) -> None:
        if doc.get(self.field) is not None:
            bisect.insort(self.keys, (doc[self.field], doc["_id"]))

    def remove(self, doc: Doc) -> None:
        key = (doc.get(self.field), doc["_id"])
        if key[0] is None:
            return
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            del self.keys[i]

    def span(self, low: Any = None, high: Any = None) -> tuple[int, int]:
        """Positions of `low <= value < high`; `(x,)` sorts before every `(x, _id)`."""
        start = 0 if low is None else bisect.bisect_left(self.keys, (low,))
        end = len(self.keys) if high is None else bisect.bisect_left(self.keys, (high,))
        return start, max(start, end)

    def ids(self, start: int, end: int, descending: bool) -> Iterator[str]:
        """Ids in value order with ForumMagnum's `_id: -1` tie-break, for either direction."""
        keys = self.keys
        if descending:
            for k in range(end - 1, start - 1, -1):
                yield keys[k][1]
            return
        k = start
        while k < end:
            group_end = k + 1
            while group_end < end and keys[group_end][0] == keys[k][0]:
                group_end += 1
            for t in range(group_end - 1, k - 1, -1):
                yield keys[t][1]
            k = group_end


# --------------------------------------------------------------------------------------------
# Views and terms
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    sort: str
    descending: bool
    default_limit: int | None = None
    windowed: bool = True  # honours after/before
    sort_by: bool = False  # honours the `sortBy` term
    strict_after: bool = False


# ForumMagnum lib/collections/posts/views.ts: every post view honours after/before.
_POST_VIEWS = {
    "old": _View("postedAt", False),
    "new": _View("postedAt", True),
    "rss": _View("postedAt", True),
    "top": _View("baseScore", True),
    "slugPost": _View("createdAt", True, default_limit=1),
    "pingbackPosts": _View("baseScore", True),
}
_POST_DEFAULT_VIEW = _View("createdAt", True)

# lib/collections/comments/views.ts; only a few comment views honour after/before (#7950).
_COMMENT_VIEWS = {
    "allRecentComments": _View("postedAt", True, default_limit=5, sort_by=True),
    "recentComments": _View("postedAt", True, default_limit=5, sort_by=True),
    "postCommentsOld": _View("postedAt", False, windowed=False),
    "postCommentsNew": _View("postedAt", True, windowed=False),
    "postCommentsTop": _View("baseScore", True, windowed=False),
    "postCommentsBest": _View("baseScore", True, windowed=False),
    "postCommentsMagic": _View("baseScore", True, windowed=False),
    "questionAnswers": _View("baseScore", True, windowed=False, sort_by=True),
    "answersAndReplies": _View("baseScore", True, windowed=False),
    "repliesToAnswer": _View("baseScore", True, windowed=False),
    "commentReplies": _View("postedAt", True, windowed=False),
    "postsItemComments": _View("postedAt", True, default_limit=15, strict_after=True),
    "profileComments": _View("postedAt", True, default_limit=5, windowed=False, sort_by=True),
}
_COMMENT_DEFAULT_VIEW = _View("postedAt", True, windowed=False)
_SORT_BY = {
    "top": ("baseScore", True),
    "new": ("postedAt", True),
    "newest": ("postedAt", True),
    "old": ("postedAt", False),
    "oldest": ("postedAt", False),
}
_THREAD_VIEWS = frozenset(
    {
        "postCommentsOld",
        "postCommentsNew",
        "postCommentsTop",
        "postCommentsBest",
        "postCommentsMagic",
        "questionAnswers",
        "answersAndReplies",
        "postsItemComments",
    }
)
_POST_TIME_FIELDS = frozenset({"postedAt", "modifiedAt", "createdAt"})
_COMMENT_TIME_FIELDS = frozenset({"postedAt", "lastEditedAt"})


def _limit(value: object, default: int | None) -> int:
    """viewUtils.ts: `!limit || limit < 1 || limit > max ? max : limit`."""
    limit = value or default
    if not isinstance(limit, int | float) or isinstance(limit, bool):
        return MAX_DOCUMENTS
    return MAX_DOCUMENTS if limit < 1 or limit > MAX_DOCUMENTS else int(limit)


def _offset(value: object) -> int:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        return 0
    if value > MAX_SKIP:
        raise QueryError("Exceeded maximum value for skip")
    return int(value)


def _window(
    terms: Mapping[str, Any], allowed: frozenset[str]
) -> tuple[str, str | None, str | None]:
    time_field = terms.get("timeField") or "postedAt"
    if time_field not in allowed:
        raise QueryError(f'Invalid timeField "{time_field}": must be a field of type Date')
    try:
        after = None if terms.get("after") is None else parse_timestamp(terms["after"])
        before = None if terms.get("before") is None else parse_timestamp(terms["before"])
    except ValueError as e:
        raise QueryError(f"Invalid date in terms: {e}") from e
    return time_field, after, before


def _id_set(value: object) -> frozenset[str] | None:
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else None


@dataclass
class _PostFilter:
    """The selector that defaultView plus the terms build, as one predicate."""

    time_field: str = "postedAt"
    after: str | None = None
    before: str | None = None
    af: bool = False
    question: bool | None = None
    user_id: str | None = None
    post_ids: frozenset[str] | None = None
    not_post_ids: frozenset[str] | None = None
    exclude_events: bool = False
    karma: float | None = None
    slug: str | None = None
    positive_score: bool = False

    @classmethod
    def from_terms(cls, terms: Mapping[str, Any], force_af: bool) -> _PostFilter:
        time_field, after, before = _window(terms, _POST_TIME_FIELDS)
        question = terms.get("question")
        karma = terms.get("karmaThreshold")
        return cls(
            time_field=time_field,
            after=after,
            before=before,
            af=force_af or terms.get("af") is True,
            question=question if isinstance(question, bool) else None,
            user_id=terms.get("userId") if isinstance(terms.get("userId"), str) else None,
            post_ids=_id_set(terms.get("postIds")),
            not_post_ids=_id_set(terms.get("notPostIds")),
            exclude_events=bool(terms.get("excludeEvents")),
            # "karmaThreshold: 0" is skipped by the real view, so negative posts appear.
            karma=karma if isinstance(karma, int | float) and karma else None,
        )

    def matches(self, doc: Doc) -> bool:
        if doc["draft"] or doc.get("unlisted") or doc.get("rejected") or doc.get("shortform"):
            return False
        if (self.af and not doc["af"]) or (self.exclude_events and doc.get("isEvent")):
            return False
        if self.question is not None and doc["question"] != self.question:
            return False
        if self.user_id is not None and _user_id(doc) != self.user_id:
            return False
        if self.post_ids is not None and doc["_id"] not in self.post_ids:
            return False
        if self.not_post_ids is not None and doc["_id"] in self.not_post_ids:
            return False
        if self.karma is not None and doc["baseScore"] < self.karma:
            return False
        if self.slug is not None and doc["slug"] != self.slug:
            return False
        if self.positive_score and doc["baseScore"] <= 0:
            return False
        return _in_window(doc.get(self.time_field), self.after, self.before, False)


def _user_id(doc: Doc) -> str | None:
    return doc.get("userId") or (doc.get("user") or {}).get("_id")


def _in_window(value: str | None, after: str | None, before: str | None, strict: bool) -> bool:
    if after is None and before is None:
        return True
    if value is None or (before is not None and value >= before):
        return False
    return after is None or value > after or (value == after and not strict)


@dataclass
class _CommentFilter:
    time_field: str = "postedAt"
    after: str | None = None
    before: str | None = None
    strict_after: bool = False
    af: bool = False
    post_id: str | None = None
    answer: bool | None = None
    no_parent_answer: bool = False
    answers_or_replies: bool = False
    parent_answer_id: str | None = None
    parent_comment_id: str | None = None
    user_id: str | None = None
    comment_ids: frozenset[str] | None = None
    positive_score: bool = False
    hide_public_deletions: bool = False
    hide_deleted: bool = False

    def matches(self, doc: Doc) -> bool:
        # defaultView: `$or: [{deleted: true, deletedPublic: true}, {deleted: false}]`.
        if doc["deleted"] and (self.hide_deleted or not doc["deletedPublic"]):
            return False
        if self.hide_public_deletions and doc["deletedPublic"]:
            return False
        if (self.af and not doc["af"]) or (self.positive_score and doc["baseScore"] <= 0):
            return False
        if self.post_id is not None and doc["postId"] != self.post_id:
            return False
        if self.answer is not None and doc["answer"] != self.answer:
            return False
        if self.no_parent_answer and doc["parentAnswerId"] is not None:
            return False
        if self.answers_or_replies and not (doc["answer"] or doc["parentAnswerId"]):
            return False
        if self.parent_answer_id is not None and doc["parentAnswerId"] != self.parent_answer_id:
            return False
        if self.parent_comment_id is not None and doc["parentCommentId"] != self.parent_comment_id:
            return False
        if self.user_id is not None and _user_id(doc) != self.user_id:
            return False
        if self.comment_ids is not None and doc["_id"] not in self.comment_ids:
            return False
        value = doc.get(self.time_field)
        return _in_window(value, self.after, self.before, self.strict_after)


def _comment_filter(
    view_name: str | None, terms: Mapping[str, Any], force_af: bool
) -> _CommentFilter:
    view = _COMMENT_VIEWS.get(view_name or "")
    flt = _CommentFilter(
        af=force_af,
        user_id=terms.get("userId") if isinstance(terms.get("userId"), str) else None,
        comment_ids=_id_set(terms.get("commentIds")),
    )
    if view is not None and view.windowed:
        flt.time_field, flt.after, flt.before = _window(terms, _COMMENT_TIME_FIELDS)
        flt.strict_after = view.strict_after
        if view.strict_after:
            flt.before = None  # postsItemComments honours `after` only
    if view_name in ("allRecentComments", "recentComments", "profileComments"):
        flt.hide_public_deletions = True
        flt.positive_score = view_name == "recentComments"
    if view_name in _THREAD_VIEWS:
        post_id = terms.get("postId")
        flt.post_id = post_id if isinstance(post_id, str) else ""
    if (view_name or "").startswith("postComments"):  # answers have views of their own
        flt.answer, flt.no_parent_answer = False, True
    elif view_name == "questionAnswers":
        flt.answer = True
    elif view_name == "answersAndReplies":
        flt.answers_or_replies = True
    elif view_name == "repliesToAnswer":
        flt.parent_answer_id = str(terms.get("parentAnswerId") or "")
    elif view_name == "commentReplies":
        flt.parent_comment_id = str(terms.get("parentCommentId") or "")
    elif view_name == "postsItemComments":
        flt.hide_deleted, flt.positive_score = True, True
    return flt


class QueryResult(NamedTuple):
    """One page of documents, plus the total when `enableTotal` asked for it."""

    docs: list[Doc]
    total: int | None


def _page(docs: Iterable[Doc], offset: int, limit: int, enable_total: bool) -> QueryResult:
    results: list[Doc] = []
    seen = 0
    for doc in docs:
        if seen >= offset and len(results) < limit:
            results.append(doc)
        seen += 1
        if not enable_total and len(results) >= limit:
            break
    return QueryResult(results, seen if enable_total else None)


def _sorted(docs: list[Doc], sort: str, descending: bool) -> list[Doc]:
    """Sort by one field with ForumMagnum's `_id: -1` tie-break (two stable sorts)."""
    docs.sort(key=lambda d: d["_id"], reverse=True)
    docs.sort(key=lambda d: d.get(sort) or 0, reverse=descending)
    return docs


# A window on another field than the sort (timeField: modifiedAt, sorted by postedAt) is
# collected and sorted when it is small or under half the collection (9k of 33k posts: 4 ms);
# otherwise the sort index is walked and filtered, which finds the first page sooner.
_IN_MEMORY_SORT_LIMIT = 4000


# --------------------------------------------------------------------------------------------
# ForumData: the documents of one site
# --------------------------------------------------------------------------------------------


class ForumData:
    """The posts and comments of one ForumMagnum site, in memory, in GraphQL field names.

    `posts` and `comments` map `_id` to documents shaped like the API's results. Treat them as
    read-only and change them through the mutation helpers, which keep the sorted indexes (and
    `modifiedAt` / `lastEditedAt`) right. Every method takes `lock`, so tests may mutate while
    the server answers.
    """

    def __init__(
        self,
        posts: Iterable[Mapping[str, Any]] = (),
        comments: Iterable[Mapping[str, Any]] = (),
        *,
        origin: str = LESSWRONG_ORIGIN,
    ) -> None:
        self.origin = origin
        self.lock = threading.RLock()
        self.posts: dict[str, Doc] = {}
        self.comments: dict[str, Doc] = {}
        fields = ("postedAt", "modifiedAt", "createdAt", "baseScore")
        self._post_index = {f: _SortedIndex(f) for f in fields}
        # AF posts are ~13% of LW's: `af: true` pages would otherwise scan 8 posts per hit.
        self._af_post_index = {f: _SortedIndex(f) for f in fields}
        self._comment_index = {f: _SortedIndex(f) for f in ("postedAt", "lastEditedAt")}
        self._threads: dict[str, list[str]] = {}
        self._users_by_slug: dict[str, str] = {}
        self.add_posts(posts)
        self.add_comments(comments)

    def __repr__(self) -> str:
        return f"ForumData({self.origin}, {len(self.posts)} posts, {len(self.comments)} comments)"

    # -- reading ------------------------------------------------------------------------------

    def get_post(self, post_id: str) -> Doc | None:
        """The stored post, drafts included."""
        return self.posts.get(post_id)

    def get_comment(self, comment_id: str) -> Doc | None:
        """The stored comment, deleted ones included."""
        return self.comments.get(comment_id)

    def visible_post(self, post_id: object, *, force_af: bool = False) -> Doc | None:
        """The post an anonymous reader may load by id: not a draft (and AF-only on AF)."""
        doc = self.posts.get(post_id) if isinstance(post_id, str) else None
        if doc is None or doc["draft"] or (force_af and not doc["af"]):
            return None
        return doc

    def visible_comment(self, comment_id: object, *, force_af: bool = False) -> Doc | None:
        """The comment an anonymous reader may load by id."""
        doc = self.comments.get(comment_id) if isinstance(comment_id, str) else None
        if doc is None or (doc["deleted"] and not doc["deletedPublic"]):
            return None
        return None if force_af and not doc["af"] else doc

    def thread(self, post_id: str) -> list[Doc]:
        """All stored comments on one post, in postedAt order."""
        with self.lock:
            docs = [self.comments[c] for c in self._threads.get(post_id, ())]
        return sorted(docs, key=lambda d: (d["postedAt"], d["_id"]))

    # -- queries (the resolvers) --------------------------------------------------------------

    def query_posts(
        self, terms: Mapping[str, Any], *, enable_total: bool = False, force_af: bool = False
    ) -> QueryResult:
        """Resolve `posts(input: {terms})` as ForumMagnum does.

        Raises:
            QueryError: a term the real site rejects (offset over 2000, bad timeField or date).
        """
        view_name = terms.get("view") if isinstance(terms.get("view"), str) else None
        view = _POST_VIEWS.get(view_name or "", _POST_DEFAULT_VIEW)
        limit = _limit(terms.get("limit"), view.default_limit)
        offset = _offset(terms.get("offset"))
        flt = _PostFilter.from_terms(terms, force_af)
        with self.lock:
            exact = _id_set(terms.get("exactPostIds"))
            if exact is not None:
                docs = [self.posts[i] for i in exact if self.visible_post(i, force_af=force_af)]
                return _page(_sorted(docs, view.sort, view.descending), offset, limit, enable_total)
            if view_name == "slugPost":
                flt.slug = str(terms.get("slug") or "")
            if view_name == "pingbackPosts":
                return self._pingback_posts(terms, flt, offset, limit, enable_total)
            indexes = self._af_post_index if flt.af else self._post_index
            candidates = self._candidates(self.posts, indexes, view, flt.time_field, flt)
            return _page((d for d in candidates if flt.matches(d)), offset, limit, enable_total)

    def query_comments(
        self, terms: Mapping[str, Any], *, enable_total: bool = False, force_af: bool = False
    ) -> QueryResult:
        """Resolve `comments(input: {terms})` as ForumMagnum does.

        Raises:
            QueryError: a term the real site rejects.
        """
        view_name = terms.get("view") if isinstance(terms.get("view"), str) else None
        view = _COMMENT_VIEWS.get(view_name or "", _COMMENT_DEFAULT_VIEW)
        if view.sort_by and terms.get("sortBy") in _SORT_BY:
            sort, descending = _SORT_BY[terms["sortBy"]]
            view = replace(view, sort=sort, descending=descending)
        limit = _limit(terms.get("limit"), view.default_limit)
        offset = _offset(terms.get("offset"))
        flt = _comment_filter(view_name, terms, force_af)
        with self.lock:
            scope = self._comment_scope(flt)
            if scope is not None:
                docs = [d for d in (self.comments[c] for c in scope) if flt.matches(d)]
                return _page(_sorted(docs, view.sort, view.descending), offset, limit, enable_total)
            candidates = self._candidates(
                self.comments, self._comment_index, view, flt.time_field, flt
            )
            return _page((d for d in candidates if flt.matches(d)), offset, limit, enable_total)

    def _comment_scope(self, flt: _CommentFilter) -> list[str] | None:
        """The one thread a thread view looks at, or None for the whole collection."""
        if flt.post_id is not None:
            return self._threads.get(flt.post_id, [])
        parent_id = flt.parent_answer_id or flt.parent_comment_id
        if parent_id is None:
            return None
        parent = self.comments.get(parent_id)
        return [] if parent is None else self._threads.get(parent["postId"], [])

    @staticmethod
    def _candidates(
        docs: Mapping[str, Doc],
        indexes: Mapping[str, _SortedIndex],
        view: _View,
        time_field: str,
        flt: _PostFilter | _CommentFilter,
    ) -> Iterator[Doc]:
        """Documents in view order, narrowed by the time window where an index allows it."""
        if view.sort not in indexes:  # e.g. allRecentComments with sortBy "top"
            return iter(_sorted(list(docs.values()), view.sort, view.descending))
        sort_index = indexes[view.sort]
        if flt.after is None and flt.before is None:
            return (docs[i] for i in sort_index.ids(0, len(sort_index.keys), view.descending))
        if time_field == view.sort:
            start, end = sort_index.span(flt.after, flt.before)
            return (docs[i] for i in sort_index.ids(start, end, view.descending))
        start, end = indexes[time_field].span(flt.after, flt.before)
        if end - start <= max(_IN_MEMORY_SORT_LIMIT, len(sort_index.keys) // 2):
            window = [docs[k[1]] for k in indexes[time_field].keys[start:end]]
            return iter(_sorted(window, view.sort, view.descending))
        return (docs[i] for i in sort_index.ids(0, len(sort_index.keys), view.descending))

    def _pingback_posts(
        self, terms: Mapping[str, Any], flt: _PostFilter, offset: int, limit: int, total: bool
    ) -> QueryResult:
        target = terms.get("postId")
        flt.positive_score = True
        docs = [
            d
            for d in self.posts.values()
            if target in (d.get("pingbacks") or {}).get("Posts", ()) and flt.matches(d)
        ]
        return _page(_sorted(docs, "baseScore", True), offset, limit, total)

    # -- adding -------------------------------------------------------------------------------

    def add_post(self, post: Mapping[str, Any]) -> Doc:
        """Add one post (missing fields get the site's defaults) and return the stored dict.

        Raises:
            ValueError: the post has no `_id`, `title` or `postedAt`, or its `_id` exists.
        """
        return self.add_posts([post])[0]

    def add_posts(self, posts: Iterable[Mapping[str, Any]]) -> list[Doc]:
        """Add many posts at once: one sort per index instead of one insert per post.

        Raises:
            ValueError: a post lacks a required field or repeats an existing `_id`.
        """
        docs = [self._normalize_post(p) for p in posts]
        with self.lock:
            ids = [d["_id"] for d in docs]
            if len(set(ids)) != len(ids) or any(i in self.posts for i in ids):
                dupes = sorted({i for i in ids if i in self.posts or ids.count(i) > 1})[:5]
                raise ValueError(f"Post ids already present: {dupes}")
            for doc in docs:
                self.posts[doc["_id"]] = doc
                if doc["user"] is not None and doc["user"].get("slug"):
                    self._users_by_slug[doc["user"]["slug"]] = doc["user"]["_id"]
            for index in self._post_index.values():
                index.extend(docs)
            for index in self._af_post_index.values():
                index.extend(d for d in docs if d["af"])
            for doc in docs:
                if "pingbacks" not in doc:
                    doc["pingbacks"] = self.pingbacks(doc["htmlBody"])
        return docs

    def add_comment(self, comment: Mapping[str, Any]) -> Doc:
        """Post one comment: like the site, bump the post's commentCount and lastCommentedAt.

        Raises:
            ValueError: a required field is missing, the id exists or the post is unknown.
        """
        with self.lock:
            doc = self.add_comments([comment])[0]
            post = self.posts[doc["postId"]]
            post["commentCount"] = post["commentCount"] + 1
            post["lastCommentedAt"] = max(post.get("lastCommentedAt") or "", doc["postedAt"])
        return doc

    def add_comments(self, comments: Iterable[Mapping[str, Any]]) -> list[Doc]:
        """Add many comments at once (an initial load: post counters stay as they are).

        Raises:
            ValueError: a required field is missing, an id repeats or a post is unknown.
        """
        with self.lock:
            memo: dict[str, Doc] = {}  # generated threads reuse texts: parse each body once
            docs = [self._normalize_comment(c, memo) for c in comments]
            ids = [d["_id"] for d in docs]
            if len(set(ids)) != len(ids) or any(i in self.comments for i in ids):
                raise ValueError("Comment ids already present")
            for doc in docs:
                self.comments[doc["_id"]] = doc
                self._threads.setdefault(doc["postId"], []).append(doc["_id"])
            for index in self._comment_index.values():
                index.extend(docs)
            for doc in docs:
                self._count_reply(doc)
        return docs

    def _count_reply(self, doc: Doc) -> None:
        parent = self.comments.get(doc["parentCommentId"] or "")
        if parent is not None:
            parent["directChildrenCount"] += 1
        seen: set[str] = set()
        while parent is not None and parent["_id"] not in seen:
            seen.add(parent["_id"])
            parent["descendentCount"] += 1
            parent = self.comments.get(parent["parentCommentId"] or "")

    def pingbacks(self, body: str | None) -> Doc:
        """ForumMagnum's `htmlToPingbacks`: on-site links in `body`, as `{"Posts": [ids]...}`."""
        found: dict[str, list[str]] = {}
        for href in _HREF.findall(body or ""):
            collection, doc_id = self._route(href)
            if doc_id is not None and doc_id not in found.setdefault(collection, []):
                found[collection].append(doc_id)
        return {k: v for k, v in found.items() if v}

    def _route(self, href: str) -> tuple[str, str | None]:
        try:
            parts = urlsplit(html_lib.unescape(href).strip())
        except ValueError:  # real bodies hold hrefs like "http://[broken"
            return "Posts", None
        if parts.path == "/out" and "url=" in parts.query:
            return self._route(unquote(parse_qs(parts.query).get("url", [""])[0]))
        host = (parts.hostname or "").removeprefix("www.")
        if host and host not in _ONSITE_HOSTS.get(self.origin, frozenset()):
            return "Posts", None
        if m := _POST_ROUTE.match(parts.path):
            post_id = m[1] or m[2]
            return "Posts", post_id if post_id in self.posts else None
        if m := _USER_ROUTE.match(parts.path):
            return "Users", self._users_by_slug.get(m[1])
        return "Tags", None

    # -- mutations ----------------------------------------------------------------------------

    def edit_post(
        self,
        post_id: str,
        html: str | None = None,
        title: str | None = None,
        score: float | None = None,
        *,
        now: str | None = None,
    ) -> Doc:
        """Edit a post's body and/or title (this sets `modifiedAt`) or its score (this does not).

        Raises:
            KeyError: no post has this id.
        """
        with self.lock:
            doc = self.posts[post_id]
            changes: Doc = {}
            stamp = parse_timestamp(now) if now is not None else utc_now()
            if html is not None:
                changes["htmlBody"] = html
                changes["contents"] = {"html": html, "editedAt": stamp, "version": _bump(doc)}
                changes["pingbacks"] = self.pingbacks(html)
                changes["wordCount"] = word_count(html)
            if title is not None:
                changes["title"] = title
            if changes:
                changes["modifiedAt"] = stamp
                self._update(doc, changes, *self._indexes_of(doc))
            if score is not None:
                self.set_score(post_id, score)
            return doc

    def delete_post(self, post_id: str, *, now: str | None = None) -> Doc:
        """Move a post back to drafts: it leaves every list view and `post(...)` misses it.

        Raises:
            KeyError: no post has this id.
        """
        with self.lock:
            doc = self.posts[post_id]
            stamp = parse_timestamp(now) if now is not None else utc_now()
            self._update(doc, {"draft": True, "modifiedAt": stamp}, *self._indexes_of(doc))
            return doc

    def set_score(self, doc_id: str, score: float, *, vote_count: float | None = None) -> Doc:
        """Set the karma of a post or comment; votes never touch modifiedAt or lastEditedAt.

        Raises:
            KeyError: no post or comment has this id.
        """
        with self.lock:
            is_post = doc_id in self.posts
            doc = self.posts[doc_id] if is_post else self.comments[doc_id]
            changes: Doc = {"baseScore": score, "score": score} if is_post else {"baseScore": score}
            if vote_count is not None:
                changes["voteCount"] = vote_count
            indexes = self._indexes_of(doc) if is_post else (self._comment_index,)
            self._update(doc, changes, *indexes)
            return doc

    def edit_comment(self, comment_id: str, html: str, *, now: str | None = None) -> Doc:
        """Replace a comment's body; sets `lastEditedAt`.

        Raises:
            KeyError: no comment has this id.
        """
        with self.lock:
            doc = self.comments[comment_id]
            stamp = parse_timestamp(now) if now is not None else utc_now()
            contents = {"html": html, "editedAt": stamp, "version": _bump(doc)}
            changes = {"htmlBody": html, "contents": contents, "lastEditedAt": stamp}
            changes["pingbacks"] = self.pingbacks(html)
            self._update(doc, changes, self._comment_index)
            return doc

    def delete_comment(self, comment_id: str, *, public: bool = False) -> Doc:
        """Delete a comment. By default `deletedPublic=False`, which hides it from every view;
        `public=True` leaves a "[deleted]" stub in thread views but not in allRecentComments.

        Raises:
            KeyError: no comment has this id.
        """
        with self.lock:
            doc = self.comments[comment_id]
            doc["deleted"], doc["deletedPublic"] = True, public
            return doc

    def _indexes_of(self, post: Doc) -> tuple[dict[str, _SortedIndex], ...]:
        return (self._post_index, self._af_post_index) if post["af"] else (self._post_index,)

    @staticmethod
    def _update(doc: Doc, changes: Mapping[str, Any], *indexes: Mapping[str, _SortedIndex]) -> None:
        touched = [i for family in indexes for name, i in family.items() if name in changes]
        for index in touched:
            index.remove(doc)
        doc.update(changes)
        for index in touched:
            index.add(doc)

    # -- normalising ----------------------------------------------------------------------------

    def _normalize_post(self, post: Mapping[str, Any]) -> Doc:
        missing = [k for k in ("_id", "postedAt") if not post.get(k)]
        if not isinstance(post.get("title"), str):  # an empty title is real (6 corpus posts)
            missing.append("title")
        if missing:
            raise ValueError(f"Post {post.get('_id')!r} lacks required fields {missing}")
        doc: Doc = dict(post)
        doc["postedAt"] = parse_timestamp(doc["postedAt"])
        for key in ("modifiedAt", "createdAt"):
            doc[key] = parse_timestamp(doc.get(key) or doc["postedAt"])
        doc.setdefault("slug", slugify(doc["title"]))
        doc.setdefault("pageUrl", f"{self.origin}/posts/{doc['_id']}/{doc['slug']}")
        score = doc.get("baseScore", doc.get("score")) or 0
        doc["baseScore"] = doc["score"] = score
        for key in ("voteCount", "commentCount"):
            doc[key] = doc.get(key) or 0
        for key in ("question", "af", "draft", "meta", "isEvent", "legacy"):
            doc[key] = bool(doc.get(key))
        doc.setdefault("url", None)
        doc.setdefault("user", None)
        doc["userId"] = doc["user"]["_id"] if doc["user"] else doc.get("userId")
        doc["tags"] = list(doc.get("tags") or [])
        doc["coauthors"] = list(doc.get("coauthors") or [])
        _sync_body(doc)
        if doc.get("wordCount") is None and doc["contents"] is not None:
            doc["wordCount"] = doc["contents"].get("wordCount")
        return doc

    def _normalize_comment(self, comment: Mapping[str, Any], memo: dict[str, Doc]) -> Doc:
        doc: Doc = dict(comment)
        if not doc.get("_id") or not doc.get("postId"):
            raise ValueError(f"Comment {doc.get('_id')!r} needs `_id` and `postId`")
        post = self.posts.get(doc["postId"])
        if post is None:
            raise ValueError(f"Comment {doc['_id']} is on unknown post {doc['postId']}")
        doc["postedAt"] = parse_timestamp(doc.get("postedAt") or utc_now())
        doc["lastEditedAt"] = parse_timestamp(doc.get("lastEditedAt") or doc["postedAt"])
        parent = self.comments.get(doc.get("parentCommentId") or "")
        doc.setdefault("parentCommentId", None)
        doc.setdefault("topLevelCommentId", _top_level_id(parent))
        doc.setdefault("parentAnswerId", None)
        # A dict of <= 21 keys takes 464 bytes, not 832: `score`, `userId`, `pageUrl` and
        # `retracted` are left to the resolvers, which derive them (~80 MB on the full corpus).
        doc["baseScore"] = doc.get("baseScore", doc.pop("score", None)) or 0
        doc["voteCount"] = doc.get("voteCount") or 0
        for key in ("af", "answer", "deleted", "deletedPublic"):
            doc[key] = bool(doc.get(key))
        doc.setdefault("user", None)
        doc["descendentCount"] = doc.get("descendentCount") or 0
        doc["directChildrenCount"] = doc.get("directChildrenCount") or 0
        _sync_body(doc)
        if "pingbacks" not in doc:
            body = doc["htmlBody"] or ""
            if body not in memo:
                memo[body] = self.pingbacks(body)
            doc["pingbacks"] = {k: list(v) for k, v in memo[body].items()}
        return doc


def _top_level_id(parent: Doc | None) -> str | None:
    if parent is None:
        return None
    return str(parent["topLevelCommentId"] or parent["_id"])


def _sync_body(doc: Doc) -> None:
    """Make `htmlBody` and `contents.html` the same string, whichever one was given."""
    contents = doc.get("contents")
    body = doc.get("htmlBody")
    if body is None and isinstance(contents, dict):
        body = contents.get("html")
    doc["htmlBody"] = body
    if body is None:
        doc["contents"] = None
    elif not isinstance(contents, dict) or contents.get("html") != body:
        doc["contents"] = {**(contents or {}), "html": body, "wordCount": word_count(body)}


def _bump(doc: Doc) -> str:
    version = (doc.get("contents") or {}).get("version") or "1.0.0"
    major, minor, *_ = (version.split(".") + ["0", "0"])[:3]
    return f"{major}.{int(minor) + 1}.0" if minor.isdigit() else "1.1.0"


# --------------------------------------------------------------------------------------------
# Corpus loading
# --------------------------------------------------------------------------------------------


def find_corpus(start: Path) -> Path:
    """The shared corpus folder, `<repo>/../shared/corpus`, located from `start` upwards.

    Raises:
        FileNotFoundError: no `shared/corpus` folder exists above `start`.
    """
    for folder in [start, *start.parents]:
        candidate = folder / "shared" / "corpus"
        if (candidate / "MANIFEST.md").is_file():
            return candidate
    raise FileNotFoundError(
        f"Corpus not found: no shared/corpus/MANIFEST.md above {start}. The forum test server "
        "serves the real corpus; put the shared folder next to the repository."
    )


def _corpus_file(path: Path, full: bool = True) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / (CORPUS_FULL if full else CORPUS_SAMPLE)
    if not path.is_file():
        raise FileNotFoundError(f"Corpus file not found: {path}. Pass shared/corpus or a file.")
    return path


def _read_jsonl(path: Path) -> Iterator[Doc]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def load_corpus_posts(
    path: Path | str,
    forums: Sequence[str] = FORUMS,
    with_body_only: bool = False,
    limit: int | None = None,
) -> list[Doc]:
    """Corpus rows mapped to ForumMagnum post dicts (streamed; `path` may be the corpus folder,
    `posts.jsonl.gz` or `sample/posts_sample.jsonl`).

    Posts without a body have `htmlBody` and `contents` null; AF posts get `af: true` and the
    "AI" tag. Ids that are not ForumMagnum ids (`eaforum-anishazaveri:2013:18`, one empty id)
    get a stable 17-character id derived from the old one, and a page URL to match.

    Raises:
        FileNotFoundError: the corpus is missing.
        ValueError: a forum other than lesswrong, alignmentforum or eaforum was asked for.
    """
    unknown = set(forums) - set(FORUMS)
    if unknown:
        raise ValueError(f"Only ForumMagnum forums can be served, not {sorted(unknown)}")
    posts: list[Doc] = []
    for row in _read_jsonl(_corpus_file(Path(path))):
        if row["forum"] not in forums or (with_body_only and not row.get("body_html")):
            continue
        posts.append(_post_from_row(row))
        if limit is not None and len(posts) >= limit:
            break
    return posts


def _post_from_row(row: Mapping[str, Any]) -> Doc:
    site = _SITE_OF_FORUM[row["forum"]]
    origin = _ORIGIN_OF_SITE[site]
    old_id = str(row.get("id") or "")
    valid = bool(_VALID_ID.fullmatch(old_id))
    post_id = old_id if valid else derive_id(f"{row['forum']}|{old_id}|{row.get('url')}")
    url = row.get("url") or ""
    route = re.search(r"/(posts|events)/[^/]*/([^/?#]+)", url)
    slug = route[2] if route else slugify(row["title"])
    page_url = url if valid and route else f"{origin}/posts/{post_id}/{slug}"
    af = row["forum"] == "alignmentforum" or bool(row.get("af"))
    body = row.get("body_html")
    doc: Doc = {
        "_id": post_id,
        "slug": slug,
        "title": row["title"],
        "pageUrl": page_url,
        "postedAt": row["posted_at"],
        "url": row.get("link_url"),
        "question": bool(row.get("is_question")),
        "meta": bool(row.get("is_meta")),
        "isEvent": "/events/" in url,
        "af": af,
        "legacy": len(post_id) == 24,
        "baseScore": row.get("score") or 0,
        "voteCount": row.get("vote_count") or 0,
        "commentCount": row.get("comment_count") or 0,
        "htmlBody": _strip_document_wrapper(body) if body else None,
        "user": make_user(row.get("author"), row.get("author_slug"), origin),
        "tags": [dict(AI_TAG)] if af else [_tag(t) for t in row.get("tags") or []],
    }
    if row.get("word_count"):
        doc["wordCount"] = row["word_count"]
    if af:
        doc["afDate"] = parse_timestamp(row["posted_at"])
        doc["afBaseScore"] = row.get("af_score")
    return doc


def _tag(name: str) -> Doc:
    return {"_id": derive_id(f"tag|{name}"), "name": name, "slug": slugify(name), "core": False}


@functools.lru_cache(maxsize=65536)
def _user(name: str, slug: str, origin: str) -> Doc:
    return {
        "_id": derive_id(f"user|{origin}|{slug}"),
        "slug": slug,
        "username": name.replace(" ", "_"),
        "displayName": name,
        "fullName": None,
    }


def make_user(
    name: str | None, slug: str | None = None, origin: str = LESSWRONG_ORIGIN
) -> Doc | None:
    """The `user` object for an author name (None for a deleted or hidden author, as on LW).

    The same name gives the same shared dict, with a stable `_id`.
    """
    if not name:
        return None
    return _user(name, slug or slugify(name), origin)


def split_by_site(posts: Iterable[Doc]) -> dict[str, list[Doc]]:
    """Group posts by the GraphQL site that serves them: `lesswrong` (LW + AF) or `eaforum`."""
    sites: dict[str, list[Doc]] = {"lesswrong": [], "eaforum": []}
    for post in posts:
        site = "eaforum" if post["pageUrl"].startswith(EAFORUM_ORIGIN) else "lesswrong"
        sites[site].append(post)
    return sites


class CommentText(NamedTuple):
    """A real piece of writing and its real author, to become a comment's body."""

    html: str
    author: str


_PARAGRAPH = re.compile(r"<p>(.{80,1500}?)</p>", re.S)


def load_comment_texts(corpus: Path | str, posts: Iterable[Doc] = ()) -> list[CommentText]:
    """Real comment bodies: the Arbital comments in `comments.jsonl` (markdown → `<p>` HTML),
    then up to three paragraphs from each post in `posts`.

    Raises:
        FileNotFoundError: `comments.jsonl` is missing.
    """
    path = Path(corpus) / "comments.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"Corpus comments not found: {path}")
    texts = []
    for row in _read_jsonl(path):
        body = row.get("body_markdown") or ""
        if 40 <= len(body) <= 4000 and "[@" not in body and row.get("author"):
            texts.append(CommentText(markdown_to_html(body), row["author"]))
    return texts + paragraph_texts(posts)


def paragraph_texts(posts: Iterable[Doc], per_post: int = 3) -> list[CommentText]:
    """Up to `per_post` plain paragraphs from each post's body, with the post's author."""
    texts: list[CommentText] = []
    for post in posts:
        author = (post.get("user") or {}).get("displayName")
        if not post.get("htmlBody") or not author:
            continue
        found = [
            p for p in _PARAGRAPH.findall(post["htmlBody"]) if "<p" not in p and "<div" not in p
        ]
        texts.extend(CommentText(f"<p>{p}</p>", author) for p in found[:per_post])
    return texts


def _after(timestamp: str, rng: random.Random, mean_hours: float) -> str:
    start = datetime.fromisoformat(timestamp)
    delta = timedelta(seconds=max(1.0, rng.expovariate(1 / (mean_hours * 3600))))
    return format_timestamp(start + delta)


def build_comment_threads(
    posts: Sequence[Doc],
    seed: int = 0,
    per_post: tuple[int, int] = (0, 12),
    *,
    texts: Sequence[CommentText] | None = None,
    link_rate: float = 0.05,
) -> list[Doc]:
    """Comment threads for `posts`, with real text and the real site's structure.

    Top-level comments and replies nest up to depth 5 (`parentCommentId`, `topLevelCommentId`);
    question posts get answers (`answer: true`) whose replies carry `parentAnswerId`, and
    `parentCommentId` = the comment replied to. Replies come after their parents, comments
    after their post. About `link_rate` of comments link to another post or comment of the same
    site; about half the comments on AF posts are AF comments. Each post's thread depends only
    on `seed` and the post's `_id`; links also depend on the order of `posts`.

    Raises:
        ValueError: no texts were given and the posts have no bodies to quote.
    """
    pool = list(texts) if texts is not None else paragraph_texts(posts)
    if not pool:
        raise ValueError("No comment texts: pass texts=load_comment_texts(corpus, posts)")
    # Shared by the comments that quote one text: edits replace `contents`, never mutate it.
    contents = [{"html": t.html, "wordCount": word_count(t.html)} for t in pool]
    comments: list[Doc] = []
    linkable: dict[str, list[tuple[str, str]]] = {}  # origin -> (url, anchor text)
    for post in posts:
        rng = random.Random(f"{seed}:{post['_id']}")
        count = rng.randint(*per_post)
        origin = _origin_of(post["pageUrl"])
        thread = _build_thread(post, count, rng, pool, contents, origin)
        targets = linkable.setdefault(origin, [])
        for comment in thread:
            if targets and rng.random() < link_rate:
                _add_link(comment, rng.choice(targets))
        targets.append((post["pageUrl"], html_lib.escape(post["title"]) or "this post"))
        targets.extend(
            (f"{post['pageUrl']}?commentId={c['_id']}", "this comment") for c in thread[:2]
        )
        comments.extend(thread)
    return comments


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _build_thread(
    post: Doc,
    count: int,
    rng: random.Random,
    pool: Sequence[CommentText],
    contents: Sequence[Doc],
    origin: str,
) -> list[Doc]:
    thread: list[Doc] = []
    depth: dict[str, int] = {}
    for _ in range(count):
        open_parents = [c for c in thread if depth[c["_id"]] < 5]
        parent = rng.choice(open_parents) if open_parents and rng.random() < 0.6 else None
        pick = rng.randrange(len(pool))
        comment_id = _random_id(rng)
        root = _thread_root(parent, thread) if parent else None
        comment: Doc = {
            "_id": comment_id,
            "postId": post["_id"],
            "parentCommentId": parent["_id"] if parent else None,
            "topLevelCommentId": root["_id"] if root else None,
            "parentAnswerId": root["_id"] if root and root["answer"] else None,
            "answer": parent is None and post["question"] and rng.random() < 0.7,
            "postedAt": _after(parent["postedAt"] if parent else post["postedAt"], rng, 30),
            "htmlBody": pool[pick].html,
            "contents": contents[pick],
            "user": make_user(pool[pick].author, origin=origin),
            "baseScore": round(rng.gauss(4, 5)),
            "voteCount": rng.randint(0, 12),
            "af": post["af"] and rng.random() < 0.5,
        }
        depth[comment_id] = depth[parent["_id"]] + 1 if parent else 1
        thread.append(comment)
    return thread


def _thread_root(comment: Doc, thread: Sequence[Doc]) -> Doc:
    """The top-level comment (or answer) above `comment` within `thread`."""
    by_id = {c["_id"]: c for c in thread}
    while comment["parentCommentId"] in by_id:
        comment = by_id[comment["parentCommentId"]]
    return comment


def _add_link(comment: Doc, target: tuple[str, str]) -> None:
    url, label = target
    body = f'{comment["htmlBody"]}<p>See also: <a href="{url}">{label}</a></p>'
    comment["htmlBody"] = body
    comment["contents"] = {"html": body, "wordCount": word_count(body)}


def make_same_timestamp_posts(
    n: int,
    posted_at: str,
    source: Sequence[Doc],
    *,
    seed: int = 0,
    af: bool = False,
) -> list[Doc]:
    """`n` posts that share one `postedAt` exactly (as bulk-imported posts do on the real site),
    with titles and bodies of the real posts in `source` and fresh, stable 17-character ids.

    Raises:
        ValueError: `source` is empty.
    """
    if not source:
        raise ValueError("make_same_timestamp_posts needs source posts for their text")
    stamp = parse_timestamp(posted_at)
    posts = []
    for i in range(n):
        src = source[i % len(source)]
        post_id = derive_id(f"same-timestamp|{seed}|{stamp}|{i}")
        origin = _origin_of(src["pageUrl"])
        post = {k: v for k, v in src.items() if k not in ("pingbacks", "contents", "wordCount")}
        post.update(_id=post_id, postedAt=stamp, modifiedAt=stamp, createdAt=stamp, af=af)
        post.update(pageUrl=f"{origin}/posts/{post_id}/{src['slug']}", commentCount=0)
        posts.append(post)
    return posts


def load_corpus_sites(
    corpus: Path | str,
    *,
    full: bool = False,
    comments: bool = True,
    seed: int = 0,
    per_post: tuple[int, int] = (0, 12),
) -> dict[str, ForumData]:
    """The sample (or, with `full`, the whole) corpus as `{"lesswrong": ..., "eaforum": ...}`,
    with comment threads built from real text unless `comments` is False.

    Raises:
        FileNotFoundError: the corpus is missing.
    """
    corpus = Path(corpus)
    posts = load_corpus_posts(_corpus_file(corpus, full))
    texts = load_comment_texts(corpus, posts) if comments else []
    sites = {}
    for name, site_posts in split_by_site(posts).items():
        data = ForumData(site_posts, origin=_ORIGIN_OF_SITE[name])
        if comments:
            data.add_comments(build_comment_threads(site_posts, seed, per_post, texts=texts))
        sites[name] = data
    return sites


# --------------------------------------------------------------------------------------------
# GraphQL: schema, validation and a projection executor
# --------------------------------------------------------------------------------------------


@functools.cache
def load_schema() -> GraphQLSchema:
    """The schema in forum_schema.graphql."""
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


_NODE_STACK = (
    "    at Object.enter (/var/task/node_modules/graphql/language/visitor.js:298:32)",
    "    at Object.enter (/var/task/node_modules/graphql/utilities/TypeInfo.js:391:27)",
    "    at visit (/var/task/node_modules/graphql/language/visitor.js:194:21)",
    "    at validate (/var/task/node_modules/graphql/validation/validate.js:91:24)",
    "    at eb (/var/task/.next/server/chunks/node_modules_fe278931._.js:182:4830)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)",
    "    at async eL (/var/task/.next/server/chunks/node_modules_fe278931._.js:183:2116)",
    "    at async J (/var/task/.next/server/chunks/node_modules_fe278931._.js:172:28165)",
    "    at async ea (/var/task/.next/server/chunks/node_modules_fe278931._.js:182:1831)",
)
_RULE_FRAMES = (
    ("is not defined by type", "Object.ObjectField", "ValuesOfCorrectTypeRule.js:110:11"),
    ("Cannot query field", "Object.Field", "FieldsOnCorrectTypeRule.js:51:31"),
    ("Unknown argument", "Object.Argument", "KnownArgumentNamesRule.js:46:29"),
    ("must have a selection", "Object.Field", "ScalarLeafsRule.js:40:13"),
    ("is never used", "Object.leave", "NoUnusedVariablesRule.js:35:15"),
    ("Unknown type", "Object.NamedType", "KnownTypeNamesRule.js:57:15"),
)
_RESOLVER_STACK = (
    "    at getDefaultViewSelector (/var/task/.next/server/chunks/[root]__4a1f._.js:12:3381)",
    "    at async multiResolver (/var/task/.next/server/chunks/[root]__4a1f._.js:31:9157)",
)
# graphql-core words some errors differently from graphql-js 16, which the real site runs.
_JS_WORDING = (
    (
        re.compile(
            r"Expected value of type '([^']+)' not to include unknown field '([^']+)'"
            r"(?:, found: .*?)?\.",
            re.S,
        ),
        r"Field '\2' is not defined by type '\1'.",
    ),
    (
        re.compile(
            r"Variable '(\$\w+)' has invalid value: "
            r"Expected a value of non-null type '([^']+)' to be provided\."
        ),
        r"Variable '\1' of required type '\2' was not provided.",
    ),
    (
        re.compile(r"The (mutation|subscription) operation is not supported by the schema\."),
        r"Schema is not configured to execute \1 operation.",
    ),
)
_SINGLE_QUOTED = re.compile(r"'([^'\s][^']*?)'")


def _js_message(message: str) -> str:
    for pattern, repl in _JS_WORDING:
        message = pattern.sub(repl, message)
    return _SINGLE_QUOTED.sub(r'"\1"', message)


def _request_error(error: GraphQLError, code: str) -> Doc:
    """An error of a request that never ran, shaped like Apollo's (with a stack trace)."""
    message = _js_message(error.message)
    frames = [
        f"    at {where} (/var/task/node_modules/graphql/validation/rules/{rule})"
        for marker, where, rule in _RULE_FRAMES
        if marker in message
    ][:1]
    body: Doc = {"message": message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    stack = [f"GraphQLError: {message}", *frames, *_NODE_STACK]
    body["extensions"] = {"code": code, "stacktrace": stack}
    return body


def _bad_request(message: str, code: str = "BAD_REQUEST") -> Doc:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class _LegacyOnlyRule(ValidationRule):
    """The EA Forum's older ForumMagnum has only `posts(input: ...)` (sources.md §1.11)."""

    def enter_field(self, node: FieldNode, *_args: object) -> None:
        parent = self.context.get_parent_type()
        if parent is None or parent.name != "Query":
            return
        for argument in node.arguments or ():
            if argument.name.value != "input":
                self.report_error(
                    GraphQLError(
                        f"Unknown argument '{argument.name.value}' on field "
                        f"'Query.{node.name.value}'.",
                        argument,
                    )
                )


class _Prepared(NamedTuple):
    document: DocumentNode | None
    errors: list[Doc]


class _Engine:
    """Parses and validates queries (cached by text) for one flavour of the site."""

    _CACHE_SIZE = 512

    def __init__(self, legacy_only: bool) -> None:
        self.schema = load_schema()
        self._rules = [*specified_rules, _LegacyOnlyRule] if legacy_only else None
        self._cache: dict[str, _Prepared] = {}
        self._lock = threading.Lock()

    def prepare(self, query: str) -> _Prepared:
        with self._lock:
            cached = self._cache.get(query)
        if cached is not None:
            return cached
        try:
            document = parse(query)
        except GraphQLError as e:
            prepared = _Prepared(None, [_request_error(e, "GRAPHQL_PARSE_FAILED")])
        else:
            errors = validate(self.schema, document, self._rules)
            found = [_request_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors]
            prepared = _Prepared(None if found else document, found)
        with self._lock:
            if len(self._cache) >= self._CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[query] = prepared
        return prepared


def _strip_undefined(value: Any) -> Any:
    """A variable missing from `variables` inside a JSON literal is absent, as in JavaScript."""
    if isinstance(value, dict):
        return {k: _strip_undefined(v) for k, v in value.items() if v is not Undefined}
    if isinstance(value, list):
        return [_strip_undefined(v) for v in value if v is not Undefined]
    return value


def _arguments(node: FieldNode, variables: Mapping[str, Any]) -> Doc:
    return {
        arg.name.value: _strip_undefined(value_from_ast_untyped(arg.value, dict(variables)))
        for arg in node.arguments or ()
    }


def terms_from_arguments(args: Mapping[str, Any]) -> tuple[Doc, bool]:
    """The view terms of a `posts`/`comments` field in either shape, and `enableTotal`.

    `input: {terms}` is the legacy shape; `selector: {<view>: {...}}, limit, offset` is the
    newer one, which `defaultResolvers.ts` turns into the same terms.

    Raises:
        QueryError: `terms` or `selector` is not an object.
    """
    given = args.get("input") or {}
    enable_total = bool(given.get("enableTotal") or args.get("enableTotal"))
    if given.get("terms") is not None:
        if not isinstance(given["terms"], dict):
            raise QueryError("terms must be an object")
        return dict(given["terms"]), enable_total
    terms: Doc = {}
    selector = args.get("selector")
    if selector is not None:
        if not isinstance(selector, dict):
            raise QueryError("selector must be an object")
        if selector:
            view, inner = next(iter(selector.items()))
            terms = dict(inner or {})
            if view != "default":
                terms["view"] = view
    for key in ("limit", "offset"):
        if args.get(key) is not None:
            terms[key] = args[key]
    return terms, enable_total


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    name: str
    node: FieldNode
    parent: str
    resolve: _Resolver | None
    sub: tuple[_Field, ...] | None
    nullable: bool
    is_list: bool
    item_nullable: bool


_Resolver = Callable[["_Execution", Any, "_Field"], Any]


class _Null(Exception):
    """A non-null field came out null: null the nearest nullable parent (GraphQL spec 6.4.4)."""


class _Execution:
    """Runs one operation against one site: compile the selection, then project the dicts."""

    def __init__(self, site: Site, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.site = site
        self.data = site.data
        self.schema = load_schema()
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.errors: list[Doc] = []

    # -- compiling ------------------------------------------------------------------------------

    def _included(self, node: FieldNode | FragmentSpreadNode | InlineFragmentNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            condition = _arguments(directive, self.variables).get("if")  # type: ignore[arg-type]
            if bool(condition) == (name == "skip"):
                return False
        return True

    def _collect(
        self, type_name: str, selection_set: SelectionSetNode, out: dict[str, list[FieldNode]]
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.setdefault(key, []).append(selection)
                continue
            condition: NamedTypeNode | None
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, inner = selection.type_condition, selection.selection_set
            if condition is None or condition.name.value == type_name:
                self._collect(type_name, inner, out)

    def compile(
        self, type_name: str, selection_sets: Sequence[SelectionSetNode]
    ) -> tuple[_Field, ...]:
        object_type = self.schema.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        groups: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(type_name, selection_set, groups)
        fields = []
        for key, nodes in groups.items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append(
                    _Field(
                        key,
                        name,
                        nodes[0],
                        type_name,
                        _typename(type_name),
                        None,
                        False,
                        False,
                        False,
                    )
                )
                continue
            field_type = object_type.fields[name].type
            named = get_named_type(field_type)
            sub = None
            if isinstance(named, GraphQLObjectType):
                sub = self.compile(named.name, [n.selection_set for n in nodes if n.selection_set])
            nullable = not is_non_null_type(field_type)
            inner = field_type if nullable else field_type.of_type
            is_list = is_list_type(inner)
            item_nullable = is_list and not is_non_null_type(inner.of_type)
            resolve = _RESOLVERS.get((type_name, name))
            fields.append(
                _Field(
                    key, name, nodes[0], type_name, resolve, sub, nullable, is_list, item_nullable
                )
            )
        return tuple(fields)

    # -- running --------------------------------------------------------------------------------

    def run(self, operation: OperationDefinitionNode) -> Doc | None:
        root = self.compile("Query", [operation.selection_set])
        try:
            return self._object(root, None, [])
        except _Null:
            return None

    def _object(self, fields: tuple[_Field, ...], obj: Any, path: list[str | int]) -> Doc:
        out: Doc = {}
        for f in fields:
            failed = False
            try:
                value = f.resolve(self, obj, f) if f.resolve else obj.get(f.name)
                if value is not None and f.sub is not None:
                    value = self._complete(f, value, [*path, f.key])
            except QueryError as e:
                self.error(str(e), f.node, [*path, f.key])
                value, failed = None, True
            except _Null:
                value, failed = None, True
            if value is None and not f.nullable:
                if not failed:
                    message = f"Cannot return null for non-nullable field {f.parent}.{f.name}."
                    self.error(message, f.node, [*path, f.key])
                raise _Null
            out[f.key] = value
        return out

    def _complete(self, f: _Field, value: Any, path: list[str | int]) -> Any:
        assert f.sub is not None
        if not f.is_list:
            return self._object(f.sub, value, path)
        items: list[Doc | None] = []
        for i, item in enumerate(value):
            try:
                if item is None:
                    raise QueryError(
                        f"Cannot return null for non-nullable field {f.parent}.{f.name}."
                    )
                items.append(self._object(f.sub, item, [*path, i]))
            except (QueryError, _Null) as e:
                if isinstance(e, QueryError):
                    self.error(str(e), f.node, [*path, i])
                if not f.item_nullable:
                    raise _Null from None
                items.append(None)
        return items

    def error(self, message: str, node: FieldNode, path: list[str | int]) -> None:
        """Record a resolver error the way Apollo reports it (HTTP 200, `errors[]`)."""
        located = GraphQLError(message, node)
        self.errors.append(
            {
                "message": message,
                "locations": [
                    {"line": x.line, "column": x.column} for x in located.locations or ()
                ],
                "path": path,
                "extensions": {
                    "code": "INTERNAL_SERVER_ERROR",
                    "stacktrace": [f"Error: {message}", *_RESOLVER_STACK],
                },
            }
        )

    def page_url(self, url: str) -> str:
        """`pageUrl` carries the host that served the query (LW data served as AF)."""
        if self.site.origin != self.data.origin and url.startswith(self.data.origin):
            return self.site.origin + url[len(self.data.origin) :]
        return url

    def arguments(self, f: _Field) -> Doc:
        return _arguments(f.node, self.variables)


def _typename(name: str) -> _Resolver:
    return lambda _ex, _obj, _f: name


def _resolve_posts(ex: _Execution, _root: None, f: _Field) -> Doc:
    terms, enable_total = terms_from_arguments(ex.arguments(f))
    found = ex.data.query_posts(terms, enable_total=enable_total, force_af=ex.site.force_af)
    return {"results": found.docs, "totalCount": found.total}


def _resolve_comments(ex: _Execution, _root: None, f: _Field) -> Doc:
    terms, enable_total = terms_from_arguments(ex.arguments(f))
    found = ex.data.query_comments(terms, enable_total=enable_total, force_af=ex.site.force_af)
    return {"results": found.docs, "totalCount": found.total}


def _single(ex: _Execution, f: _Field, load: Callable[..., Doc | None]) -> Doc:
    args = ex.arguments(f)
    given = args.get("input") or {}
    selector = given.get("selector") or args.get("selector") or {}
    doc = load(selector.get("_id") or selector.get("documentId"), force_af=ex.site.force_af)
    if doc is None and not (given.get("allowNull") or args.get("allowNull")):
        raise QueryError("app.missing_document")  # singleResolver's throwError id
    return {"result": doc}


def _comment_page_url(ex: _Execution, doc: Doc, _f: _Field | None = None) -> str:
    post = ex.data.posts.get(doc["postId"])
    if post is None:  # commentGetPageUrlFromDB throws when the post cannot be loaded
        raise QueryError("Cannot read properties of undefined (reading '_id')")
    return ex.page_url(f"{post['pageUrl']}?commentId={doc['_id']}")


def _revision(name: str, derive: Callable[[str], Any]) -> _Resolver:
    def resolve(_ex: _Execution, rev: Doc, _f: _Field) -> Any:
        if rev.get(name) is not None:
            return rev[name]
        return None if rev.get("html") is None else derive(rev["html"])

    return resolve


def _post_word_count(_ex: _Execution, doc: Doc, _f: _Field | None = None) -> int | None:
    return doc.get("wordCount") or word_count(doc["htmlBody"])


def _post_category(_ex: _Execution, doc: Doc, _f: _Field) -> str:
    return "question" if doc["question"] else "linkpost" if doc.get("url") else "post"


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _description(body: str) -> str:
    return html_to_text(body[:12000])[:2000]  # the head is enough for 2000 characters


def _default(name: str, value: Any) -> _Resolver:
    return lambda _ex, doc, _f: value if doc.get(name) is None else doc[name]


_RESOLVERS: dict[tuple[str, str], _Resolver] = {
    ("Query", "posts"): _resolve_posts,
    ("Query", "comments"): _resolve_comments,
    ("Query", "post"): lambda ex, _root, f: _single(ex, f, ex.data.visible_post),
    ("Query", "comment"): lambda ex, _root, f: _single(ex, f, ex.data.visible_comment),
    ("Query", "currentUser"): lambda _ex, _root, _f: None,
    ("Post", "pageUrl"): lambda ex, d, _f: ex.page_url(d["pageUrl"]),
    ("Post", "pageUrlRelative"): lambda _ex, d, _f: f"/posts/{d['_id']}/{d['slug']}",
    ("Post", "linkUrl"): lambda ex, d, _f: d.get("url") or ex.page_url(d["pageUrl"]),
    ("Post", "domain"): lambda _ex, d, _f: urlsplit(d["url"]).hostname if d.get("url") else None,
    ("Post", "postCategory"): _post_category,
    ("Post", "wordCount"): _post_word_count,
    ("Post", "readTimeMinutes"): lambda ex, d, _f: max(
        1, round((_post_word_count(ex, d) or 0) / 250)
    ),
    ("Post", "lastCommentedAt"): lambda _ex, d, _f: d.get("lastCommentedAt") or d["postedAt"],
    ("Post", "coauthorUserIds"): lambda _ex, d, _f: [u["_id"] for u in d.get("coauthors") or ()],
    ("Post", "hideAuthor"): _default("hideAuthor", False),
    ("Post", "afSticky"): _default("afSticky", False),
    ("Post", "afCommentCount"): _default("afCommentCount", 0),
    ("Post", "topLevelCommentCount"): _default("topLevelCommentCount", 0),
    ("Comment", "post"): lambda ex, d, _f: ex.data.visible_post(
        d["postId"], force_af=ex.site.force_af
    ),
    ("Comment", "parentComment"): lambda ex, d, _f: ex.data.visible_comment(d["parentCommentId"]),
    ("Comment", "pageUrl"): _comment_page_url,
    ("Comment", "pageUrlRelative"): lambda ex, d, _f: _relative(_comment_page_url(ex, d)),
    ("Comment", "score"): lambda _ex, d, _f: d["baseScore"],
    ("Comment", "userId"): lambda _ex, d, _f: _user_id(d),
    ("Comment", "retracted"): _default("retracted", False),
    ("Comment", "author"): lambda _ex, d, _f: (d.get("user") or {}).get("displayName"),
    ("User", "pageUrl"): lambda ex, u, _f: f"{ex.site.origin}/users/{u.get('slug')}",
    ("Revision", "markdown"): _revision("markdown", html_to_markdown),
    ("Revision", "plaintextMainText"): _revision("plaintextMainText", html_to_text),
    ("Revision", "plaintextDescription"): _revision("plaintextDescription", _description),
    ("Revision", "htmlHighlight"): _revision("htmlHighlight", lambda h: h[:2400]),
    ("Revision", "wordCount"): _revision("wordCount", word_count),
}


# --------------------------------------------------------------------------------------------
# Sites, request log, faults
# --------------------------------------------------------------------------------------------


@dataclass
class Site:
    """One GraphQL site served at `/<name>/graphql`.

    Attributes follow the real deployments: the EA Forum accepts only `input: {terms}` and has
    Apollo CSRF prevention (GET needs `X-Apollo-Operation-Name`); the Alignment Forum serves
    LW's data with `af: true` forced and its own host in `pageUrl`.
    """

    name: str
    data: ForumData
    origin: str = ""
    legacy_only: bool = False
    force_af: bool = False
    csrf_prevention: bool = False
    engine: _Engine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.origin = self.origin or self.data.origin
        self.engine = _Engine(self.legacy_only)

    @classmethod
    def lesswrong(cls, data: ForumData, name: str = "lesswrong") -> Site:
        """LessWrong: both query shapes."""
        return cls(name, data, LESSWRONG_ORIGIN)

    @classmethod
    def alignmentforum(cls, data: ForumData, name: str = "alignmentforum") -> Site:
        """The Alignment Forum: LW's documents, `af: true` forced, alignmentforum.org URLs."""
        return cls(name, data, ALIGNMENTFORUM_ORIGIN, force_af=True)

    @classmethod
    def eaforum(cls, data: ForumData, name: str = "eaforum") -> Site:
        """The EA Forum: older code, `input: {terms}` only, CSRF prevention on."""
        return cls(name, data, EAFORUM_ORIGIN, legacy_only=True, csrf_prevention=True)

    @classmethod
    def for_data(cls, data: ForumData) -> Site:
        """The site that matches the data's origin."""
        return cls.eaforum(data) if data.origin == EAFORUM_ORIGIN else cls.lesswrong(data)

    def execute(self, payload: Mapping[str, Any]) -> tuple[int, Doc]:
        """Run one GraphQL request body; returns the HTTP status and the JSON result."""
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            message = (
                "GraphQL operations must contain a non-empty `query` "
                "or a `persistedQuery` extension."
            )
            return 400, _bad_request(message)
        prepared = self.engine.prepare(query)
        if prepared.document is None:
            return 400, {"errors": prepared.errors}
        name = payload.get("operationName")
        operation = get_operation_ast(prepared.document, name if isinstance(name, str) else None)
        if operation is None:
            if name:
                return 400, _bad_request(f'Unknown operation named "{name}".')
            return 400, _bad_request(
                "Must provide operation name if query contains multiple operations."
            )
        raw = payload.get("variables") or {}
        if not isinstance(raw, dict):
            return 400, _bad_request("`variables` in a POST body should be provided as an object.")
        coerced = get_variable_values(self.engine.schema, operation.variable_definitions or (), raw)
        if isinstance(coerced, list):
            return 400, {"errors": [_request_error(e, "BAD_USER_INPUT") for e in coerced]}
        # graphql-core 3.3 wraps the values in VariableValues; 3.2 returns the dict itself.
        variables = cast(dict[str, Any], getattr(coerced, "coerced", coerced))
        if _is_introspection(operation):
            answer = execute_sync(self.engine.schema, prepared.document, None, None, raw, name)
            return 200, dict(answer.formatted)
        with self.data.lock:
            execution = _Execution(self, prepared.document, variables)
            data = execution.run(operation)
        result: Doc = {"data": data}
        if execution.errors:
            result["errors"] = execution.errors
        return 200, result

    def describe(self, payload: Mapping[str, Any]) -> list[OperationInfo]:
        """What a request body asks for, best effort, for the request log and fault matching."""
        query = payload.get("query")
        prepared = self.engine.prepare(query) if isinstance(query, str) and query.strip() else None
        if prepared is None or prepared.document is None:
            return []
        name = payload.get("operationName")
        operation = get_operation_ast(prepared.document, name if isinstance(name, str) else None)
        if operation is None:
            return []
        variables = payload.get("variables") if isinstance(payload.get("variables"), dict) else {}
        op_name = operation.name.value if operation.name else None
        infos = []
        for node in operation.selection_set.selections:
            if isinstance(node, FieldNode) and node.name.value != "__typename":
                args = _arguments(node, variables or {})
                try:
                    terms = (
                        terms_from_arguments(args)[0]
                        if node.name.value in ("posts", "comments")
                        else {}
                    )
                except QueryError:
                    terms = {}
                alias = node.alias.value if node.alias else node.name.value
                infos.append(OperationInfo(op_name, node.name.value, alias, terms, args))
        return infos


def _is_introspection(operation: OperationDefinitionNode) -> bool:
    names = {s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)}
    return bool(names & {"__schema", "__type"})


@dataclass(frozen=True)
class OperationInfo:
    """One root field of a GraphQL request, as the request log records it."""

    name: str | None  # the operation's name
    root: str  # posts, post, comments, comment
    alias: str
    terms: Doc  # resolved view terms for posts/comments (either query shape), else {}
    arguments: Doc

    @property
    def view(self) -> str | None:
        view = self.terms.get("view")
        return view if isinstance(view, str) else None

    def to_json(self) -> Doc:
        return {
            "name": self.name,
            "root": self.root,
            "alias": self.alias,
            "view": self.view,
            "terms": self.terms,
            "arguments": self.arguments,
        }


@dataclass
class RequestRecord:
    """One HTTP request the server answered (control requests are not recorded)."""

    time: float  # time.monotonic() when the request line arrived
    method: str
    path: str  # request target as sent, query string included
    site: str | None
    headers: dict[str, str]  # names lower-cased
    client: tuple[str, int]  # peer address and port: one port per keep-alive connection
    body: str = ""
    operations: list[OperationInfo] = field(default_factory=list)
    batch: bool = False
    status: int | None = None
    fault: str | None = None  # kind of the fault applied, if any
    server_time: float | None = (
        None  # seconds spent building the response (faults' sleeps excluded)
    )

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @property
    def roots(self) -> list[str]:
        return [o.root for o in self.operations]

    @property
    def terms(self) -> Doc:
        """Terms of the first posts/comments field, or {}."""
        return next((o.terms for o in self.operations if o.root in ("posts", "comments")), {})

    @property
    def view(self) -> str | None:
        view = self.terms.get("view")
        return view if isinstance(view, str) else None

    def to_json(self) -> Doc:
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "site": self.site,
            "headers": self.headers,
            "client": list(self.client),
            "body": self.body,
            "operations": [o.to_json() for o in self.operations],
            "batch": self.batch,
            "status": self.status,
            "fault": self.fault,
            "server_time": self.server_time,
        }


@dataclass(frozen=True)
class Match:
    """Which requests a fault applies to; unset fields match anything."""

    site: str | None = None
    root: str | None = None  # "posts", "comments", "post", "comment"
    view: str | None = None
    operation: str | None = None  # the GraphQL operation name
    method: str | None = None
    predicate: Callable[[RequestRecord], bool] | None = field(default=None, compare=False)

    def matches(self, record: RequestRecord) -> bool:
        ops = record.operations
        checks = (
            self.site is None or record.site == self.site,
            self.method is None or record.method == self.method.upper(),
            self.root is None or any(o.root == self.root for o in ops),
            self.view is None or any(o.view == self.view for o in ops),
            self.operation is None or any(o.name == self.operation for o in ops),
        )
        return all(checks) and (self.predicate is None or self.predicate(record))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Match:
        """The inverse of `to_json`.

        Raises:
            ValueError: a key other than site, root, view, operation or method.
        """
        unknown = set(data) - {"site", "root", "view", "operation", "method"}
        if unknown:
            raise ValueError(f"Unknown match keys {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> Doc:
        if self.predicate is not None:
            raise ValueError(
                "A predicate cannot cross processes; match on site/root/view/operation"
            )
        return {k: getattr(self, k) for k in ("site", "root", "view", "operation", "method")}


_CHALLENGE_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">\
<meta name="viewport" \
content="width=device-width, initial-scale=1"><title>Vercel Security Checkpoint</title><style>\
body{font-family:system-ui,sans-serif;display:flex;align-items:center;justify-content:center;\
height:100vh;margin:0}</style></head><body><main><div class="spinner"></div>\
<h1>We're verifying your \
browser</h1><p>Vercel Security Checkpoint</p><noscript>Please enable JavaScript to continue.\
</noscript></main><script src="/.well-known/vercel/security/static/challenge.v2.min.js"></script>\
</body></html>"""
_SITE_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>LessWrong</title>\
<link rel="stylesheet" href="/allStyles"></head><body><div id="react-app"><div class="Layout-main">\
<h1>LessWrong</h1><p>A community blog devoted to refining the art of rationality</p></div></div>\
<script src="/_next/static/chunks/main.js"></script></body></html>"""
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    403: "Forbidden",
}


@dataclass(frozen=True)
class Fault:
    """Something to go wrong with the next matching request(s). Build one with a constructor
    (`Fault.status(429, headers={"Retry-After": "1"})`), narrow it with `.only(...)`,
    `.after(n)` and `.repeat(n)`, and push it on `server.faults`.
    """

    kind: str
    http_status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    content_type: str | None = None
    delay_s: float = 0.0
    repeat_count: int | None = 1  # None: every matching request until cleared
    skip_count: int = 0
    match: Match = field(default_factory=Match)
    partial: bool = True
    mode: str = "null_result"  # graphql_errors: null_result | drop | field
    index: int = 0
    field_name: str | None = None
    message: str = "app.missing_document"
    mid_stream: bool = False

    KINDS = (
        "status",
        "delay",
        "truncated_json",
        "malformed_json",
        "challenge",
        "html_page",
        "graphql_errors",
        "disconnect",
    )

    @classmethod
    def status(
        cls,
        code: int,
        headers: Mapping[str, str] | None = None,
        *,
        body: str | None = None,
        content_type: str | None = None,
    ) -> Fault:
        """Answer with this status (plain-text reason body unless `body` is given)."""
        text = body if body is not None else f"{code} {_REASONS.get(code, 'Error')}"
        return cls(
            "status", code, dict(headers or {}), text, content_type or "text/plain; charset=utf-8"
        )

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep before answering normally, to trip client timeouts."""
        return cls("delay", delay_s=seconds)

    @classmethod
    def truncated_json(cls, *, mid_stream: bool = False) -> Fault:
        """The real JSON body cut in half; `mid_stream` promises the full Content-Length and
        closes the connection halfway instead (the client sees an incomplete read)."""
        return cls("truncated_json", mid_stream=mid_stream)

    @classmethod
    def malformed_json(cls) -> Fault:
        """HTTP 200, `application/json`, a body that is not valid JSON."""
        return cls("malformed_json")

    @classmethod
    def challenge(cls) -> Fault:
        """Vercel Attack Challenge Mode: 429, the Security Checkpoint HTML page,
        `x-vercel-mitigated: challenge`."""
        headers = {
            "x-vercel-mitigated": "challenge",
            "x-vercel-challenge-token": "2.1764212345.60.abc",
            "cache-control": "private, no-store, max-age=0",
        }
        return cls("challenge", 429, headers, _CHALLENGE_HTML, "text/html; charset=utf-8")

    @classmethod
    def html_page(cls, status: int = 200) -> Fault:
        """An HTML page where JSON was expected."""
        return cls("html_page", status, {}, _SITE_HTML, "text/html; charset=utf-8")

    @classmethod
    def graphql_errors(
        cls,
        partial: bool = True,
        *,
        mode: str = "null_result",
        index: int = 0,
        field: str | None = None,
        message: str = "app.missing_document",
    ) -> Fault:
        """HTTP 200 with resolver errors. `partial=False` nulls each root field. Otherwise
        `mode` "null_result" nulls `results[index]`, "drop" removes it, and "field" nulls one
        field of it (`field`, default the first besides `_id`); `errors[].path` points there."""
        if mode not in ("null_result", "drop", "field"):
            raise ValueError(
                f"Unknown graphql_errors mode {mode!r}: use null_result, drop or field"
            )
        return cls(
            "graphql_errors",
            partial=partial,
            mode=mode,
            index=index,
            field_name=field,
            message=message,
        )

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without answering."""
        return cls("disconnect")

    def only(
        self,
        *,
        site: str | None = None,
        root: str | None = None,
        view: str | None = None,
        operation: str | None = None,
        method: str | None = None,
        predicate: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """Apply only to requests that match (a predicate works in-process only)."""
        return replace(self, match=Match(site, root, view, operation, method, predicate))

    def after(self, n: int) -> Fault:
        """Let the first `n` matching requests through; fire from the (n+1)-th."""
        return replace(self, skip_count=n)

    def repeat(self, times: int | None) -> Fault:
        """Fire on `times` matching requests (None: all of them, until cleared)."""
        return replace(self, repeat_count=times)

    def with_delay(self, seconds: float) -> Fault:
        """Also sleep this long before answering."""
        return replace(self, delay_s=seconds)

    def to_json(self) -> Doc:
        """The payload `POST /_control {"action": "push_fault", "fault": ...}` accepts."""
        return {
            "kind": self.kind,
            "status": self.http_status,
            "headers": dict(self.headers),
            "body": self.body,
            "content_type": self.content_type,
            "delay": self.delay_s,
            "times": self.repeat_count,
            "skip": self.skip_count,
            "match": self.match.to_json(),
            "partial": self.partial,
            "mode": self.mode,
            "index": self.index,
            "field": self.field_name,
            "message": self.message,
            "mid_stream": self.mid_stream,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """The inverse of `to_json`; omitted keys keep the constructor's defaults.

        Raises:
            ValueError: unknown kind or keys.
        """
        kind = data.get("kind")
        builders: dict[str, Callable[[], Fault]] = {
            "status": lambda: cls.status(int(data.get("status") or 500), data.get("headers")),
            "delay": lambda: cls.delay(float(data.get("delay") or 0)),
            "truncated_json": lambda: cls.truncated_json(mid_stream=bool(data.get("mid_stream"))),
            "malformed_json": cls.malformed_json,
            "challenge": cls.challenge,
            "html_page": lambda: cls.html_page(int(data.get("status") or 200)),
            "graphql_errors": lambda: cls.graphql_errors(bool(data.get("partial", True))),
            "disconnect": cls.disconnect,
        }
        if kind not in builders:
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {', '.join(cls.KINDS)}")
        keys = {
            "status": "http_status",
            "headers": "headers",
            "body": "body",
            "content_type": "content_type",
            "delay": "delay_s",
            "times": "repeat_count",
            "skip": "skip_count",
            "partial": "partial",
            "mode": "mode",
            "index": "index",
            "field": "field_name",
            "message": "message",
            "mid_stream": "mid_stream",
        }
        unknown = set(data) - set(keys) - {"kind", "match"}
        if unknown:
            raise ValueError(f"Unknown fault keys {sorted(unknown)}")
        fault = builders[kind]()
        changes = {
            keys[k]: v for k, v in data.items() if k in keys and (v is not None or k == "times")
        }
        if changes.get("mode", "null_result") not in ("null_result", "drop", "field"):
            raise ValueError(f"Unknown graphql_errors mode {changes['mode']!r}")
        return replace(fault, **changes, match=Match.from_json(data.get("match") or {}))


class FaultQueue:
    """Faults waiting for requests, in order; the first eligible one fires per request."""

    def __init__(self) -> None:
        self._entries: list[list[Any]] = []  # [fault, remaining (None: unlimited), to_skip]
        self._lock = threading.Lock()

    def push(self, *faults: Fault) -> None:
        """Queue faults after those already waiting."""
        with self._lock:
            self._entries.extend([f, f.repeat_count, f.skip_count] for f in faults)

    def clear(self) -> None:
        """Drop every waiting fault."""
        with self._lock:
            self._entries.clear()

    def pending(self) -> list[Fault]:
        """The faults still waiting."""
        with self._lock:
            return [e[0] for e in self._entries]

    def __len__(self) -> int:
        return len(self.pending())

    def take(self, record: RequestRecord) -> Fault | None:
        """The fault to apply to this request, if any (updates the counters)."""
        with self._lock:
            for entry in self._entries:
                fault, remaining, to_skip = entry
                if not fault.match.matches(record):
                    continue
                if to_skip > 0:
                    entry[2] -= 1
                    continue
                if remaining is not None:
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._entries.remove(entry)
                return fault  # type: ignore[no-any-return]
        return None


def _inject_graphql_errors(result: Doc, fault: Fault) -> Doc:
    data = result.get("data")
    if not isinstance(data, dict):
        return result
    errors = list(result.get("errors", []))
    for key, value in data.items():
        if not isinstance(value, dict):
            continue
        path: list[str | int]
        if not fault.partial:
            data[key], path = None, [key]
        elif isinstance(value.get("results"), list) and value["results"]:
            results = value["results"]
            i = min(fault.index, len(results) - 1)
            path = [key, "results", i]
            if fault.mode == "drop":
                del results[i]
            elif fault.mode == "field" and isinstance(results[i], dict):
                name = fault.field_name or next((k for k in results[i] if k != "_id"), "_id")
                results[i][name] = None
                path.append(name)
            else:
                results[i] = None
        elif "result" in value:
            value["result"], path = None, [key, "result"]
        else:
            continue
        stack = [f"Error: {fault.message}", *_RESOLVER_STACK]
        errors.append(
            {
                "message": fault.message,
                "locations": [],
                "path": path,
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "stacktrace": stack},
            }
        )
    result["errors"] = errors
    return result


# --------------------------------------------------------------------------------------------
# HTTP transport
# --------------------------------------------------------------------------------------------

_JSON = "application/json; charset=utf-8"
_CSRF_MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please "
    "either specify a 'content-type' header (with a type that is not one of "
    "application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a non-empty "
    "value for one of the following headers: x-apollo-operation-name, apollo-require-preflight\n"
)
_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_BLOCKED_AGENTS = ("curl/", "wget/")  # ForumMagnum #5119, LessWrong-Portable #22: 403s
_MUTATIONS = (
    "edit_post",
    "delete_post",
    "add_post",
    "edit_comment",
    "delete_comment",
    "add_comment",
    "set_score",
)


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = _JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    send_bytes: int | None = None  # stop after this many bytes and drop the connection
    disconnect: bool = False  # hang up without answering


class _HTTPError(Exception):
    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status)
        self.response = _Response(status, body, content_type)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "Vercel"
    sys_version = ""
    timeout = 120  # seconds an idle keep-alive connection stays open
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.forum._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.forum._dispatch(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server's request log records every request."""

    def write(self, response: _Response | None) -> None:
        """Send a response; None (the server is stopping) just closes the connection."""
        if response is None or response.disconnect:
            self.close_connection = True
            if response is not None:
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection or response.send_bytes is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        body = response.body
        self.wfile.write(body if response.send_bytes is None else body[: response.send_bytes])
        if response.send_bytes is not None:
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self, address: tuple[str, int], forum: ForumServer) -> None:
        self.forum = forum
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up are normal here
            super().handle_error(request, client_address)


class ForumServer:
    """A real HTTP/1.1 server on 127.0.0.1 hosting one or more ForumMagnum sites.

    `ForumServer(data)` serves `data` at `/graphql` (and at `/<site>/graphql`); more sites
    come through `sites=[Site.eaforum(ea_data), ...]`, each at `/<name>/graphql`. Use it as a
    context manager or call `start()` / `stop()`.
    """

    def __init__(
        self,
        data: ForumData | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sites: Iterable[Site] = (),
    ) -> None:
        all_sites = ([Site.for_data(data)] if data is not None else []) + list(sites)
        if not all_sites:
            raise ValueError("ForumServer needs data or at least one Site")
        self.sites: dict[str, Site] = {s.name: s for s in all_sites}
        self.default_site = all_sites[0]
        self.host, self._port = host, port
        self.faults = FaultQueue()
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> ForumServer:
        """Bind and serve in a background thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="forum-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> ForumServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("ForumServer is not running: call start() first")
        return f"http://{self.host}:{self._port}"

    @property
    def url(self) -> str:
        """The default site's endpoint, `http://127.0.0.1:PORT/graphql`."""
        return f"{self.base_url}/graphql"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_control"

    def site_url(self, name: str) -> str:
        """A site's endpoint, `http://127.0.0.1:PORT/<name>/graphql`.

        Raises:
            KeyError: no site has this name.
        """
        if name not in self.sites:
            raise KeyError(f"No site named {name!r}; sites are {sorted(self.sites)}")
        return f"{self.base_url}/{name}/graphql"

    @property
    def data(self) -> ForumData:
        """The default site's data."""
        return self.default_site.data

    # -- request log ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests answered so far, oldest first (a copy)."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the logged requests."""
        with self._log_lock:
            self._log.clear()

    # -- serving --------------------------------------------------------------------------------

    def _dispatch(self, handler: _Handler, method: str) -> None:
        """Answer one HTTP request (called on the handler's thread).

        The request is logged before its response goes out, so a client that has its answer
        always finds the request in `requests`.
        """
        target = urlsplit(handler.path)
        if target.path.rstrip("/") == "/_control":
            self._control(handler, method)
            return
        record = RequestRecord(
            time=time.monotonic(),
            method=method,
            path=handler.path,
            site=None,
            headers={k.lower(): v for k, v in handler.headers.items()},
            client=(str(handler.client_address[0]), int(handler.client_address[1])),
        )
        try:
            response = self._serve(handler, record, target.path, target.query)
        except _HTTPError as e:
            response = e.response
        except (BrokenPipeError, ConnectionResetError):
            response = None
        except Exception as e:  # a bug here must reach the test, not hang the client
            traceback.print_exc()
            handler.close_connection = True
            body = json.dumps(_bad_request(f"Test server error: {e!r}", "INTERNAL_SERVER_ERROR"))
            response = _Response(500, body.encode("utf-8"))
        record.status = None if response is None or response.disconnect else response.status
        with self._log_lock:
            self._log.append(record)
        try:
            handler.write(response)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _site_for(self, path: str) -> Site | None:
        if path == "/graphql":
            return self.default_site
        parts = path.strip("/").split("/")
        return self.sites.get(parts[0]) if len(parts) == 2 and parts[1] == "graphql" else None

    def _serve(
        self, handler: _Handler, record: RequestRecord, path: str, query: str
    ) -> _Response | None:
        started = time.perf_counter()
        site = self._site_for(path)
        body = _read_body(handler) if record.method == "POST" else b""
        record.body = body.decode("utf-8", "replace")
        if site is None:
            page = b"<!DOCTYPE html><title>404: This page could not be found.</title>"
            return _Response(404, page, "text/html; charset=utf-8")
        record.site = site.name
        agent = record.headers.get("user-agent", "").lower()
        if not agent or agent.startswith(_BLOCKED_AGENTS):
            return _Response(403, b"Forbidden", "text/plain; charset=utf-8")
        payloads, record.batch = _payloads(site, record, body, query)
        record.operations = [op for p in payloads for op in site.describe(p)]
        fault = self.faults.take(record)
        record.fault = fault.kind if fault else None
        if fault is not None and fault.delay_s:
            waited = time.perf_counter()
            if self._stopping.wait(fault.delay_s):
                return None
            started += time.perf_counter() - waited
        if fault is not None and fault.kind in ("status", "challenge", "html_page", "disconnect"):
            return _fault_response(fault)
        status, results = _execute_all(site, payloads, record.batch)
        if fault is not None and fault.kind == "graphql_errors":
            results = [_inject_graphql_errors(r, fault) for r in results]
        encoded = json.dumps(
            results if record.batch else results[0], ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        record.server_time = time.perf_counter() - started
        if fault is not None and fault.kind == "truncated_json":
            half = len(encoded) // 2
            if fault.mid_stream:
                return _Response(status, encoded, send_bytes=half)
            return _Response(status, encoded[:half])
        if fault is not None and fault.kind == "malformed_json":
            encoded = encoded.replace(b'":', b'" ', 1)  # drop the first colon
        return _Response(status, encoded)

    def _control(self, handler: _Handler, method: str) -> None:
        try:
            payload = (
                json.loads(_read_body(handler) or b"{}")
                if method == "POST"
                else {"action": "status"}
            )
            answer = self._control_action(payload)
            status = 200
        except (ValueError, KeyError, TypeError) as e:
            answer, status = {"ok": False, "error": f"{type(e).__name__}: {e}"}, 400
        body = json.dumps(answer, ensure_ascii=False, default=str).encode("utf-8")
        handler.write(_Response(status, body))

    def _control_action(self, payload: Mapping[str, Any]) -> Doc:
        action = payload.get("action")
        if action == "push_fault":
            self.faults.push(Fault.from_json(payload["fault"]))
            return {"ok": True, "pending": len(self.faults)}
        if action == "clear_faults":
            self.faults.clear()
            return {"ok": True}
        if action == "log":
            since = int(payload.get("since") or 0)
            return {"ok": True, "requests": [r.to_json() for r in self.requests[since:]]}
        if action == "clear_log":
            self.clear_requests()
            return {"ok": True}
        if action == "mutate":
            method = payload.get("method")
            if method not in _MUTATIONS:
                raise ValueError(f"Unknown mutation {method!r}; use one of {', '.join(_MUTATIONS)}")
            data = self.sites[payload.get("site") or self.default_site.name].data
            return {"ok": True, "result": getattr(data, method)(**(payload.get("kwargs") or {}))}
        if action == "status":
            sites = {name: self.site_url(name) for name in self.sites}
            return {
                "ok": True,
                "sites": sites,
                "pending_faults": len(self.faults),
                "requests": len(self.requests),
            }
        raise ValueError(f"Unknown control action {action!r}")


def _read_body(handler: _Handler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while (size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        handler.rfile.readline()
        return b"".join(chunks)
    length = handler.headers.get("Content-Length")
    if length is None:
        if handler.command == "POST":
            handler.close_connection = True
            raise _HTTPError(411, b"Length Required", "text/plain; charset=utf-8")
        return b""
    return handler.rfile.read(int(length))


def _text_error(status: int, message: str) -> _HTTPError:
    return _HTTPError(status, message.encode("utf-8"), "text/plain; charset=utf-8")


def _payloads(site: Site, record: RequestRecord, body: bytes, query: str) -> tuple[list[Doc], bool]:
    headers = record.headers
    preflight = headers.get("x-apollo-operation-name") or headers.get("apollo-require-preflight")
    if record.method == "GET":
        if site.csrf_prevention and not preflight:
            raise _text_error(400, _CSRF_MESSAGE)
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            variables = json.loads(params["variables"]) if "variables" in params else None
        except ValueError as e:
            raise _text_error(400, "`variables` query parameter is not valid JSON.") from e
        get_payload = {
            "query": params.get("query"),
            "variables": variables,
            "operationName": params.get("operationName"),
        }
        return [get_payload], False
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if site.csrf_prevention and content_type in _SIMPLE_TYPES and not preflight:
        raise _text_error(400, _CSRF_MESSAGE)
    if content_type != "application/json":
        raise _text_error(
            400, "POST body missing, invalid Content-Type, or JSON object has no keys."
        )
    try:
        parsed = json.loads(body)
    except ValueError as e:
        raise _text_error(400, f"Invalid JSON body: {e}") from e
    batch = isinstance(parsed, list)
    items = parsed if batch else [parsed]
    if not items or not all(isinstance(i, dict) and i for i in items):
        raise _text_error(
            400, "POST body missing, invalid Content-Type, or JSON object has no keys."
        )
    return items, batch


def _execute_all(site: Site, payloads: list[Doc], batch: bool) -> tuple[int, list[Doc]]:
    answers = [site.execute(p) for p in payloads]
    statuses = {status for status, _ in answers}
    status = answers[0][0] if not batch else (400 if statuses == {400} else 200)
    return status, [result for _, result in answers]


def _fault_response(fault: Fault) -> _Response:
    if fault.kind == "disconnect":
        return _Response(0, b"", disconnect=True)
    content_type = fault.content_type or "text/plain; charset=utf-8"
    return _Response(
        fault.http_status, (fault.body or "").encode("utf-8"), content_type, fault.headers
    )


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the corpus until killed: `python -m tests.servers.forum --corpus shared/corpus`."""
    parser = argparse.ArgumentParser(prog="python -m tests.servers.forum", description=main.__doc__)
    parser.add_argument("--corpus", type=Path, default=None, help="the shared/corpus folder")
    parser.add_argument("--full", action="store_true", help="serve posts.jsonl.gz, not the sample")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated comments")
    parser.add_argument("--comments", default="0:12", help="comments per post, MIN:MAX")
    args = parser.parse_args(argv)
    corpus = args.corpus or find_corpus(Path.cwd())
    low, high = (int(x) for x in args.comments.split(":"))
    loaded = load_corpus_sites(
        corpus, full=args.full, seed=args.seed, per_post=(low, high), comments=high > 0
    )
    gc.freeze()  # keep ~1.5M loaded objects out of cyclic GC: its passes added 60-80 ms stalls
    sites = [
        Site.lesswrong(loaded["lesswrong"]),
        Site.alignmentforum(loaded["lesswrong"]),
        Site.eaforum(loaded["eaforum"]),
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ForumServer(host=args.host, port=args.port, sites=sites) as server:
        for name in server.sites:
            print(f"{name} {server.site_url(name)}", flush=True)
        print(f"control {server.control_url}", flush=True)
        print("ready", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
