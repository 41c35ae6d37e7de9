"""Interests: what the user follows (`tracker follow`) and what their tagging implies."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker import store
from tracker.errors import ConfigError, NotFoundError
from tracker.models import (
    DEFAULT_READER,
    Author,
    ClaimLink,
    DocumentAuthor,
    DocumentTag,
    Interest,
    Reading,
    Tag,
    utcnow,
)

KINDS = ("search", "author", "tag", "claim", "source")


@dataclass(frozen=True, order=True)
class Topic:
    """One interest as the digest uses it; `implicit` ones come from the user's tagging."""

    kind: str
    value: str
    implicit: bool = False

    @property
    def label(self) -> str:
        """How the digest names it."""
        names = {"search": "Search", "author": "Author", "tag": "Tag", "claim": "Claim",
                 "source": "Source"}
        return f"{names[self.kind]}: {self.value}"


def _normalise(kind: str, value: str) -> str:
    if kind not in KINDS:
        raise ConfigError(f"Unknown interest kind '{kind}'; use one of {', '.join(KINDS)}")
    value = " ".join(value.split())
    if not value:
        raise ConfigError(f"Give what to follow, e.g. `tracker follow {kind} …`")
    return value


def follow(*, session: Session, kind: str, value: str,
           reader: str = DEFAULT_READER) -> tuple[Interest, bool]:
    """`reader` follows something; returns the interest and False if it was already followed."""
    value = _normalise(kind, value)
    if kind == "claim":
        value = str(_claim_id(session, value, reader))
    found = _find(session, kind, value, reader)
    if found is not None:
        return found, False
    interest = Interest(kind=kind, value=value, created_at=utcnow(), reader=reader)
    session.add(interest)
    session.flush()
    return interest, True


def unfollow(*, session: Session, kind: str, value: str, reader: str = DEFAULT_READER) -> Interest:
    """`reader` stops following something; NotFoundError if they did not follow it."""
    value = _normalise(kind, value)
    found = _find(session, kind, value, reader)
    if found is None:
        raise NotFoundError(f"You do not follow {kind} '{value}'; `tracker interests` lists "
                            f"what you follow")
    session.delete(found)
    return found


def list_interests(*, session: Session, reader: str = DEFAULT_READER) -> list[Interest]:
    """Every explicit interest of `reader`, by kind then value."""
    rows = session.exec(select(Interest).where(col(Interest.reader) == reader)).all()
    return sorted(rows, key=lambda i: (KINDS.index(i.kind), i.value.lower(), i.id or 0))


def _find(session: Session, kind: str, value: str, reader: str) -> Interest | None:
    rows = session.exec(select(Interest).where(col(Interest.kind) == kind,
                                               col(Interest.reader) == reader)).all()
    return next((r for r in rows if r.value.lower() == value.lower()), None)


def _claim_id(session: Session, value: str, reader: str) -> int:
    if not value.isdigit():
        raise ConfigError(f"'{value}' is not a claim id; `tracker claim list` shows them")
    return store.get_claim(session=session, claim_id=int(value), reader=reader).id or 0


def record_reading(*, session: Session, document_id: int, reader: str = DEFAULT_READER) -> None:
    """Note that `reader` read a document (reading history, for implicit interests)."""
    now = utcnow()
    row = session.get(Reading, (reader, document_id))
    if row is None:
        session.add(Reading(reader=reader, document_id=document_id, first_read_at=now,
                            last_read_at=now))
    else:
        row.times, row.last_read_at = row.times + 1, now
        session.add(row)


def read_authors(*, session: Session, reader: str = DEFAULT_READER,
                 min_documents: int = 2) -> list[str]:
    """Authors of at least `min_documents` documents `reader` read."""
    rows = session.exec(
        select(Author.name, func.count(col(DocumentAuthor.document_id)))
        .join(DocumentAuthor, col(DocumentAuthor.author_id) == col(Author.id))
        .join(Reading, col(Reading.document_id) == col(DocumentAuthor.document_id))
        .where(col(Reading.reader) == reader)
        .group_by(col(Author.id), col(Author.name))
    ).all()
    return sorted(name for name, count in rows if count >= min_documents)


def implicit_topics(*, session: Session, reader: str = DEFAULT_READER) -> list[Topic]:
    """Interests implied by `reader`'s reading and tagging: their own tags, the claims they
    tagged passages for, and authors they read two or more documents by."""
    tags = session.exec(
        select(Tag.name).join(DocumentTag, col(DocumentTag.tag_id) == col(Tag.id))
        .where(col(Tag.kind) == "user", col(Tag.reader) == reader).distinct()
    ).all()
    claims = session.exec(
        select(ClaimLink.claim_id).where(col(ClaimLink.origin) == "user",
                                         col(ClaimLink.tagged_by) == reader,
                                         col(ClaimLink.status) != "rejected").distinct()
    ).all()
    topics = {Topic("tag", name, True) for name in tags}
    topics |= {Topic("claim", str(cid), True) for cid in claims}
    topics |= {Topic("author", name, True)
               for name in read_authors(session=session, reader=reader)}
    return sorted(topics)


def tagged_document_ids(*, session: Session, reader: str = DEFAULT_READER) -> set[int]:
    """Documents `reader` tagged, anchored a claim passage in, or read."""
    tagged = session.exec(
        select(DocumentTag.document_id).join(Tag, col(DocumentTag.tag_id) == col(Tag.id))
        .where(col(Tag.kind) == "user", col(Tag.reader) == reader)
    ).all()
    anchored = session.exec(
        select(ClaimLink.document_id).where(col(ClaimLink.origin) == "user",
                                            col(ClaimLink.tagged_by) == reader,
                                            col(ClaimLink.status) != "rejected")
    ).all()
    read = session.exec(select(Reading.document_id).where(col(Reading.reader) == reader)).all()
    return set(tagged) | set(anchored) | set(read)


def all_topics(*, session: Session, implicit: bool, reader: str = DEFAULT_READER) -> list[Topic]:
    """`reader`'s explicit interests first, then (when enabled) implicit ones not already
    explicit."""
    explicit = [Topic(i.kind, i.value) for i in list_interests(session=session, reader=reader)]
    seen = {(t.kind, t.value.lower()) for t in explicit}
    extra = [t for t in implicit_topics(session=session, reader=reader)
             if (t.kind, t.value.lower()) not in seen] if implicit else []
    return explicit + extra


def author_ids(*, session: Session, value: str) -> list[int]:
    """Authors whose name or forum slug equals `value`, ignoring case."""
    low = value.lower()
    rows = session.exec(select(Author).where(
        (func.lower(col(Author.name)) == low) | (func.lower(col(Author.slug)) == low))).all()
    return sorted(a.id for a in rows if a.id is not None)


def documents_by_author(*, session: Session, ids: list[int]) -> set[int]:
    """Documents written by any of the authors."""
    if not ids:
        return set()
    return set(session.exec(select(DocumentAuthor.document_id)
                            .where(col(DocumentAuthor.author_id).in_(ids))).all())


def documents_by_tag(*, session: Session, name: str,
                     reader: str = DEFAULT_READER) -> set[int]:
    """Documents with a forum tag or one of `reader`'s own tags of this name, ignoring case."""
    return set(session.exec(
        select(DocumentTag.document_id).join(Tag, col(DocumentTag.tag_id) == col(Tag.id))
        .where(func.lower(col(Tag.name)) == name.lower(), store.visible_tags(reader))
    ).all())
