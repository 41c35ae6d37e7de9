"""What other writers say about a document when they link to it (anchor text and the sentence
around the link), and passages as the keyword index reads them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from tracker.models import Link, LinkContext, Passage
from tracker.store.sql import chunks

# Anchors that say nothing about the target; their sentence is still kept.
GENERIC_ANCHORS = frozenset((
    "here", "this", "that", "link", "this link", "this post", "that post", "the post",
    "this article", "this paper", "the paper", "this one", "post", "article", "paper", "source",
    "sources", "see here", "click here", "read more", "more here", "here s", "previous post",
    "last post", "earlier post", "my post", "my previous post", "this comment", "comment",
    "thread", "this thread", "pdf", "blog post", "blog", "this blog post", "this essay",
    "essay", "video", "talk", "more", "previously", "above", "below", "earlier", "link here",
    "full post", "original post", "the original", "paper here", "post here", "linked",
))
MAX_LINKS = 64  # evidence kept per document: a post cited a thousand times needs no more
MAX_CHARS = 400  # of one sentence
_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class PassageRow:
    """A passage with what the keyword index needs of it."""

    id: int
    document_id: int
    ordinal: int
    title: str
    authors: str
    text: str


def is_generic(anchor: str) -> bool:
    """Whether an anchor says nothing about its target ("here", "this post", a bare URL)."""
    lowered = " ".join(_WORDS.findall(anchor.lower()))
    if not lowered or lowered.isdigit() or lowered in GENERIC_ANCHORS:
        return True
    return anchor.strip().lower().startswith(("http://", "https://", "www."))


def anchor_evidence(*, session: Session, document_ids: Sequence[int]) -> dict[int, str]:
    """Anchor texts (generic ones left out) and citing sentences of resolved links to each
    document from other documents, one line each, for documents that have any."""
    found: dict[int, list[str]] = {}
    seen: set[tuple[int, str]] = set()
    for chunk in chunks(list(document_ids)):
        stmt = (
            select(col(Link.target_document_id), col(Link.anchor_text), col(LinkContext.sentence))
            .outerjoin(LinkContext, and_(col(LinkContext.document_id) == col(Link.document_id),
                                         col(LinkContext.position) == col(Link.position)))
            .where(col(Link.target_document_id).in_(chunk),
                   col(Link.document_id) != col(Link.target_document_id))
            .order_by(col(Link.target_document_id), col(Link.id))
        )
        for target, anchor, sentence in session.execute(stmt):
            lines = found.setdefault(int(target), [])
            if len(lines) >= MAX_LINKS:
                continue
            parts = [] if is_generic(anchor) else [anchor]
            if sentence and sentence != anchor:
                parts.append(sentence[:MAX_CHARS])
            line = " — ".join(parts)
            if line and (int(target), line) not in seen:
                seen.add((int(target), line))
                lines.append(line)
    return {doc_id: "\n".join(lines) for doc_id, lines in found.items() if lines}


_ROW = (col(Passage.id), col(Passage.document_id), col(Passage.ordinal), col(Passage.title),
        col(Passage.authors), col(Passage.text))


def passages_after(*, session: Session, after: int, limit: int,
                   upto: int | None = None) -> list[PassageRow]:
    """The next passages by id, after `after` (and up to `upto`, when given)."""
    stmt = select(*_ROW).where(col(Passage.id) > after, *_upto(upto)) \
        .order_by(col(Passage.id)).limit(limit)
    return [PassageRow(*row) for row in session.execute(stmt)]


def lead_passages(*, session: Session, document_ids: Sequence[int]) -> list[PassageRow]:
    """The first passage of each of these documents (the one that carries its anchors)."""
    rows: list[PassageRow] = []
    for chunk in chunks(list(document_ids)):
        stmt = select(*_ROW).where(col(Passage.document_id).in_(chunk),
                                   col(Passage.ordinal) == 0)
        rows += [PassageRow(*row) for row in session.execute(stmt)]
    return rows


def passage_stats(*, session: Session) -> tuple[int, int]:
    """(number of passages, largest passage id)."""
    count, largest = session.execute(
        select(func.count(), func.coalesce(func.max(col(Passage.id)), 0))).one()
    return int(count), int(largest)


def _upto(upto: int | None) -> list[Any]:
    return [] if upto is None else [col(Passage.id) <= upto]


def documents_after(*, session: Session, after: int, limit: int,
                    upto: int | None = None) -> tuple[list[int], int]:
    """Documents owning the next `limit` passages by id after `after` (up to `upto`, when
    given), and the last of those passage ids (`after` when there are none)."""
    stmt = (select(col(Passage.id), col(Passage.document_id))
            .where(col(Passage.id) > after, *_upto(upto))
            .order_by(col(Passage.id)).limit(limit))
    rows = session.execute(stmt).all()
    if not rows:
        return [], after
    return list(dict.fromkeys(int(r[1]) for r in rows)), int(rows[-1][0])


def document_passages(*, session: Session,
                      document_ids: Sequence[int]) -> dict[int, list[PassageRow]]:
    """Every passage of each of these documents that has any, in order."""
    found: dict[int, list[PassageRow]] = {}
    for chunk in chunks(list(document_ids)):
        stmt = (select(*_ROW).where(col(Passage.document_id).in_(chunk))
                .order_by(col(Passage.document_id), col(Passage.ordinal)))
        for row in session.execute(stmt):
            passage = PassageRow(*row)
            found.setdefault(passage.document_id, []).append(passage)
    return found
