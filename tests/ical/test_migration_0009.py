"""Migration 0009: the ``feed_token`` table, expand-only (no existing table changes, so on
SQLite nothing is rebuilt and the permission-copy triggers stay), and back down.

Run on a database of its own (tests/notifications/test_migration.py's fixture).
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic import command

from calendo.__main__ import alembic_config, migrate
from calendo.core.types import UTCDateTime
from tests.events.test_migration_0006 import _trigger_names
from tests.notifications.test_migration import AT, _connect, _read, _seed
from tests.notifications.test_migration import scratch_url as scratch_url  # the fixture

FEEDS = sa.table(
    "feed_token",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("busy_only", sa.Boolean()),
    sa.column("token_hash", sa.String()),
    sa.column("created_at", UTCDateTime()),
)


async def _insert_feed(url: str) -> None:
    async with _connect(url) as conn:
        row = {"id": 1, "user_id": 1, "name": "Phone", "busy_only": False, "created_at": AT}
        await conn.execute(FEEDS.insert(), [row | {"token_hash": "0" * 64}])


def seeded_before(url: str, revision: str) -> tuple[Any, Any]:
    """Migrate to the revision before ``revision``, seed, and migrate to ``revision``: the
    permission-copy triggers and the events, as they were before it."""
    migrate(url, f"{int(revision) - 1:04d}")
    asyncio.run(_seed(url))
    triggers = asyncio.run(_trigger_names(url))
    events = asyncio.run(_read(url, "SELECT * FROM event ORDER BY id"))
    migrate(url, revision)
    return triggers, events


def test_0009_adds_the_table_alone_and_goes_back_down(scratch_url: str) -> None:
    triggers, events = seeded_before(scratch_url, "0009")
    asyncio.run(_insert_feed(scratch_url))
    feeds = asyncio.run(_read(scratch_url, "SELECT id, user_id, name FROM feed_token"))
    assert feeds == [{"id": 1, "user_id": 1, "name": "Phone"}]
    assert asyncio.run(_trigger_names(scratch_url)) == triggers
    assert asyncio.run(_read(scratch_url, "SELECT * FROM event ORDER BY id")) == events

    command.downgrade(alembic_config(scratch_url), "0008")
    tables = asyncio.run(_tables(scratch_url))
    assert "feed_token" not in tables and "event" in tables
    assert asyncio.run(_trigger_names(scratch_url)) == triggers
    assert asyncio.run(_read(scratch_url, "SELECT * FROM event ORDER BY id")) == events
    migrate(scratch_url, "head")  # and up again
    assert "feed_token" in asyncio.run(_tables(scratch_url))


async def _tables(url: str) -> set[str]:
    async with _connect(url) as conn:
        return set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
