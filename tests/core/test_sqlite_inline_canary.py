"""Canaries for ``core/sqlite_inline.py``: the SQLAlchemy hooks it relies on, one test each.

The inline driver is the one module of ``calendo/`` allowed names outside SQLAlchemy's public
API. Each of them can change in any release; when one does, the test of that hook fails by
its name, so the upgrade is stopped here rather than by every request failing (or, worse,
the event loop blocking silently). ``CALENDO_FAST_PATH=off`` runs SQLite on aiosqlite and
needs none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import AwaitRequired, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool

from calendo.core import sqlite_inline
from calendo.core.sqlite_inline import InlineSQLiteDialect, inline_url


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = create_async_engine(inline_url(make_url(f"sqlite:///{tmp_path / 'canary.db'}")))
    yield engine
    await engine.dispose()


async def test_await_still_runs_an_awaitable_inside_the_greenlet(engine: AsyncEngine) -> None:
    """``sqlalchemy.util.concurrency.await_``: the driver's ``run_async`` (the writer queue's
    wait in ``core.db``'s begin hook) and the yield point of every statement stand on it."""

    async def answer(_driver: Any) -> int:
        return 42

    def in_greenlet(sync: Connection) -> Any:
        dbapi_connection: Any = sync.connection.dbapi_connection
        return dbapi_connection.run_async(answer)

    async with engine.connect() as conn:
        assert await conn.run_sync(in_greenlet) == 42, "sqlalchemy.util.concurrency.await_"


async def test_asyncio_results_still_call_the_soft_close_hook(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``_async_soft_close`` cursor hook: asyncio results call it on the driver's cursor.
    If SQLAlchemy renamed it, a stdlib cursor would lack the new name; if it dropped it, the
    hook is dead code to remove."""
    calls: list[object] = []

    async def soft_close(cursor: object) -> None:
        calls.append(cursor)

    monkeypatch.setattr(sqlite_inline._Cursor, "_async_soft_close", soft_close)
    async with engine.connect() as conn:
        assert (await conn.execute(select(1))).scalar_one() == 1
    assert len(calls) == 1, "AsyncConnection.execute no longer calls cursor._async_soft_close()"


def test_the_pool_still_follows_the_url() -> None:
    """``SQLiteDialect_pysqlite._is_url_file_db`` picks the pool: a queue for a file, the one
    shared connection for ``:memory:``."""
    assert hasattr(SQLiteDialect_pysqlite, "_is_url_file_db"), "_is_url_file_db is gone"
    pool_of = InlineSQLiteDialect.get_pool_class
    assert pool_of(make_url("sqlite:///calendo.db")) is AsyncAdaptedQueuePool
    assert pool_of(make_url("sqlite://")) is StaticPool
    assert pool_of(make_url("sqlite:///:memory:")) is StaticPool


def test_create_async_engine_still_trusts_is_async(tmp_path: Path) -> None:
    """``create_async_engine`` takes any dialect that declares ``is_async = True`` (the
    inline one is the sync pysqlite dialect so declared), and still refuses the plain one."""
    url = make_url(f"sqlite:///{tmp_path / 'canary.db'}")
    with pytest.raises(InvalidRequestError):
        create_async_engine(url)
    assert create_async_engine(inline_url(url)).dialect.is_async
    # Not a sync engine's dialect: create_engine rejects an async one.
    assert not create_engine(url).dialect.is_async


async def test_async_execution_still_requires_an_await(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AsyncConnection.execute`` refuses a call that awaited nothing (``AwaitRequired``): why
    each inline statement awaits a no-op. If this stops failing, the yield point can go."""
    monkeypatch.setattr(sqlite_inline, "_yield_point", lambda: None)
    async with engine.connect() as conn:
        with pytest.raises(AwaitRequired):
            await conn.execute(select(1))
