"""Events as response bodies."""

from __future__ import annotations

from typing import Any

from calendo.events.models import Event
from calendo.sharing.models import Permission


def event_body(event: Event, role: str) -> dict[str, Any]:
    """The ``EventRead`` fields of an event for a caller with ``role``."""
    return {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "start_time": event.start_time,
        "end_time": event.end_time,
        "timezone": event.timezone,
        "location": event.location,
        "is_recurring": event.is_recurring,
        "recurrence_pattern": event.recurrence_pattern,
        "recurrence_exceptions": list(event.recurrence_exceptions or []),
        "owner_id": event.owner_id,
        "my_role": role,
        "version": event.version,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
    }


def permission_body(permission: Permission, username: str) -> dict[str, Any]:
    """A permission row as ``PermissionRead`` fields."""
    return {
        "user_id": permission.user_id,
        "username": username,
        "role": permission.role,
        "granted_by": permission.granted_by,
        "granted_at": permission.granted_at,
    }
