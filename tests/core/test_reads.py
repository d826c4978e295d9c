"""``Database.reads``: autocommit reads outside the unit of work see every earlier commit."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import OperationalError

from calendo.auth.models import User
from calendo.core.db import Database, InlineSQLiteReads, PooledReads, create_engine
from calendo.core.uow import UnitOfWork
from tests.conftest import BACKEND, FAST_PATH, make_settings
from tests.helpers import Actor

_NAME = select(User.username).where(User.id == bindparam("user_id"))


async def test_reads_see_each_commit_at_once(app: FastAPI, owner: Actor) -> None:
    db: Database = app.state.services.db
    for n in range(3):
        async with UnitOfWork.write(db) as session:
            await session.execute(
                update(User).where(User.id == owner.id).values(username=f"renamed{n}")
            )
        rows = await db.reads.all(_NAME, {"user_id": owner.id})
        assert [row.username for row in rows] == [f"renamed{n}"]


async def test_reads_do_not_hold_a_snapshot_while_a_writer_commits(
    app: FastAPI, owner: Actor
) -> None:
    db: Database = app.state.services.db
    before = await db.reads.all(_NAME, {"user_id": owner.id})
    async with UnitOfWork.write(db) as session:
        await session.execute(update(User).where(User.id == owner.id).values(username="later"))
        # Not committed yet: the reader sees the committed name, and does not block.
        during = await db.reads.all(_NAME, {"user_id": owner.id})
    after = await db.reads.all(_NAME, {"user_id": owner.id})
    assert [r.username for r in before] == [r.username for r in during] == [owner.username]
    assert [r.username for r in after] == ["later"]


@pytest.mark.skipif(BACKEND != "sqlite", reason="the inline reader is SQLite's")
@pytest.mark.skipif(FAST_PATH != "on", reason="the inline reader is the fast path's")
async def test_the_inline_reader_cannot_write(app: FastAPI, owner: Actor) -> None:
    db: Database = app.state.services.db
    assert isinstance(db.reads, InlineSQLiteReads)
    with pytest.raises(OperationalError, match="readonly"):
        await db.reads.all(update(User).where(User.id == owner.id).values(username="nope"))
    rows = await db.reads.all(_NAME, {"user_id": owner.id})
    assert [row.username for row in rows] == [owner.username]


async def test_reader_choice_follows_the_database() -> None:
    memory = Database(create_engine(make_settings("sqlite+aiosqlite:///:memory:", None)))
    postgres = Database(
        create_engine(make_settings("postgresql+asyncpg://calendo@127.0.0.1:1/none", None))
    )
    try:
        assert isinstance(memory.reads, PooledReads)
        assert isinstance(postgres.reads, PooledReads)
        assert memory.sync_engines == (memory.engine.sync_engine,)
    finally:
        await memory.dispose()
        await postgres.dispose()


async def _terminate_other_backends(db: Database) -> int:
    """What a server restart does to the pools: every connection but this one is closed."""
    url = db.engine.url
    admin = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        ended: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    await asyncio.sleep(0.05)  # the loop sees the closed sockets
    return ended


@pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL's pooled reads")
async def test_a_read_outlives_the_server_dropping_its_connections(
    app: FastAPI, owner: Actor
) -> None:
    """The read pool has no pre-ping: a closed connection is refused at checkout (or, lost
    silently, renews the pool and the read runs again), instead of failing the read."""
    db: Database = app.state.services.db
    assert isinstance(db.reads, PooledReads)
    await asyncio.gather(*(db.reads.all(_NAME, {"user_id": owner.id}) for _ in range(3)))
    assert await _terminate_other_backends(db) >= 1
    for _ in range(3):
        rows = await db.reads.all(_NAME, {"user_id": owner.id})
        assert [row.username for row in rows] == [owner.username]


@pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL's session pool")
async def test_a_write_outlives_the_server_dropping_its_connections(
    app: FastAPI, owner: Actor
) -> None:
    """Sessions check a pooled asyncpg connection locally at checkout (no three-round-trip
    pre-ping): one the server closed is replaced, and the write goes through."""
    db: Database = app.state.services.db
    for n in range(2):
        async with UnitOfWork.write(db) as session:
            await session.execute(
                update(User).where(User.id == owner.id).values(username=f"before{n}")
            )
    assert await _terminate_other_backends(db) >= 1
    async with UnitOfWork.write(db) as session:
        await session.execute(update(User).where(User.id == owner.id).values(username="after"))
    rows = await db.reads.all(_NAME, {"user_id": owner.id})
    assert [row.username for row in rows] == ["after"]
