"""Claims: add, edit, merge, delete, list, and the labels people gave their links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from tracker.errors import NotFoundError, TrackerError
from tracker.models import (
    DEFAULT_READER,
    Claim,
    ClaimLink,
    utcnow,
)
from tracker.store.readers import visible_claims
from tracker.store.sql import chunks

STANCES = ("supports", "opposes", "mentions")
STATUSES = ("confirmed", "stale", "suggested", "rejected")
MAX_CLAIM_CHARS = 4000


@dataclass
class DocumentRef:
    """What claim listings and exports show of a linked document."""

    id: int
    source: str
    native_id: str
    kind: str
    title: str
    url: str | None
    posted_at: datetime | None
    content_hash: str
    deleted: bool
    authors: list[str] = field(default_factory=list)


@dataclass
class Suggested:
    """A passage `claim suggest` proposes, to be saved as a `suggested` link."""

    document_id: int
    passage_id: int
    start: int
    end: int
    score: float
    stance: str


@dataclass
class Labels:
    """What the user has decided for one claim: the examples suggestions learn from."""

    confirmed: list[ClaimLink]
    rejected: list[ClaimLink]
    stale: list[ClaimLink]
    passages: dict[int, int]
    """Link id → the current passage its span lies in (most overlap), where there is one."""


# --- claims ------------------------------------------------------------------------------------


def clean_claim_text(text: str) -> str:
    """A claim's text as stored: control characters gone, whitespace runs as one space."""
    from tracker.text import clean_text

    cleaned = " ".join(clean_text(text).split())
    if not cleaned:
        raise TrackerError('A claim needs text, e.g. `tracker claim add "Deceptive alignment is '
                           'likely by default"`')
    if len(cleaned) > MAX_CLAIM_CHARS:
        raise TrackerError(f"The claim text has {len(cleaned)} characters; state the claim in at "
                           f"most {MAX_CLAIM_CHARS} and quote the argument with `claim tag`")
    return cleaned


def add_claim(*, session: Session, text: str, reader: str = DEFAULT_READER) -> Claim:
    """Store a new claim, private to `reader` until shared."""
    now = utcnow()
    claim = Claim(text=clean_claim_text(text), created_at=now, updated_at=now, owner=reader)
    session.add(claim)
    session.flush()
    return claim


def get_claim(*, session: Session, claim_id: int, reader: str = DEFAULT_READER,
              follow: bool = True) -> Claim:
    """A claim `reader` may see, by id; with `follow`, a merged claim gives the claim it was
    merged into. Another reader's unshared claim is answered as if it did not exist."""
    claim = session.get(Claim, claim_id)
    if claim is None or not (claim.owner == reader or claim.shared):
        raise NotFoundError(f"No claim {claim_id}. `tracker claim list` shows the claims reader "
                            f"'{reader}' sees (their own and shared ones)")
    seen = {claim_id}
    while follow and claim.merged_into is not None and claim.merged_into not in seen:
        seen.add(claim.merged_into)
        target = session.get(Claim, claim.merged_into)
        if target is None:
            break
        claim = target
    return claim


def list_claims(*, session: Session, reader: str = DEFAULT_READER,
                merged: bool = False) -> list[Claim]:
    """The claims `reader` sees (their own and shared ones), oldest first; merged ones only with
    `merged`."""
    stmt = select(Claim).where(visible_claims(reader))
    if not merged:
        stmt = stmt.where(col(Claim.merged_into).is_(None))
    return list(session.exec(stmt.order_by(col(Claim.id))))


def count_links(*, session: Session, claim_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per claim: confirmed links by stance, and stale, suggested and rejected links."""
    counts: dict[int, dict[str, int]] = {
        i: {"supports": 0, "opposes": 0, "mentions": 0, "stale": 0, "suggested": 0,
            "rejected": 0} for i in claim_ids}
    for chunk in chunks(list(claim_ids)):
        stmt = (sql_select(col(ClaimLink.claim_id), col(ClaimLink.status), col(ClaimLink.stance),
                           func.count())
                .where(col(ClaimLink.claim_id).in_(chunk))
                .group_by(col(ClaimLink.claim_id), col(ClaimLink.status), col(ClaimLink.stance)))
        for claim_id, status, stance, n in session.execute(stmt):
            key = stance if status == "confirmed" else status
            counts[claim_id][key] = counts[claim_id].get(key, 0) + n
    return counts


def edit_claim(*, session: Session, claim_id: int, text: str,
               reader: str = DEFAULT_READER) -> Claim:
    """Change a claim's wording (its links stay); only its owner may."""
    claim = owned_claim(session=session, claim_id=claim_id, reader=reader, doing="edit")
    _refuse_merged(claim)
    claim.text = clean_claim_text(text)
    claim.updated_at = utcnow()
    session.flush()
    return claim


def merge_claims(*, session: Session, source_id: int, target_id: int,
                 reader: str = DEFAULT_READER) -> tuple[Claim, int]:
    """Move every link of claim `source_id` (owned by `reader`) to `target_id`, which
    `source_id` then points to.

    Returns:
        The target claim and how many links moved.
    """
    source = owned_claim(session=session, claim_id=source_id, reader=reader, doing="merge")
    _refuse_merged(source)
    target = get_claim(session=session, claim_id=target_id, reader=reader)
    if target.id == source.id:
        raise TrackerError(f"Cannot merge claim {source_id} into itself; name two different claims")
    assert target.id is not None
    now = utcnow()
    moved = session.execute(
        update(ClaimLink).where(col(ClaimLink.claim_id) == source_id)
        .values(claim_id=target.id, updated_at=now))
    # Claims merged into the source earlier now point at the target directly.
    session.execute(update(Claim).where(col(Claim.merged_into) == source_id)
                    .values(merged_into=target.id, updated_at=now))
    source.merged_into = target.id
    source.updated_at = target.updated_at = now
    session.flush()
    return target, int(moved.rowcount)  # type: ignore[attr-defined]


def delete_claim(*, session: Session, claim_id: int, reader: str = DEFAULT_READER) -> int:
    """Delete a claim (its owner only), its links, and the claims merged into it; returns the
    links deleted."""
    claim = owned_claim(session=session, claim_id=claim_id, reader=reader, doing="delete")
    ids = [claim_id] + _merged_into(session, claim_id)
    removed = 0
    for chunk in chunks(ids):
        result = session.execute(delete(ClaimLink).where(col(ClaimLink.claim_id).in_(chunk)))
        removed += int(result.rowcount)  # type: ignore[attr-defined]
    aliases = [i for i in ids if i != claim_id]
    for chunk in chunks(aliases):
        session.execute(delete(Claim).where(col(Claim.id).in_(chunk)))
    session.delete(claim)
    session.flush()
    return removed


def owned_claim(*, session: Session, claim_id: int, reader: str, doing: str) -> Claim:
    """A claim `reader` owns (not merely sees): editing, merging, deleting and sharing it."""
    claim = get_claim(session=session, claim_id=claim_id, reader=reader, follow=False)
    if claim.owner != reader:
        raise TrackerError(f"Claim {claim_id} is {claim.owner}'s, shared with the team; only "
                           f"{claim.owner} can {doing} it (you can tag, accept and reject)")
    return claim


def share_claim(*, session: Session, claim_id: int, reader: str) -> tuple[Claim, bool]:
    """Share `reader`'s claim with every reader; returns it and False if it was shared already."""
    claim = owned_claim(session=session, claim_id=claim_id, reader=reader, doing="share")
    _refuse_merged(claim)
    if claim.shared:
        return claim, False
    claim.shared, claim.updated_at = True, utcnow()
    session.add(claim)
    session.flush()
    return claim, True


def _merged_into(session: Session, claim_id: int) -> list[int]:
    stmt = sql_select(col(Claim.id)).where(col(Claim.merged_into) == claim_id)
    return [int(i) for i in session.execute(stmt).scalars()]


def _refuse_merged(claim: Claim) -> None:
    if claim.merged_into is not None:
        raise TrackerError(f"Claim {claim.id} was merged into claim {claim.merged_into}; "
                           f"work on claim {claim.merged_into}")


# --- links -------------------------------------------------------------------------------------
