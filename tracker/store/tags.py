"""A reader's own tags on documents: forum tags are shared, a user tag belongs to its reader."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from tracker.errors import TrackerError
from tracker.models import DocumentTag, Tag
from tracker.store.readers import check_reader
from tracker.store.sql import insert_ignore
from tracker.text import clean_text

MAX_TAG_CHARS = 100

__all__ = ["MAX_TAG_CHARS", "add_tags", "reader_tags", "remove_tags", "visible_tags"]


def visible_tags(reader: str) -> ColumnElement[bool]:
    """The condition a tag meets when `reader` sees it: a forum tag, or one of their own."""
    return or_(col(Tag.kind) == "forum",
               and_(col(Tag.kind) == "user", col(Tag.reader) == reader))


def _names(names: Sequence[str]) -> list[str]:
    cleaned = [" ".join(clean_text(n).split()) for n in names]
    for raw, name in zip(names, cleaned, strict=True):
        if not name or len(name) > MAX_TAG_CHARS:
            raise TrackerError(f"'{clean_text(raw)[:40]}' is not a tag name: use 1 to "
                               f"{MAX_TAG_CHARS} characters, e.g. `to-read`")
    return list(dict.fromkeys(cleaned))


def add_tags(*, session: Session, reader: str, document_id: int,
             names: Sequence[str]) -> list[str]:
    """Tag a document with `reader`'s own tags; returns the names it did not have yet."""
    wanted = _names(names)
    check_reader(session=session, name=reader)
    insert_ignore(session, Tag, [{"name": n, "kind": "user", "reader": reader} for n in wanted])
    ids = dict(session.execute(select(Tag.name, Tag.id).where(
        col(Tag.kind) == "user", col(Tag.reader) == reader, col(Tag.name).in_(wanted))).all())
    had = set(session.execute(select(DocumentTag.tag_id).where(
        col(DocumentTag.document_id) == document_id,
        col(DocumentTag.tag_id).in_(ids.values()))).scalars())
    insert_ignore(session, DocumentTag, [{"document_id": document_id, "tag_id": ids[n]}
                                         for n in wanted if ids[n] not in had])
    return [n for n in wanted if ids[n] not in had]


def remove_tags(*, session: Session, reader: str, document_id: int,
                names: Sequence[str]) -> list[str]:
    """Take `reader`'s own tags off a document (never a forum tag); returns those removed."""
    wanted = _names(names)
    rows = session.execute(
        select(Tag.name, Tag.id).join(DocumentTag, col(DocumentTag.tag_id) == col(Tag.id))
        .where(col(DocumentTag.document_id) == document_id, col(Tag.kind) == "user",
               col(Tag.reader) == reader, col(Tag.name).in_(wanted))).all()
    for _, tag_id in rows:
        found = session.get(DocumentTag, (document_id, tag_id))
        if found is not None:
            session.delete(found)
    session.flush()
    return sorted(name for name, _ in rows)


def reader_tags(*, session: Session, reader: str) -> list[tuple[str, int]]:
    """`reader`'s own tags with how many documents carry each, by name."""
    rows = session.execute(
        select(Tag.name, func.count(col(DocumentTag.document_id)))
        .join(DocumentTag, col(DocumentTag.tag_id) == col(Tag.id))
        .where(col(Tag.kind) == "user", col(Tag.reader) == reader)
        .group_by(col(Tag.name)).order_by(col(Tag.name))).all()
    return [(name, int(count)) for name, count in rows]
