"""Writing the change feed (public module; every event and sharing write calls ``record``).

The sequence must be gap-free in commit order, or a client could read seq 11 before seq 10
commits and skip 10 for ever. SQLite serialises writers already; on PostgreSQL a
transaction-scoped advisory lock, taken just before the feed rows are written and held to
commit, gives the same order. The lock is taken late, so it serialises only the last part of
each writing transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.types import utcnow
from calendo.core.uow import Step, run_steps, transaction_state
from calendo.sync.models import SyncChange

_FEED_LOCK_KEY = 0x43414C44  # "CALD"
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
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
    """The statements appending feed rows, for ``core.uow.run_steps``: on PostgreSQL the
    advisory lock first (once per transaction), then one INSERT."""
    if not pairs:
        return []
    result = []
    state = transaction_state(session)
    if session.get_bind().dialect.name == "postgresql" and not state.feed_locked:
        result.append(Step(_ADVISORY_LOCK, {"key": _FEED_LOCK_KEY}))
        state.feed_locked = True
    created_at = utcnow()
    rows = [
        {"user_id": uid, "event_id": eid, "change": change, "created_at": created_at}
        for uid, eid in pairs
    ]
    result.append(Step(_INSERT, rows))
    return result
