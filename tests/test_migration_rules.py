"""Rolling upgrades: every migration leaves a schema the release before it can still write to.

During a deploy the previous release keeps serving against the migrated schema
(docs/operations.md, "Rolling upgrades"), so a migration may only expand what that release
writes: a column it adds to an existing table, or one it makes NOT NULL, needs a server default,
else the old release's inserts fail. 0004 broke the rule (``notification.event_title``) and
0005 repairs it; the guard holds from 0005 on, on the suite's backend (SQLite, or PostgreSQL in
the PostgreSQL run), against a database of its own migrated one revision at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from calendo.__main__ import alembic_config, migrate
from tests.notifications.test_migration import AT, NOTIFICATIONS, _connect, _read, _seed
from tests.notifications.test_migration import scratch_url as scratch_url  # the fixture

# Revisions written before the rule was guarded; 0004's NOT NULL column is given its default
# by 0005, which the test below checks as it would any later revision.
GUARDED_FROM = "0005"

Columns = dict[str, dict[str, dict[str, Any]]]


def _revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def _columns(url: str) -> Columns:
    """Each table's columns as the database reports them (nullable, server default)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def inspect(sync_conn: sa.Connection) -> Columns:
                inspector = sa.inspect(sync_conn)
                return {
                    table: {column["name"]: dict(column) for column in inspector.get_columns(table)}
                    for table in inspector.get_table_names()
                    if table != "alembic_version"
                }

            return await conn.run_sync(inspect)
    finally:
        await engine.dispose()


def _breaks_old_inserts(before: Columns, after: Columns) -> list[str]:
    """The columns of tables that existed before that the previous release cannot insert
    without: NOT NULL, no server default, and new or newly NOT NULL."""
    broken = []
    for table, columns in after.items():
        if table not in before:
            continue  # a new table: the previous release does not know it
        for name, column in columns.items():
            required = not column["nullable"] and column.get("default") is None
            was = before[table].get(name)
            if required and (was is None or was["nullable"]):
                broken.append(f"{table}.{name}")
    return broken


def test_each_migration_keeps_the_previous_release_writing(scratch_url: str) -> None:
    revisions = _revisions()
    assert GUARDED_FROM in revisions
    start = revisions.index(GUARDED_FROM)
    migrate(scratch_url, revisions[start - 2])  # the schema of the release before 0004
    before = asyncio.run(_columns(scratch_url))
    for revision in revisions[start - 1 :]:
        migrate(scratch_url, revision)
        after = asyncio.run(_columns(scratch_url))
        if revision == "0004":  # the guard sees the breach it exists for
            assert _breaks_old_inserts(before, after) == ["notification.event_title"]
        if revisions.index(revision) >= start:
            # Against the schema the previous guarded step left (for 0005: before 0004).
            assert _breaks_old_inserts(before, after) == [], (
                f"migration {revision} adds a NOT NULL column without a server default: "
                "the release before it cannot insert during a rolling upgrade"
            )
            before = after


async def _insert_as_before_0004(url: str) -> None:
    """A notification as the release before 0004 writes it: no ``event_title``."""
    async with _connect(url) as conn:
        row = {"id": 4, "user_id": 2, "event_id": 10, "actor_id": 1, "type": "event_updated"}
        await conn.execute(
            NOTIFICATIONS.insert(), [row | {"changed_fields": ["title"], "created_at": AT}]
        )


def test_the_release_before_0004_inserts_notifications_at_head(scratch_url: str) -> None:
    """The insert 0004 alone refused (tests/notifications/test_migration.py) succeeds at head,
    with an empty title; the rows that were there keep theirs."""
    migrate(scratch_url, "0003")
    asyncio.run(_seed(scratch_url))
    migrate(scratch_url, "head")
    asyncio.run(_insert_as_before_0004(scratch_url))
    rows = asyncio.run(_read(scratch_url, "SELECT id, event_title FROM notification ORDER BY id"))
    assert [(row["id"], row["event_title"]) for row in rows] == [
        (1, "Standup"),
        (2, "Retro"),
        (3, "Standup"),
        (4, ""),
    ]
