"""Bodies of the notifications endpoints; ``NotificationRead`` is also the WebSocket message."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

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
    event_title: str = Field(
        description="The event's title when the notification was written (for a rename, the "
        "new title). A later rename does not change it, so it still names the event after "
        "`permission_revoked` or `event_deleted`, when the event can no longer be read."
    )
    actor: NotificationActor | None
    changed_fields: list[str]
    version: int | None
    created_at: datetime
    read_at: datetime | None
