"""permission rows carry their event's start, series end and deletion time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

The calendar page (``events.repository.calendar_query``) filters and sorts one user's events
by start time. With these copies on the permission row, an index on (user_id, start, event)
gives the rows in page order and the query stops after ``limit + 1`` of them, instead of
reading every event of the user and sorting them.

The copies are kept by triggers, in the statement that changes the source, so no write path
(ORM, Core, a seeder, a hand-run fix) can forget them: inserting a permission copies the
event's values, and an UPDATE that changes an event's ``start_time``, ``series_end`` or
``deleted_at`` rewrites the copies of every permission row of the event. On PostgreSQL the
insert trigger reads the event ``FOR SHARE``, so it waits for a concurrent write of the event
to commit and copies its result rather than the value the write is replacing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import calendo.core.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("event_start_time", "event_series_end", "event_deleted_at")

_SQLITE_UP = (
    """
    CREATE TRIGGER trg_permission_copy_event AFTER INSERT ON permission
    BEGIN
        UPDATE permission
        SET (event_start_time, event_series_end, event_deleted_at) =
            (SELECT start_time, series_end, deleted_at FROM event WHERE event.id = NEW.event_id)
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER trg_permission_recopy_event AFTER UPDATE OF event_id ON permission
    BEGIN
        UPDATE permission
        SET (event_start_time, event_series_end, event_deleted_at) =
            (SELECT start_time, series_end, deleted_at FROM event WHERE event.id = NEW.event_id)
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER trg_event_copy_to_permission
    AFTER UPDATE OF start_time, series_end, deleted_at ON event
    WHEN OLD.start_time IS NOT NEW.start_time
        OR OLD.series_end IS NOT NEW.series_end
        OR OLD.deleted_at IS NOT NEW.deleted_at
    BEGIN
        UPDATE permission
        SET event_start_time = NEW.start_time,
            event_series_end = NEW.series_end,
            event_deleted_at = NEW.deleted_at
        WHERE event_id = NEW.id;
    END
    """,
)

_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS trg_event_copy_to_permission",
    "DROP TRIGGER IF EXISTS trg_permission_recopy_event",
    "DROP TRIGGER IF EXISTS trg_permission_copy_event",
)

_POSTGRES_UP = (
    """
    CREATE FUNCTION permission_copy_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT start_time, series_end, deleted_at
        INTO NEW.event_start_time, NEW.event_series_end, NEW.event_deleted_at
        FROM event WHERE event.id = NEW.event_id
        FOR SHARE;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER trg_permission_copy_event
    BEFORE INSERT OR UPDATE OF event_id ON permission
    FOR EACH ROW EXECUTE FUNCTION permission_copy_event()
    """,
    """
    CREATE FUNCTION event_copy_to_permission() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE permission
        SET event_start_time = NEW.start_time,
            event_series_end = NEW.series_end,
            event_deleted_at = NEW.deleted_at
        WHERE event_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER trg_event_copy_to_permission
    AFTER UPDATE OF start_time, series_end, deleted_at ON event
    FOR EACH ROW
    WHEN (OLD.start_time IS DISTINCT FROM NEW.start_time
        OR OLD.series_end IS DISTINCT FROM NEW.series_end
        OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION event_copy_to_permission()
    """,
)

_POSTGRES_DOWN = (
    "DROP TRIGGER IF EXISTS trg_event_copy_to_permission ON event",
    "DROP FUNCTION IF EXISTS event_copy_to_permission()",
    "DROP TRIGGER IF EXISTS trg_permission_copy_event ON permission",
    "DROP FUNCTION IF EXISTS permission_copy_event()",
)


def _triggers(postgres: tuple[str, ...], sqlite: tuple[str, ...]) -> None:
    for statement in postgres if op.get_bind().dialect.name == "postgresql" else sqlite:
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
    _triggers(_POSTGRES_UP, _SQLITE_UP)


def downgrade() -> None:
    _triggers(_POSTGRES_DOWN, _SQLITE_DOWN)
    with op.batch_alter_table("permission", schema=None) as batch_op:
        batch_op.drop_index("ix_permission_calendar")
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
