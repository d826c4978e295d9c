"""The content snapshot of an event: what a version stores and diffs compare (public module)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from calendo.events.models import Event
from calendo.events.state import EventFields

# The content fields, in the order changed_fields and diffs speak of them, are defined once,
# in the pure diff module.
from calendo.history.diff import CONTENT_FIELDS, field_value

__all__ = [
    "CONTENT_FIELDS",
    "apply_snapshot",
    "content_snapshot",
    "format_instant",
    "ordered",
    "parse_instant",
    "snapshot_columns",
]


def format_instant(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(value: str) -> datetime:
    """Read a value written by ``format_instant``."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def content_snapshot(event: EventFields) -> dict[str, Any]:
    """The event's content fields, JSON-ready, in ``CONTENT_FIELDS`` order."""
    return {
        "title": event.title,
        "description": event.description,
        "start_time": format_instant(event.start_time),
        "end_time": format_instant(event.end_time),
        "timezone": event.timezone,
        "location": event.location,
        "is_recurring": event.is_recurring,
        "recurrence_pattern": event.recurrence_pattern,
        "recurrence_exceptions": list(event.recurrence_exceptions or []),
        "recurrence_dates": list(event.recurrence_dates or []),
        "transparency": event.transparency or "opaque",
        "recurrence_overrides": list(event.recurrence_overrides or []),
    }


def ordered(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A stored snapshot in ``CONTENT_FIELDS`` order (PostgreSQL's JSONB keeps no key order);
    a field the snapshot is older than reads as its default (``diff.FIELD_DEFAULTS``)."""
    return {field: field_value(snapshot, field) for field in CONTENT_FIELDS}


def snapshot_columns(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The event column values of a content snapshot (one older than a field gives that
    field's default: an opaque event with no extra dates)."""
    return {
        "title": snapshot["title"],
        "description": snapshot["description"],
        "start_time": parse_instant(snapshot["start_time"]),
        "end_time": parse_instant(snapshot["end_time"]),
        "timezone": snapshot["timezone"],
        "location": snapshot["location"],
        "is_recurring": snapshot["is_recurring"],
        "recurrence_pattern": snapshot["recurrence_pattern"],
        "recurrence_exceptions": list(snapshot["recurrence_exceptions"]),
        "recurrence_dates": field_value(snapshot, "recurrence_dates"),
        "transparency": field_value(snapshot, "transparency"),
        "recurrence_overrides": field_value(snapshot, "recurrence_overrides"),
    }


def apply_snapshot(event: Event, snapshot: dict[str, Any]) -> None:
    """Set the event's content from a snapshot (a new or a detached event)."""
    for name, value in snapshot_columns(snapshot).items():
        setattr(event, name, value)
