"""Owner columns for tenancy.

Commit 649638f: an ``owner`` column, indexed, on conversations, messages and feedback.
Existing rows get NULL: they belong to no tenant (only admin keys and a server without keys see
them). Releases between tenancy and schema versions added these columns on open, so the upgrade
skips a column or index that is already there.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("conversations", "messages", "feedback")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:
        if "owner" not in {column["name"] for column in inspector.get_columns(table)}:
            op.add_column(table, sa.Column("owner", sa.String(64), nullable=True))
        if f"ix_{table}_owner" not in {index["name"] for index in inspector.get_indexes(table)}:
            op.create_index(f"ix_{table}_owner", table, ["owner"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_owner", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner")
