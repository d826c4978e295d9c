"""event.transparency (RFC 5545 TRANSP) and event.recurrence_dates (RDATE)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Both columns are expand-safe (docs/operations.md, "Rolling upgrades"): ``transparency`` is NOT
NULL with the server default ``'opaque'``, and ``recurrence_dates`` is nullable (NULL reads as no
extra dates), so the previous release, which inserts events without them, keeps working during
a roll; every event it wrote is opaque and has no RDATE, which is what it meant.

Plain ``ADD COLUMN`` on both databases, never a ``batch_alter_table`` rebuild: on SQLite a
rebuild of ``event`` drops the permission-copy triggers (calendo/sharing/triggers.py), and
SQLite adds a column with a constant default in place. PostgreSQL adds a column with a constant
default without rewriting the table. Downgrade drops the columns in place (SQLite 3.35+), for
the same reason.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "event",
        sa.Column("transparency", sa.String(length=16), server_default="opaque", nullable=False),
    )
    op.add_column(
        "event",
        sa.Column(
            "recurrence_dates",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    op.drop_column("event", "recurrence_dates")
    op.drop_column("event", "transparency")
