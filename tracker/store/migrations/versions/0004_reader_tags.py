"""Reader tags: a tag a user adds to a document belongs to the reader who added it.

`tag.reader` names the owner of a user tag (`kind='user'`); every existing user tag goes to
the reader `default`, whose store it was. Forum tags stay shared (`reader` NULL). The unique
key on (kind, name) becomes two partial ones: a forum tag's name, a user tag's (reader, name).

Revision ID: 0004_reader_tags
Revises: 0003_reader_tokens
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0004_reader_tags"
down_revision: str | None = "0003_reader_tokens"
branch_labels = None
depends_on = None

_DEFAULT = "default"
_FORUM, _OWN = sa.text("kind = 'forum'"), sa.text("kind = 'user'")


def upgrade() -> None:
    """Add `tag.reader`, give existing user tags to `default`, key names per reader."""
    # SQLite adds a column with a foreign key only by copying the table (foreign keys are off
    # while migrating, so `documenttag` rows pointing at tags stay as they are).
    sqlite = op.get_bind().dialect.name == "sqlite"
    recreate: Literal["always", "auto"] = "always" if sqlite else "auto"
    with op.batch_alter_table("tag", recreate=recreate) as tag:
        tag.add_column(sa.Column("reader", sa.String(length=64),
                                 sa.ForeignKey("reader.name", name="fk_tag_reader_reader"),
                                 nullable=True))
        tag.drop_constraint("uq_tag_kind_name", type_="unique")
    op.execute(sa.text("UPDATE tag SET reader = :name WHERE kind = 'user'")
               .bindparams(name=_DEFAULT))
    op.create_index("uq_tag_forum_name", "tag", ["name"], unique=True, sqlite_where=_FORUM,
                    postgresql_where=_FORUM)
    op.create_index("uq_tag_user_reader_name", "tag", ["reader", "name"], unique=True,
                    sqlite_where=_OWN, postgresql_where=_OWN)


def downgrade() -> None:
    """Not taken back: two readers' tags of one name would collide once the owner is gone."""
    raise NotImplementedError("0004_reader_tags cannot be downgraded")
