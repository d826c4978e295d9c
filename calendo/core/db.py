"""Database layer: declarative base, engine and session factories, SQLite PRAGMAs, unit of work.

One ``AsyncSession`` per request. The unit of work commits once, before the response is sent,
and runs the after-commit hooks (broker publishes) only when the commit succeeded. On SQLite a
write request opens its transaction with ``BEGIN IMMEDIATE`` so that read-then-write sequences
(conflict checks, version checks) cannot interleave; PostgreSQL uses row locks instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from calendo.core.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT_KEY = "calendo_after_commit"
_WRITE_OPTION = "calendo_write"


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention (Alembic needs it)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, busy timeout, and explicit BEGIN / BEGIN IMMEDIATE."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the driver's implicit BEGIN is DEFERRED only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """Create the engine for the configured database (``pooled=False`` for one-off tools)."""
    kwargs: dict[str, Any] = {}
    if not pooled:
        kwargs["poolclass"] = NullPool
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": 30}
    elif pooled:
        kwargs.update(pool_size=settings.db_pool_size, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(settings.database_url, **kwargs)
    if settings.is_sqlite:
        _configure_sqlite(engine)
    return engine


class Database:
    """The engine plus two session factories: read (deferred) and write (immediate on SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite allows one writer; queueing writers here, in order, beats each of them
        # sleeping and retrying in SQLite's busy handler (long tail latencies).
        self._write_queue = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self.read_sessions = async_sessionmaker(engine, expire_on_commit=False)
        write_engine = engine.execution_options(**{_WRITE_OPTION: True})
        self.write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[None]:
        """Hold this process's writer queue (SQLite only) for a write transaction."""
        if self._write_queue is None:
            yield
            return
        async with self._write_queue:
            yield

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` once the unit of work has committed; dropped on rollback."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(hook)


@asynccontextmanager
async def unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Yield the session; commit when the body succeeds, roll back otherwise, then run hooks."""
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        hooks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT_KEY, [])
        await session.close()
    for hook in hooks:
        await hook()
