"""Readers: claims, claim links, follows, digests and reading history get an owner.

Every existing row goes to the reader `default`, which a single-user store keeps using.
Interests become unique per reader; digests and reading history are keyed by reader.

Revision ID: 0002_readers
Revises: 0001_baseline
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import op

revision = "0002_readers"
down_revision: str | None = "0001_baseline"
branch_labels = None
depends_on = None

_DEFAULT = "default"


def _owner_column(table: str, name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64),
                     sa.ForeignKey("reader.name", name=f"fk_{table}_{name}_reader"),
                     nullable=False, server_default=_DEFAULT)


def upgrade() -> None:
    """Add the reader table and an owner to every table that belongs to a reader."""
    op.create_table(
        "reader",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute(sa.text("INSERT INTO reader (name) VALUES (:name)").bindparams(name=_DEFAULT))
    # SQLite cannot add a column with a foreign key and a default in place: the tables are
    # copied (the caller turns foreign keys off first, or the copy would cascade-delete links).
    sqlite = op.get_bind().dialect.name == "sqlite"
    recreate: Literal["always", "auto"] = "always" if sqlite else "auto"
    with op.batch_alter_table("claim", recreate=recreate) as claim:
        claim.add_column(_owner_column("claim", "owner"))
        claim.add_column(sa.Column("shared", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        claim.create_index("ix_claim_owner", ["owner"])
    with op.batch_alter_table("claimlink", recreate=recreate) as link:
        link.add_column(_owner_column("claimlink", "tagged_by"))
    with op.batch_alter_table("interest", recreate=recreate) as interest:
        interest.add_column(_owner_column("interest", "reader"))
        interest.drop_constraint("uq_interest_kind_value", type_="unique")
        interest.create_unique_constraint("uq_interest_reader_kind_value",
                                          ["reader", "kind", "value"])
    for table, key in (("digest", "week"), ("reading", "document_id")):
        _key_by_reader(table, key, recreate)


def _key_by_reader(table: str, key: str, recreate: Literal["always", "auto"]) -> None:
    if recreate == "always":
        _copy_keyed_by_reader(table)
        return
    with op.batch_alter_table(table) as batch:  # PostgreSQL names a primary key `<table>_pkey`
        batch.add_column(_owner_column(table, "reader"))
        batch.drop_constraint(f"{table}_pkey", type_="primary")
        batch.create_primary_key(f"{table}_pkey", ["reader", key])


def _copy_keyed_by_reader(table: str) -> None:
    # SQLite cannot change a primary key: build the new table, copy the rows, swap the names.
    tables: dict[str, list[sa.Column[Any]]] = {
        "digest": [sa.Column("week", sa.String(length=10), nullable=False),
                   sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
                   sa.Column("item_ids", sa.JSON(), nullable=False)],
        "reading": [sa.Column("document_id", sa.Integer(), nullable=False),
                    sa.Column("times", sa.Integer(), nullable=False),
                    sa.Column("first_read_at", sa.DateTime(timezone=True), nullable=True),
                    sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True)],
    }
    columns = tables[table]
    names = ", ".join(f'"{c.name}"' for c in columns)
    extra = ([sa.ForeignKeyConstraint(["document_id"], ["document.id"], ondelete="CASCADE")]
             if table == "reading" else [])
    op.create_table(f"_new_{table}", _owner_column(table, "reader"), *columns, *extra,
                    sa.PrimaryKeyConstraint("reader", columns[0].name))
    op.execute(f'INSERT INTO "_new_{table}" ({names}) SELECT {names} FROM "{table}"')
    op.drop_table(table)
    op.rename_table(f"_new_{table}", table)


def downgrade() -> None:
    """Readers are not taken out again: their rows would collide once the owner is gone."""
    raise NotImplementedError("0002_readers cannot be downgraded")
