"""`Workbench`: the `tracker.tui.library.Library` protocol over one store."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlmodel import col, select

from tracker import paths, store
from tracker.config import Settings, source_names
from tracker.errors import TrackerError
from tracker.index.base import Embedder
from tracker.models import DEFAULT_READER, Digest
from tracker.store.engine import session_scope
from tracker.text import clean_text
from tracker.tui.library import (
    Argument,
    Citation,
    ClaimDetail,
    ClaimSummary,
    DigestEntry,
    Hit,
    IndexLine,
    Mark,
    Overview,
    Page,
    Precedent,
    Progress,
    ProgressHook,
    Query,
    SearchOutcome,
)
from tracker.workbench import records

if TYPE_CHECKING:
    from tracker.index.hybrid import HybridSearcher, SearchResult


_UI_GROUP = 128
_INDEX_PHASES = {"split": "splitting documents", "embed": "embedding passages"}



class Workbench:
    """`tracker.tui.library.Library` over one store.

    Args:
        engine: the store.
        settings: the configuration.
        embedder: used for queries and index runs instead of the configured model (tests).
    """

    def __init__(self, engine: Engine, settings: Settings, *,
                 embedder: Embedder | None = None, reader: str = DEFAULT_READER) -> None:
        self.engine, self.settings, self.embedder = engine, settings, embedder
        self.reader = reader
        """Whose claims, labels, reading history and digests the app shows and changes."""
        self._searcher: HybridSearcher | None = None
        self._notice = ""
        # One search at a time: the searcher's connections and query embedder are not shared
        # across threads, and a newer keystroke's search supersedes an older one anyway.
        self._lock = threading.RLock()
        self._cancel = threading.Event()

    # --- search -------------------------------------------------------------------------------

    def searcher(self) -> HybridSearcher:
        """The hybrid searcher, opened on first use and again after an index run."""
        with self._lock:
            if self._searcher is None:
                self._searcher = self._open_searcher()
                self._notice = records.index_notice(self._searcher)
            return self._searcher

    def _open_searcher(self) -> HybridSearcher:
        from tracker.search.searcher import open_searcher

        if self.embedder is None:
            return open_searcher(self.engine, self.settings)
        from tracker.index.backends import open_keyword_index, open_vector_index
        from tracker.index.catalog import Catalog
        from tracker.index.hybrid import HybridSearcher

        vectors = open_vector_index(self.engine, self.embedder.name, None, writable=False)
        keyword = open_keyword_index(self.engine, kind=self.settings.index.keyword_engine)
        return HybridSearcher(Catalog(self.engine), keyword, vectors,
                              self.embedder if vectors.count() else None)

    def _model(self) -> str:
        return self.embedder.name if self.embedder else self.settings.index.model

    def search(self, query: Query) -> SearchOutcome:
        """Documents best matching `query`, best first."""
        started = time.perf_counter()
        with self._lock:
            searcher = self.searcher()
            if self._notice.startswith("Nothing"):  # an index run may have split documents
                self._notice = records.index_notice(searcher)
            results = searcher.search(query.text, records.filters(query), limit=query.limit) \
                if query.text.strip() else []
            hits = self._hits(results, query.text)
        return SearchOutcome(query, hits, self._notice, time.perf_counter() - started)

    def _hits(self, results: Sequence[SearchResult], text: str) -> list[Hit]:
        from tracker.search.results import look_up, snippet_spans

        hits = []
        for rank, result, doc, passage in look_up(results, self.searcher().catalog):
            snippet, spans = snippet_spans(passage.text if passage else "", text)
            at = passage.start if passage is not None else None
            hits.append(records.hit(doc, rank, result.score, snippet, spans, at))
        return hits

    def sources(self) -> list[str]:
        """Source names with documents, then enabled sources without any yet."""
        from tracker.index.catalog import Catalog

        stored = Catalog(self.engine).source_names()
        names = [n for n in source_names() if n != "feeds"]
        enabled = [n for n in names if self.settings.source(n).enabled]
        return list(dict.fromkeys([*stored, *enabled]))

    # --- reading ------------------------------------------------------------------------------

    def page(self, document_id: int) -> Page:
        """A document with its thread, header facts and claim marks; records the reading."""
        with session_scope(self.engine) as session:
            doc = records.document(session, document_id)
            public = store.to_public(session=session, document=doc, reader=self.reader)
            thread = store.get_thread(session=session, post=doc) if doc.kind == "post" else []
            parent_id = None
            if doc.kind == "comment" and doc.post_id:
                parent = records.lookup(session, f"{doc.source}:{doc.post_id}")
                parent_id = parent.id if parent else None
            facts = records.facts(session, public)
            comments = records.comments(session, thread)
            marks = records.marks(session, document_id, self.reader)
            if self.settings.digest.implicit_interests:
                from tracker.service.interests import record_reading

                record_reading(session=session, document_id=document_id, reader=self.reader)
        return Page(
            document_id=document_id, title=clean_text(doc.title) or "(untitled)",
            authors=clean_text(", ".join(a.name for a in public.authors)),
            date=records.day(doc.posted_at), source=doc.source, kind=doc.kind,
            url=clean_text(doc.url) if doc.url else None,
            karma=doc.score, af=doc.af, deleted=doc.deleted, facts=facts,
            body=clean_text(doc.body_text), parent_id=parent_id, comments=comments, marks=marks,
        )

    def citations(self, document_id: int) -> list[Citation]:
        """What the document links to, in text order (one row per distinct target)."""
        with session_scope(self.engine) as session:
            rows = store.outgoing_links(session=session, document_id=document_id)
        return records.citations(rows)

    def cited_by(self, document_id: int) -> list[Citation]:
        """What links to the document, newest first."""
        with session_scope(self.engine) as session:
            rows = store.incoming_links(session=session, document_id=document_id)
        return records.citations(rows)

    def similar(self, document_id: int, limit: int = 10) -> list[Hit]:
        """Documents nearest in meaning; empty when nothing is embedded."""
        with self._lock:
            searcher = self.searcher()
            if not searcher.has_vectors:
                return []
            return self._hits(searcher.similar(document_id, limit=limit), "")

    def argued(self, text: str, limit: int = 5) -> list[Precedent]:
        """Posts that made this argument before: the earliest first, then the strongest."""
        from tracker.claims.argued import argued_before

        with self._lock:
            report = argued_before(self.engine, self.settings, text, limit=limit,
                                   searcher=self.searcher())
        return [Precedent(p.document_id, which, clean_text(p.title),
                          ", ".join(clean_text(a) for a in p.authors),
                          f"{p.posted_at:%Y-%m-%d}" if p.posted_at else "", p.source, p.kind,
                          p.url, p.cited_by, p.start)
                for which, posts in (("earliest", report.earliest),
                                     ("strongest", report.strongest)) for p in posts]

    # --- claims -------------------------------------------------------------------------------

    def claims(self) -> list[ClaimSummary]:
        """Every live claim, newest first."""
        with session_scope(self.engine) as session:
            rows = store.list_claims(session=session, reader=self.reader)
            counts = store.count_links(session=session, claim_ids=[c.id or 0 for c in rows])
        return [records.summary(c.id or 0, c.text, counts.get(c.id or 0, {}))
                for c in reversed(rows)]

    def claim(self, claim_id: int) -> ClaimDetail:
        """One claim with its confirmed and stale arguments and its open suggestions."""
        with session_scope(self.engine) as session:
            found = store.get_claim(session=session, claim_id=claim_id, reader=self.reader)
            assert found.id is not None
            counts = store.count_links(session=session, claim_ids=[found.id])[found.id]
            links = store.claim_links(session=session, claim_id=found.id,
                                       statuses=("confirmed", "stale", "suggested"))
            arguments = records.arguments(session, links)
        summary = records.summary(found.id, found.text, counts)
        suggested = sorted((a for a in arguments if a.status == "suggested"),
                           key=lambda a: -(a.score or 0.0))
        kept = [a for a in arguments if a.status != "suggested"]
        return ClaimDetail(summary, kept, suggested)

    def add_claim(self, text: str) -> ClaimSummary:
        """A new claim."""
        with session_scope(self.engine) as session:
            made = store.add_claim(session=session, text=text, reader=self.reader)
        return records.summary(made.id or 0, made.text, {})

    def tag(self, document_id: int, start: int, end: int, claim_id: int, stance: str,
            note: str | None = None) -> Mark:
        """Anchor `body[start:end]` (as the reader shows it) to the claim with a stance."""
        with session_scope(self.engine) as session:
            doc = records.document(session, document_id)
            body = doc.body_text
            if not 0 <= start < end <= len(body) or not body[start:end].strip():
                raise TrackerError("Select some text of the document first (v, then move)")
            link, _found = store.tag(
                session=session, claim_id=claim_id, reader=self.reader, document=doc,
                quote=body[start:end],
                stance=stance, note=note, prefix=body[max(0, start - 64):start],
                suffix=body[end:end + 64])
            claim = store.get_claim(session=session, claim_id=link.claim_id, reader=self.reader)
        return records.mark(link, claim.text)

    def suggest(self, claim_id: int, limit: int = 10) -> list[Argument]:
        """Find and save new suggestions for the claim."""
        from tracker.claims.suggest import suggest_claim

        with self._lock:
            searcher = self.searcher()
            if not searcher.keyword.count():
                raise TrackerError("Nothing is indexed yet: run the index from the status "
                                   "screen (i) first")
            suggest_claim(self.engine, self.settings, claim_id, limit=limit, searcher=searcher,
                          reader=self.reader)
        return self.claim(claim_id).suggestions

    def accept(self, link_id: int, stance: str | None = None) -> Argument:
        """Confirm a link, optionally with another stance."""
        with session_scope(self.engine) as session:
            link = store.accept_link(session=session, link_id=link_id, stance=stance,
                                     reader=self.reader)
            return records.arguments(session, [link])[0]

    def reject(self, link_id: int) -> Argument:
        """Reject a suggestion for good."""
        with session_scope(self.engine) as session:
            link = store.reject_link(session=session, link_id=link_id, reader=self.reader)
            return records.arguments(session, [link])[0]

    # --- status, sync, index ------------------------------------------------------------------

    def overview(self) -> Overview:
        """Sources, their last syncs and errors, and the index state."""
        from tracker.index.catalog import Catalog
        from tracker.search.indexing import chunk_version
        from tracker.store import passages
        from tracker.store.coverage import tier_coverage
        from tracker.sync.backfill import history_hint

        names = list(source_names())
        with session_scope(self.engine) as session:
            rows = store.source_status(session=session, sources=names)
            total = store.count_documents(session=session)
            to_split = passages.count_documents_to_split(
                session=session, version=chunk_version(self.settings))
            to_embed = passages.count_passages_to_embed(session=session, model=self._model())
            [tier] = tier_coverage(session=session, models=[self._model()])
        count = Catalog(self.engine).count_passages()
        eta = f"{tier.eta_seconds / 3600:.1f} h" if tier.eta_seconds else ""
        index = IndexLine(model=self._model(), documents=total, passages=count,
                          embedded=count - to_embed, to_split=to_split, to_embed=to_embed,
                          eta=eta)
        lines = [records.source_line(row, self.settings.source(row.source).enabled) for row in rows]
        database = self.settings.sqlalchemy_url.split("://", 1)[0].split("+", 1)[0]
        hint = history_hint(self.engine, self.settings) or ""
        return Overview(database, total, lines, index, hint)

    def sync(self, sources: Sequence[str], progress: ProgressHook) -> list[str]:
        """Sync the sources in turn (all enabled when empty); one summary line each."""
        from tracker.sync.sources import selected_sources, sync_source

        names = selected_sources(self.settings, list(sources))
        self._cancel.clear()
        lines = []
        for number, name in enumerate(names):
            totals = store.UpsertCounts()
            progress(Progress(name, number, len(names), f"{name}: starting"))

            def hook(source: str, batch: object, counts: store.UpsertCounts,
                     totals: store.UpsertCounts = totals, number: int = number) -> None:
                totals.add(counts)
                self._stop_if_cancelled("sync")
                progress(Progress(source, number, len(names),
                                  f"{source}: {totals.new} new, {totals.updated} updated"))

            report = sync_source(self.engine, self.settings, name, on_batch=hook)
            line = (f"{name}: {report.status} · {report.counts.new} new, "
                    f"{report.counts.updated} updated")
            lines.append(line + (f" · {clean_text(report.error)}" if report.error else ""))
        progress(Progress("sync", len(names), len(names), "; ".join(lines)))
        return lines

    def index(self, progress: ProgressHook) -> str:
        """Split and embed what is new, then reopen the searcher; a summary line."""
        from tracker.search.indexing import index_documents

        self._cancel.clear()

        def hook(phase: str, done: int, total: int) -> None:
            self._stop_if_cancelled("index run")
            label = _INDEX_PHASES.get(phase, phase)
            progress(Progress(phase, done, total, f"{label} {done}/{total}"))

        # Smaller groups than `tracker index` (512): the progress hook, which is where a
        # cancel takes effect, runs once per group (~4 s of embedding for 128 on 2 cores).
        config = self.settings.index.model_copy(
            update={"group_size": min(self.settings.index.group_size, _UI_GROUP)})
        settings = self.settings.model_copy(update={"index": config})
        report = index_documents(self.engine, settings, embedder=self.embedder, progress=hook)
        with self._lock:
            self._searcher = None
        return (f"index: {report.documents} documents split, {report.passages_added} passages "
                f"added, {report.embedded} embedded"
                + (f", {report.pending} still to embed" if report.pending else ""))

    def cancel(self) -> None:
        """Stop a running sync or index run at its next checkpoint."""
        self._cancel.set()

    def _stop_if_cancelled(self, what: str) -> None:
        if self._cancel.is_set():
            raise TrackerError(f"The {what} was stopped; start it again to go on where it "
                               f"stopped", title="Stopped")

    # --- digests ------------------------------------------------------------------------------

    def digests(self) -> list[DigestEntry]:
        """Digests built so far, newest first."""
        with session_scope(self.engine) as session:
            rows = session.exec(select(Digest).where(col(Digest.reader) == self.reader)
                                .order_by(col(Digest.week).desc())).all()
            return [DigestEntry(r.week, len(r.item_ids), records.minute(r.created_at))
                    for r in rows]

    def digest(self, week: str | None = None) -> tuple[str, str]:
        """The week's digest as Markdown (built and written if needed)."""
        from tracker.service import render
        from tracker.service.digest import build_digest, parse_week, previous_week, record_digest
        from tracker.service.render import digest_dir, write_digest

        tz = self.settings.digest.timezone
        week = (week or previous_week(datetime.now(UTC), tz)).strip().upper()
        parse_week(week)
        folder = digest_dir(paths.data_dir())
        folder = folder if self.reader == DEFAULT_READER else folder / self.reader
        saved = folder / f"{week}.md"
        if saved.exists():
            return week, clean_text(saved.read_text(encoding="utf-8"))
        with session_scope(self.engine) as session:
            built = build_digest(session=session, settings=self.settings.digest, week=week,
                                 reader=self.reader)
            record_digest(session=session, digest=built)
        write_digest(built, folder)
        return week, clean_text(render.markdown(built))


# --- helpers ----------------------------------------------------------------------------------
