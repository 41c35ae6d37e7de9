"""Readers: the people sharing one store, and what each may see of the claims."""

from __future__ import annotations

import re

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from tracker.errors import ConfigError, TrackerError
from tracker.models import DEFAULT_READER, Claim, Reader, utcnow

# Names appear in commands, `tagged_by` and file names of digests: keep them plain.
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

__all__ = ["DEFAULT_READER", "add_reader", "check_reader", "list_readers", "visible_claims"]


def list_readers(*, session: Session) -> list[Reader]:
    """Every registered reader, by name."""
    return list(session.exec(select(Reader).order_by(col(Reader.name))))


def add_reader(*, session: Session, name: str) -> tuple[Reader, bool]:
    """Register a reader; returns it and False if it was registered already."""
    if not _NAME.fullmatch(name):
        raise TrackerError(f"'{name}' is not a reader name: use 1-64 lower-case letters, digits, "
                           f"'.', '_' or '-', starting with a letter or digit, e.g. `alice`")
    found = session.get(Reader, name)
    if found is not None:
        return found, False
    reader = Reader(name=name, created_at=utcnow())
    session.add(reader)
    session.flush()
    return reader, True


def check_reader(*, session: Session, name: str) -> str:
    """`name` if it is a registered reader; otherwise a ConfigError naming the known ones."""
    if session.get(Reader, name) is not None:
        return name
    known = ", ".join(r.name for r in list_readers(session=session)) or "none"
    raise ConfigError(f"Unknown reader '{name}' (from --user or TRACKER_USER); known readers: "
                      f"{known}. Register it with `tracker reader add {name}`")


def visible_claims(reader: str) -> ColumnElement[bool]:
    """The condition a claim meets when `reader` may see it: their own, or shared."""
    return or_(col(Claim.owner) == reader, col(Claim.shared).is_(True))
