"""Database layer: declarative base, engines, SQLite PRAGMAs and writer queue, autocommit reads.

Transactions are opened through ``core.uow.UnitOfWork`` (read, write, independent) on a
``Database``. On SQLite a write transaction begins with ``BEGIN IMMEDIATE`` so that
read-then-write sequences (conflict checks, version checks) cannot interleave, and writers of
this process take turns in its writer queue; PostgreSQL uses row locks instead.

SQLite runs through the stdlib driver on the event loop (``core/sqlite_inline.py``), with no
helper thread. The hottest reads (authentication, one event, a calendar page) also skip the
session and its transaction: ``Database.reads`` runs one prepared Core statement per call in
autocommit, over one connection of its own on SQLite.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson
from sqlalchemy import Executable, MetaData, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool, Pool, QueuePool, StaticPool

from calendo.core import statements
from calendo.core.checkpoints import Checkpointer
from calendo.core.config import Settings
from calendo.core.sqlite_inline import DRIVER as INLINE_DRIVER
from calendo.core.sqlite_inline import inline_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# How long a statement waits for another process's write lock on SQLite. The wait blocks the
# event loop (core/sqlite_inline.py); within one process writers queue in asyncio instead.
SQLITE_BUSY_SECONDS = 5

# Connections a PostgreSQL pool may open beyond its size under a burst.
MAX_OVERFLOW = 10

_WRITE_OPTION = "calendo_write"
# In a pooled SQLite connection's info while its write transaction holds the writer queue.
_HOLDS_QUEUE = "calendo_holds_queue"
# Each SQLite engine's writer queue, by pool (shared by the engine and its option engines).
_WRITER_QUEUES: weakref.WeakKeyDictionary[Pool, WriterQueue] = weakref.WeakKeyDictionary()
# The driver arguments each engine was made with, for the engines made beside it (reads).
_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()

# asyncpg behind PgBouncer in transaction mode (``CALENDO_DATABASE_POOLER=pgbouncer``). Each
# transaction may run on another server connection, and PgBouncer 1.18 does not carry named
# prepared statements across them, so none may be named: asyncpg's statement cache and
# SQLAlchemy's prepared statement cache are off, and asyncpg then sends each statement as an
# unnamed one, parsed again in the same message sequence as its execution (Parse, Bind,
# Execute, Sync), so nothing outlives the Sync that hands the server connection back. No
# ``prepared_statement_name_func``: unique names would only leave named statements behind on
# the server connections. See docs/operations.md.
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
}


class WriterQueue:
    """SQLite's one writer per process, queued in asyncio; it knows which task holds it."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    async def acquire(self) -> None:
        await self._lock.acquire()
        self._holder = asyncio.current_task()

    def release(self) -> None:
        self._holder = None
        self._lock.release()

    def held_here(self) -> bool:
        """Whether the running task holds the queue (its write needs no second turn)."""
        return self._holder is not None and self._holder is asyncio.current_task()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self.release()


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
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        immediate = options.get(_WRITE_OPTION, False)
        queue = _WRITER_QUEUES.get(conn.engine.pool)
        dbapi_connection: Any = conn.connection.dbapi_connection
        if immediate and queue is not None and not queue.held_here():
            # An independent unit of work (``UnitOfWork.independent``): it takes the queue
            # now, before BEGIN IMMEDIATE, and gives it back when it ends (see
            # _queue_every_writer).
            # ``run_async`` is SQLAlchemy's public way to await from a sync event (aiosqlite's
            # adapted connection has it; so does the inline driver's).
            dbapi_connection.run_async(lambda _driver: queue.acquire())
            conn.connection.info[_HOLDS_QUEUE] = True
        # Straight to the driver: a fixed statement with no parameters or result needs none of
        # exec_driver_sql's machinery, which cost a sixth of an empty write transaction.
        dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _queue_every_writer(engine: AsyncEngine, queue: WriterQueue) -> None:
    """Make independent write transactions (``UnitOfWork.independent``) take the queue too.

    Those are the short ones that must not hold the queue while they hash a password (the
    auth routes) and the ones that must outlive a failed request (an audit row, a
    revocation). Each takes the writer queue when its transaction begins (``_on_begin``,
    before ``BEGIN IMMEDIATE``) and gives it back when the transaction ends. Without this, one that
    began while a queued writer had handed the loop back would wait in SQLite's busy handler,
    which on the inline driver blocks the loop, and so the very writer it waits for, until the
    busy timeout.
    """

    _WRITER_QUEUES[engine.sync_engine.pool] = queue

    def _give_back(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_QUEUE, False):
            queue.release()

    @event.listens_for(engine.sync_engine, "commit")
    @event.listens_for(engine.sync_engine, "rollback")
    def _end(conn: Connection) -> None:
        _give_back(conn.connection.info)

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection handed back without a commit or rollback event (a failed close).
        if record is not None:
            _give_back(record.info)


def _check_local_liveness(engine: AsyncEngine) -> None:
    """On asyncpg, refuse at checkout a pooled connection its server has closed.

    SQLAlchemy's pre-ping costs three round trips on asyncpg (a transaction around ``;``, for
    PgBouncer's transaction mode), a fifth of a small write's worker CPU. A server that
    restarts or terminates a backend closes its sockets, and asyncpg marks such a connection
    closed as soon as the event loop sees it, so the pool can check that locally: raising
    ``DisconnectionError`` in the checkout event makes it discard the connection and take
    another. A connection lost silently (a proxy or a network drop, no close seen) fails the
    first statement that uses it and is invalidated: a read (``Database.reads``) then renews
    its pool and runs again; a unit of work rolls back and its request fails, as it would
    if the connection had died mid-transaction.
    """
    if engine.url.get_driver_name() != "asyncpg":
        return

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")


def _dump_json(value: Any) -> str:
    """JSON columns are written by orjson (compact, and several times faster than ``json``)."""
    return orjson.dumps(value).decode()


def _async_engine(url: URL, **kwargs: Any) -> AsyncEngine:
    """An engine with the project's JSON codec and, on asyncpg, the checkout liveness check."""
    engine = create_async_engine(
        url, json_serializer=_dump_json, json_deserializer=orjson.loads, **kwargs
    )
    _CONNECT_ARGS[engine.sync_engine] = dict(kwargs.get("connect_args", {}))
    _check_local_liveness(engine)
    return engine


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """Create the engine for the configured database (``pooled=False`` for one-off tools)."""
    kwargs: dict[str, Any] = {}
    url = make_url(settings.database_url)
    if not pooled:
        kwargs["poolclass"] = NullPool
    fast = settings.fast_path == "on"
    if not fast:
        # Every statement through ``Connection.execute`` (core/statements.py).
        kwargs["execution_options"] = {statements.FAST_PATH_OPTION: False}
    if settings.is_sqlite:
        # Fast path: the stdlib driver inline on the loop (see core/sqlite_inline.py),
        # whichever async SQLite driver the URL names; off: aiosqlite, SQLAlchemy's own.
        url = inline_url(url) if fast else url.set(drivername="sqlite+aiosqlite")
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
    elif pooled:
        # asyncpg's connections are checked locally at checkout instead (see
        # ``_check_local_liveness``); other drivers keep SQLAlchemy's pre-ping.
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=MAX_OVERFLOW,
            pool_pre_ping=url.get_driver_name() != "asyncpg",
        )
    if settings.database_pooler == "pgbouncer" and url.get_driver_name() == "asyncpg":
        kwargs["connect_args"] = dict(PGBOUNCER_CONNECT_ARGS)
    engine = _async_engine(url, **kwargs)
    if settings.is_sqlite:
        _configure_sqlite(engine)
    return engine


class Reads(Protocol):
    """Run one read-only statement outside any unit of work, in autocommit."""

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[statements.Record]:
        """Every row of the statement, with ``params`` bound to its ``bindparam``s."""

    async def close(self) -> None:
        """Release the connections."""

    @property
    def own_engine(self) -> Engine | None:
        """The engine it runs on when that is not the database's main one."""


class PooledReads:
    """Reads in autocommit (no BEGIN/COMMIT round trips) on a pool of their own.

    That pool has no pre-ping: on asyncpg a ping is three round trips (BEGIN, a query,
    ROLLBACK), which cost a read on PostgreSQL a sixth of its CPU; a connection the server
    closed is refused at checkout by a local check (``_check_local_liveness``). A read that
    meets a dead connection all the same (a proxy dropped it silently) replaces the pool,
    whose other connections are as old, and runs once more: a single read is safe to repeat.
    """

    def __init__(self, engine: AsyncEngine, *, own: bool) -> None:
        self._engine = engine
        self._own = own

    @classmethod
    def shared(cls, engine: AsyncEngine) -> PooledReads:
        """Reads on the main engine's own pool (an in-memory SQLite database: one connection
        is the whole database)."""
        return cls(engine.execution_options(isolation_level="AUTOCOMMIT"), own=False)

    @classmethod
    def beside(cls, engine: AsyncEngine) -> PooledReads:
        """Reads on the database of ``engine``, in a pool the size of its pool."""
        pool = engine.pool
        kwargs: dict[str, Any] = {"poolclass": NullPool}
        if isinstance(pool, QueuePool):
            kwargs = {"pool_size": pool.size(), "max_overflow": MAX_OVERFLOW}
        # The main engine's options (``statements.FAST_PATH_OPTION``) hold for its reads too.
        options = dict(engine.get_execution_options())
        connect_args = _CONNECT_ARGS.get(engine.sync_engine, {})
        return cls(
            _async_engine(
                engine.url,
                isolation_level="AUTOCOMMIT",
                execution_options=options,
                connect_args=connect_args,
                **kwargs,
            ),
            own=True,
        )

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[statements.Record]:
        """Check a connection out, run the statement, return it to the pool."""
        try:
            return await self._run(statement, params)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        await self._engine.dispose(close=False)
        return await self._run(statement, params)

    async def _run(
        self, statement: Executable, params: Mapping[str, Any] | None
    ) -> Sequence[statements.Record]:
        async with self._engine.connect() as conn:
            return await conn.run_sync(statements.rows, statement, params)

    async def close(self) -> None:
        """Close the pool (if it is not the main engine's, which its owner disposes of)."""
        if self._own:
            await self._engine.dispose()

    @property
    def own_engine(self) -> Engine | None:
        """The engine of this pool, unless it is the main one."""
        return self._engine.sync_engine if self._own else None


class InlineSQLiteReads:
    """Reads over one stdlib ``sqlite3`` connection of this process, on the event loop.

    WAL lets a reader run beside the writer, never waiting for it; each statement is its own
    read transaction (autocommit), so it sees every commit that came before it. The
    connection is ``query_only``: nothing can write through it.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    @classmethod
    def for_url(cls, url: URL) -> InlineSQLiteReads:
        """A reader on the same file as the application's engine."""
        engine = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"),
            poolclass=StaticPool,
            isolation_level="AUTOCOMMIT",
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # a no-op once the writer has set it
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        return cls(engine)

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[statements.Record]:
        """Run the statement now, without yielding to the loop."""
        if self._conn is None:
            self._conn = self._engine.connect()
        return statements.rows(self._conn, statement, params)

    @property
    def own_engine(self) -> Engine | None:
        """The stdlib-driver engine on the same file."""
        return self._engine

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()


def create_reads(engine: AsyncEngine) -> Reads:
    """Inline reads for a SQLite file on the inline driver (the fast path), pooled autocommit
    reads otherwise."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return PooledReads.shared(engine)
        if engine.dialect.driver == INLINE_DRIVER:
            return InlineSQLiteReads.for_url(url)
    return PooledReads.beside(engine)


def _checkpointer(engine: AsyncEngine) -> Checkpointer | None:
    """The checkpointer of a SQLite file, whose connections then leave checkpoints to it;
    None for an in-memory database (no log), a URI filename, or PostgreSQL."""
    url = engine.url
    if (
        url.get_backend_name() != "sqlite"
        or url.database in (None, "", ":memory:")
        or url.query.get("uri")
    ):
        return None

    @event.listens_for(engine.sync_engine, "connect")
    def _no_checkpoint_in_commits(dbapi_connection: Any, _record: Any) -> None:
        # Not inside a commit, on the loop: the checkpointer runs them (core/checkpoints.py).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    return Checkpointer(url.database)


class Database:
    """The engine, its write options, the reads, and SQLite's writer queue and connection.

    Transactions are opened on it through ``core.uow.UnitOfWork`` (read, write, independent);
    ``reads`` runs single statements outside any transaction.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.reads = create_reads(engine)
        # SQLite allows one writer; queueing writers here, in order, beats each of them
        # sleeping and retrying in SQLite's busy handler (long tail latencies).
        self.write_queue = WriterQueue() if engine.dialect.name == "sqlite" else None
        if self.write_queue is not None:
            _queue_every_writer(engine, self.write_queue)
        # Write transactions begin with BEGIN IMMEDIATE on SQLite (``_on_begin``).
        self.write_engine = engine.execution_options(**{_WRITE_OPTION: True})
        # SQLite: the queued writers take turns on one connection held for the process, which
        # spares each write a pool checkout and check-in (about 60 µs, a fifth of a small
        # write transaction). Opened at the first write, closed by ``dispose``.
        self._writer_connection: AsyncConnection | None = None
        # A SQLite file's log is checkpointed off the loop, after writes (``start`` runs it).
        self.checkpointer = _checkpointer(engine)

    @property
    def sync_engines(self) -> tuple[Engine, ...]:
        """Every engine that runs this database's SQL (event listeners, instrumentation)."""
        own = self.reads.own_engine
        return (self.engine.sync_engine,) if own is None else (self.engine.sync_engine, own)

    async def writer_connection(self) -> AsyncConnection:
        """The connection the queued writers share (SQLite; call it holding the queue)."""
        connection = self._writer_connection
        if connection is None or connection.closed or connection.invalidated:
            connection = await self.engine.connect()
            connection = await connection.execution_options(**{_WRITE_OPTION: True})
            self._writer_connection = connection
        elif connection.in_transaction():
            # Left open by a unit of work that failed to end it; a session must never join
            # it (it would then not own, and not commit, its own writes).
            await connection.rollback()
        return connection

    def start(self) -> None:
        """Start what runs beside the requests (on the running loop): the checkpoints."""
        if self.checkpointer is not None:
            self.checkpointer.start()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self.checkpointer is not None:
            await self.checkpointer.close()
        if self._writer_connection is not None and self.write_queue is not None:
            async with self.write_queue:
                await self._writer_connection.close()
                self._writer_connection = None
        await self.reads.close()
        await self.engine.dispose()


LIKE_ESCAPE = "\\"


def like_literal(text: str) -> str:
    """``text`` lower-cased, with LIKE's wildcards escaped (``ESCAPE LIKE_ESCAPE``), so a search
    for ``50%_off`` matches those characters literally, on both databases."""
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
