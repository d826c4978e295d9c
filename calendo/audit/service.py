"""Recording and reading audit entries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit.models import AuditEntry
from calendo.core.db import Database


def record(
    session: AsyncSession,
    *,
    action: str,
    actor_id: int | None,
    subject_user_id: int | None = None,
    event_id: int | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the current transaction (it commits or rolls back with it)."""
    entry = AuditEntry(
        action=action,
        actor_id=actor_id,
        subject_user_id=subject_user_id,
        event_id=event_id,
        ip=ip,
        details=details or {},
    )
    session.add(entry)
    return entry


async def record_independently(db: Database, **fields: Any) -> None:
    """Write an audit row in its own transaction: it survives the request's failure."""
    async with db.write_sessions() as session, session.begin():
        record(session, **fields)


async def list_entries(
    session: AsyncSession, *, user_id: int, after_id: int | None, limit: int
) -> list[AuditEntry]:
    """The user's trail, newest first: what they did and what touched their account or events."""
    query = select(AuditEntry).where(
        or_(AuditEntry.actor_id == user_id, AuditEntry.subject_user_id == user_id)
    )
    if after_id is not None:
        query = query.where(AuditEntry.id < after_id)
    query = query.order_by(AuditEntry.id.desc()).limit(limit + 1)
    return list((await session.scalars(query)).all())
