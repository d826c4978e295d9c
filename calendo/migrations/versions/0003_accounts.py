"""account settings and deletion (password, email, default time zone, owned events)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

``user_account.timezone``: each account's default zone (an IANA name) for rendering times;
existing accounts get ``UTC``, the rendering they had.

``user_account.deleted_at``: a deleted account stays as a tombstone row (its email and
password hash scrubbed, its username retired), so no foreign key needs a delete rule: the
events it owned are soft-deleted like any event, and the history, notifications and audit
entries that name it keep a user to name (docs/api-notes.md, "Deleting an account").
Both columns are plain ``ADD COLUMN``s on SQLite too: the table is not rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import calendo.core.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
        )
        batch_op.add_column(
            sa.Column("deleted_at", calendo.core.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # Never rebuild the table on SQLite: with foreign keys on, dropping the old copy would
    # cascade into every row that references an account. SQLite 3.35+ drops columns in place.
    with op.batch_alter_table("user_account", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("timezone")
