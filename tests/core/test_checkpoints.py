"""SQLite's WAL checkpoints run in a thread of their own, after writes, never in a commit on
the loop (``core/checkpoints.py``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from calendo.core.checkpoints import THREAD_NAME, Checkpointer, Progress
from calendo.core.db import Database, create_engine
from calendo.core.uow import UnitOfWork
from tests.conftest import BACKEND, make_settings
from tests.events.conftest import event_payload
from tests.helpers import Actor

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's write-ahead log")


async def _create_events(client: httpx.AsyncClient, actor: Actor, count: int) -> None:
    for n in range(count):
        response = await client.post(
            "/api/events",
            json=event_payload(title=f"Logged {n}", description="x" * 2000),
            params={"conflict_strategy": "allow"},
            headers=actor.headers,
        )
        assert response.status_code == 201, response.text


def _writer(path: Path) -> sqlite3.Connection:
    """A connection writing ``path`` as the application's do: WAL, no checkpoint of its own."""
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (v TEXT)")
    return writer


async def _rounds_reach(checkpointer: Checkpointer, count: int) -> None:
    for _ in range(500):
        if checkpointer.rounds >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{checkpointer.rounds} rounds after 5 s, expected {count}")


async def _settled(checkpointer: Checkpointer) -> int:
    """The round count once rounds stop (a round a concurrent commit cut short runs again),
    checked to stay put over ten intervals with nothing written."""
    await asyncio.sleep(0.1)
    settled = checkpointer.rounds
    await asyncio.sleep(0.1)
    assert checkpointer.rounds == settled, "rounds ran with nothing written"
    return settled


async def test_commits_do_not_checkpoint(app: FastAPI) -> None:
    db: Database = app.state.services.db
    async with UnitOfWork.write(db) as session:
        setting = (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
    assert setting == 0


async def test_connections_without_a_checkpointer_keep_sqlites_own(database_url: str) -> None:
    """An engine no ``Database`` checkpoints (a migration's, say) keeps SQLite's default, so
    its log never grows unchecked; an in-memory database has no log and no checkpointer."""
    engine = create_engine(make_settings(database_url, None))
    try:
        async with engine.connect() as connection:
            setting = await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")
            assert setting.scalar_one() == 1000
    finally:
        await engine.dispose()
    memory = Database(create_engine(make_settings("sqlite+aiosqlite:///:memory:", None)))
    try:
        assert memory.checkpointer is None
    finally:
        await memory.dispose()


async def test_the_log_written_by_requests_is_checkpointed_in_the_thread(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    db: Database = app.state.services.db
    assert db.checkpointer is not None
    ran_in: list[str] = []
    run_round = Checkpointer._round

    def recorded(self: Checkpointer, force: bool) -> Progress | None:
        ran_in.append(threading.current_thread().name)
        return run_round(self, force)

    monkeypatch.setattr(Checkpointer, "_round", recorded)
    await _create_events(client, owner, 5)

    progress = await db.checkpointer.checkpoint()

    assert progress.logged > 0
    assert progress.complete, progress
    assert ran_in
    assert all(name.startswith(THREAD_NAME) for name in ran_in), ran_in
    # What the log held is in the database file now: a copy of the file alone, without its
    # log, has the events.
    alone = tmp_path / "file-alone.db"
    shutil.copyfile(db.checkpointer.path, alone)
    copy = sqlite3.connect(alone)
    try:
        titles = copy.execute("SELECT title FROM event WHERE title LIKE 'Logged %'").fetchall()
    finally:
        copy.close()
    assert sorted(t for (t,) in titles) == [f"Logged {n}" for n in range(5)]


async def test_rounds_run_after_a_write_only(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    writer = _writer(path)
    checkpointer = Checkpointer(str(path), interval=0.01)
    checkpointer.start()
    try:
        await _rounds_reach(checkpointer, 1)  # the first round checkpoints what it finds
        quiet = await _settled(checkpointer)
        before = await asyncio.to_thread(os.path.getsize, path)

        writer.execute("INSERT INTO t VALUES (?)", ("x" * 5000,))  # another connection's commit
        await _rounds_reach(checkpointer, quiet + 1)
        await _settled(checkpointer)
        # The row's pages are in the database file itself now.
        assert await asyncio.to_thread(os.path.getsize, path) > before
    finally:
        await checkpointer.close()
        writer.close()


async def test_a_checkpoint_a_reader_holds_back_is_tried_again(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    writer = _writer(path)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchall()  # a snapshot before the insert
    writer.execute("INSERT INTO t VALUES (?)", ("x" * 5000,))
    checkpointer = Checkpointer(str(path), interval=0.01)
    try:
        checkpointer.start()
        await _rounds_reach(checkpointer, 1)  # the first round, held back by the reader
        await asyncio.sleep(0.05)  # a held-back round is run again, though nothing was written
        assert checkpointer.rounds > 1
        held = await checkpointer.checkpoint()
        assert not held.complete
        reader.execute("COMMIT")
        done = await checkpointer.checkpoint()
        assert done.complete
    finally:
        await checkpointer.close()
        reader.close()
        writer.close()
