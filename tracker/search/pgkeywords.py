"""The anchor evidence of the PostgreSQL keyword index kept in step with the links.

A trigger on `link` queues each document whose incoming links changed (a link stored,
resolved later, retargeted or removed) in the same transaction as the change; `tracker index`
then gathers those documents' evidence (`tracker.store.evidence.anchor_evidence`, the same
text the tantivy side indexes) and replaces their rows, forgetting the queue rows it applied
in that transaction, so an interrupted run replays idempotent work.
"""

from __future__ import annotations

from sqlalchemy import Engine

from tracker.index.pgvector import PgKeywordIndex
from tracker.store.engine import session_scope


def sync_anchors(engine: Engine, index: PgKeywordIndex | None = None) -> int:
    """Apply every queued anchor change; returns how many documents were re-indexed."""
    from tracker.store.evidence import anchor_evidence

    index = index or PgKeywordIndex(engine)
    index.ensure()
    done = 0
    while True:
        last_seq, document_ids = index.pending()
        if not last_seq:
            return done
        with session_scope(engine) as session:
            evidence = anchor_evidence(session=session, document_ids=document_ids)
        index.set_anchors(document_ids, evidence, last_seq)
        done += len(document_ids)
