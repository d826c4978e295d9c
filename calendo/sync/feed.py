"""Writing the change feed (public module; every event and sharing write calls ``record``).

The sequence must be gap-free in commit order, or a client could read seq 11 before seq 10
commits and skip 10 for ever. SQLite serialises writers already; on PostgreSQL a
transaction-scoped advisory lock, taken just before the feed rows are written and held to
commit, gives the same order. The lock is taken late, so it serialises only the last part of
each writing transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.sync.models import SyncChange

_FEED_LOCK_KEY = 0x43414C44  # "CALD"
_LOCKED = "calendo_feed_locked"


async def record(
    session: AsyncSession, *, user_ids: Iterable[int], event_id: int, change: str
) -> None:
    """Append one feed row per user: ``upsert`` (visible, changed) or ``delete`` (gone)."""
    rows = [
        SyncChange(user_id=uid, event_id=event_id, change=change) for uid in sorted(set(user_ids))
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and not session.info.get(_LOCKED):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FEED_LOCK_KEY})
        session.info[_LOCKED] = True
    session.add_all(rows)
