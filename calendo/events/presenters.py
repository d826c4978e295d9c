"""Events as response bodies."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row

from calendo.events.models import Event
from calendo.sharing.models import Permission


def _getter(item: Any) -> Callable[[str], Any]:
    """Field lookup by name: a Core row's mapping (a third of the cost of its attributes), or
    an ORM object's attributes."""
    if isinstance(item, Row):
        return item._mapping.__getitem__
    return functools.partial(getattr, item)


def event_body(event: Event | Row[Any], role: str) -> dict[str, Any]:
    """The ``EventRead`` fields of an event (an ORM object, or a Core row of its columns) for
    a caller with ``role``."""
    get = _getter(event)
    return {
        "id": get("id"),
        "title": get("title"),
        "description": get("description"),
        "start_time": get("start_time"),
        "end_time": get("end_time"),
        "timezone": get("timezone"),
        "location": get("location"),
        "is_recurring": get("is_recurring"),
        "recurrence_pattern": get("recurrence_pattern"),
        "recurrence_exceptions": list(get("recurrence_exceptions") or []),
        "owner_id": get("owner_id"),
        "my_role": role,
        "version": get("version"),
        "created_at": get("created_at"),
        "updated_at": get("updated_at"),
    }


def calendar_bodies(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """The ``EventRead`` fields of calendar rows (``repository.CALENDAR_COLUMNS``).

    Those columns are named and ordered as the fields, so a body is the row zipped with its
    names: a quarter of the cost of ``event_body``'s lookups, on every row of every page.
    """
    if not rows:
        return []
    names = rows[0]._fields
    return [dict(zip(names, row, strict=True)) for row in rows]


def permission_body(permission: Permission | Row[Any], username: str) -> dict[str, Any]:
    """A permission row as ``PermissionRead`` fields."""
    get = _getter(permission)
    return {
        "user_id": get("user_id"),
        "username": username,
        "role": get("role"),
        "granted_by": get("granted_by"),
        "granted_at": get("granted_at"),
    }
