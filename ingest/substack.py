"""Substack's undocumented archive API, for backfilling what the 20-item feed leaves out.

`/api/v1/archive?sort=new&limit=50&offset=N` lists posts (no bodies) until it returns `[]`;
`/api/v1/posts/<slug>` gives one post with `body_html` (reference/sources.md §3.2). Either may
change without notice, so every answer is checked and a change fails one feed, clearly.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError


class SubstackError(Exception):
    """The archive API failed or answered something unexpected."""


class _Byline(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None


class ArchivePost(BaseModel):
    """A post as the archive (or the post endpoint) describes it."""

    model_config = ConfigDict(extra="ignore")
    slug: str
    title: str = ""
    subtitle: str | None = None
    description: str | None = None
    canonical_url: str | None = None
    post_date: datetime | None = None
    audience: str | None = None
    """everyone | only_paid | founding: paid posts come with a truncated body."""
    publishedBylines: list[_Byline] = []  # noqa: N815 (Substack's field name)
    truncated_body_text: str | None = None
    body_html: str | None = None


def archive_page(
    client: httpx.Client, feed_url: str, *, offset: int, limit: int
) -> list[ArchivePost]:
    """One page of the archive, newest first; empty at the end."""
    params = {"sort": "new", "limit": str(limit), "offset": str(offset)}
    data = _get_json(client, f"{_root(feed_url)}/api/v1/archive", params)
    if not isinstance(data, list):
        raise _changed("the archive answer is not a JSON list")
    try:
        return [ArchivePost.model_validate(item) for item in data if isinstance(item, dict)]
    except ValidationError as e:
        raise _changed(f"an archive post lacks expected fields ({e.error_count()} errors)") from e


def archive_post(client: httpx.Client, feed_url: str, slug: str) -> ArchivePost:
    """One post with its `body_html`."""
    data = _get_json(client, f"{_root(feed_url)}/api/v1/posts/{quote(slug, safe='')}", {})
    try:
        return ArchivePost.model_validate(data)
    except ValidationError as e:
        raise _changed(f"the post {slug} lacks expected fields") from e


def _get_json(client: httpx.Client, url: str, params: dict[str, str]) -> Any:
    response = client.get(url, params=params)
    if response.status_code != 200:
        raise SubstackError(f"the Substack archive at {url} answered HTTP {response.status_code}; "
                        f"the backfill resumes from here on the next sync")
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _changed(f"{url} did not answer JSON ({type(e).__name__})") from e


def _changed(detail: str) -> SubstackError:
    return SubstackError(f"Substack backfill: {detail}; Substack may have changed its API "
                     f"(set sources.feeds.backfill = false to skip it)")


def _root(feed_url: str) -> str:
    parts = urlsplit(feed_url)
    return f"{parts.scheme}://{parts.netloc}"
