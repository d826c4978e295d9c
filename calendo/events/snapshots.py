"""The content snapshot of an event: what a version stores and diffs compare (public module)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from calendo.calendar import days
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


def as_date(value: Any) -> date | None:
    """A date, from a ``date`` or its ISO text (None stays None)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def floating_times(start_date: Any, end_date: Any) -> tuple[datetime, datetime]:
    """The times of an all-day event: the UTC midnights of its dates (``calendar.days``)."""
    start, end = as_date(start_date), as_date(end_date)
    assert start is not None and end is not None
    return days.floating(start), days.floating(end)


def snapshot_times(start_date: Any, end_date: Any) -> tuple[str, str]:
    """``start_time`` / ``end_time`` of an all-day snapshot: the UTC midnights of its dates."""
    start, end = floating_times(start_date, end_date)
    return format_instant(start), format_instant(end)


def snapshot_date(value: Any) -> str | None:
    """A date as a snapshot holds it (ISO text), or None."""
    day = as_date(value)
    return None if day is None else day.isoformat()


def column_dates(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The all-day columns of a content snapshot (an older one: a timed event), with the index
    bounds of an all-day event's own span in ``start_time`` / ``end_time``."""
    all_day = bool(snapshot.get("all_day"))
    columns: dict[str, Any] = {
        "all_day": all_day,
        "start_date": as_date(snapshot.get("start_date")) if all_day else None,
        "end_date": as_date(snapshot.get("end_date")) if all_day else None,
    }
    if all_day:
        columns["start_time"] = parse_instant(snapshot["start_time"]) - days.DATE_REACH
        columns["end_time"] = parse_instant(snapshot["end_time"]) + days.DATE_REACH
    return columns


def content_snapshot(event: EventFields) -> dict[str, Any]:
    """The event's content fields, JSON-ready, in ``CONTENT_FIELDS`` order (an all-day
    event's times are the UTC midnights of its dates: ``events.all_day``)."""
    snapshot = {
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
        "all_day": bool(event.all_day),
        "start_date": snapshot_date(event.start_date),
        "end_date": snapshot_date(event.end_date),
    }
    if snapshot["all_day"]:
        snapshot["start_time"], snapshot["end_time"] = snapshot_times(
            event.start_date, event.end_date
        )
    return snapshot


def ordered(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A stored snapshot in ``CONTENT_FIELDS`` order (PostgreSQL's JSONB keeps no key order);
    a field the snapshot is older than reads as its default (``diff.FIELD_DEFAULTS``)."""
    return {field: field_value(snapshot, field) for field in CONTENT_FIELDS}


def snapshot_columns(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The event column values of a content snapshot (one older than a field gives that
    field's default: an opaque timed event with no extra dates)."""
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
        **column_dates(snapshot),
    }


def apply_snapshot(event: Event, snapshot: dict[str, Any]) -> None:
    """Set the event's content from a snapshot (a new or a detached event)."""
    for name, value in snapshot_columns(snapshot).items():
        setattr(event, name, value)
