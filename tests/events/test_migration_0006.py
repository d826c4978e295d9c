"""Migration 0006: ``event.transparency`` and ``event.recurrence_dates``, expand-safe, with no
rebuild of ``event`` (which on SQLite would drop the permission-copy triggers).

Run on a database of its own (tests/notifications/test_migration.py's fixture), migrated to
0005, seeded with raw rows, then upgraded; and back down.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from alembic import command

from calendo.__main__ import alembic_config, migrate
from calendo.core.types import UTCDateTime
from calendo.sharing.triggers import permission_bounds
from tests.notifications.test_migration import AT, EVENTS, _connect, _read, _seed
from tests.notifications.test_migration import scratch_url as scratch_url  # the fixture

PERMISSIONS = sa.table(
    "permission",
    *(sa.column(name, sa.Integer()) for name in ("id", "event_id", "user_id", "granted_by")),
    sa.column("role", sa.String()),
    sa.column("granted_at", UTCDateTime()),
)


async def _seed_with_permissions(url: str) -> None:
    await _seed(url)
    async with _connect(url) as conn:
        await conn.execute(
            PERMISSIONS.insert(),
            [
                {"id": 1, "event_id": 10, "user_id": 1, "granted_by": 1, "role": "owner"}
                | {"granted_at": AT},
                {"id": 2, "event_id": 10, "user_id": 2, "granted_by": 1, "role": "viewer"}
                | {"granted_at": AT},
            ],
        )


async def _trigger_names(url: str) -> set[str]:
    async with _connect(url) as conn:
        if conn.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = (
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE NOT t.tgisinternal AND n.nspname = current_schema()"
            )
        return set((await conn.execute(sa.text(query))).scalars())


async def _dialect(url: str) -> str:
    async with _connect(url) as conn:
        return conn.dialect.name


async def _move_event(url: str) -> None:
    """An UPDATE of the event's bounds, which the triggers copy to its permission rows."""
    async with _connect(url) as conn:
        await conn.execute(
            sa.text("UPDATE event SET series_end = :end WHERE id = 10"),
            {"end": UTCDateTime().process_bind_param(AT + timedelta(days=3), conn.dialect)},
        )


async def _insert_as_before_0006(url: str) -> None:
    """An event as the release before 0006 writes it: neither new column."""
    async with _connect(url) as conn:
        times = {"start_time": AT, "end_time": AT, "created_at": AT, "updated_at": AT}
        row = {"id": 12, "owner_id": 1, "version": 1, "timezone": "UTC", "is_recurring": False}
        await conn.execute(
            EVENTS.insert(), [row | times | {"title": "Old", "recurrence_exceptions": []}]
        )


def test_upgrade_keeps_the_triggers_and_the_old_release_inserting(scratch_url: str) -> None:
    migrate(scratch_url, "0005")
    asyncio.run(_seed_with_permissions(scratch_url))
    before = asyncio.run(_trigger_names(scratch_url))
    declared = set(permission_bounds(asyncio.run(_dialect(scratch_url))).tables)
    assert before == declared
    migrate(scratch_url, "0006")

    assert asyncio.run(_trigger_names(scratch_url)) == declared
    rows = asyncio.run(
        _read(scratch_url, "SELECT id, transparency, recurrence_dates FROM event ORDER BY id")
    )
    assert rows == [
        {"id": 10, "transparency": "opaque", "recurrence_dates": None},
        {"id": 11, "transparency": "opaque", "recurrence_dates": None},
    ]
    # The triggers still copy the event's bounds to its permission rows.
    asyncio.run(_move_event(scratch_url))
    copies = asyncio.run(
        _read(scratch_url, "SELECT event_series_end FROM permission WHERE event_id = 10")
    )
    assert len(copies) == 2 and all(row["event_series_end"] is not None for row in copies)
    # The release before 0006 inserts events without the new columns during a roll.
    asyncio.run(_insert_as_before_0006(scratch_url))
    old = asyncio.run(_read(scratch_url, "SELECT transparency FROM event WHERE id = 12"))
    assert old == [{"transparency": "opaque"}]


def test_downgrade_drops_the_columns_and_keeps_rows_and_triggers(scratch_url: str) -> None:
    migrate(scratch_url, "0005")
    asyncio.run(_seed_with_permissions(scratch_url))
    declared = asyncio.run(_trigger_names(scratch_url))
    migrate(scratch_url, "0006")
    command.downgrade(alembic_config(scratch_url), "0005")

    rows = asyncio.run(_read(scratch_url, "SELECT * FROM event ORDER BY id"))
    assert [row["id"] for row in rows] == [10, 11]
    assert "transparency" not in rows[0] and "recurrence_dates" not in rows[0]
    assert asyncio.run(_trigger_names(scratch_url)) == declared
    migrate(scratch_url, "head")  # and up again
    assert asyncio.run(_trigger_names(scratch_url)) == declared
