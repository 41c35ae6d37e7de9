"""Engines and sessions for the one schema on SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from tracker import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from tracker.errors import StoreError


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the TUI, `tracker status`) run while a sync writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url` with the schema created; SQLite files get WAL mode."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        create_schema(engine)
    except SQLAlchemyError as e:
        raise StoreError(
            f"Cannot open the database at {_redact(url)}: {e.__class__.__name__}: "
            f"{str(e).splitlines()[0]}. Check TRACKER_DATABASE_URL or the data directory"
        ) from e
    return engine


def create_schema(engine: Engine) -> None:
    """Create any missing tables (the schema is additive so far; see README, "Schema")."""
    SQLModel.metadata.create_all(engine)


def table_names(engine: Engine) -> list[str]:
    """The tables present in the database."""
    return sorted(inspect(engine).get_table_names())


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"
