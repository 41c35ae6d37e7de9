"""The store's side of getting the whole history: which documents already own a key (so an
import updates them instead of adding a copy), and how far back each source reaches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.models import Document, DocumentAlias
from tracker.store.sql import bounded_key, chunks
from tracker.store.syncstate import _source_filter


def owners_of_keys(
    *, session: Session, keys: Sequence[str]
) -> dict[str, tuple[str, str, str]]:
    """Key → (source, native_id, kind) of the stored document that answers to it."""
    found: dict[str, tuple[str, str, str]] = {}
    wanted = {bounded_key(key): key for key in keys}
    for chunk in chunks(list(wanted)):
        stmt = (
            select(DocumentAlias.key, Document.source, Document.native_id, Document.kind)
            .join(Document, col(Document.id) == col(DocumentAlias.document_id))
            .where(col(DocumentAlias.key).in_(chunk))
        )
        for key, source, native_id, kind in session.execute(stmt):
            found[wanted[key]] = (source, native_id, kind)
    return found


def reach(*, session: Session, sources: Sequence[str]) -> dict[str, datetime | None]:
    """The oldest `posted_at` stored per source (`alignmentforum` counts AF documents)."""
    result: dict[str, datetime | None] = {}
    for source in sources:
        stmt = select(func.min(Document.posted_at)).where(_source_filter(source))
        oldest = session.execute(stmt).scalar_one_or_none()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)  # SQLite returns naive UTC from an aggregate
        result[source] = oldest
    return result
