"""Migration 0004: notifications written before it take their event's current title.

Run on a database of its own (a file on SQLite, a scratch database beside the test database
on PostgreSQL), migrated to 0003, seeded with raw rows, then upgraded; and back down.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from calendo.__main__ import alembic_config, migrate
from calendo.core.types import JSONType, UTCDateTime
from tests.conftest import BACKEND

AT = datetime(2030, 1, 7, 9, tzinfo=UTC)
# The tables as migration 0003 leaves them, only the columns the seed needs (typed, so the
# values are stored as the application stores them).
USERS = sa.table(
    "user_account",
    sa.column("id", sa.Integer()),
    sa.column("username", sa.String()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("created_at", UTCDateTime()),
)
EVENTS = sa.table(
    "event",
    *(sa.column(name, sa.Integer()) for name in ("id", "owner_id", "version")),
    sa.column("title", sa.String()),
    *(sa.column(name, UTCDateTime()) for name in ("start_time", "end_time")),
    *(sa.column(name, UTCDateTime()) for name in ("created_at", "updated_at")),
    sa.column("timezone", sa.String()),
    sa.column("is_recurring", sa.Boolean()),
    sa.column("recurrence_exceptions", JSONType),
)
NOTIFICATIONS = sa.table(
    "notification",
    *(sa.column(name, sa.Integer()) for name in ("id", "user_id", "event_id", "actor_id")),
    sa.column("type", sa.String()),
    sa.column("changed_fields", JSONType),
    sa.column("created_at", UTCDateTime()),
)


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own."""
    if BACKEND != "postgres":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migration.db'}"
        return
    base = os.environ["CALENDO_TEST_POSTGRES_URL"].replace("postgresql://", "postgresql+asyncpg://")
    server, name = base.rsplit("/", 1)
    scratch = f"{name}_m0004"
    admin = server.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    asyncio.run(run(f'CREATE DATABASE "{scratch}"'))
    yield f"{server}/{scratch}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))


@asynccontextmanager
async def _connect(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction committed at the end; the engine disposed even on error."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


async def _seed(url: str) -> None:
    async with _connect(url) as conn:
        await conn.execute(
            USERS.insert(),
            [
                {"id": i, "username": f"u{i}", "email": f"u{i}@example.com", "password_hash": "x"}
                | {"created_at": AT}
                for i in (1, 2)
            ],
        )
        times = {"start_time": AT, "end_time": AT, "created_at": AT, "updated_at": AT}
        common = {"owner_id": 1, "version": 2, "timezone": "UTC", "is_recurring": False}
        await conn.execute(
            EVENTS.insert(),
            [
                {"id": 10, "title": "Standup", "recurrence_exceptions": []} | common | times,
                {"id": 11, "title": "Retro", "recurrence_exceptions": []} | common | times,
            ],
        )
        await conn.execute(
            NOTIFICATIONS.insert(),
            [
                {"id": n, "user_id": 2, "event_id": e, "actor_id": 1, "type": "event_updated"}
                | {"changed_fields": ["title"], "created_at": AT}
                for n, e in ((1, 10), (2, 11), (3, 10))
            ],
        )


async def _read(url: str, query: str) -> list[dict[str, Any]]:
    async with _connect(url) as conn:
        return [dict(row) for row in (await conn.execute(sa.text(query))).mappings()]


async def _insert_without_title(url: str) -> None:
    async with _connect(url) as conn:
        row = {"id": 4, "user_id": 2, "event_id": 10, "actor_id": 1, "type": "event_deleted"}
        await conn.execute(NOTIFICATIONS.insert(), [row | {"changed_fields": [], "created_at": AT}])


def test_upgrade_backfills_titles_and_requires_them(scratch_url: str) -> None:
    migrate(scratch_url, "0003")
    asyncio.run(_seed(scratch_url))
    migrate(scratch_url, "0004")

    rows = asyncio.run(_read(scratch_url, "SELECT id, event_title FROM notification ORDER BY id"))
    assert rows == [
        {"id": 1, "event_title": "Standup"},
        {"id": 2, "event_title": "Retro"},
        {"id": 3, "event_title": "Standup"},
    ]
    # From now on every row must name its title.
    with pytest.raises(sa.exc.IntegrityError):
        asyncio.run(_insert_without_title(scratch_url))


def test_downgrade_drops_the_column_and_keeps_the_rows(scratch_url: str) -> None:
    migrate(scratch_url, "0003")
    asyncio.run(_seed(scratch_url))
    migrate(scratch_url, "0004")
    command.downgrade(alembic_config(scratch_url), "0003")

    rows = asyncio.run(_read(scratch_url, "SELECT * FROM notification ORDER BY id"))
    assert [row["id"] for row in rows] == [1, 2, 3]
    assert "event_title" not in rows[0]
    migrate(scratch_url, "head")  # and up again
    rows = asyncio.run(_read(scratch_url, "SELECT event_title FROM notification ORDER BY id"))
    assert [row["event_title"] for row in rows] == ["Standup", "Retro", "Standup"]
