"""Helpers every store module shares: bounded keys, chunked IN-lists, insert-or-ignore."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

MAX_KEY = 255  # Link.target_key, DocumentAlias.key and Author.key are indexed columns
QUERY_CHUNK = 500  # stays far below SQLite's and psycopg's bound-parameter limits


def bounded_key(key: str) -> str:
    """A lookup key that fits its indexed column: over 255 characters, a prefix plus a hash.

    Link targets can be URLs of thousands of characters; a document registering the same URL
    gets the same bounded key, so resolution still matches.
    """
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: MAX_KEY - 66]}#{digest}"


def insert_ignore(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert the rows, skipping those that clash with a unique key (SQLite and PostgreSQL)."""
    table: Table = model.__table__
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(table).on_conflict_do_nothing(), rows)



def chunks(items: Sequence[Any], size: int = QUERY_CHUNK) -> Iterable[Sequence[Any]]:
    """The items in slices of `size`, for IN-lists under the bound-parameter limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
