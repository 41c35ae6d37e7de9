"""Reader tokens: the API maps a bearer token to the reader it belongs to.

Only a SHA-256 of each token is stored (`reader.token_hash`), so a copy of the database does
not hand out access; a reader has at most one token.

Revision ID: 0003_reader_tokens
Revises: 0002_readers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_reader_tokens"
down_revision: str | None = "0002_readers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `reader.token_hash`, unique, empty for every reader."""
    with op.batch_alter_table("reader") as reader:
        reader.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        reader.create_index("ix_reader_token_hash", ["token_hash"], unique=True)


def downgrade() -> None:
    """Drop the tokens (readers then act through the server's token only)."""
    with op.batch_alter_table("reader") as reader:
        reader.drop_index("ix_reader_token_hash")
        reader.drop_column("token_hash")
