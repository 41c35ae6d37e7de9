"""Alembic's environment: migrations run on the connection `tracker.store.migrate` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import tracker.models  # noqa: F401  (the tables, registered on SQLModel.metadata)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=SQLModel.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("tracker migrations run through tracker.store.migrate, not the alembic CLI")
_run(_connection)
