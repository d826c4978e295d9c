"""SQLite for the asyncio engine without a thread: the stdlib driver, called on the event loop.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a helper thread and waits
for it, so one statement costs several thread round trips, more CPU than SQLite spends on an
indexed lookup or a row insert. This dialect is the stdlib ``pysqlite`` one, declared async
so ``create_async_engine`` accepts it: SQLAlchemy's greenlet layer then calls ``sqlite3``
directly, with no hop at all.

What makes it safe to run on the loop:

- WAL mode: readers never wait for the writer.
- One writer per process, queued in asyncio (``Database.writer``), so a write transaction
  never waits on another one of this process.
- ``synchronous=NORMAL``: a commit appends to the WAL without an fsync.

The one wait left is another *process* holding the write lock (a second server on the same
file, a maintenance command). The busy timeout then blocks this process's loop until that
transaction commits, a few milliseconds in practice; deployments with several processes
should use PostgreSQL (see docs/operations.md).

This is the fast path's SQLite driver (``CALENDO_FAST_PATH=on``, the default; ``off`` runs
SQLite on aiosqlite, ``core.db.create_engine``). It is the one module of ``calendo/`` that
relies on SQLAlchemy names outside its public API, and the canary tests
(``tests/core/test_sqlite_inline_canary.py``) fail by name when any of them changes:

- ``sqlalchemy.util.concurrency.await_``, to await inside SQLAlchemy's greenlet;
- the ``_async_soft_close`` cursor hook that asyncio results call;
- ``SQLiteDialect_pysqlite._is_url_file_db``, to pick the pool;
- ``create_async_engine`` accepting any dialect that declares ``is_async = True``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_

DRIVER = "calendo_inline"
T = TypeVar("T")


async def _ready() -> None:
    """Nothing to wait for: the statement runs inline."""


def _yield_point() -> None:
    # ``AsyncConnection.execute`` checks that the call awaited something (a guard against
    # sync drivers); one awaited no-op per statement, a greenlet switch, satisfies it.
    await_(_ready())


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """Asyncio results call this to release a cursor early; rows stay readable inline."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        """Cursors that asyncio results know how to close."""
        return super().cursor(factory)

    def run_async(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Await ``fn(connection)`` from sync code in SQLAlchemy's greenlet (an event hook),
        as SQLAlchemy's adapted async connections do (``AdaptedConnection.run_async``)."""
        return await_(fn(self))


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """``pysqlite`` usable by ``create_async_engine``: statements run inline."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    def create_connect_args(self, url: URL) -> Any:
        """pysqlite's arguments, with the connection class above."""
        args, kwargs = super().create_connect_args(url)
        return args, {**kwargs, "factory": _Connection}

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        """Run the statement inline."""
        _yield_point()
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_executemany(
        self, cursor: Any, statement: Any, parameters: Any, context: Any = None
    ) -> None:
        """Run the statement for each parameter set, inline."""
        _yield_point()
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_execute_no_params(self, cursor: Any, statement: Any, context: Any = None) -> None:
        """Run the statement inline."""
        _yield_point()
        super().do_execute_no_params(cursor, statement, context)  # type: ignore[no-untyped-call]

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        """The asyncio-aware queue pool for files; one shared connection for ``:memory:``."""
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool


registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")


def inline_url(url: URL) -> URL:
    """The same SQLite database, through this dialect."""
    return url.set(drivername=f"sqlite+{DRIVER}")
