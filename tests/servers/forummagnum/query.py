"""Query semantics of ForumMagnum's views: sorted indexes, views and terms, filters, paging."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from tests.servers.forummagnum.base import Doc, QueryError
from tests.servers.forummagnum.timestamps import parse_timestamp

MAX_DOCUMENTS = 5000  # maxDocumentsPerRequest in LW's server/settings/sharedSettings.ts
MAX_SKIP = 2000  # maxAllowedApiSkip, lib/instanceSettings.ts (PR #6347)


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
