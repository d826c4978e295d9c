"""event.all_day, event.start_date, event.end_date (all-day events, RFC 5545 VALUE=DATE)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Expand-safe (docs/operations.md, "Rolling upgrades"): ``all_day`` is NOT NULL with the server
default false, and the two dates are nullable, so the previous release, which inserts events
without them, keeps working during a roll; every event it writes is timed, which is what it
meant.

Plain ``ADD COLUMN`` on both databases, never a ``batch_alter_table`` rebuild: on SQLite a
rebuild of ``event`` drops the permission-copy triggers (calendo/sharing/triggers.py). The
triggers need no change: an all-day event stores index bounds in ``start_time`` and
``series_end`` (widened to cover any zone's placement of its dates), which they copy as
before. Downgrade drops the columns in place (SQLite 3.35+), for the same reason.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "event", sa.Column("all_day", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("event", sa.Column("start_date", sa.Date(), nullable=True))
    op.add_column("event", sa.Column("end_date", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("event", "end_date")
    op.drop_column("event", "start_date")
    op.drop_column("event", "all_day")
