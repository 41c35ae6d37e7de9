"""Engines and sessions for the one schema on SQLite (default) and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

from tracker.errors import StoreError

MMAP_BYTES = 2**31  # at most this much of a database file is mapped (address space, not RAM)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the TUI, `tracker status`) run while a sync writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # A bulk import writes ~40 MB a batch: with the default 1,000-page (4 MB) autocheckpoint
    # every commit copied the WAL back and synced the file, and a 2 MB page cache re-read the
    # alias and link indexes; 32 MB for both cut the import writer's CPU ~5% (bench/import.py).
    # Still crash-safe: WAL with synchronous=NORMAL, only the checkpoints come less often.
    cursor.execute("PRAGMA wal_autocheckpoint=8192")
    cursor.execute("PRAGMA cache_size=-32768")
    # Reads through a memory map, not a read() per page into a 2 MiB page cache: a search looks
    # up ~1,000 scattered passage and document rows, 4.8 -> 1.7 ms per 450-id lookup at 100k
    # passages (docs/search.md, "Search latency"). SQLite caps it at its build's maximum.
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url` with the schema at the head revision; SQLite files get WAL mode."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except SQLAlchemyError as e:
        raise _open_error(url, e) from e
    try:
        create_schema(engine)
    except BaseException as e:
        engine.dispose()  # no pooled connection left to the collector
        if isinstance(e, SQLAlchemyError):
            raise _open_error(url, e) from e
        raise
    return engine


def _open_error(url: str, e: SQLAlchemyError) -> StoreError:
    return StoreError(
        f"Cannot open the database at {redact_url(url)}: {e.__class__.__name__}: "
        f"{str(e).splitlines()[0]}. Check TRACKER_DATABASE_URL or the data directory")


def create_schema(engine: Engine) -> None:
    """Create the schema, or migrate it to the head revision (`tracker.store.migrate`)."""
    from tracker.store.migrate import migrate

    migrate(engine)


def analyze(engine: Engine) -> bool:
    """Refresh PostgreSQL's planner statistics after a bulk load (True); nothing on SQLite.

    Autovacuum gets there too, but a minute or more later; until then the planner works
    from the row counts of before the load (none, after a first import).
    """
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))  # every table: ~30k sampled rows each, seconds at 1M
    return True


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


def redact_url(url: str) -> str:
    """The URL with its password hidden, for messages and `tracker paths`.

    The credentials end at the *last* `@` before the host, as in `urllib.parse`, so a password
    holding a raw `@` (which should have been written `%40`) is hidden whole.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "***"
    netloc, slash, path = rest.partition("/")
    credentials, at, host = netloc.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    shown = f"{user}:***" if ":" in credentials else user
    return f"{scheme}://{shown}@{host}{slash}{path}"


def integrity_problems(engine: Engine) -> list[str]:
    """What SQLite's `PRAGMA integrity_check` finds wrong (empty when sound; PostgreSQL checks
    its own pages, so nothing is asked of it)."""
    if engine.dialect.name != "sqlite":
        return []
    try:
        with engine.connect() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check(20)")]
    except SQLAlchemyError as e:
        return [str(e).splitlines()[0]]
    if rows == ["ok"]:
        return []
    # One row may hold several lines, headed "*** in database main ***".
    lines = [line.strip() for row in rows for line in row.splitlines()]
    return [line for line in lines if line and not line.startswith("***")]


def try_advisory_lock(engine: Engine, name: str) -> Connection | None:
    """Take a PostgreSQL session-level advisory lock named `name` on a connection of its own;
    None if another session holds it. Closing the connection releases the lock, and so does
    the server when the holder's connection dies, so a crashed holder never blocks for good.
    """
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    connection = engine.connect()
    try:
        taken = connection.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (key,)).scalar()
        connection.commit()
    except BaseException:
        connection.close()
        raise
    if not taken:
        connection.close()
        return None
    return connection
