"""The inline SQLite dialect: no helper thread, and a lock held elsewhere is waited for."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from calendo.auth.models import User
from calendo.core.db import Database, unit_of_work
from calendo.core.sqlite_inline import DRIVER
from tests.conftest import BACKEND
from tests.helpers import Actor

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's driver")


async def test_statements_run_without_a_helper_thread(app: FastAPI, owner: Actor) -> None:
    db: Database = app.state.services.db
    assert db.engine.dialect.driver == DRIVER
    threads = threading.active_count()
    for _ in range(20):
        async with db.read_session() as session:
            names = (await session.execute(select(User.username))).scalars().all()
        assert owner.username in names
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    assert threading.active_count() == threads


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
    async with db.writer(), unit_of_work(db.write_sessions()) as session:
        await session.execute(update(User).where(User.id == owner.id).values(username="waited"))
    assert released.is_set()
    assert time.monotonic() - started >= 0.25
    other.close()
    rows = await db.reads.all(select(User.username).where(User.id == owner.id))
    assert [row.username for row in rows] == ["waited"]
