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

The code lives in the `tests.servers.forummagnum` package; this module re-exports its public
names and is the command-line entry point.
"""

from __future__ import annotations

import sys

from tests.servers.forummagnum.base import (
    ALIGNMENTFORUM_ORIGIN,
    EAFORUM_ORIGIN,
    LESSWRONG_ORIGIN,
    Doc,
    QueryError,
)
from tests.servers.forummagnum.cli import main
from tests.servers.forummagnum.corpus import (
    AI_TAG,
    CORPUS_FULL,
    CORPUS_SAMPLE,
    FORUMS,
    CommentText,
    build_comment_threads,
    find_corpus,
    load_comment_texts,
    load_corpus_posts,
    load_corpus_sites,
    make_same_timestamp_posts,
    make_user,
    paragraph_texts,
    sample_sites,
    split_by_site,
)
from tests.servers.forummagnum.data import ForumData
from tests.servers.forummagnum.execution import terms_from_arguments
from tests.servers.forummagnum.faults import Fault, FaultQueue, Match
from tests.servers.forummagnum.query import MAX_DOCUMENTS, MAX_SKIP, QueryResult
from tests.servers.forummagnum.records import OperationInfo, RequestRecord
from tests.servers.forummagnum.schema import SCHEMA_PATH, load_schema
from tests.servers.forummagnum.server import ForumServer
from tests.servers.forummagnum.site import Site
from tests.servers.forummagnum.text import (
    derive_id,
    html_to_markdown,
    html_to_text,
    markdown_to_html,
    slugify,
    word_count,
)
from tests.servers.forummagnum.timestamps import format_timestamp, parse_timestamp, utc_now

__all__ = [
    "AI_TAG",
    "ALIGNMENTFORUM_ORIGIN",
    "CORPUS_FULL",
    "CORPUS_SAMPLE",
    "EAFORUM_ORIGIN",
    "FORUMS",
    "LESSWRONG_ORIGIN",
    "MAX_DOCUMENTS",
    "MAX_SKIP",
    "SCHEMA_PATH",
    "CommentText",
    "Doc",
    "Fault",
    "FaultQueue",
    "ForumData",
    "ForumServer",
    "Match",
    "OperationInfo",
    "QueryError",
    "QueryResult",
    "RequestRecord",
    "Site",
    "build_comment_threads",
    "derive_id",
    "find_corpus",
    "format_timestamp",
    "html_to_markdown",
    "html_to_text",
    "load_comment_texts",
    "load_corpus_posts",
    "load_corpus_sites",
    "sample_sites",
    "load_schema",
    "main",
    "make_same_timestamp_posts",
    "make_user",
    "markdown_to_html",
    "paragraph_texts",
    "parse_timestamp",
    "slugify",
    "split_by_site",
    "terms_from_arguments",
    "utc_now",
    "word_count",
]

if __name__ == "__main__":
    sys.exit(main())
