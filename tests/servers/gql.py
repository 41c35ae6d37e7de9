"""GraphQL helpers for the ForumMagnum test server's own tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpus"
FIXTURES = SHARED / "fixtures" / "lesswrong"
UA = {"User-Agent": "tracker-tests/0.1 (+https://example.invalid; contact: tests@example.invalid)"}
SAME_TS = "2019-06-01T12:00:00.000Z"
POST_FIELDS = "_id slug title pageUrl postedAt createdAt modifiedAt baseScore af question htmlBody"
COMMENT_FIELDS = "_id postId parentCommentId topLevelCommentId parentAnswerId answer postedAt af"


def posts_query(terms: str, fields: str = POST_FIELDS) -> str:
    return f"{{ posts(input: {{terms: {{{terms}}}}}) {{ totalCount results {{ {fields} }} }} }}"


def comments_query(terms: str, fields: str = COMMENT_FIELDS) -> str:
    return f"{{ comments(input: {{terms: {{{terms}}}}}) {{ results {{ {fields} }} }} }}"


def post_gql(client: httpx.Client, url: str, query: str, **variables: Any) -> httpx.Response:
    return client.post(url, json={"query": query, "variables": variables})


def results(response: httpx.Response, root: str = "posts") -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"][root]["results"]  # type: ignore[no-any-return]


QUERY = posts_query('view: "new", limit: 3', "_id title")
