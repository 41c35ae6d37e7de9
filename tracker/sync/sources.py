"""Syncing:

each source's pages upserted and committed with the cursor that covers them; one paper added by
reference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker import store
from tracker.config import FORUM_SOURCES, Settings, source_names
from tracker.errors import ConfigError, SourceError
from tracker.ingest.base import Batch, Source
from tracker.ingest.http import make_client
from tracker.store.engine import session_scope

if TYPE_CHECKING:
    import httpx

    from tracker.models import Document

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """How one source's sync went."""

    source: str
    counts: store.UpsertCounts = field(default_factory=store.UpsertCounts)
    failed: int = 0
    status: str = "running"
    error: str | None = None
    retry_after: datetime | None = None


BatchHook = Callable[[str, Batch, store.UpsertCounts], None]


def build_source(name: str, settings: Settings) -> Source:
    """The `Source` for a configured source name."""
    if name in FORUM_SOURCES:
        from tracker.ingest.forum import ForumSource

        return ForumSource(name, settings.sources.forum(name))
    if name == "arxiv":
        from tracker.ingest.arxiv import ArxivSource

        return ArxivSource(settings.sources.arxiv)
    if name == "feeds":
        from tracker.ingest.feeds import FeedsSource

        return FeedsSource(settings.sources.feeds)
    raise ConfigError(f"Unknown source '{name}'. Known sources: {', '.join(source_names())}")


def selected_sources(settings: Settings, names: Sequence[str]) -> list[str]:
    """The sources to sync: those named, or every enabled one."""
    known = source_names()
    for name in names:
        if name not in known:
            raise ConfigError(f"Unknown source '{name}'. Known sources: {', '.join(known)}")
    if names:
        return list(dict.fromkeys(names))
    return [name for name in known if settings.source(name).enabled]


def sync_source(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    since: datetime | None = None,
    on_batch: BatchHook | None = None,
) -> SyncReport:
    """Sync one source; a source failure is reported, not raised, so others can go on."""
    return run_source(engine, settings, name, build_source(name, settings), since=since,
                      on_batch=on_batch)


def run_source(
    engine: Engine,
    settings: Settings,
    name: str,
    source: Source,
    *,
    run_name: str | None = None,
    since: datetime | None = None,
    on_batch: BatchHook | None = None,
) -> SyncReport:
    """Run `source`'s batches into the store under `name`'s cursor and client, logging the
    run as `run_name` (default `name`; a backfill logs as `<name>/backfill`)."""
    report = SyncReport(source=name)
    with session_scope(engine) as session:
        run_id = store.start_run(session=session, source=run_name or name).id
        cursor = store.get_cursor(session=session, source=name)
    assert run_id is not None
    client = source_client(settings, name)
    try:
        for batch in source.fetch(client, cursor, since=since):
            counts = _commit_batch(engine, name, batch)
            report.counts.add(counts)
            report.failed += batch.failed
            if on_batch is not None:
                on_batch(name, batch, counts)
        report.status = "ok"
    except SourceError as e:
        report.status, report.error = "failed", e.msg
        report.retry_after = getattr(e, "retry_at", None)
        log.info("%s", e.msg)  # the report carries it: the CLI prints it once, serve logs it
    except BaseException:
        report.status, report.error = "interrupted", "the sync was interrupted; run it again"
        raise
    finally:
        client.close()
        with session_scope(engine) as session:
            store.finish_run(
                session=session, run_id=run_id, status=report.status, counts=report.counts,
                failed=report.failed, error=report.error, retry_after=report.retry_after,
            )
    return report


def _commit_batch(engine: Engine, name: str, batch: Batch) -> store.UpsertCounts:
    """Write a batch's documents, deletions and cursor in one transaction."""
    with session_scope(engine) as session:
        counts = store.upsert_documents(session=session, documents=batch.documents)
        for window in batch.windows:
            counts.deleted += store.mark_missing_deleted(
                session=session, source=window.source, kind=window.kind, start=window.start,
                end=window.end, seen=window.seen, af_only=window.af_only,
            )
        if batch.cursor:
            store.save_cursor(session=session, source=name, values=batch.cursor)
    return counts


# --- clients, one paper on demand, the feed list ---------------------------------------------


def source_client(settings: Settings, name: str) -> httpx.Client:
    """The polite HTTP client of one source, set up from its settings."""
    config = settings.source(name)
    return make_client(
        name,
        user_agent=settings.full_user_agent,
        delay=config.delay,
        timeout=config.timeout,
        max_retries=config.max_retries,
        backoff=config.backoff,
        max_backoff=config.max_backoff,
        extra_header=config.extra_header,
        max_bytes=getattr(config, "max_bytes", None),
    )


def add_paper(engine: Engine, settings: Settings, ref: str) -> tuple[Document, str]:
    """Fetch one arXiv paper now (`arxiv:ID`, a bare id or a URL) and store it.

    Returns the stored document and what happened to it: new, updated or unchanged.
    """
    from tracker.ingest.arxiv import ArxivSource, paper_id

    arxiv_id = paper_id(ref)
    if arxiv_id is None:
        raise ConfigError(f"'{ref}' is not an arXiv id or URL; give e.g. arxiv:2306.12345 or "
                          f"https://arxiv.org/abs/2306.12345")
    client = source_client(settings, "arxiv")
    try:
        document = ArxivSource(settings.sources.arxiv).fetch_one(client, arxiv_id)
    finally:
        client.close()
    with session_scope(engine) as session:
        counts = store.upsert_documents(session=session, documents=[document])
        stored = store.get_document(session=session, ref=f"arxiv:{document.native_id}")
    outcome = "new" if counts.new else "updated" if counts.updated else "unchanged"
    return stored, outcome
