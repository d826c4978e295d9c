"""The version store: reads of the history tables, public to the events domain's history reads."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit.models import AuditEntry
from calendo.auth.models import User
from calendo.history.models import EventVersion

SHARING_ACTIONS = ("shared", "permission_changed", "unshared")


async def versions(session: AsyncSession, event_id: int) -> list[EventVersion]:
    """Every version of an event, oldest first."""
    query = (
        select(EventVersion).where(EventVersion.event_id == event_id).order_by(EventVersion.version)
    )
    return list((await session.scalars(query)).all())


async def versions_numbered(
    session: AsyncSession, event_id: int, numbers: set[int]
) -> list[EventVersion]:
    """The versions of an event with these numbers."""
    query = select(EventVersion).where(
        EventVersion.event_id == event_id, EventVersion.version.in_(numbers)
    )
    return list((await session.scalars(query)).all())


async def version(session: AsyncSession, event_id: int, number: int) -> EventVersion | None:
    """One version by number."""
    query = select(EventVersion).where(
        EventVersion.event_id == event_id, EventVersion.version == number
    )
    return (await session.scalars(query)).first()


async def sharing_entries(session: AsyncSession, event_id: int) -> list[AuditEntry]:
    """Sharing changes of an event, oldest first (they live in the audit trail)."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.event_id == event_id, AuditEntry.action.in_(SHARING_ACTIONS))
        .order_by(AuditEntry.id)
    )
    return list((await session.scalars(query)).all())


async def usernames(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """Usernames by id."""
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}
