"""The inline SQLite dialect: no helper thread, and a lock held elsewhere is waited for."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from calendo.auth.models import User
from calendo.core.checkpoints import THREAD_NAME
from calendo.core.db import Database
from calendo.core.sqlite_inline import DRIVER
from calendo.core.uow import UnitOfWork
from tests.conftest import BACKEND, FAST_PATH
from tests.helpers import Actor

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's driver")


def _request_threads() -> list[str]:
    """The process's threads but the checkpoint rounds' (``core/checkpoints.py``), which work
    beside the requests and start with the first round."""
    return sorted(t.name for t in threading.enumerate() if not t.name.startswith(THREAD_NAME))


@pytest.mark.skipif(FAST_PATH != "on", reason="the fast path's driver")
async def test_statements_run_without_a_helper_thread(app: FastAPI, owner: Actor) -> None:
    db: Database = app.state.services.db
    assert db.engine.dialect.driver == DRIVER
    threads = _request_threads()
    for _ in range(20):
        async with UnitOfWork.read(db) as session:
            names = (await session.execute(select(User.username))).scalars().all()
        assert owner.username in names
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    assert _request_threads() == threads


async def test_a_write_waits_for_another_process_lock(app: FastAPI, owner: Actor) -> None:
    db: Database = app.state.services.db
    database = db.engine.url.database
    assert database is not None
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # like a second server process in its write transaction
    released = threading.Event()

    def release_later() -> None:
        time.sleep(0.3)
        other.execute("COMMIT")
        released.set()

    threading.Thread(target=release_later).start()
    started = time.monotonic()
    async with UnitOfWork.independent(db) as session:
        await session.execute(update(User).where(User.id == owner.id).values(username="waited"))
    assert released.is_set()
    assert time.monotonic() - started >= 0.25
    other.close()
    rows = await db.reads.all(select(User.username).where(User.id == owner.id))
    assert [row.username for row in rows] == ["waited"]


async def test_a_write_outside_the_queue_waits_in_it_not_in_the_busy_handler(
    app: FastAPI, owner: Actor
) -> None:
    """A short write (the auth routes, an independent audit row) opened while a queued writer
    has handed the loop back waits for the queue, with the loop free, and then succeeds.

    Before, its BEGIN IMMEDIATE went straight to SQLite's busy handler, which on the inline
    driver holds the loop, so the writer it waited for could not finish: it failed with
    "database is locked" after the busy timeout, the whole process frozen meanwhile.
    """
    db: Database = app.state.services.db
    order: list[str] = []

    async def unqueued_write() -> None:
        async with UnitOfWork.independent(db) as session:
            await session.execute(update(User).where(User.id == owner.id).values(email="b@x.io"))
        order.append("unqueued committed")

    async with UnitOfWork.write(db) as session:
        await session.execute(update(User).where(User.id == owner.id).values(username="first"))
        waiting = asyncio.create_task(unqueued_write())
        for _ in range(20):  # the loop keeps running while the other write waits
            await asyncio.sleep(0.005)
        assert not waiting.done()
        order.append("queued committing")
    await waiting
    assert order == ["queued committing", "unqueued committed"]
    rows = await db.reads.all(select(User.username, User.email).where(User.id == owner.id))
    assert [(row.username, row.email) for row in rows] == [("first", "b@x.io")]


async def _driver_connection(db: Database) -> object:
    async with UnitOfWork.write(db) as session:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        return raw.dbapi_connection


async def test_queued_writers_share_one_held_connection(app: FastAPI, owner: Actor) -> None:
    """Each write session takes its turn on the same connection, and commits on it."""
    db: Database = app.state.services.db
    first = await _driver_connection(db)
    async with UnitOfWork.write(db) as session:
        await session.execute(update(User).where(User.id == owner.id).values(username="held"))
    assert await _driver_connection(db) is first
    # Held between units of work, not returned to the pool (where a lone idle connection
    # would also come back first).
    assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    rows = await db.reads.all(select(User.username).where(User.id == owner.id))
    assert [row.username for row in rows] == ["held"]


async def test_a_failed_write_leaves_the_held_connection_clean(app: FastAPI, owner: Actor) -> None:
    db: Database = app.state.services.db
    with pytest.raises(RuntimeError):
        async with UnitOfWork.write(db) as session:
            await session.execute(update(User).where(User.id == owner.id).values(username="lost"))
            raise RuntimeError("the request failed")
    async with UnitOfWork.write(db) as session:
        await session.execute(update(User).where(User.id == owner.id).values(username="kept"))
    rows = await db.reads.all(select(User.username).where(User.id == owner.id))
    assert [row.username for row in rows] == ["kept"]
    # Nothing is left open on the held connection between units of work.
    other = sqlite3.connect(db.engine.url.database or "", isolation_level=None, timeout=0.5)
    other.execute("BEGIN IMMEDIATE")  # would wait (and fail) if a write transaction were open
    other.execute("ROLLBACK")
    other.close()
