"""The JSON shapes the API, the MCP server and the CLI's `--json` share (versioned).

The CLI sits above this room and imports these builders, so `tracker links --json` and
`GET /v1/citations/{ref}` print one document. Every string that came from a site passes
through `clean_text` (and URLs through `safe_url`) here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from tracker import store
from tracker.claims.map import claim_json, document_json
from tracker.claims.suggest import SuggestReport
from tracker.index.catalog import DocumentInfo, PassageInfo
from tracker.index.suggest import Suggestion
from tracker.models import ClaimLink, Document
from tracker.text import clean_text, safe_url

SCHEMA_VERSION = 1
"""Bumped when a field changes meaning or goes away; new fields may appear within a version."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- documents and links ---------------------------------------------------------------------


def show_json(session: Session, document: Document,
              reader: str = store.DEFAULT_READER) -> dict[str, Any]:
    """The `tracker show --json` document: metadata, body, comments, the same work elsewhere;
    the tags are the forum's and `reader`'s own."""
    assert document.id is not None
    public = store.to_public(session=session, document=document, reader=reader)
    data = public.model_dump(mode="json")
    for key in ("title", "body_text"):
        data[key] = clean_text(data[key] or "")
    data["url"], data["link_url"] = safe_url(data["url"]), safe_url(data["link_url"])
    data["authors"] = [{**a, "name": clean_text(a["name"])} for a in data["authors"]]
    thread = store.get_thread(session=session, post=document) if document.kind == "post" else []
    data["comments"] = [{"id": c.id, "native_id": c.native_id, "parent_id": c.parent_id,
                         "deleted": c.deleted} for c in thread]
    data["same_work"] = [
        {"id": d.id, "source": d.source, "native_id": d.native_id, "kind": d.kind,
         "url": safe_url(d.url), "title": clean_text(d.title), "reason": reason}
        for d, reason in store.same_work(session=session, document_id=document.id)
    ]
    return data


def links_json(document: Document, rows: Sequence[store.LinkRow], cited_by: bool) -> dict[str, Any]:
    """The `tracker links --json` document."""
    return {
        "document": {"id": document.id, "source": document.source,
                     "native_id": document.native_id, "title": clean_text(document.title)},
        "direction": "cited_by" if cited_by else "cites",
        "links": [
            {
                "url": safe_url(row.url) or clean_text(row.url), "kind": row.kind,
                "anchor_text": clean_text(row.anchor_text) if row.anchor_text else row.anchor_text,
                "target_key": row.target_key,
                "document": None if row.document is None else {
                    "id": row.document.id, "source": row.document.source,
                    "native_id": row.document.native_id, "kind": row.document.kind,
                    "title": clean_text(row.document.title),
                },
            }
            for row in rows
        ],
    }


def passage_json(passage: PassageInfo) -> dict[str, Any]:
    """A passage with its character offsets in the document's `body_text`."""
    return {"id": passage.id, "ordinal": passage.ordinal, "start": passage.start,
            "end": passage.end, "text": clean_text(passage.text)}


def cite_info(doc: DocumentInfo) -> dict[str, Any]:
    """What an assistant needs to cite a search hit: title, authors, date, URL."""
    title = doc.title or (doc.post.title if doc.post is not None else "")
    return {"document_id": doc.id, "ref": f"{doc.source}:{doc.native_id}", "kind": doc.kind,
            "title": clean_text(title), "authors": [clean_text(a) for a in doc.authors],
            "date": _iso(doc.posted_at), "url": safe_url(doc.url)}


def cite_ref(ref: store.DocumentRef | None) -> dict[str, Any] | None:
    """The same citation facts for a claim link's document."""
    if ref is None:
        return None
    return {"document_id": ref.id, "ref": f"{ref.source}:{ref.native_id}", "kind": ref.kind,
            "title": clean_text(ref.title), "authors": [clean_text(a) for a in ref.authors],
            "date": _iso(ref.posted_at), "url": safe_url(ref.url)}


# --- OpenAPI: the envelopes (the documents inside are described in README / docs) ------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(BaseModel):
    """Every error: one line naming the input and the fix."""

    error: str
    status: int


class SearchOut(_Open):
    """`tracker search --json`: the query, the filters and ranked results."""

    schema_version: int
    query: str
    filters: dict[str, Any]
    results: list[dict[str, Any]]


class DocumentOut(_Open):
    """`tracker show --json` plus `passages` (offsets into `body_text`) and `revisions`."""

    schema_version: int
    id: int
    title: str
    url: str | None
    body_text: str
    content_hash: str
    passages: list[dict[str, Any]]
    revisions: list[dict[str, Any]]


class PassageOut(_Open):
    """A window of passages around one, with the citation of its document."""

    schema_version: int
    cite: dict[str, Any]
    passage_id: int
    passages: list[dict[str, Any]]


class CitationsOut(_Open):
    """`tracker links --json`."""

    schema_version: int
    document: dict[str, Any]
    direction: str
    links: list[dict[str, Any]]


class ClaimsOut(_Open):
    """`tracker claim list --json`."""

    schema_version: int
    claims: list[dict[str, Any]]


class ClaimOut(_Open):
    """`tracker claim show --json` plus the confirmed links by side."""

    schema_version: int
    claim: dict[str, Any]
    links: list[dict[str, Any]]
    sides: dict[str, list[dict[str, Any]]]


class ArgumentsOut(_Open):
    """A claim's arguments: confirmed passages and ranked suggestions, for and against."""

    schema_version: int
    claim: dict[str, Any]
    supporting: list[dict[str, Any]]
    opposing: list[dict[str, Any]]


class ArguedOut(_Open):
    """`tracker argued --json`: `earliest` and `strongest` posts for an argument."""

    schema_version: int
    earliest: list[dict[str, Any]]
    strongest: list[dict[str, Any]]


class SuggestionsOut(_Open):
    """`tracker claim suggest --json`."""

    schema_version: int
    claim: dict[str, Any]
    suggestions: list[dict[str, Any]]


class DigestOut(_Open):
    """The newest weekly digest as Markdown."""

    schema_version: int
    week: str
    markdown: str


class LinkOut(_Open):
    """A claim link after a write (`tracker claim tag|accept|reject --json`)."""

    schema_version: int
    id: int
    status: str
    stance: str


# --- claims ----------------------------------------------------------------------------------


def suggest_json(report: SuggestReport) -> dict[str, Any]:
    """The `tracker claim suggest --json` document: all suggestions, and each side ranked."""

    return {
        "claim": claim_json(report.claim),
        "learning": {"confirmed": report.confirmed, "rejected": report.rejected,
                     "classifier": report.classifier, "stance_model": report.stance_model,
                     "stance_labels": report.stance_labels, "vectors": report.vectors},
        "suggestions": _suggestion_rows(report, report.suggestions),
        "supporting": _suggestion_rows(report, report.supporting),
        "opposing": _suggestion_rows(report, report.opposing),
    }


def _suggestion_rows(report: SuggestReport,
                     found: Sequence[tuple[Suggestion, ClaimLink]]) -> list[dict[str, Any]]:
    from tracker.text import clean_text

    rows = []
    for rank, (hit, link) in enumerate(found, start=1):
        passage = report.passages[hit.passage_id]
        rows.append({
            "rank": rank, "link_id": link.id, "score": round(hit.score, 6),
            "stance": hit.stance, "stance_confidence": round(hit.stance_confidence, 3),
            "classifier": None if hit.classifier is None else round(hit.classifier, 4),
            "claim_rank": hit.claim_rank, "example_rank": hit.example_rank,
            "passage": {"id": passage.id, "start": passage.start, "end": passage.end,
                        "text": clean_text(passage.text)},
            "document": document_json(report.documents.get(hit.document_id)),
        })
    return rows
