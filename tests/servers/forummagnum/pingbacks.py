"""ForumMagnum's `htmlToPingbacks`: which stored posts and users a body links to."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.servers.forummagnum.base import EAFORUM_ORIGIN, LESSWRONG_ORIGIN, Doc

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


def find_pingbacks(body: str | None, origin: str, posts: Mapping[str, Any],
                   users_by_slug: Mapping[str, str]) -> Doc:
    """On-site links in `body`, as `{"Posts": [ids], "Users": [ids]}`."""
    found: dict[str, list[str]] = {}
    for href in _HREF.findall(body or ""):
        collection, doc_id = _route(href, origin, posts, users_by_slug)
        if doc_id is not None and doc_id not in found.setdefault(collection, []):
            found[collection].append(doc_id)
    return {k: v for k, v in found.items() if v}


def _route(href: str, origin: str, posts: Mapping[str, Any],
           users_by_slug: Mapping[str, str]) -> tuple[str, str | None]:
    try:
        parts = urlsplit(html_lib.unescape(href).strip())
    except ValueError:  # real bodies hold hrefs like "http://[broken"
        return "Posts", None
    if parts.path == "/out" and "url=" in parts.query:
        target = unquote(parse_qs(parts.query).get("url", [""])[0])
        return _route(target, origin, posts, users_by_slug)
    host = (parts.hostname or "").removeprefix("www.")
    if host and host not in _ONSITE_HOSTS.get(origin, frozenset()):
        return "Posts", None
    if m := _POST_ROUTE.match(parts.path):
        post_id = m[1] or m[2]
        return "Posts", post_id if post_id in posts else None
    if m := _USER_ROUTE.match(parts.path):
        return "Users", users_by_slug.get(m[1])
    return "Tags", None
