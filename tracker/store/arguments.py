"""SQL for arguments: who cites a document, the thread facts stance reads, every stance label."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from tracker.models import DEFAULT_READER, Claim, ClaimLink, Document, Link
from tracker.store.readers import visible_claims
from tracker.store.sql import chunks


def citing_documents(*, session: Session, document_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each document, the other stored documents whose bodies link to it."""
    found: dict[int, set[int]] = {d: set() for d in document_ids}
    for chunk in chunks(list(found)):
        stmt = sql_select(col(Link.target_document_id), col(Link.document_id)).where(
            col(Link.target_document_id).in_(chunk))
        for target, source in session.execute(stmt):
            if source != target:
                found[target].add(source)
    return found


@dataclass(frozen=True)
class ThreadFacts:
    """What stance reads from the forum about a document besides its words."""

    kind: str
    title: str
    parent_document_id: int | None
    """The comment or post a comment replies to, where it is stored."""
    agreement: float | None


def thread_facts(*, session: Session, document_ids: Iterable[int]) -> dict[int, ThreadFacts]:
    """Kind, title, what it replies to and its agreement votes, per document."""
    rows: dict[int, tuple[str, str, str, str | None, str | None, float | None]] = {}
    for chunk in chunks(list(dict.fromkeys(document_ids))):
        stmt = sql_select(col(Document.id), col(Document.kind), col(Document.title),
                          col(Document.source), col(Document.parent_id), col(Document.post_id),
                          col(Document.extra)).where(col(Document.id).in_(chunk))
        for doc_id, kind, title, source, parent, post, extra in session.execute(stmt):
            agreement = (extra or {}).get("agreement") if isinstance(extra, dict) else None
            value = float(agreement) if isinstance(agreement, int | float) else None
            rows[doc_id] = (kind, title, source, parent, post, value)
    wanted = {(r[2], r[3] or r[4]) for r in rows.values() if r[0] == "comment" and (r[3] or r[4])}
    parents: dict[tuple[str, str], int] = {}
    for source, native in wanted:
        stmt = sql_select(col(Document.id)).where(col(Document.source) == source,
                                                   col(Document.native_id) == native)
        found = session.execute(stmt).scalar()
        if found is not None:
            parents[(source, native or "")] = int(found)
    return {doc_id: ThreadFacts(kind, title, parents.get((source, parent or post or "")), agree)
            for doc_id, (kind, title, source, parent, post, agree) in rows.items()}


def stance_labels(*, session: Session, reader: str = DEFAULT_READER) -> list[tuple[Claim,
                  ClaimLink]]:
    """Every confirmed supports/opposes link of every live claim `reader` sees (their own and
    shared ones): what stance learns from, so one reader's labels never train another's."""
    stmt = sql_select(Claim, ClaimLink).join(Claim, col(Claim.id) == col(ClaimLink.claim_id)) \
        .where(col(ClaimLink.status) == "confirmed",
               col(ClaimLink.stance).in_(("supports", "opposes")),
               col(Claim.merged_into).is_(None), visible_claims(reader)).order_by(col(ClaimLink.id))
    return [(claim, link) for claim, link in session.execute(stmt)]
