"""event.recurrence_overrides: single-occurrence edits of a series (RFC 5545 RECURRENCE-ID)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Expand-safe (docs/operations.md, "Rolling upgrades"): the column is nullable and NULL reads as
no overrides, so the previous release, which inserts events without it, keeps working during a
roll. A plain ``ADD COLUMN`` on both databases, never a ``batch_alter_table`` rebuild (on SQLite
that would drop the permission-copy triggers, calendo/sharing/triggers.py); downgrade drops the
column in place (SQLite 3.35+) for the same reason.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "event",
        sa.Column(
            "recurrence_overrides",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    op.drop_column("event", "recurrence_overrides")
