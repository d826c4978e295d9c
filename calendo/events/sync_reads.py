"""The sync reads: the caller's feed rows, and the events they can see now.

Visibility is ``events.repository.visible_events``, the one "events this user can see" rule of
the calendar's reads. Both queries are keyed by indexes: ``(user_id, seq)`` on the feed and
``(user_id, event_id)`` on permissions.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.cooperative import Pacer
from calendo.events.models import Event
from calendo.events.repository import visible_events
from calendo.sync.models import SyncChange

STEP = 25


async def newest_seq(session: AsyncSession, user_id: int) -> int:
    """The highest feed sequence number of the user (0 when there is none)."""
    query = select(func.coalesce(func.max(SyncChange.seq), 0)).where(SyncChange.user_id == user_id)
    return int((await session.execute(query)).scalar_one())


async def changes_after(
    session: AsyncSession, *, user_id: int, after_seq: int, limit: int
) -> list[SyncChange]:
    """At most ``limit`` feed rows of the user after ``after_seq``, in sequence order."""
    query = (
        select(SyncChange)
        .where(SyncChange.user_id == user_id, SyncChange.seq > after_seq)
        .order_by(SyncChange.seq)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def visible_by_id(
    session: AsyncSession, *, user_id: int, event_ids: Collection[int]
) -> dict[int, tuple[Event, str]]:
    """Those of ``event_ids`` the user can see now, with the user's role."""
    if not event_ids:
        return {}
    query = visible_events(user_id).where(Event.id.in_(event_ids))
    rows = (await session.execute(query)).all()
    return {event.id: (event, role) for event, role in rows}


async def visible_page(
    session: AsyncSession, *, user_id: int, after_id: int, limit: int, pacer: Pacer
) -> list[tuple[Event, str]]:
    """At most ``limit`` visible events with an id above ``after_id``, by id (stable paging).

    Read in keyset steps of ``STEP`` rows with a ``pacer`` tick between them, so a 200-event
    page never holds the event loop for the whole read (SQLite runs on the loop)."""
    found: list[tuple[Event, str]] = []
    while len(found) < limit:
        want = min(STEP, limit - len(found))
        query = visible_events(user_id).where(Event.id > after_id).order_by(Event.id).limit(want)
        rows = [(event, role) for event, role in (await session.execute(query)).all()]
        found += rows
        if len(rows) < want:
            break
        after_id = rows[-1][0].id
        await pacer.tick()
    return found
