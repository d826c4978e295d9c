"""event.recurrence_overrides (single-occurrence edits, RFC 5545 RECURRENCE-ID) and
event.related_events (the links a split leaves between two series, RFC 5545 RELATED-TO)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Expand-safe (docs/operations.md, "Rolling upgrades"): both columns are nullable and NULL reads
as none, so the previous release, which inserts events without it, keeps working during a
roll. A plain ``ADD COLUMN`` on both databases, never a ``batch_alter_table`` rebuild (on SQLite
that would drop the permission-copy triggers, calendo/sharing/triggers.py); downgrade drops the
columns in place (SQLite 3.35+) for the same reason.
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
    for name in ("recurrence_overrides", "related_events"):
        op.add_column(
            "event",
            sa.Column(
                name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            ),
        )


def downgrade() -> None:
    op.drop_column("event", "related_events")
    op.drop_column("event", "recurrence_overrides")
