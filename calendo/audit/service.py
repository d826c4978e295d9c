"""Recording and reading audit entries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit.models import AuditEntry
from calendo.core.db import Database
from calendo.core.errors import ValidationFailed
from calendo.core.pagination import encode_cursor, int_cursor

# Ids are 32-bit integer columns on PostgreSQL.
_MAX_ID = 2**31 - 1


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


def entry_body(entry: AuditEntry, *, viewer_id: int) -> dict[str, Any]:
    """An entry as ``AuditEntryRead`` fields for ``viewer_id``.

    The IP address is personal data of the actor: it is shown for the viewer's own actions
    and for anonymous attempts on the viewer's account (failed logins, token reuse), never for
    what another user did to the viewer's events.
    """
    own = entry.actor_id is None or entry.actor_id == viewer_id
    return {
        "id": entry.id,
        "action": entry.action,
        "actor_id": entry.actor_id,
        "event_id": entry.event_id,
        "ip": entry.ip if own else None,
        "created_at": entry.created_at,
        "details": entry.details,
    }


async def list_trail(
    session: AsyncSession, *, user_id: int, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of the user's trail, newest first; the cursor is the last id returned."""
    before_id = int_cursor(cursor)
    if before_id is not None and not 0 <= before_id <= _MAX_ID:
        raise ValidationFailed("malformed cursor", loc=("query", "cursor"))
    rows = await list_entries(session, user_id=user_id, after_id=before_id, limit=limit)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
    return {
        "items": [entry_body(entry, viewer_id=user_id) for entry in page],
        "next_cursor": next_cursor,
    }
