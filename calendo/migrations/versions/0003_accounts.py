"""account settings and deletion (password, email, default time zone, owned events)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

``user_account.timezone``: each account's default zone (an IANA name) for rendering times;
existing accounts get ``UTC``, the rendering they had.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("timezone")
