"""Migration 0008: ``event.all_day``, ``event.start_date``, ``event.end_date``, expand-safe,
with no rebuild of ``event`` (which on SQLite would drop the permission-copy triggers).

Run on a database of its own, migrated to 0007 (the revision before it), seeded with raw rows,
then upgraded; and back down.
"""

from __future__ import annotations

import asyncio

from alembic import command

from calendo.__main__ import alembic_config, migrate
from calendo.sharing.triggers import permission_bounds
from tests.events.test_migration_0006 import (
    _dialect,
    _insert_as_before_0006,
    _move_event,
    _seed_with_permissions,
    _trigger_names,
)
from tests.notifications.test_migration import _read
from tests.notifications.test_migration import scratch_url as scratch_url  # the fixture


def test_upgrade_keeps_the_triggers_and_the_old_release_inserting(scratch_url: str) -> None:
    migrate(scratch_url, "0007")
    asyncio.run(_seed_with_permissions(scratch_url))
    declared = set(permission_bounds(asyncio.run(_dialect(scratch_url))).tables)
    assert asyncio.run(_trigger_names(scratch_url)) == declared
    migrate(scratch_url, "0008")

    assert asyncio.run(_trigger_names(scratch_url)) == declared
    rows = asyncio.run(
        _read(scratch_url, "SELECT id, all_day, start_date, end_date FROM event ORDER BY id")
    )
    assert [(r["id"], bool(r["all_day"]), r["start_date"], r["end_date"]) for r in rows] == [
        (10, False, None, None),
        (11, False, None, None),
    ]
    asyncio.run(_move_event(scratch_url))
    copies = asyncio.run(
        _read(scratch_url, "SELECT event_series_end FROM permission WHERE event_id = 10")
    )
    assert len(copies) == 2 and all(row["event_series_end"] is not None for row in copies)
    # The release before 0008 inserts events without the new columns during a roll: timed.
    asyncio.run(_insert_as_before_0006(scratch_url))
    old = asyncio.run(_read(scratch_url, "SELECT all_day, start_date FROM event WHERE id = 12"))
    assert [(bool(r["all_day"]), r["start_date"]) for r in old] == [(False, None)]


def test_downgrade_drops_the_columns_and_keeps_rows_and_triggers(scratch_url: str) -> None:
    migrate(scratch_url, "0007")
    asyncio.run(_seed_with_permissions(scratch_url))
    declared = asyncio.run(_trigger_names(scratch_url))
    migrate(scratch_url, "0008")
    command.downgrade(alembic_config(scratch_url), "0007")

    rows = asyncio.run(_read(scratch_url, "SELECT * FROM event ORDER BY id"))
    assert [row["id"] for row in rows] == [10, 11]
    assert not {"all_day", "start_date", "end_date"} & rows[0].keys()
    assert asyncio.run(_trigger_names(scratch_url)) == declared
    migrate(scratch_url, "head")  # and up again
    assert asyncio.run(_trigger_names(scratch_url)) == declared
