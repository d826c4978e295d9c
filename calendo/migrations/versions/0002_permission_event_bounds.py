"""permission rows carry their event's start, series end and deletion time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

The calendar page (``events.repository.calendar_query``) filters and sorts one user's events
by start time. With these copies on the permission row, an index on (user_id, start, event)
gives the rows in page order and the query stops after ``limit + 1`` of them, instead of
reading every event of the user and sorting them.

The copies are kept by triggers, in the statement that changes the source, so no write path
(ORM, Core, a seeder, a hand-run fix) can forget them. Their DDL, per dialect, is declared
once in ``calendo.sharing.triggers`` (which says what each does), used here and by the test
that the database at head has them (``tests/sharing/test_triggers.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import calendo.core.types
from calendo.sharing.triggers import permission_bounds

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("event_start_time", "event_series_end", "event_deleted_at")


def _triggers(create: bool) -> None:
    """Create (or drop) the triggers, declared once in ``calendo.sharing.triggers``."""
    triggers = permission_bounds(op.get_bind().dialect.name)
    for statement in triggers.create if create else triggers.drop:
        op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("permission", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(
                sa.Column(name, calendo.core.types.UTCDateTime(timezone=True), nullable=True)
            )
    event = sa.table(
        "event",
        sa.column("id"),
        sa.column("start_time"),
        sa.column("series_end"),
        sa.column("deleted_at"),
    )
    permission = sa.table("permission", *(sa.column(name) for name in ("event_id", *_COLUMNS)))
    source = event.c.id == permission.c.event_id
    op.execute(
        permission.update().values(
            event_start_time=sa.select(event.c.start_time).where(source).scalar_subquery(),
            event_series_end=sa.select(event.c.series_end).where(source).scalar_subquery(),
            event_deleted_at=sa.select(event.c.deleted_at).where(source).scalar_subquery(),
        )
    )
    with op.batch_alter_table("permission", schema=None) as batch_op:
        batch_op.create_index(
            "ix_permission_calendar",
            ["user_id", "event_start_time", "event_id", "event_series_end", "event_deleted_at"],
            unique=False,
        )
    _triggers(create=True)


def downgrade() -> None:
    _triggers(create=False)
    with op.batch_alter_table("permission", schema=None) as batch_op:
        batch_op.drop_index("ix_permission_calendar")
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
