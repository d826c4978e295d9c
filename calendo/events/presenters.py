"""Events as response bodies, and the zone their times are rendered in.

Bodies carry every instant as a ``datetime`` (stored instants kept as strings, the
recurrence exceptions and a version's snapshot times, are read back into ``datetime``s
here), so that ``core.formats.encode_json``, the one place times are written, renders them
all: in UTC with ``Z`` by default, or with the offset of the zone a read asks for
(``tz``, else the caller's account default).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import Row

from calendo.calendar import days, recurrence
from calendo.events.all_day import stored_value
from calendo.events.state import EventFields
from calendo.sharing.models import Permission

TZ_DESCRIPTION = (
    "Render the response's times with this IANA zone's offset at each instant (`Europe/Berlin`"
    ": `2026-03-12T18:00:00+01:00` where UTC reads `2026-03-12T17:00:00Z`); the instants are "
    "the same. Without it, the caller's account default zone applies (`UTC` unless set: "
    "times end in `Z`). An unknown zone is a 422."
)


def _known_zone(value: str | None) -> str | None:
    if value is not None:
        try:
            recurrence.load_zone(value)
        except recurrence.RecurrenceError:
            raise PydanticCustomError(
                "unknown_time_zone",
                "{zone} is not a time zone this server knows; use an IANA name such as "
                "Europe/Berlin or UTC",
                {"zone": repr(value)},
            ) from None
    return value


# The ``tz`` query parameter of event and history reads.
RenderZone = Annotated[
    str | None, Query(max_length=64, description=TZ_DESCRIPTION), AfterValidator(_known_zone)
]


def rendering_zone(tz: str | None, account_default: str = "UTC") -> str:
    """The zone a read renders its times in: ``tz`` if given, else the account's default."""
    return tz if tz is not None else account_default


def instants(values: Iterable[str]) -> list[datetime | date]:
    """Stored RFC 3339 instants (``snapshots.format_instant``) as ``datetime``s (an all-day
    event's stored dates as ``date``s)."""
    return [stored_value(value) for value in values]


def snapshot_body(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A version's content snapshot with its times as ``datetime``s (to be rendered in the
    read's zone); a value that is not an RFC 3339 instant is left as stored."""
    body = dict(snapshot)
    for field in ("start_time", "end_time"):
        value = body.get(field)
        if isinstance(value, str):
            body[field] = _instant_or_text(value)
    for field in ("recurrence_exceptions", "recurrence_dates"):
        values = body.get(field)
        if isinstance(values, list):
            body[field] = [_instant_or_text(v) if isinstance(v, str) else v for v in values]
    values = body.get("recurrence_overrides")
    if isinstance(values, list):
        body["recurrence_overrides"] = [
            override_body(v) if isinstance(v, dict) else v for v in values
        ]
    return body


_OVERRIDE_TIMES = ("recurrence_id", "start_time", "end_time")


def override_body(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored override (``events.overrides``) with its times as ``datetime``s."""
    return {
        k: _instant_or_text(v) if k in _OVERRIDE_TIMES and isinstance(v, str) else v
        for k, v in stored.items()
    }


def _instant_or_text(value: str) -> datetime | date | str:
    try:
        return stored_value(value)
    except ValueError:
        return value


def _getter(item: Any) -> Callable[[str], Any]:
    """Field lookup by name: a Core row's mapping (a third of the cost of its attributes), or
    an ORM object's attributes."""
    if isinstance(item, Row):
        return item._mapping.__getitem__
    return functools.partial(getattr, item)


def event_body(event: EventFields | Row[Any], role: str) -> dict[str, Any]:
    """The ``EventRead`` fields of an event (an ORM object, or a Core row of its columns) for
    a caller with ``role``."""
    get = _getter(event)
    body = {
        "id": get("id"),
        "title": get("title"),
        "description": get("description"),
        "start_time": get("start_time"),
        "end_time": get("end_time"),
        "timezone": get("timezone"),
        "location": get("location"),
        "is_recurring": get("is_recurring"),
        "recurrence_pattern": get("recurrence_pattern"),
        "recurrence_exceptions": instants(get("recurrence_exceptions") or ()),
        "recurrence_dates": instants(get("recurrence_dates") or ()),
        "transparency": get("transparency") or "opaque",
        "recurrence_overrides": [override_body(v) for v in get("recurrence_overrides") or ()],
        "all_day": bool(get("all_day")),
        "start_date": get("start_date"),
        "end_date": get("end_date"),
        "related_events": get("related_events") or [],
        "owner_id": get("owner_id"),
        "my_role": role,
        "version": get("version"),
        "created_at": get("created_at"),
        "updated_at": get("updated_at"),
    }
    return _utc_placement(body)


def _utc_placement(body: dict[str, Any]) -> dict[str, Any]:
    """An all-day body's times: the UTC midnights of its dates (its columns hold the index
    bounds); ``all_day.place_body`` places them in another zone."""
    if body["all_day"]:
        body["start_time"] = days.floating(body["start_date"])
        body["end_time"] = days.floating(body["end_date"])
    return body


def calendar_bodies(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """The ``EventRead`` fields of calendar rows (``repository.CALENDAR_COLUMNS``).

    Those columns are named and ordered as the fields, so a body is the row zipped with its
    names: a quarter of the cost of ``event_body``'s lookups, on every row of every page. The
    list columns are rewritten only when they hold something (or NULL): on most rows they are
    the empty lists the row already carries, and a page skips a fifth of its cost here.
    """
    if not rows:
        return []
    names = rows[0]._fields
    bodies = [dict(zip(names, row, strict=True)) for row in rows]
    for body in bodies:
        if body["recurrence_exceptions"]:
            body["recurrence_exceptions"] = instants(body["recurrence_exceptions"])
        dates = body["recurrence_dates"]
        if dates:
            body["recurrence_dates"] = instants(dates)
        elif dates is None:  # an event written by the release before migration 0006: none
            body["recurrence_dates"] = []
        overridden = body["recurrence_overrides"]
        if overridden:
            body["recurrence_overrides"] = [override_body(v) for v in overridden]
        elif overridden is None:
            body["recurrence_overrides"] = []
        if body["related_events"] is None:
            body["related_events"] = []
        if body["all_day"]:
            _utc_placement(body)
    return bodies


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
