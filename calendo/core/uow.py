"""The unit of work: one transaction per request, committed before the response, rolled back on
any error, with after-commit hooks (broker publishes) that run only once the commit succeeded.

A transaction the database aborted for another's sake (``is_transient``) leaves as
``TransientConflict``, for ``core.replay`` to run the request again. ``run_steps`` sends the
Core statements a write appends in one pass into SQLAlchemy's greenlet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from calendo.core import statements

AfterCommit = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class TransactionState:
    """What one transaction has done so far, typed: the hooks to run once it commits, and the
    locks it already holds (taken once each, in the lock order of docs/architecture.md).

    It lives for one transaction: ``unit_of_work`` drops it at commit or rollback, when the
    locks are released and the hooks have run or been dropped."""

    after_commit: list[AfterCommit] = field(default_factory=list)
    locked_calendars: set[int] = field(default_factory=set)
    commit_order_locked: bool = False


# The transaction-scoped advisory lock of ``commit_order_steps`` ("CALD").
_COMMIT_ORDER_KEY = 0x43414C44
_COMMIT_ORDER_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

# The one entry of ``Session.info`` Calendo uses: the session's current TransactionState.
_STATE_KEY = "calendo.transaction"


def transaction_state(session: AsyncSession | Session) -> TransactionState:
    """The state of ``session``'s current transaction (made on first use)."""
    info = session.info
    state = info.get(_STATE_KEY)
    if state is None:
        state = info[_STATE_KEY] = TransactionState()
    return state


# SQLSTATEs of a transaction the database aborted for another's sake, safe to run again from
# the start: serialization_failure and deadlock_detected (PostgreSQL). SQLite's counterpart
# is SQLITE_BUSY: another process held the write lock past the busy timeout.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


class TransientConflict(Exception):
    """A unit of work the database aborted as a deadlock or serialization failure (or, on
    SQLite, a write lock held too long by another process), already rolled back: running the
    request again from the start is safe. ``core.replay`` does, a bounded number of times.

    Deliberately not an ``AppError``: it must travel past the error handlers to the replay."""


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


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` once the unit of work has committed; dropped on rollback."""
    transaction_state(session).after_commit.append(hook)


def _finish(session: Session) -> None:
    session.commit()
    session.close()


def _abandon(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


@asynccontextmanager
async def unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Yield the session; commit when the body succeeds, roll back otherwise, then run hooks.

    The commit and the close (or the rollback and the close) run in one pass into
    SQLAlchemy's greenlet: each pass costs about 10 µs, as much as an indexed SQLite lookup.

    A transaction the database aborted for another's sake (``is_transient``) leaves as
    ``TransientConflict``, for the request to be replayed.
    """
    try:
        yield session
        await session.run_sync(_finish)
    except BaseException as exc:
        await session.run_sync(_abandon)
        if isinstance(exc, DBAPIError) and is_transient(exc):
            raise TransientConflict(str(exc.orig)) from exc
        raise
    finally:
        state: TransactionState | None = session.info.pop(_STATE_KEY, None)
    for hook in state.after_commit if state is not None else ():
        await hook()


@dataclass(frozen=True, slots=True)
class Step:
    """A Core statement for ``run_steps``: its parameters (a list of them: executemany), and
    the error to raise if it is an UPDATE that must change a row and changed none."""

    statement: Executable
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    unmatched: Exception | None = None


async def run_steps(session: AsyncSession, steps: Sequence[Step]) -> None:
    """Run Core statements in order in the session's transaction, in one pass into SQLAlchemy's
    greenlet: every ``await session.execute`` is a pass of its own and costs more than a
    small INSERT. For the rows a write appends (versions, audit, feed), read by no one in it."""

    def run(sync_session: Session) -> None:
        connection = sync_session.connection()
        for step in steps:
            matched = statements.write(connection, step.statement, step.params)
            if step.unmatched is not None and matched == 0:
                raise step.unmatched

    await session.run_sync(run)


def commit_order_steps(session: AsyncSession | Session) -> list[Step]:
    """What a transaction runs before it takes a sync-feed sequence number or a notification
    id, so that those commit in the order they were taken: readers that page by them ("after
    seq 10", ``since=118``) would otherwise skip one that commits after a larger one.

    SQLite has one writer at a time already: nothing. On PostgreSQL, a transaction-scoped
    advisory lock, held to commit, taken once per transaction and as late as the writers
    can (it serialises only the last part of each writing transaction)."""
    state = transaction_state(session)
    if state.commit_order_locked or session.get_bind().dialect.name != "postgresql":
        return []
    state.commit_order_locked = True
    return [Step(_COMMIT_ORDER_LOCK, {"key": _COMMIT_ORDER_KEY})]
