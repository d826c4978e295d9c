"""Notification use cases: produce (for other domains), list, mark read, replay.

``notify`` is the producer API. It writes the rows in the caller's transaction and publishes
them on ``user:{recipient_id}`` only after that transaction commits, so a rolled-back change
never reaches a socket and a published notification always exists in the database (a client
that missed it live gets it from ``replay_since``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.errors import NotFound
from calendo.core.pagination import Page, encode_cursor
from calendo.core.types import utcnow
from calendo.core.uow import UnitOfWork, commit_order_steps, run_steps
from calendo.notifications import repository
from calendo.notifications.models import Notification
from calendo.notifications.repository import NotificationRow
from calendo.notifications.schemas import NOTIFICATION_TYPES, NotificationActor, NotificationRead

log = structlog.get_logger("calendo.notifications")


class Publisher(Protocol):
    """The part of a broker that ``notify`` needs."""

    async def publish(self, channel: str, message: bytes) -> None: ...


class NotificationNotFound(NotFound):
    title = "Notification not found"


def user_channel(user_id: int) -> str:
    """The broker channel that carries one user's notifications."""
    return f"user:{user_id}"


def to_read(
    notification: Notification | Mapping[str, Any], actor_username: str | None
) -> NotificationRead:
    """The public shape of a row, an ORM object or its values (``actor`` is null when the
    actor account is gone)."""
    get = (
        notification.__getitem__
        if isinstance(notification, Mapping)
        else notification.__getattribute__
    )
    actor = None
    actor_id = get("actor_id")
    if actor_id is not None and actor_username is not None:
        actor = NotificationActor(id=actor_id, username=actor_username)
    return NotificationRead.model_validate(
        {
            "id": get("id"),
            "type": get("type"),
            "event_id": get("event_id"),
            "event_title": get("event_title"),
            "actor": actor,
            "changed_fields": get("changed_fields"),
            "version": get("version"),
            "created_at": get("created_at"),
            "read_at": get("read_at"),
        }
    )


def encode(notification: NotificationRead) -> bytes:
    """The wire form of a notification: the same JSON as the REST body."""
    return orjson.dumps(notification.model_dump(mode="json"))


async def notify(
    session: AsyncSession,
    broker: Publisher,
    *,
    recipient_ids: Collection[int],
    type: str,  # the contract's field name, shadowing the builtin on purpose
    event_id: int,
    event_title: str,
    actor_id: int,
    actor_username: str,
    changed_fields: Sequence[str] = (),
    version: int | None = None,
) -> None:
    """Record a notification for each recipient but the actor; publish after commit.

    ``event_title`` is the title as the change leaves it (a rename's new title); the rows keep
    it whatever happens to the event later. Call it inside the transaction of the change it
    describes. Nothing is published if that transaction rolls back; a failed publish is
    logged, not raised (the rows are committed and clients catch up with ``?since=``).
    """
    if type not in NOTIFICATION_TYPES:
        raise ValueError(f"unknown notification type {type!r}")
    recipients = sorted(set(recipient_ids) - {actor_id})
    if not recipients:
        return
    created_at = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "user_id": user_id,
            "type": type,
            "event_id": event_id,
            "event_title": event_title,
            "actor_id": actor_id,
            "changed_fields": list(changed_fields),
            "version": version,
            "created_at": created_at,
            "read_at": None,
        }
        for user_id in recipients
    ]
    # Ids taken in commit order: the live feed's order check relies on it (notifications/feed).
    await run_steps(session, commit_order_steps(session))
    for row, row_id in zip(rows, await repository.add_notifications(session, rows), strict=True):
        row["id"] = row_id
    messages = [
        (user_channel(row["user_id"]), encode(to_read(row, actor_username))) for row in rows
    ]

    async def publish() -> None:
        for channel, message in messages:
            try:
                await broker.publish(channel, message)
            except Exception as exc:  # the commit stands whatever the broker does
                log.warning("notification_publish_failed", channel=channel, error=str(exc))

    UnitOfWork.of(session).after_commit(publish)


def _page(rows: list[NotificationRow], limit: int) -> Page[NotificationRead]:
    items = [to_read(row, username) for row, username in rows[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return Page[NotificationRead](items=items, next_cursor=next_cursor)


async def list_notifications(
    session: AsyncSession, *, user_id: int, unread_only: bool, before_id: int | None, limit: int
) -> Page[NotificationRead]:
    """A page of the user's notifications, newest first."""
    rows = await repository.list_for_user(
        session, user_id=user_id, unread_only=unread_only, before_id=before_id, limit=limit + 1
    )
    return _page(rows, limit)


async def mark_all_read(session: AsyncSession, *, user_id: int) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return await repository.mark_all_read(session, user_id=user_id, read_at=utcnow())


async def mark_read(session: AsyncSession, *, user_id: int, notification_id: int) -> None:
    """Mark one of the user's notifications read; 404 for anyone else's or an unknown id."""
    found = await repository.mark_read(
        session, user_id=user_id, notification_id=notification_id, read_at=utcnow()
    )
    if not found:
        raise NotificationNotFound(f"Notification {notification_id} not found")


async def replay_since(
    session: AsyncSession, *, user_id: int, since_id: int, limit: int = 200
) -> list[NotificationRead]:
    """The user's notifications after ``since_id``, oldest first, at most ``limit``."""
    rows = await repository.list_after(session, user_id=user_id, after_id=since_id, limit=limit)
    return [to_read(row, username) for row, username in rows]


async def ids_since(session: AsyncSession, *, user_id: int, since_id: int, limit: int) -> list[int]:
    """The ids of the user's notifications after ``since_id``, oldest first, at most ``limit``."""
    return await repository.ids_after(session, user_id=user_id, after_id=since_id, limit=limit)
