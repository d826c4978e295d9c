"""Conflict checks against the acting user's calendar, and the three strategies.

Only events whose stored series bounds overlap the window are loaded and expanded (an index
on ``start_time, series_end`` picks them), so a write never scans a whole calendar. The
acting user's row is locked first, so two concurrent writes of one user cannot both pass the
check (check-then-insert race); on SQLite the write transaction is exclusive anyway.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.config import Settings
from calendo.core.errors import Conflict, ValidationFailed
from calendo.events import conflicts as pure
from calendo.events import recurrence, repository
from calendo.events.models import Event
from calendo.events.recurrence import Occurrence, Series
from calendo.events.snapshots import format_instant, parse_instant


class ScheduleConflict(Conflict):
    slug = "schedule-conflict"
    title = "Scheduling conflict"


def conflict_dicts(found: list[pure.Conflict]) -> list[dict[str, Any]]:
    """Conflicts as JSON-ready dicts."""
    return [
        {
            "event_id": c.event_id,
            "title": c.title,
            "occurrence_start": format_instant(c.occurrence_start),
            "occurrence_end": format_instant(c.occurrence_end),
        }
        for c in found
    ]


def series_from_content(content: dict[str, Any]) -> Series:
    """Build and validate the series of a content snapshot; 422 when the rule cannot work."""
    series = Series(
        start=parse_instant(content["start_time"]),
        end=parse_instant(content["end_time"]),
        timezone=content["timezone"],
        rule=content["recurrence_pattern"] if content["is_recurring"] else None,
        exdates=tuple(parse_instant(x) for x in content["recurrence_exceptions"]),
    )
    if series.end <= series.start:
        raise ValidationFailed("end_time must be after start_time", loc=("body", "end_time"))
    try:
        recurrence.validate_series(series)
    except recurrence.RecurrenceError as exc:
        raise ValidationFailed(str(exc), loc=("body", "recurrence_pattern")) from exc
    return series


def series_of(event: Event) -> Series:
    """The stored series of an event."""
    return Series(
        start=event.start_time,
        end=event.end_time,
        timezone=event.timezone,
        rule=event.recurrence_pattern if event.is_recurring else None,
        exdates=tuple(parse_instant(x) for x in event.recurrence_exceptions or ()),
    )


def check_window(series: Series, settings: Settings) -> tuple[datetime, datetime]:
    """The span a conflict check covers: the whole series, or a horizon when open-ended."""
    last_end = recurrence.series_last_end(series)
    horizon_end = series.start + timedelta(days=settings.conflict_horizon_days)
    return series.start, min(last_end, horizon_end) if last_end else horizon_end


async def busy_between(
    session: AsyncSession,
    *,
    user_id: int,
    start: datetime,
    end: datetime,
    exclude_ids: list[int],
    settings: Settings,
) -> list[pure.Busy]:
    """Occurrences of the user's events in the window."""
    busy: list[pure.Busy] = []
    for event in await repository.calendar_candidates(
        session, user_id=user_id, start=start, end=end, exclude_ids=exclude_ids
    ):
        expansion = recurrence.expand(series_of(event), start, end, limit=settings.max_occurrences)
        busy.extend(pure.Busy(event.id, event.title, o.start, o.end) for o in expansion.occurrences)
    return busy


def _shifted(series: Series, delta: timedelta) -> Series:
    return replace(
        series,
        start=series.start + delta,
        end=series.end + delta,
        exdates=tuple(x + delta for x in series.exdates),
    )


async def resolve(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: int,
    series: Series,
    strategy: str,
    exclude_ids: list[int],
) -> tuple[Series, list[pure.Conflict]]:
    """Apply a strategy: raise (reject), report (allow) or move the series (shift)."""
    await repository.lock_user(session, user_id)
    start, end = check_window(series, settings)
    shift_horizon = timedelta(days=settings.shift_horizon_days)
    busy_end = end + shift_horizon if strategy == "shift" else end
    candidate = candidate_occurrences(series, start, end, settings)
    busy = await busy_between(
        session,
        user_id=user_id,
        start=start,
        end=busy_end,
        exclude_ids=exclude_ids,
        settings=settings,
    )
    found = pure.find_conflicts(candidate, busy)
    if not found or strategy == "allow":
        return series, found
    if strategy == "shift":
        delta = pure.find_shift(candidate, busy, latest_start=series.start + shift_horizon)
        if delta is not None:
            return _shifted(series, delta), []
        raise ScheduleConflict(
            f"No free slot within {settings.shift_horizon_days} days of the requested start",
            extra={"conflicts": conflict_dicts(found)},
        )
    raise ScheduleConflict(
        f"The event overlaps {len(found)} occurrence(s) in your calendar",
        extra={"conflicts": conflict_dicts(found)},
    )


def candidate_occurrences(
    series: Series, start: datetime, end: datetime, settings: Settings
) -> list[Occurrence]:
    """The series' own occurrences in the check window (bounded)."""
    return recurrence.expand(series, start, end, limit=settings.max_occurrences).occurrences


async def preview(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: int,
    series: Series,
    exclude_ids: list[int],
) -> tuple[list[pure.Conflict], list[tuple[datetime, datetime]]]:
    """Conflicts and up to three free slots of the same duration, without writing."""
    start, end = check_window(series, settings)
    shift_horizon = timedelta(days=settings.shift_horizon_days)
    candidate = candidate_occurrences(series, start, end, settings)
    busy = await busy_between(
        session,
        user_id=user_id,
        start=start,
        end=end + shift_horizon,
        exclude_ids=exclude_ids,
        settings=settings,
    )
    found = pure.find_conflicts(candidate, busy)
    deltas = pure.suggest_slots(candidate, busy, latest_start=series.start + shift_horizon)
    slots = [(series.start + d, series.end + d) for d in deltas]
    return found, slots
