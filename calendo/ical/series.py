"""An event's series as the calendar engine sees it, for the iCalendar conversion
(``convert``): which overrides are live, and whether the series has an occurrence at its own
start (RFC 5545 counts ``DTSTART`` as one whatever the rule says; Calendo's engine does not).

Pure: no database, no web framework. Events are read as their ``EventRead`` fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from calendo.calendar import days, recurrence
from calendo.calendar.overrides import Override


def live_overrides(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The event's overrides (``EventRead`` form) whose occurrence its series has."""
    values = event.get("recurrence_overrides") or []
    if not values or not (event["recurrence_pattern"] or event["recurrence_dates"]):
        return []
    lost = orphaned(event, [v["recurrence_id"] for v in values])
    if lost is None:
        return []
    return [v for v in values if v["recurrence_id"] not in lost]


def orphaned(event: Mapping[str, Any], recurrence_ids: Sequence[datetime]) -> set[datetime] | None:
    """Which of ``recurrence_ids`` name no occurrence of the event's series (None when its
    rule cannot be expanded: the event's own validation says why)."""
    series = series_of(event, tuple(Override(rid) for rid in recurrence_ids))
    try:
        return set(recurrence.orphaned_overrides(series))
    except recurrence.RecurrenceError:
        return None


def series_of(event: Mapping[str, Any], overrides: tuple[Override, ...] = ()) -> recurrence.Series:
    """The calendar engine's series of an event (its ``EventRead`` fields, or the
    ``EventCreate`` fields ``inbound`` reads). An all-day series is floating, as the engine
    stores it (``calendar.days``): its dates, extra dates and exceptions as their UTC
    midnights, its rule walking them in UTC, so its overrides are keyed the same way."""
    if event.get("all_day"):
        start, end = days.floating(event["start_date"]), days.floating(event["end_date"])
        zone = "UTC"
    else:
        start, end, zone = event["start_time"], event["end_time"], event["timezone"]
    return recurrence.Series(
        start=start,
        end=end,
        timezone=zone,
        rule=event["recurrence_pattern"],
        exdates=tuple(map(floating, event["recurrence_exceptions"])),
        rdates=tuple(map(floating, event["recurrence_dates"])),
        overrides=overrides,
    )


def floating(value: date | datetime) -> datetime:
    """An instant as it is, a date (of an all-day series) as its floating instant."""
    return value if isinstance(value, datetime) else days.floating(value)


def floating_day(value: date | datetime) -> date:
    """The date of a floating instant (its UTC date); a date as it is."""
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def own_start(event: Mapping[str, Any]) -> datetime:
    """The series' start as the engine keys it: its ``start_time``, or for an all-day series
    the floating instant of its ``start_date``."""
    if event.get("all_day"):
        return days.floating(event["start_date"])
    start: datetime = event["start_time"]
    return start


def has_own_start(event: Mapping[str, Any]) -> bool:
    """Whether Calendo's series (its rule and extra dates, before exceptions) has an
    occurrence at its own start. RFC 5545 3.8.5.3 counts ``DTSTART`` as the first occurrence
    whatever the rule says; Calendo's engine gives a start the rule does not match (``BYDAY=MO``
    from a Sunday) no occurrence. So such a series is written with an ``EXDATE`` of its start,
    marked as Calendo's own (``X-CALENDO-EXCLUDES=DTSTART``), which reading skips; a foreign
    file's unsynchronised start is counted (``count_the_start``). Timed and all-day alike
    (an all-day series' start, extra dates and exceptions are dates)."""
    start = own_start(event)
    if start in map(floating, event["recurrence_dates"]):
        return True
    plain = replace(series_of(event), exdates=(), rdates=())
    try:
        found = recurrence.expand(plain, start, start + timedelta(microseconds=1), limit=50)
    except recurrence.RecurrenceError:
        return True
    return any(occurrence.start == start for occurrence in found.occurrences)


def excludes_own_start(event: Mapping[str, Any]) -> bool:
    """Whether an export writes the marked ``EXDATE`` of the series' start: a recurring series
    whose rule does not give it, and no exception of its own already removes it."""
    start = own_start(event)
    return bool(
        event["recurrence_pattern"]
        and start not in map(floating, event["recurrence_exceptions"])
        and not has_own_start(event)
    )


def count_the_start(fields: dict[str, Any]) -> None:
    """RFC 5545's first occurrence (``DTSTART``) in Calendo's terms: a start the rule does not
    give is an extra date, unless an ``EXDATE`` removes it (then neither has it). An all-day
    series' start is its ``start_date``, added as a date."""
    if not excludes_own_start(fields):
        return
    start = fields["start_date"] if fields.get("all_day") else fields["start_time"]
    fields["recurrence_dates"] = sorted({*fields["recurrence_dates"], start})
