"""`tracker mcp`: the store as tools for AI assistants (official MCP SDK, stdio or HTTP).

Results are compact and always carry what an assistant needs to cite: title, authors, date,
URL, and the quote with its character offsets in the document's text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from tracker import __version__
from tracker.api.desk import Desk, WritesOff
from tracker.config import Settings
from tracker.errors import TrackerError
from tracker.index.base import SearchFilters

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

INSTRUCTIONS = (
    "Tools over the user's local library of AI-alignment posts, comments and papers "
    "(LessWrong, Alignment Forum, EA Forum, arXiv, blogs). Use `search` to find documents, "
    "`read` to quote them (cite title, authors, date and URL from `cite`), `citations` to "
    "follow references, `list_claims` and `find_arguments` for the arguments on both sides "
    "of a claim the user tracks."
)


def make_server(engine: Engine, settings: Settings, reader: str = "") -> MCPServer[Any]:
    """The MCP server with its tools, acting for `reader` (default `settings.user`) unless an
    HTTP request carries a reader's token; `tag_passage` only when `api.writes` is on."""
    return _server(Desk(engine, settings, reader))


def _server(desk: Desk) -> MCPServer[Any]:
    from mcp.server.mcpserver import MCPServer

    settings = desk.settings
    server = MCPServer("tracker", instructions=INSTRUCTIONS, version=__version__)
    _read_tools(server, desk)
    _claim_tools(server, desk)
    if settings.api.writes:
        _write_tools(server, desk)
    return server


def _compact_hit(row: dict[str, Any]) -> dict[str, Any]:
    passage = row["passage"]
    return {"rank": row["rank"], "cite": row["cite"],
            "quote": passage["text"] if passage else None,
            "start": passage["start"] if passage else None,
            "end": passage["end"] if passage else None,
            "passage_id": passage["id"] if passage else None}


def _answers(function: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Expected failures (an unknown id, a bad date) become one-line tool errors the assistant
    reads; the SDK would otherwise hide them behind "Error executing tool"."""
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return function(*args, **kwargs)
        except TrackerError as e:
            raise ToolError(e.msg) from e
        except ValueError as e:
            raise ToolError(str(e)) from e

    return wrapped


def _read_tools(server: MCPServer[Any], desk: Desk) -> None:
    @server.tool(description=(
        "Search the user's library by meaning and keywords. Filters: source (lesswrong, "
        "alignmentforum, eaforum, arxiv or a feed name), kind (post, comment, paper, entry), "
        "author, since/until (YYYY-MM-DD). Returns ranked hits, each with `cite` (title, "
        "authors, date, url, document_id) and the best matching passage as `quote` with "
        "character offsets; pass `passage_id` to `read` for more context."))
    @_answers
    def search(query: str, source: str | None = None, kind: str | None = None,
               author: str | None = None, since: str | None = None,
               until: str | None = None, limit: int = 8) -> dict[str, Any]:
        filters = SearchFilters(
            sources=(source,) if source else (), kinds=(kind,) if kind else (),
            authors=(author,) if author else (), since=_day(since, "since"),
            until=_day(until, "until"))
        data = desk.search(query, filters, limit)
        return {"query": data["query"], "results": [_compact_hit(r) for r in data["results"]]}

    @server.tool(description=(
        "Read a document (by document_id, site id, source:id or URL) or, with passage_id, a "
        "window of `around` passages either side of one passage. Returns `cite` (title, "
        "authors, date, url) and passages with character offsets into the document's text. "
        "A whole document is cut to `max_chars` characters."))
    @_answers
    def read(ref: str | None = None, passage_id: int | None = None, around: int = 1,
             max_chars: int = 12000) -> dict[str, Any]:
        if passage_id is not None:
            return desk.passage(passage_id, around)
        if not ref:
            raise ValueError("give `ref` (a document) or `passage_id` (a passage)")
        doc = desk.document(ref)
        text = doc["body_text"]
        return {"cite": _doc_cite(doc), "text": text[:max_chars],
                "truncated": len(text) > max_chars, "revision": doc["content_hash"],
                "passages": [{k: p[k] for k in ("id", "start", "end")} for p in doc["passages"]],
                "comments": len(doc["comments"])}

    @server.tool(description=(
        "Follow citations: what a document cites (direction='cites') or which stored "
        "documents cite it (direction='cited_by'). Resolved targets carry their document id "
        "and title; unresolved ones only the URL."))
    @_answers
    def citations(ref: str, direction: str = "cites") -> dict[str, Any]:
        if direction not in ("cites", "cited_by"):
            raise ValueError("direction must be 'cites' or 'cited_by'")
        return desk.citations(ref, direction == "cited_by")


def _claim_tools(server: MCPServer[Any], desk: Desk) -> None:
    @server.tool(description=(
        "List the claims the user tracks, with counts of supporting, opposing and "
        "mentioning passages. Use a claim's id with `find_arguments`."))
    @_answers
    def list_claims() -> dict[str, Any]:
        return {"claims": [{"id": c["id"], "text": c["text"], "counts": c.get("counts")}
                           for c in desk.claims()["claims"]]}

    @server.tool(description=(
        "The arguments for and against one claim: passages the user confirmed (origin "
        "'confirmed') first, then ranked suggestions from the library (origin 'suggested'), "
        "listed separately as `supporting` and `opposing`, each with `cite` and the quote "
        "with offsets."))
    @_answers
    def find_arguments(claim_id: int, limit: int = 10) -> dict[str, Any]:
        data = desk.arguments(claim_id, limit)
        return {"claim": {"id": data["claim"]["id"], "text": data["claim"]["text"]},
                "supporting": data["supporting"], "opposing": data["opposing"]}


    @server.tool(description=(
        "Has this been argued before? Given an argument in the user's words (a sentence or "
        "a paragraph of a draft), the earliest posts in the library that make the same "
        "argument and the strongest ones (closest, and cited by the others), each with "
        "`cite`, the date and the matching quote with offsets, so the writer can cite the "
        "original."))
    @_answers
    def argued_before(text: str, limit: int = 5) -> dict[str, Any]:
        data = desk.argued_before(text, limit)
        return {"earliest": [_argued(p) for p in data["earliest"]],
                "strongest": [_argued(p) for p in data["strongest"]]}


def _argued(post: dict[str, Any]) -> dict[str, Any]:
    return {"cite": {"document_id": post["document_id"], "title": post["title"],
                     "authors": post["authors"], "date": post["posted_at"], "url": post["url"]},
            "quote": post["quote"], "start": post["start"], "end": post["end"],
            "cited_by": post["cited_by"]}


def _write_tools(server: MCPServer[Any], desk: Desk) -> None:
    @server.tool(description=(
        "Tag a passage of a document as supporting, opposing or mentioning a claim: the "
        "quote must be the document's words (spacing and quote marks may differ). Writes to "
        "the user's library."))
    @_answers
    def tag_passage(claim_id: int, ref: str, quote: str,
                    stance: str = "supports", note: str | None = None) -> dict[str, Any]:
        if not desk.settings.api.writes:
            raise WritesOff("writes are off (api.writes)")
        data = desk.tag(claim_id, ref, quote, stance, note)
        return {"link_id": data["id"], "stance": data["stance"], "start": data["start"],
                "end": data["end"], "matched": data["matched"], "cite": data["cite"]}


def _doc_cite(doc: dict[str, Any]) -> dict[str, Any]:
    return {"document_id": doc["id"], "ref": f"{doc['source']}:{doc['native_id']}",
            "kind": doc["kind"], "title": doc["title"],
            "authors": [a["name"] for a in doc["authors"]], "date": doc["posted_at"],
            "url": doc["url"]}


def _day(value: str | None, name: str) -> Any:
    from datetime import UTC, datetime

    if not value:
        return None
    for pattern in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"{name} '{value}' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")


def run_stdio(engine: Engine, settings: Settings, reader: str = "") -> None:
    """Serve MCP over stdin/stdout for `reader` (desktop and terminal assistants start this)."""
    make_server(engine, settings, reader).run("stdio")


def http_app(engine: Engine, settings: Settings, reader: str = "") -> Any:
    """The streamable-HTTP MCP app at `/mcp`, behind the size and token guard; a request with
    a reader's token acts for that reader, as in `tracker api`."""
    from tracker.api.guard import Guard

    desk = Desk(engine, settings, reader)
    app = _server(desk).streamable_http_app(
        max_request_body_size=settings.api.max_body_bytes, host=settings.api.host)
    return Guard(app, settings.api, readers=desk.reader_for_token)
