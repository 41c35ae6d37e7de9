"""Helpers every store module shares: bounded keys, chunked IN-lists, insert-or-ignore."""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
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
    insert_rows(session, model, rows, ignore=True)


def insert_rows(
    session: Session, model: Any, rows: Sequence[dict[str, Any]], *, ignore: bool = False,
    typed: bool = False,
) -> None:
    """Insert rows with the driver's executemany; `ignore` skips rows that clash with a unique
    key. Values go to the driver as they are (ints, strings, None) unless `typed`: then each
    column's type converts them first, as SQLAlchemy would (timestamps, JSON).

    SQLAlchemy's executemany spends ~5 µs a row building and type-processing parameters, the
    larger part of writing an import's ~5 author, alias and link rows per document; the
    statement is the same (`ON CONFLICT DO NOTHING` is SQLite's and PostgreSQL's syntax).
    """
    if not rows:
        return
    table: Table = model.__table__
    names = list(rows[0])
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
           f"VALUES ({', '.join([marker] * len(names))})"
           + (" ON CONFLICT DO NOTHING" if ignore else ""))
    values = operator.itemgetter(*names)  # a tuple per row for 2+ names, in C
    params: list[Any] = ([values(row) for row in rows] if len(names) > 1
                         else [(row[names[0]],) for row in rows])
    if typed:
        params = _bound(params, [table.c[name].type for name in names], connection.dialect)
    connection.exec_driver_sql(sql, params)


def _bound(rows: list[tuple[Any, ...]], types: Sequence[Any], dialect: Any) -> list[Any]:
    """The rows with each value converted by its column type's bind processor (the same
    conversion SQLAlchemy applies), only for the columns that have one."""
    processors = [(i, p) for i, t in enumerate(types)
                  if (p := t.dialect_impl(dialect).bind_processor(dialect)) is not None]
    if not processors:
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for i, process in processors:
            values[i] = process(values[i])
        converted.append(tuple(values))
    return converted


def chunks(items: Sequence[Any], size: int = QUERY_CHUNK) -> Iterable[Sequence[Any]]:
    """The items in slices of `size`, for IN-lists under the bound-parameter limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
