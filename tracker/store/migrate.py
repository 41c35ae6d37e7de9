"""Schema migrations (Alembic, revisions in `tracker/store/migrations/versions`).

`migrate` runs whenever a store is opened (`make_engine`): a fresh store is built from the
models and stamped at the head revision, a store from before Alembic (tables, no
`alembic_version`) is brought from the baseline to the head, and a store at the head costs one
look at `alembic_version`.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from tracker.errors import StoreError
from tracker.models import DEFAULT_READER
from tracker.text import clean_text

if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPTS = Path(__file__).with_name("migrations")
_VERSION_TABLE = "alembic_version"


HEAD = "0004_reader_tags"
"""The newest revision, named here so that opening a current store never loads Alembic
(importing it and reading the revision files cost ~0.25 s of every command's start here);
tests/store/test_readers.py checks it against the revision files."""


@cache
def head_revision() -> str:
    """The newest revision among the revision files."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(_SCRIPTS)).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with; None before Alembic."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()


def migrate(engine: Engine) -> str:
    """Bring the store's schema to the head revision; returns what was done, in a word."""
    with engine.connect() as connection:
        if current_revision(connection) == HEAD:
            return "current"
    with engine.connect() as connection:
        _lock(connection)
        try:
            return _migrate(connection)
        finally:
            _unlock(connection)


def _migrate(connection: Connection) -> str:
    revision = current_revision(connection)  # again: another process may have done it
    if revision == head_revision():
        return "current"
    tables = set(inspect(connection).get_table_names())
    if revision is None and "document" not in tables:
        SQLModel.metadata.create_all(connection)
        connection.execute(SQLModel.metadata.tables["reader"].insert(),
                           [{"name": DEFAULT_READER}])
        connection.commit()
        _alembic("stamp", connection)
        return "created"
    if revision is not None and revision not in _known():
        raise StoreError(f"The database's schema is at revision {revision!r}, newer than this "
                         f"tracker knows ({head_revision()}); upgrade tracker to open it")
    try:
        _alembic("upgrade", connection)
    except (SQLAlchemyError, ValueError, KeyError) as e:
        # What a revision hit (a missing constraint, a failed statement) as one line, not a
        # traceback; the version row moves only after a revision completes.
        connection.rollback()
        reason = clean_text(str(e)).strip().splitlines()
        raise StoreError(
            f"Upgrading the database's schema from revision {revision!r} to "
            f"{head_revision()!r} failed ({reason[0][:200] if reason else type(e).__name__}); "
            f"its recorded revision is still {revision!r}: keep a copy of the database and "
            f"report this") from e
    return "upgraded"


@cache
def _known() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory(str(_SCRIPTS)).walk_revisions())


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for running the revisions on `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def _alembic(command: str, connection: Connection) -> None:
    from alembic import command as commands

    getattr(commands, command)(alembic_config(connection), "head")
    connection.commit()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Foreign keys off while SQLite copies tables: dropping the old `claim` would otherwise
        # cascade to every claim link. Set outside a transaction, where SQLite honours it.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        return
    # One migrating process per PostgreSQL database; the others wait, then find it done.
    connection.exec_driver_sql("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    connection.commit()


def _unlock(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    else:
        connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    connection.commit()


_LOCK_KEY = int.from_bytes(hashlib.sha256(b"tracker.migrate").digest()[:8], "big", signed=True)
