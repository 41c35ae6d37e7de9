"""`tracker api`: the HTTP JSON API (FastAPI); OpenAPI at `/docs` and `/openapi.json`.

Reads are open on loopback (and need the token when one is set); writes exist only with
`api.writes` on and a token. Errors are `{"error": one line, "status": n}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from tracker import __version__
from tracker.api import schema
from tracker.api.desk import Desk, InputError, TooLarge, WritesOff
from tracker.api.guard import CALLER, BodyTooLarge, Guard
from tracker.config import Settings
from tracker.errors import ConfigError, NotFoundError, StoreError, TrackerError
from tracker.index.base import SearchFilters

_STATUS: list[tuple[type[Exception], int]] = [
    (NotFoundError, 404), (TooLarge, 413), (BodyTooLarge, 413), (WritesOff, 403),
    (InputError, 422), (ConfigError, 400), (StoreError, 422), (TrackerError, 400),
]


class SearchIn(BaseModel):
    """`POST /v1/search`: the query and the CLI's filters."""

    query: str
    source: list[str] = Field(default_factory=list)
    kind: list[str] = Field(default_factory=list)
    author: list[str] = Field(default_factory=list)
    tag: list[str] = Field(default_factory=list)
    since: date | None = None
    until: date | None = None
    min_score: float | None = None
    limit: int = 10


class TagIn(BaseModel):
    """`POST /v1/claims/{id}/tags`: anchor a quote of a document to a claim."""

    ref: str
    quote: str
    stance: str = "supports"
    note: str | None = None


class DecideIn(BaseModel):
    """`POST /v1/links/{id}/accept|reject`."""

    stance: str | None = None
    note: str | None = None


def make_app(engine: Engine, settings: Settings, reader: str = "") -> Any:
    """The ASGI app: FastAPI behind the size and token guard (and CORS when configured),
    acting for `reader` (default `settings.user`) or the reader a request's token names."""
    desk = Desk(engine, settings, reader)
    app = FastAPI(title="tracker", version=__version__,
                  description=f"Search, read and cite the tracker store. JSON schema version "
                              f"{schema.SCHEMA_VERSION}.")
    _errors(app)
    _reads(app, desk)
    _writes(app, desk)
    outer: Any = app
    if settings.api.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        outer = CORSMiddleware(app, allow_origins=settings.api.cors_origins,
                               allow_methods=["GET", "POST"],
                               allow_headers=["Authorization", "Content-Type"])
    return Guard(outer, settings.api, readers=desk.reader_for_token)


def _errors(app: FastAPI) -> None:
    def fail(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message.splitlines()[0] if message else "error",
                             "status": status}, status_code=status)

    async def known(_: Request, e: Exception) -> JSONResponse:
        status = next(code for kind, code in _STATUS if isinstance(e, kind))
        return fail(status, getattr(e, "msg", str(e)))

    # Expected failures are answered here, without a traceback in the log; anything else
    # reaches Starlette's 500 handler, which logs it.
    app.add_exception_handler(TrackerError, known)
    app.add_exception_handler(BodyTooLarge, known)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return fail(422, f"{where}: {first['msg']}")


def _filters(body: SearchIn) -> SearchFilters:
    def utc(day: date | None) -> datetime | None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None

    return SearchFilters(sources=tuple(body.source), kinds=tuple(body.kind),
                         authors=tuple(body.author), since=utc(body.since),
                         until=utc(body.until), min_score=body.min_score, tags=tuple(body.tag))


def _reads(app: FastAPI, desk: Desk) -> None:
    @app.get("/v1/search", response_model=schema.SearchOut)
    def search_get(q: str, source: Annotated[list[str], Query()] = [],  # noqa: B006
                   kind: Annotated[list[str], Query()] = [],  # noqa: B006
                   author: Annotated[list[str], Query()] = [],  # noqa: B006
                   tag: Annotated[list[str], Query()] = [],  # noqa: B006
                   since: date | None = None, until: date | None = None,
                   min_score: float | None = None, limit: int = 10) -> dict[str, Any]:
        """Search with the CLI's filters (`tracker search --json`, plus `cite`)."""
        body = SearchIn(query=desk.text(q, "the query"), source=source, kind=kind,
                        author=author, tag=tag, since=since, until=until,
                        min_score=min_score, limit=limit)
        return desk.search(body.query, _filters(body), body.limit)

    @app.post("/v1/search", response_model=schema.SearchOut)
    def search_post(body: SearchIn) -> dict[str, Any]:
        """The same search with a JSON body."""
        return desk.search(body.query, _filters(body), body.limit)

    @app.get("/v1/documents/{ref:path}", response_model=schema.DocumentOut)
    def document(ref: str) -> dict[str, Any]:
        """A document: metadata, text, passages with offsets, revisions (`tracker show`)."""
        return desk.document(ref)

    @app.get("/v1/passages/{passage_id}", response_model=schema.PassageOut)
    def passage(passage_id: int, around: int = 1) -> dict[str, Any]:
        """A passage with `around` passages either side and its document's citation."""
        return desk.passage(passage_id, around)

    @app.get("/v1/citations/{ref:path}", response_model=schema.CitationsOut)
    def citations(ref: str, direction: str = "cites") -> dict[str, Any]:
        """What a document cites, or (`direction=cited_by`) what cites it."""
        if direction not in ("cites", "cited_by"):
            raise InputError(f"direction '{direction}' is unknown: use cites or cited_by")
        return desk.citations(ref, direction == "cited_by")

    @app.get("/v1/claims", response_model=schema.ClaimsOut)
    def claims() -> dict[str, Any]:
        """Every claim with its counts (`tracker claim list`)."""
        return desk.claims()

    @app.get("/v1/claims/{claim_id}", response_model=schema.ClaimOut)
    def claim(claim_id: int) -> dict[str, Any]:
        """A claim, its links, and the confirmed ones by side."""
        return desk.claim(claim_id)

    @app.get("/v1/claims/{claim_id}/arguments", response_model=schema.ArgumentsOut)
    def arguments(claim_id: int, limit: int = 10) -> dict[str, Any]:
        """Supporting and opposing passages: confirmed first, then ranked suggestions."""
        return desk.arguments(claim_id, limit)

    @app.get("/v1/claims/{claim_id}/suggestions", response_model=schema.SuggestionsOut)
    def suggestions(claim_id: int, limit: int = 10) -> dict[str, Any]:
        """Ranked suggestions, not saved (POST saves them, with link ids to accept)."""
        return desk.suggestions(claim_id, limit, save=False)

    @app.get("/v1/argued-before", response_model=schema.ArguedOut)
    def argued_before(text: str, limit: int = 10) -> dict[str, Any]:
        """Has this been argued before? The earliest and the strongest posts that make the
        same argument as `text`, with dates, the matching quote and how often each is cited."""
        return desk.argued_before(text, limit)

    @app.get("/v1/digest/latest", response_model=schema.DigestOut)
    def digest() -> dict[str, Any]:
        """The newest weekly digest (Markdown)."""
        return desk.latest_digest()

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        """Liveness, the schema version and whether writes are on."""
        return {"ok": True, "schema_version": schema.SCHEMA_VERSION,
                "writes": desk.settings.api.writes}


def _writes(app: FastAPI, desk: Desk) -> None:
    def allowed() -> None:
        api = desk.settings.api
        if not api.writes:
            raise WritesOff("writes are off: set api.writes = true (and TRACKER_API__TOKEN) "
                            "to tag passages or decide on suggestions")
        caller = CALLER.get()
        if not (caller is not None and caller.token):
            raise WritesOff("writes need a token: set TRACKER_API__TOKEN, or issue a reader's "
                            "with `tracker reader token NAME`, and send it as "
                            "`Authorization: Bearer …`")

    @app.post("/v1/claims/{claim_id}/suggestions", response_model=schema.SuggestionsOut)
    def save_suggestions(claim_id: int, limit: int = 10) -> dict[str, Any]:
        """Rank suggestions and save them, so that they can be accepted or rejected."""
        allowed()
        return desk.suggestions(claim_id, limit, save=True)

    @app.post("/v1/claims/{claim_id}/tags", response_model=schema.LinkOut)
    def tag(claim_id: int, body: TagIn) -> dict[str, Any]:
        """Anchor a quote of a document to a claim (`tracker claim tag`)."""
        allowed()
        return desk.tag(claim_id, body.ref, body.quote, body.stance, body.note)

    @app.post("/v1/links/{link_id}/accept", response_model=schema.LinkOut)
    def accept(link_id: int, body: Annotated[DecideIn | None, Body()] = None) -> dict[str, Any]:
        """Confirm a suggested link (`tracker claim accept`)."""
        allowed()
        body = body or DecideIn()
        return desk.decide(link_id, accept=True, stance=body.stance, note=body.note)

    @app.post("/v1/links/{link_id}/reject", response_model=schema.LinkOut)
    def reject(link_id: int, body: Annotated[DecideIn | None, Body()] = None) -> dict[str, Any]:
        """Reject a suggested link (`tracker claim reject`)."""
        allowed()
        body = body or DecideIn()
        return desk.decide(link_id, accept=False, note=body.note)
