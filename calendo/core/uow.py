"""The unit of work: every transaction of a request or a background job is one ``UnitOfWork``,
opened through one of three constructors.

- ``UnitOfWork.read(db)``: a read. It never commits (its connection goes back rolled back,
  so nothing it might write survives), refuses ORM flushes, after-commit hooks and the
  appending writes (``run_steps``, the commit-order lock), and takes no writer's turn.
- ``UnitOfWork.write(db)``: the request's write. It holds this process's writer queue
  (SQLite) for its whole life, on the writer connection the database keeps; it commits when
  its block ends (before the handler returns its response), or rolls back on any error;
  after-commit hooks (broker publishes) run only once the commit succeeded.
- ``UnitOfWork.independent(db)``: a write of its own, beside the request's, committed when its
  block ends whatever the request does next (an audit row or a revocation that must survive
  a failed request, a route whose password hashing must not hold the writer queue). On
  SQLite it takes the writer queue only while its transaction runs (``core.db``).

A ``UnitOfWork`` is the ``AsyncSession`` the use cases receive, with what its transaction has
done so far as typed attributes: the after-commit hooks, the calendars it has locked, whether
it holds the commit-order lock. Code that holds a plain session reaches them with
``UnitOfWork.of``, which refuses a session opened any other way.

A transaction the database aborted for another's sake (``is_transient``) leaves as
``TransientConflict``, for ``core.replay`` to run the request again. ``run_steps`` sends the
Core statements a write appends in one pass into SQLAlchemy's greenlet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_session
from sqlalchemy.orm import Session

from calendo.core import statements
from calendo.core.db import Database

AfterCommit = Callable[[], Awaitable[None]]

# The transaction-scoped advisory lock of ``commit_order_steps`` ("CALD").
_COMMIT_ORDER_KEY = 0x43414C44
_COMMIT_ORDER_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

# SQLSTATEs of a transaction the database aborted for another's sake, safe to run again from
# the start: serialization_failure and deadlock_detected (PostgreSQL). SQLite's counterpart
# is SQLITE_BUSY: another process held the write lock past the busy timeout.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


class TransientConflict(Exception):
    """A unit of work the database aborted as a deadlock or serialization failure (or, on
    SQLite, a write lock held too long by another process), already rolled back: running the
    request again from the start is safe. ``core.replay`` does, a bounded number of times.

    Deliberately not an ``AppError``: it must travel past the error handlers to the replay."""


class ReadOnlyUnit(RuntimeError):
    """A write asked of a read unit (a flush, a hook, an appending write): a programming
    error, never a client's."""


def is_transient(exc: BaseException) -> bool:
    """Whether a database error means "try the whole transaction again" (driver errors are
    recognised by their SQLSTATE or SQLite error name, so that core imports no driver)."""
    node: BaseException | None = exc
    for _ in range(4):
        if node is None:
            return False
        if getattr(node, "sqlstate", None) in _TRANSIENT_SQLSTATES:
            return True
        if getattr(node, "sqlite_errorname", None) in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            return True
        node = getattr(node, "orig", None) or node.__cause__
    return False


class _ReadSession(Session):
    """The synchronous session of a read unit: it refuses to flush a change."""


@event.listens_for(_ReadSession, "before_flush")
def _refuse_flush(_session: Session, _context: Any, _instances: Any) -> None:
    # Fired only when there is something to flush: a clean autoflush before each query of a
    # read costs nothing more.
    raise ReadOnlyUnit("a read unit of work writes nothing; open UnitOfWork.write")


def _commit(session: Session) -> None:
    session.commit()
    session.close()


def _roll_back(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


class UnitOfWork(AsyncSession):
    """One transaction, as the session its use cases run in, with its state typed.

    Open one with ``read``, ``write`` or ``independent`` (never construct it directly): each
    is an ``async with`` block that ends the transaction when it ends. The state lives as long
    as the transaction: a rollback inside the block (``rollback()``) drops it too, since the
    locks it records are released and the hooks must not run.
    """

    def __init__(self, bind: AsyncEngine | AsyncConnection, *, writes: bool) -> None:
        if writes:
            super().__init__(bind=bind, expire_on_commit=False)
        else:
            super().__init__(bind=bind, expire_on_commit=False, sync_session_class=_ReadSession)
        self.writes = writes
        # The hooks to run once the transaction has committed (broker publishes).
        self.hooks: list[AfterCommit] = []
        # The users whose calendar lock this transaction holds (``auth.scopes.lock_calendar``).
        self.locked_calendars: set[int] = set()
        # Whether it holds the commit-order lock (``commit_order_steps``).
        self.commit_order_locked = False

    @staticmethod
    def of(session: AsyncSession | Session) -> UnitOfWork:
        """The unit of work of ``session`` (the synchronous session inside ``run_sync`` too)."""
        unit = async_session(session) if isinstance(session, Session) else session
        if not isinstance(unit, UnitOfWork):
            raise TypeError("this session was not opened through UnitOfWork")
        return unit

    @classmethod
    def read(cls, db: Database) -> AbstractAsyncContextManager[UnitOfWork]:
        """A read transaction (a deferred ``BEGIN`` on SQLite), never committed."""
        return _reading(cls(db.engine, writes=False))

    @classmethod
    @asynccontextmanager
    async def write(cls, db: Database) -> AsyncIterator[UnitOfWork]:
        """The request's write transaction, in this process's writer queue (SQLite), committed
        when the block ends; its after-commit hooks run then, still in the queue, so publishes
        leave in commit order."""
        queue = db.write_queue
        if queue is None:
            async with _committing(cls(db.write_engine, writes=True)) as unit:
                yield unit
            return
        await queue.acquire()
        try:
            connection = await db.writer_connection()
            async with _committing(cls(connection, writes=True)) as unit:
                yield unit
        finally:
            queue.release()

    @classmethod
    def independent(cls, db: Database) -> AbstractAsyncContextManager[UnitOfWork]:
        """A write transaction of its own, committed when the block ends whatever happens to
        the request's; on SQLite it waits for the writer queue only once it begins."""
        return _committing(cls(db.write_engine, writes=True))

    def after_commit(self, hook: AfterCommit) -> None:
        """Run ``hook`` once this unit has committed; dropped on rollback."""
        if not self.writes:
            raise ReadOnlyUnit("a read unit of work never commits: nothing runs after it")
        self.hooks.append(hook)

    async def rollback(self) -> None:
        """Roll the transaction back: its locks are released and its hooks dropped."""
        await super().rollback()
        self._forget()

    def _forget(self) -> None:
        self.hooks = []
        self.locked_calendars = set()
        self.commit_order_locked = False


@asynccontextmanager
async def _reading(unit: UnitOfWork) -> AsyncIterator[UnitOfWork]:
    """A read unit's block. It ends with a close, whose connection goes back rolled back:
    nothing it ran stays, and the objects it loaded keep their values (a rollback of the
    session would expire them)."""
    try:
        yield unit
    finally:
        await unit.close()


@asynccontextmanager
async def _committing(unit: UnitOfWork) -> AsyncIterator[UnitOfWork]:
    """A write unit's block: commit when the body succeeds, roll back otherwise, then run the
    hooks of a commit.

    The commit and the close (or the rollback and the close) run in one pass into
    SQLAlchemy's greenlet: each pass costs about 10 µs, as much as an indexed SQLite lookup.
    A transaction the database aborted for another's sake (``is_transient``) leaves as
    ``TransientConflict``, for the request to be replayed.
    """
    try:
        yield unit
        await unit.run_sync(_commit)
    except BaseException as exc:
        unit.hooks = []
        await unit.run_sync(_roll_back)
        if isinstance(exc, DBAPIError) and is_transient(exc):
            raise TransientConflict(str(exc.orig)) from exc
        raise
    hooks, unit.hooks = unit.hooks, []
    for hook in hooks:
        await hook()


@dataclass(frozen=True, slots=True)
class Step:
    """A Core statement for ``run_steps``: its parameters (a list of them: executemany), and
    what makes the error to raise if it is an UPDATE that must change a row and changed none
    (made only then: the error of a step that matched is never built)."""

    statement: Executable
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    unmatched: Callable[[], Exception] | None = None


async def run_steps(session: AsyncSession, steps: Sequence[Step]) -> None:
    """Run Core statements in order in the session's transaction, in one pass into SQLAlchemy's
    greenlet: every ``await session.execute`` is a pass of its own and costs more than a
    small INSERT. For the rows a write appends (versions, audit, feed), read by no one in it."""

    if not UnitOfWork.of(session).writes:
        raise ReadOnlyUnit("a read unit of work appends no rows; open UnitOfWork.write")

    def run(sync_session: Session) -> None:
        connection = sync_session.connection()
        for step in steps:
            matched = statements.write(connection, step.statement, step.params)
            if step.unmatched is not None and matched == 0:
                raise step.unmatched()

    await session.run_sync(run)


def commit_order_steps(session: AsyncSession | Session) -> list[Step]:
    """What a transaction runs before it takes a sync-feed sequence number or a notification
    id, so that those commit in the order they were taken: readers that page by them ("after
    seq 10", ``since=118``) would otherwise skip one that commits after a larger one.

    SQLite has one writer at a time already: nothing. On PostgreSQL, a transaction-scoped
    advisory lock, held to commit, taken once per transaction and as late as the writers
    can (it serialises only the last part of each writing transaction)."""
    unit = UnitOfWork.of(session)
    if not unit.writes:
        raise ReadOnlyUnit("a read unit of work takes no commit-order lock")
    if unit.commit_order_locked or session.get_bind().dialect.name != "postgresql":
        return []
    unit.commit_order_locked = True
    return [Step(_COMMIT_ORDER_LOCK, {"key": _COMMIT_ORDER_KEY})]
