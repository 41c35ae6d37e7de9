"""What the HTTP API and the MCP server can do with the store: one object, both front ends.

Requests name documents, claims and links only by reference (ids, native ids, URLs) and
search by words; no SQL, table or file path from a request reaches the store. Inputs are
bounded by `[api]` (`max_query_chars`, `max_results`) before any work is done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from tracker import paths, store
from tracker.api.guard import CALLER
from tracker.api.schema import (
    SCHEMA_VERSION,
    cite_info,
    cite_ref,
    links_json,
    passage_json,
    show_json,
    suggest_json,
)
from tracker.claims.map import claim_json, link_json
from tracker.config import Settings
from tracker.errors import NotFoundError, TrackerError
from tracker.index.base import SearchFilters
from tracker.store.engine import session_scope
from tracker.text import clean_text

if TYPE_CHECKING:
    from tracker.index.hybrid import HybridSearcher

SIDES = {"supports": "supporting", "opposes": "opposing"}


class InputError(TrackerError):
    """A request asked for too much or named nothing usable (HTTP 422)."""


class TooLarge(TrackerError):
    """A query or quote over `api.max_query_chars` (HTTP 413)."""


class WritesOff(TrackerError):
    """A write while `api.writes` is off, or without the token (HTTP 403)."""


@dataclass
class Desk:
    """The store, the searcher and the limits, shared by every request (thread-safe)."""

    engine: Engine
    settings: Settings
    reader: str = ""
    """The server's reader: `settings.user` unless given. A request with a reader's token acts
    for that reader instead (`acting`)."""

    def __post_init__(self) -> None:
        with session_scope(self.engine) as session:
            self.reader = store.check_reader(session=session,
                                             name=self.reader or self.settings.user)
        self._lock = threading.Lock()
        self._searcher: HybridSearcher | None = None

    def acting(self) -> str:
        """The reader this request acts for: its token's reader, else the server's."""
        caller = CALLER.get()
        return caller.reader if caller is not None and caller.reader else self.reader

    def reader_for_token(self, token: str) -> str | None:
        """The reader whose API token this is (one indexed look-up), or None."""
        with session_scope(self.engine) as session:
            return store.reader_for_token(session=session, token=token)

    # --- limits ------------------------------------------------------------------------------

    def text(self, value: str, what: str) -> str:
        """A query, quote or note within `api.max_query_chars`, else `TooLarge`."""
        limit = self.settings.api.max_query_chars
        if len(value) > limit:
            raise TooLarge(f"{what} is {len(value)} characters; at most {limit} are accepted "
                           f"(api.max_query_chars)")
        return value

    def limit(self, wanted: int) -> int:
        """A result count within 1..`api.max_results`."""
        most = self.settings.api.max_results
        if not 1 <= wanted <= most:
            raise InputError(f"limit {wanted} is out of range: ask for 1 to {most} results "
                             f"(api.max_results)")
        return wanted

    # --- search ------------------------------------------------------------------------------

    @property
    def searcher(self) -> HybridSearcher:
        """One searcher for the process, opened on first use (the query model loads once)."""
        with self._lock:
            if self._searcher is None:
                from tracker.search.searcher import open_searcher

                self._searcher = open_searcher(self.engine, self.settings)
            return self._searcher

    def search(self, query: str, filters: SearchFilters, limit: int) -> dict[str, Any]:
        """`tracker search --json` plus `cite` on each result."""
        from tracker.search.results import results_json

        query = self.text(query, "the query").strip()
        if not query:
            raise InputError("the query is empty: give some words to search for")
        if filters.tags:  # a tag filter matches the forum's tags and the reader's own
            filters = replace(filters, reader=self.acting())
        searcher = self.searcher
        results = searcher.search(query, filters, limit=self.limit(limit))
        data = results_json(query, results, searcher.catalog, filters)
        docs = searcher.catalog.documents(r["document"]["id"] for r in data["results"])
        for row in data["results"]:
            row["cite"] = cite_info(docs[row["document"]["id"]])
        return {"schema_version": SCHEMA_VERSION, **data}

    # --- documents ---------------------------------------------------------------------------

    def document(self, ref: str) -> dict[str, Any]:
        """`tracker show --json` plus passages with offsets and the earlier revisions."""
        from tracker.index.catalog import Catalog

        with session_scope(self.engine) as session:
            found = store.get_document(session=session, ref=self.text(ref, "the reference"))
            assert found.id is not None
            data = show_json(session, found, self.acting())
            revisions = [{"id": r.id, "content_hash": r.content_hash,
                          "modified_at": r.modified_at.isoformat() if r.modified_at else None,
                          "recorded_at": r.recorded_at.isoformat() if r.recorded_at else None}
                         for r in store.get_revisions(session=session, document_id=found.id)]
        passages = Catalog(self.engine).document_passages(found.id)
        return {"schema_version": SCHEMA_VERSION, **data,
                "passages": [passage_json(p) for p in passages], "revisions": revisions}

    def passage(self, passage_id: int, around: int = 1) -> dict[str, Any]:
        """A passage and `around` passages either side, with the citation of its document."""
        from tracker.index.catalog import Catalog

        catalog = Catalog(self.engine)
        found = catalog.passages([passage_id]).get(passage_id)
        if found is None:
            raise NotFoundError(f"No passage with id {passage_id}: passage ids come from "
                                f"search results or a document's `passages`")
        if not 0 <= around <= 5:
            raise InputError(f"around {around} is out of range: 0 to 5 passages either side")
        siblings = catalog.document_passages(found.document_id)
        at = next(i for i, p in enumerate(siblings) if p.id == passage_id)
        window = siblings[max(at - around, 0): at + around + 1]
        doc = catalog.documents([found.document_id])[found.document_id]
        return {"schema_version": SCHEMA_VERSION, "cite": cite_info(doc),
                "passage_id": passage_id, "passages": [passage_json(p) for p in window]}

    def citations(self, ref: str, cited_by: bool) -> dict[str, Any]:
        """`tracker links --json`: what a document cites, or what cites it."""
        with session_scope(self.engine) as session:
            found = store.get_document(session=session, ref=self.text(ref, "the reference"))
            assert found.id is not None
            rows = (store.incoming_links if cited_by else store.outgoing_links)(
                session=session, document_id=found.id)
            return {"schema_version": SCHEMA_VERSION, **links_json(found, rows, cited_by)}

    # --- claims ------------------------------------------------------------------------------

    def claims(self) -> dict[str, Any]:
        """`tracker claim list --json`."""
        with session_scope(self.engine) as session:
            rows = store.list_claims(session=session, reader=self.acting())
            counts = store.count_links(session=session, claim_ids=[c.id or 0 for c in rows])
            return {"schema_version": SCHEMA_VERSION,
                    "claims": [claim_json(c, counts[c.id or 0]) for c in rows]}

    def claim(self, claim_id: int) -> dict[str, Any]:
        """`tracker claim show --json` plus the confirmed links by side."""
        with session_scope(self.engine) as session:
            found = store.get_claim(session=session, claim_id=claim_id, reader=self.acting())
            counts = store.count_links(session=session, claim_ids=[found.id or 0])[found.id or 0]
            links = store.claim_links(session=session, claim_id=found.id or 0)
            docs = store.document_refs(session=session, document_ids=[k.document_id
                                                                      for k in links])
        rows = [_with_cite(link_json(k, docs.get(k.document_id)), docs.get(k.document_id))
                for k in links]
        sides: dict[str, list[dict[str, Any]]] = {"supports": [], "opposes": [], "mentions": []}
        for row in rows:
            if row["status"] == "confirmed":
                sides[row["stance"]].append(row)
        return {"schema_version": SCHEMA_VERSION, "claim": claim_json(found, counts),
                "links": rows, "sides": sides}

    def suggestions(self, claim_id: int, limit: int, *, save: bool) -> dict[str, Any]:
        """`tracker claim suggest --json`; saved (with link ids to accept) only when `save`."""
        from tracker.claims.suggest import suggest_claim

        report = suggest_claim(self.engine, self.settings, claim_id, limit=self.limit(limit),
                               searcher=self.searcher, save=save, reader=self.acting())
        data = suggest_json(report)
        for row in (*data["suggestions"], *data["supporting"], *data["opposing"]):
            row["cite"] = cite_ref(report.documents.get(row["document"]["id"])
                                   if row["document"] else None)
        return {"schema_version": SCHEMA_VERSION, **data}

    def arguments(self, claim_id: int, limit: int) -> dict[str, Any]:
        """Passages for and against a claim: confirmed ones first, then each side's ranked
        suggestions (the opposing side searched for on purpose: negation, rebuttals)."""
        shown = self.claim(claim_id)
        suggested = self.suggestions(claim_id, limit, save=False)
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "claim": shown["claim"]}
        for stance, side in SIDES.items():
            confirmed = [_argument(row, "confirmed") for row in shown["sides"][stance]]
            out[side] = confirmed + [_suggested(row) for row in suggested[side]]
        return out

    def argued_before(self, text: str, limit: int) -> dict[str, Any]:
        """`tracker argued --json`: the earliest and the strongest posts making the argument."""
        from tracker.claims.argued import argued_before

        report = argued_before(self.engine, self.settings, self.text(text, "text"),
                               limit=self.limit(limit), searcher=self.searcher)
        return {"schema_version": SCHEMA_VERSION, **report.to_json()}

    # --- the digest --------------------------------------------------------------------------

    def latest_digest(self) -> dict[str, Any]:
        """The newest weekly digest written by `tracker digest` or `tracker serve`."""
        from tracker.service.render import digest_dir

        folder = digest_dir(paths.data_dir())
        weeks = sorted(folder.glob("*-W*.md")) if folder.is_dir() else []
        if not weeks:
            raise NotFoundError("No digest has been written yet: run `tracker digest`")
        latest = weeks[-1]
        return {"schema_version": SCHEMA_VERSION, "week": latest.stem,
                "markdown": clean_text(latest.read_text(encoding="utf-8"))}

    # --- writes (the caller checks `api.writes` and the token) -------------------------------

    def tag(self, claim_id: int, ref: str, quote: str, stance: str,
            note: str | None) -> dict[str, Any]:
        """`tracker claim tag --json`: anchor a quote of a document to a claim."""
        if stance not in store.STANCES:
            raise InputError(f"stance '{stance}' is unknown: use one of "
                             f"{', '.join(store.STANCES)}")
        with session_scope(self.engine) as session:
            document = store.get_document(session=session, ref=self.text(ref, "the reference"))
            link, found = store.tag(session=session, claim_id=claim_id, reader=self.acting(),
                                    document=document,
                                     quote=self.text(quote, "the quote"), stance=stance,
                                     note=self.text(note, "the note") if note else None)
            docs = store.document_refs(session=session, document_ids=[link.document_id])
        data = link_json(link, docs.get(link.document_id))
        return {"schema_version": SCHEMA_VERSION, **data, "matched": found.level,
                "cite": cite_ref(docs.get(link.document_id))}

    def decide(self, link_id: int, *, accept: bool, stance: str | None = None,
               note: str | None = None) -> dict[str, Any]:
        """`tracker claim accept|reject --json`: decide on a suggested link."""
        if stance is not None and stance not in store.STANCES:
            raise InputError(f"stance '{stance}' is unknown: use one of "
                             f"{', '.join(store.STANCES)}")
        note = self.text(note, "the note") if note else None
        with session_scope(self.engine) as session:
            if accept:
                link = store.accept_link(session=session, link_id=link_id, reader=self.acting(),
                                         stance=stance,
                                          note=note)
            else:
                link = store.reject_link(session=session, link_id=link_id, reader=self.acting(),
                                         note=note)
            docs = store.document_refs(session=session, document_ids=[link.document_id])
        return {"schema_version": SCHEMA_VERSION, **link_json(link, docs.get(link.document_id))}


def _with_cite(row: dict[str, Any], ref: store.DocumentRef | None) -> dict[str, Any]:
    row["cite"] = cite_ref(ref)
    return row


def _argument(row: dict[str, Any], origin: str) -> dict[str, Any]:
    return {"origin": origin, "link_id": row["id"], "stance": row["stance"],
            "score": row["score"], "quote": row["quote"], "start": row["start"],
            "end": row["end"], "note": row["note"], "cite": row["cite"]}


def _suggested(row: dict[str, Any]) -> dict[str, Any]:
    passage = row["passage"]
    return {"origin": "suggested", "link_id": row["link_id"], "stance": row["stance"],
            "score": row["score"], "stance_confidence": row["stance_confidence"],
            "quote": passage["text"], "start": passage["start"], "end": passage["end"],
            "passage_id": passage["id"], "cite": row["cite"]}
