"""Migration 0010: the ``imported_uid`` and ``event_ical_extra`` tables, expand-only (no
existing table changes, so on SQLite nothing is rebuilt and the permission-copy triggers
stay), and back down.

Run on a database of its own (tests/notifications/test_migration.py's fixture).
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command

from calendo.__main__ import alembic_config, migrate
from tests.events.test_migration_0006 import _trigger_names
from tests.ical.test_migration_0009 import _tables, seeded_before
from tests.notifications.test_migration import _connect, _read
from tests.notifications.test_migration import scratch_url as scratch_url  # the fixture

NEW = {"imported_uid", "event_ical_extra"}


async def _insert(url: str) -> None:
    async with _connect(url) as conn:
        event_id = (await conn.execute(sa.text("SELECT min(id) FROM event"))).scalar_one()
        await conn.execute(
            sa.text("INSERT INTO imported_uid (owner_id, uid, event_id) VALUES (1, 'a@x', :e)"),
            {"e": event_id},
        )


def test_0010_adds_two_tables_alone_and_goes_back_down(scratch_url: str) -> None:
    triggers, events = seeded_before(scratch_url, "0010")
    assert asyncio.run(_tables(scratch_url)) >= NEW
    asyncio.run(_insert(scratch_url))
    rows = asyncio.run(_read(scratch_url, "SELECT owner_id, uid FROM imported_uid"))
    assert rows == [{"owner_id": 1, "uid": "a@x"}]
    assert asyncio.run(_trigger_names(scratch_url)) == triggers
    assert asyncio.run(_read(scratch_url, "SELECT * FROM event ORDER BY id")) == events

    command.downgrade(alembic_config(scratch_url), "0009")
    assert not NEW & asyncio.run(_tables(scratch_url))
    assert asyncio.run(_trigger_names(scratch_url)) == triggers
    assert asyncio.run(_read(scratch_url, "SELECT * FROM event ORDER BY id")) == events
    migrate(scratch_url, "head")  # and up again
    assert asyncio.run(_tables(scratch_url)) >= NEW
