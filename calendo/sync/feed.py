"""Writing the change feed (public module; every event and sharing write calls ``record``).

The sequence must be gap-free in commit order, or a client could read seq 11 before seq 10
commits and skip 10 for ever: the rows are appended after ``core.uow.commit_order_steps``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.types import utcnow
from calendo.core.uow import Step, commit_order_steps, run_steps
from calendo.sync.models import SyncChange

# Core, not the unit of work: feed rows are append-only and never read back by their writer.
_INSERT = cast(Table, SyncChange.__table__).insert()


async def record(
    session: AsyncSession, *, user_ids: Iterable[int], event_id: int, change: str
) -> None:
    """Append one feed row per user: ``upsert`` (visible, changed) or ``delete`` (gone)."""
    await record_many(session, [(uid, event_id) for uid in sorted(set(user_ids))], change=change)


async def record_many(
    session: AsyncSession, pairs: Sequence[tuple[int, int]], *, change: str
) -> None:
    """Append one feed row per ``(user_id, event_id)`` pair, in that order, in one INSERT."""
    await run_steps(session, steps(session, pairs, change=change))


def steps(session: AsyncSession, pairs: Sequence[tuple[int, int]], *, change: str) -> list[Step]:
    """The statements appending feed rows, for ``core.uow.run_steps``: the commit-order lock
    first (on PostgreSQL, once per transaction), then one INSERT."""
    if not pairs:
        return []
    result = commit_order_steps(session)
    created_at = utcnow()
    rows = [
        {"user_id": uid, "event_id": eid, "change": change, "created_at": created_at}
        for uid, eid in pairs
    ]
    result.append(Step(_INSERT, rows))
    return result
