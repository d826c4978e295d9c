"""Bodies of the notifications endpoints; ``NotificationRead`` is also the WebSocket message."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel

NotificationType = Literal[
    "event_updated",
    "event_deleted",
    "event_restored",
    "event_rolled_back",
    "event_shared",
    "permission_changed",
    "permission_revoked",
]
NOTIFICATION_TYPES: frozenset[str] = frozenset(get_args(NotificationType))


class NotificationActor(BaseModel):
    """Who caused the notification."""

    id: int
    username: str


class NotificationRead(BaseModel):
    """A notification; ``actor`` is null once the actor's account is deleted."""

    id: int
    type: NotificationType
    event_id: int
    actor: NotificationActor | None
    changed_fields: list[str]
    version: int | None
    created_at: datetime
    read_at: datetime | None
