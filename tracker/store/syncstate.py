"""Sync bookkeeping: cursors, runs, per-source status, and deletions found by a complete re-read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, update
from sqlmodel import Session, col, select

from tracker.errors import NotFoundError
from tracker.models import (
    Document,
    SyncRun,
    SyncState,
    utcnow,
)
from tracker.store.documents import UpsertCounts
from tracker.store.sql import chunks


@dataclass
class SourceStatus:
    """Counts and sync health of one source, for `tracker status`."""

    source: str
    documents: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    last_run: SyncRun | None = None
    last_success: datetime | None = None
    last_error: SyncRun | None = None


def mark_missing_deleted(
    *,
    session: Session,
    source: str,
    kind: str,
    start: datetime,
    end: datetime,
    seen: Iterable[str],
    af_only: bool = False,
) -> int:
    """Mark stored documents in a completely listed window that the site no longer lists."""
    conditions = [
        col(Document.source) == source,
        col(Document.kind) == kind,
        col(Document.posted_at) >= start,
        col(Document.posted_at) < end,
        col(Document.deleted).is_(False),
    ]
    if af_only:
        conditions.append(col(Document.af).is_(True))
    stored = session.execute(select(Document.id, Document.native_id).where(*conditions)).all()
    seen_ids = set(seen)
    gone = [doc_id for doc_id, native_id in stored if native_id not in seen_ids]
    for chunk in chunks(gone):
        session.execute(
            update(Document).where(col(Document.id).in_(chunk)).values(deleted=True)
        )
    return len(gone)


# --- sync state ------------------------------------------------------------------------------


def get_cursor(*, session: Session, source: str) -> dict[str, str]:
    """The saved stream → value map of one source."""
    stmt = select(SyncState.stream, SyncState.value).where(col(SyncState.source) == source)
    return {stream: value for stream, value in session.execute(stmt)}


def save_cursor(*, session: Session, source: str, values: Mapping[str, str]) -> None:
    """Save cursor values; call in the transaction that wrote the rows they cover."""
    now = utcnow()
    for stream, value in values.items():
        row = session.get(SyncState, (source, stream))
        if row is None:
            session.add(SyncState(source=source, stream=stream, value=value, updated_at=now))
        else:
            row.value = value
            row.updated_at = now
    session.flush()


def delete_cursor(*, session: Session, source: str, stream: str) -> None:
    """Forget one cursor stream (an unsubscribed feed)."""
    session.execute(
        delete(SyncState).where(col(SyncState.source) == source, col(SyncState.stream) == stream)
    )


def count_by_source(*, session: Session, sources: Sequence[str]) -> dict[str, int]:
    """Stored, not deleted documents per `source` value (feeds store entries by feed name)."""
    found: dict[str, int] = {}
    for chunk in chunks(list(sources)):
        stmt = (
            select(Document.source, func.count())
            .where(col(Document.source).in_(chunk), col(Document.deleted).is_(False))
            .group_by(Document.source)
        )
        found.update({source: n for source, n in session.execute(stmt)})
    return found


def start_run(*, session: Session, source: str) -> SyncRun:
    """Record that a sync of `source` started; runs left `running` by a killed process end."""
    session.execute(
        update(SyncRun)
        .where(col(SyncRun.source) == source, col(SyncRun.status) == "running")
        .values(status="interrupted", error="the process stopped before the sync finished")
    )
    run = SyncRun(source=source, started_at=utcnow(), status="running")
    session.add(run)
    session.flush()
    return run


def finish_run(
    *,
    session: Session,
    run_id: int,
    status: str,
    counts: UpsertCounts,
    failed: int = 0,
    error: str | None = None,
    retry_after: datetime | None = None,
) -> SyncRun:
    """Record how a sync ended."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise NotFoundError(f"No sync run with id {run_id}")
    run.status = status
    run.finished_at = utcnow()
    run.new, run.updated, run.unchanged = counts.new, counts.updated, counts.unchanged
    run.failed = failed
    run.error = error
    run.retry_after = retry_after
    session.flush()
    return run


def source_status(*, session: Session, sources: Sequence[str]) -> list[SourceStatus]:
    """Per-source document counts and the latest runs. `alignmentforum` counts AF documents."""
    result = []
    for source in sources:
        status = SourceStatus(source=source)
        where = _source_filter(source)
        stmt = (
            select(Document.kind, func.count())
            .where(where, col(Document.deleted).is_(False))
            .group_by(Document.kind)
        )
        status.documents = {kind: n for kind, n in session.execute(stmt)}
        status.deleted = session.execute(
            select(func.count()).where(where, col(Document.deleted).is_(True))
        ).scalar_one()
        runs = select(SyncRun).where(col(SyncRun.source) == source)
        status.last_run = session.exec(runs.order_by(col(SyncRun.id).desc()).limit(1)).first()
        ok = runs.where(col(SyncRun.status) == "ok").order_by(col(SyncRun.id).desc()).limit(1)
        last_ok = session.exec(ok).first()
        status.last_success = last_ok.finished_at if last_ok else None
        failed = runs.where(col(SyncRun.error).is_not(None)).order_by(col(SyncRun.id).desc())
        status.last_error = session.exec(failed.limit(1)).first()
        result.append(status)
    return result


def _source_filter(source: str) -> Any:
    # Alignment Forum documents are LessWrong documents with `af` set (one row, never two).
    if source == "alignmentforum":
        return and_(col(Document.source) == "lesswrong", col(Document.af).is_(True))
    # Feed entries are stored under each feed's own name; only feeds write entries.
    if source == "feeds":
        return col(Document.kind) == "entry"
    return col(Document.source) == source


# --- reading documents -----------------------------------------------------------------------
