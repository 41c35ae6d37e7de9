"""Shared by every module of the forum test server: the document type, the site origins
and the resolver error."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]

LESSWRONG_ORIGIN = "https://www.lesswrong.com"
ALIGNMENTFORUM_ORIGIN = "https://www.alignmentforum.org"
EAFORUM_ORIGIN = "https://forum.effectivealtruism.org"


class QueryError(Exception):
    """A resolver error: the site answers HTTP 200, nulls the field and lists it in errors[]."""
