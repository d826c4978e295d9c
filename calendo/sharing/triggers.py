"""The triggers that keep a permission row's copies of its event's bounds, declared once.

The calendar page (``events.repository.calendar_query``) filters and sorts one user's events
on ``permission.event_start_time``, ``event_series_end`` and ``event_deleted_at``, copies of
the event's ``start_time``, ``series_end`` and ``deleted_at``, so that an index on (user_id,
start, event) gives the rows in page order. Triggers keep the copies, in the statement that
changes the source, so no write path (ORM, Core, a seeder, a hand-run fix) can forget them:

- inserting a permission (or moving it to another event) copies the event's values; on
  PostgreSQL the trigger reads the event ``FOR SHARE``, so it waits for a concurrent write of
  the event to commit and copies its result rather than the value the write is replacing;
- an UPDATE that changes an event's ``start_time``, ``series_end`` or ``deleted_at`` rewrites
  the copies of every permission row of the event.

Migration 0002 creates them from here, and ``tests/sharing/test_triggers.py`` checks that the
database at head has exactly these. The DDL is that of revision 0002: a change to a trigger is
a new migration (drop, then create from new constants), never an edit of these, which would
rewrite history. On SQLite, a later ``batch_alter_table`` of ``permission`` or ``event``
rebuilds the table *without* its triggers: such a migration must run ``create`` again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Triggers:
    """One dialect's triggers: their names and tables, and the DDL to create and drop them
    (run in order)."""

    tables: Mapping[str, str]  # trigger name -> the table it is on
    create: tuple[str, ...]
    drop: tuple[str, ...]


# What SQLite runs when a permission is inserted or moved to another event: copy its event's.
_SQLITE_COPY = """BEGIN
    UPDATE permission
    SET (event_start_time, event_series_end, event_deleted_at) =
        (SELECT start_time, series_end, deleted_at FROM event WHERE event.id = NEW.event_id)
    WHERE id = NEW.id;
END"""

# What both dialects run when an event's bounds change: rewrite its permissions' copies.
_COPY_TO_PERMISSIONS = """    UPDATE permission
    SET event_start_time = NEW.start_time,
        event_series_end = NEW.series_end,
        event_deleted_at = NEW.deleted_at
    WHERE event_id = NEW.id;
"""

_SQLITE = Triggers(
    tables={
        "trg_permission_copy_event": "permission",
        "trg_permission_recopy_event": "permission",
        "trg_event_copy_to_permission": "event",
    },
    create=(
        f"CREATE TRIGGER trg_permission_copy_event AFTER INSERT ON permission\n{_SQLITE_COPY}",
        "CREATE TRIGGER trg_permission_recopy_event AFTER UPDATE OF event_id ON permission\n"
        + _SQLITE_COPY,
        """CREATE TRIGGER trg_event_copy_to_permission
AFTER UPDATE OF start_time, series_end, deleted_at ON event
WHEN OLD.start_time IS NOT NEW.start_time
    OR OLD.series_end IS NOT NEW.series_end
    OR OLD.deleted_at IS NOT NEW.deleted_at
BEGIN
"""
        + _COPY_TO_PERMISSIONS
        + "END",
    ),
    drop=(
        "DROP TRIGGER IF EXISTS trg_event_copy_to_permission",
        "DROP TRIGGER IF EXISTS trg_permission_recopy_event",
        "DROP TRIGGER IF EXISTS trg_permission_copy_event",
    ),
)

_POSTGRESQL = Triggers(
    tables={
        "trg_permission_copy_event": "permission",
        "trg_event_copy_to_permission": "event",
    },
    create=(
        """CREATE FUNCTION permission_copy_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT start_time, series_end, deleted_at
    INTO NEW.event_start_time, NEW.event_series_end, NEW.event_deleted_at
    FROM event WHERE event.id = NEW.event_id
    FOR SHARE;
    RETURN NEW;
END
$$""",
        """CREATE TRIGGER trg_permission_copy_event
BEFORE INSERT OR UPDATE OF event_id ON permission
FOR EACH ROW EXECUTE FUNCTION permission_copy_event()""",
        """CREATE FUNCTION event_copy_to_permission() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
"""
        + _COPY_TO_PERMISSIONS
        + """    RETURN NULL;
END
$$""",
        """CREATE TRIGGER trg_event_copy_to_permission
AFTER UPDATE OF start_time, series_end, deleted_at ON event
FOR EACH ROW
WHEN (OLD.start_time IS DISTINCT FROM NEW.start_time
    OR OLD.series_end IS DISTINCT FROM NEW.series_end
    OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
EXECUTE FUNCTION event_copy_to_permission()""",
    ),
    drop=(
        "DROP TRIGGER IF EXISTS trg_event_copy_to_permission ON event",
        "DROP FUNCTION IF EXISTS event_copy_to_permission()",
        "DROP TRIGGER IF EXISTS trg_permission_copy_event ON permission",
        "DROP FUNCTION IF EXISTS permission_copy_event()",
    ),
)

# By SQLAlchemy dialect name.
PERMISSION_BOUNDS: dict[str, Triggers] = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}


def permission_bounds(dialect_name: str) -> Triggers:
    """The permission-bounds triggers of a dialect (``sqlite`` or ``postgresql``)."""
    try:
        return PERMISSION_BOUNDS[dialect_name]
    except KeyError:
        raise ValueError(f"no permission-bounds triggers for the {dialect_name} dialect") from None
