"""The progressive index's SQL: which passages each embedding tier covers, the order in which
the rest are embedded, and each tier's last measured rate.

A tier is a model name (`PassageEmbedding.model`): the configured model today; a cheap static
tier added beside it is one more name, counted and ordered the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from tracker.models import (
    ClaimLink,
    Document,
    DocumentTag,
    Passage,
    PassageEmbedding,
    Reading,
    Tag,
)
from tracker.store.passages import PendingPassage, _unembedded
from tracker.store.syncstate import get_cursor, save_cursor

# Index rates are kept in the sync-state table under this pseudo-source (no schema change).
_RATES = "index"


@dataclass
class TierCoverage:
    """How much of the store one embedding tier covers."""

    model: str
    passages: int
    embedded: int
    rate: float | None
    """Passages per second of the tier's last index run, when one was measured."""

    @property
    def share(self) -> float:
        """Embedded passages over all passages (1.0 for an empty store)."""
        return self.embedded / self.passages if self.passages else 1.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds to full coverage at the last measured rate."""
        if not self.rate:
            return None
        return (self.passages - self.embedded) / self.rate


def tier_coverage(*, session: Session, models: Sequence[str]) -> list[TierCoverage]:
    """Coverage of each model; `models` lists the tiers (e.g. the configured model)."""
    total = int(session.execute(select(func.count()).select_from(Passage)).scalar_one())
    stmt = (select(col(PassageEmbedding.model), func.count())
            .where(col(PassageEmbedding.model).in_(list(models)))
            .group_by(col(PassageEmbedding.model)))
    embedded = {model: int(n) for model, n in session.execute(stmt)}
    rates = get_cursor(session=session, source=_RATES)
    return [TierCoverage(m, total, embedded.get(m, 0), _float(rates.get(f"rate:{m}")))
            for m in models]


def save_rate(*, session: Session, model: str, per_second: float) -> None:
    """Remember a tier's measured embedding rate (for the ETA in `tracker status`)."""
    save_cursor(session=session, source=_RATES, values={f"rate:{model}": f"{per_second:.3f}"})


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _touched(document_id: object) -> object:
    """1 for a document the user opened, tagged or linked to a claim, else 0."""
    read = select(col(Reading.document_id)).where(col(Reading.document_id) == document_id)
    tagged = (select(col(DocumentTag.document_id))
              .join(Tag, col(Tag.id) == col(DocumentTag.tag_id))
              .where(col(DocumentTag.document_id) == document_id, col(Tag.kind) == "user"))
    claimed = select(col(ClaimLink.document_id)).where(col(ClaimLink.document_id) == document_id)
    return case((read.exists() | tagged.exists() | claimed.exists(), 1), else_=0)


def passages_by_priority(
    *, session: Session, model: str, limit: int, exclude: Collection[int] = ()
) -> list[PendingPassage]:
    """The next passages without a vector of `model`, most wanted first: documents the user
    opened, tagged or claimed, then posts before comments, higher karma first, newer first.

    `exclude` holds passages embedded in this run but not yet committed.
    """
    stmt = (
        select(col(Passage.id), col(Passage.content_hash), col(Passage.title), col(Passage.text))
        .join(Document, col(Document.id) == col(Passage.document_id))
        .outerjoin(PassageEmbedding, _unembedded(model))
        .where(col(PassageEmbedding.passage_id).is_(None))
        .order_by(
            _touched(col(Document.id)).desc(),  # type: ignore[attr-defined]
            case((col(Document.kind) == "post", 0), else_=1),
            func.coalesce(col(Document.score), 0).desc(),
            col(Passage.id).desc(),
        )
        .limit(limit + len(exclude))
    )
    skip = set(exclude)
    rows = [PendingPassage(*row) for row in session.execute(stmt) if row[0] not in skip]
    return rows[:limit]
