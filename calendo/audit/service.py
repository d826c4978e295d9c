"""Recording and reading audit entries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict, Unpack, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit.models import AuditEntry
from calendo.core.db import Database
from calendo.core.errors import ValidationFailed
from calendo.core.pagination import encode_cursor, int_cursor
from calendo.core.types import MAX_ID, utcnow
from calendo.core.uow import Step, UnitOfWork, run_steps

# Ids are 32-bit integer columns on PostgreSQL.


_INSERT = cast(Table, AuditEntry.__table__).insert()


class Fields(TypedDict):
    """What an audit row says (``created_at`` is stamped when the row is built)."""

    action: str
    actor_id: int | None
    subject_user_id: NotRequired[int | None]
    event_id: NotRequired[int | None]
    ip: NotRequired[str | None]
    details: NotRequired[dict[str, Any] | None]


def entry(**fields: Unpack[Fields]) -> dict[str, Any]:
    """The values of one audit row (for ``record_many``)."""
    return {
        "action": fields["action"],
        "actor_id": fields["actor_id"],
        "subject_user_id": fields.get("subject_user_id"),
        "event_id": fields.get("event_id"),
        "ip": fields.get("ip"),
        "details": fields.get("details") or {},
        "created_at": utcnow(),
    }


async def record(session: AsyncSession, **fields: Unpack[Fields]) -> None:
    """Write one audit row in the current transaction: it commits or rolls back with it."""
    await record_many(session, [entry(**fields)])


def entries_step(entries: Sequence[dict[str, Any]]) -> Step:
    """The INSERT of ``entry`` rows, for ``core.uow.run_steps`` (at least one row)."""
    return Step(_INSERT, list(entries))


async def record_many(session: AsyncSession, entries: Sequence[dict[str, Any]]) -> None:
    """Write ``entry`` rows in one Core INSERT: no unit of work, since audit rows are
    append-only and nothing reads them back in the request that writes them."""
    if entries:
        await run_steps(session, [entries_step(entries)])


async def record_independently(db: Database, **fields: Unpack[Fields]) -> None:
    """Write an audit row in its own transaction: it survives the request's failure."""
    async with UnitOfWork.independent(db) as session:
        await record(session, **fields)


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
    if before_id is not None and not 0 <= before_id <= MAX_ID:
        raise ValidationFailed("malformed cursor", loc=("query", "cursor"))
    rows = await list_entries(session, user_id=user_id, after_id=before_id, limit=limit)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
    return {
        "items": [entry_body(entry, viewer_id=user_id) for entry in page],
        "next_cursor": next_cursor,
    }
