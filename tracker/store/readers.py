"""Readers: the people sharing one store, and what each may see of the claims."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from tracker.errors import ConfigError, TrackerError
from tracker.models import DEFAULT_READER, Claim, Reader, utcnow

# Names appear in commands, `tagged_by` and file names of digests: keep them plain.
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

__all__ = ["DEFAULT_READER", "add_reader", "check_reader", "issue_token", "list_readers",
           "reader_for_token", "revoke_token", "visible_claims"]


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


def _digest(token: str) -> str:
    # The tokens are 256 random bits, so a plain SHA-256 suffices (a slow password hash guards
    # guessable secrets; nobody guesses 2^256).
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, session: Session, name: str) -> str:
    """A new API token for reader `name` (replacing any earlier one); only its hash is kept."""
    reader = session.get(Reader, check_reader(session=session, name=name))
    assert reader is not None
    token = secrets.token_urlsafe(32)
    reader.token_hash = _digest(token)
    session.add(reader)
    session.flush()
    return token


def revoke_token(*, session: Session, name: str) -> bool:
    """Forget reader `name`'s API token; False if they had none."""
    reader = session.get(Reader, check_reader(session=session, name=name))
    assert reader is not None
    had = reader.token_hash is not None
    reader.token_hash = None
    session.add(reader)
    session.flush()
    return had


def reader_for_token(*, session: Session, token: str) -> str | None:
    """The reader whose API token this is, or None."""
    found = session.exec(select(Reader).where(col(Reader.token_hash) == _digest(token))).first()
    return found.name if found is not None else None
