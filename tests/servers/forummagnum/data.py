"""ForumData: the posts and comments of one site, their indexes, queries and mutations."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from tests.servers.forummagnum.base import LESSWRONG_ORIGIN, Doc
from tests.servers.forummagnum.pingbacks import find_pingbacks
from tests.servers.forummagnum.query import (
    _COMMENT_DEFAULT_VIEW,
    _COMMENT_VIEWS,
    _IN_MEMORY_SORT_LIMIT,
    _POST_DEFAULT_VIEW,
    _POST_VIEWS,
    _SORT_BY,
    QueryResult,
    _comment_filter,
    _CommentFilter,
    _id_set,
    _limit,
    _offset,
    _page,
    _PostFilter,
    _sorted,
    _SortedIndex,
    _View,
)
from tests.servers.forummagnum.text import slugify, word_count
from tests.servers.forummagnum.timestamps import parse_timestamp, utc_now

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

    def copy(self) -> ForumData:
        """An independent copy that a test may mutate without touching this one."""
        with self.lock:
            posts = copy.deepcopy(list(self.posts.values()))
            comments = copy.deepcopy(list(self.comments.values()))
        return ForumData(posts, comments, origin=self.origin)

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
        return find_pingbacks(body, self.origin, self.posts, self._users_by_slug)

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
