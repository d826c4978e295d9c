"""SQL of the notifications domain; every query is scoped to the recipient's ``user_id``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, literal, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth.models import User
from calendo.core.types import UTCDateTime
from calendo.notifications.models import Notification

# A notification with its actor's username (None once the actor's account is gone).
NotificationRow = tuple[Notification, str | None]


def _with_actor() -> Select[Notification, str]:
    # Outer join: the username is NULL once the actor's account is deleted.
    return select(Notification, User.username).outerjoin(User, User.id == Notification.actor_id)


# Core, not the unit of work: notifications are written once and published, never read back
# by the request that writes them. The ids come back in the order of the rows.
_INSERT = (
    cast(Table, Notification.__table__)
    .insert()
    .returning(Notification.__table__.c.id, sort_by_parameter_order=True)
)


async def add_notifications(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the rows (``Notification`` column values) in the caller's transaction; their ids,
    in order."""
    result = await session.execute(_INSERT, list(rows))
    return list(result.scalars())


async def list_for_user(
    session: AsyncSession, *, user_id: int, unread_only: bool, before_id: int | None, limit: int
) -> list[NotificationRow]:
    """The user's notifications, newest first, with ids below ``before_id`` (keyset page)."""
    query = _with_actor().where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    rows = await session.execute(query.order_by(Notification.id.desc()).limit(limit))
    return [(notification, username) for notification, username in rows]


async def list_after(
    session: AsyncSession, *, user_id: int, after_id: int, limit: int
) -> list[NotificationRow]:
    """The user's notifications with ids above ``after_id``, oldest first (replay)."""
    query = (
        _with_actor()
        .where(Notification.user_id == user_id, Notification.id > after_id)
        .order_by(Notification.id)
        .limit(limit)
    )
    rows = await session.execute(query)
    return [(notification, username) for notification, username in rows]


async def ids_after(session: AsyncSession, *, user_id: int, after_id: int, limit: int) -> list[int]:
    """The ids of the user's notifications above ``after_id``, oldest first (an index-only
    read of ``ix_notification_user_id``)."""
    query = (
        select(Notification.id)
        .where(Notification.user_id == user_id, Notification.id > after_id)
        .order_by(Notification.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def mark_all_read(session: AsyncSession, *, user_id: int, read_at: datetime) -> int:
    """Stamp every unread notification of the user; returns how many changed."""
    statement = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=read_at)
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[tuple[()]] = await session.execute(statement)  # type: ignore[assignment]
    return result.rowcount


async def mark_read(
    session: AsyncSession, *, user_id: int, notification_id: int, read_at: datetime
) -> bool:
    """Stamp one notification of the user (an earlier stamp is kept); False if not theirs."""
    statement = (
        update(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id)
        .values(read_at=func.coalesce(Notification.read_at, literal(read_at, UTCDateTime())))
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[tuple[()]] = await session.execute(statement)  # type: ignore[assignment]
    return result.rowcount == 1
