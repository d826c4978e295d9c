"""All-day dates (RFC 5545 ``VALUE=DATE``): dates without a time, placed in a viewer's zone.

An all-day series is stored and expanded "floating": each date is the UTC midnight of that
date (2026-03-12 is ``2026-03-12T00:00:00Z``), so a rule on dates (``FREQ=WEEKLY;BYDAY=MO``),
its RDATEs and EXDATEs walk whole days in UTC, which has no DST. An occurrence is then
*placed* in a zone: the date span ``[start, end)`` (end exclusive) becomes
``[00:00 of its first day, 00:00 of its end date)`` on that zone's wall clock, so a day is 23
or 25 hours long across a DST change and never bleeds into the next date. A midnight that the
zone skips (a DST gap at 00:00) starts the day at the first instant it has (zoneinfo's
``fold=0`` reading of the skipped time).

A window ``[ws, we)`` asked in a zone is turned into the floating window of the dates it
touches (``floating_window``), which selects exactly the occurrences whose placement overlaps
it, in the same order, so the expansion's limit and ``truncated`` stay exact.

Whatever the zone, a date's placement lies within ``DATE_REACH`` of its floating midnights
(UTC offsets run from -12:00 to +14:00), which is how far the index bounds of an all-day event
are widened (``events.all_day``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendo.calendar.rrule import RecurrenceError, Rule

__all__ = [
    "DATE_REACH",
    "check_day_rule",
    "day_start",
    "floating",
    "floating_window",
    "place",
]

# The widest UTC offset any zone has had since 1900 (Pacific/Kiritimati, +14:00; the most
# western, Etc/GMT+12, is -12:00): a date in any zone lies within this of its UTC midnights.
DATE_REACH = timedelta(hours=14)
_DAY = timedelta(days=1)
_FIRST_DAY = date.min + _DAY
_LAST_DAY = date.max - _DAY
_SUB_DAILY = frozenset({"HOURLY", "MINUTELY", "SECONDLY"})


def floating(day: date) -> datetime:
    """The floating instant of a date: its midnight in UTC."""
    return datetime.combine(day, time(0), UTC)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone`` (in UTC): its 00:00 there, or the end of a DST
    gap that skips midnight."""
    try:
        return datetime.combine(day, time(0), zone).astimezone(UTC)
    except OverflowError:
        return floating(day)


def place(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A floating occurrence ``[start, end)`` placed on the same dates in ``zone``."""
    return day_start(start.astimezone(UTC).date(), zone), day_start(
        end.astimezone(UTC).date(), zone
    )


def floating_window(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The floating window whose overlapping occurrences are exactly those whose placement in
    ``zone`` overlaps ``[start, end)``.

    With ``low`` the last date starting at or before ``start`` and ``high`` the first date
    starting at or after ``end``, a date span ``[d, e)`` placed in the zone overlaps the window
    iff ``e > low`` and ``d < high``: the floating overlap of ``[low, high)``.
    """
    low = _clamp(start.astimezone(zone).date())
    while low < _LAST_DAY and day_start(low + _DAY, zone) <= start:
        low += _DAY
    while low > _FIRST_DAY and day_start(low, zone) > start:
        low -= _DAY
    high = _clamp(end.astimezone(zone).date())
    while high < _LAST_DAY and day_start(high, zone) < end:
        high += _DAY
    while high > _FIRST_DAY and day_start(high - _DAY, zone) >= end:
        high -= _DAY
    return floating(low), floating(max(low, high))


def _clamp(day: date) -> date:
    return min(max(day, _FIRST_DAY), _LAST_DAY)


def check_day_rule(rule: Rule) -> None:
    """Refuse a rule that does not step on whole days: an all-day series recurs on dates."""
    if rule.freq in _SUB_DAILY:
        raise RecurrenceError(
            f"FREQ={rule.freq} cannot be used on an all-day event: it recurs on dates "
            "(DAILY, WEEKLY, MONTHLY or YEARLY)"
        )
    for part, values in (
        ("BYHOUR", rule.by_hour),
        ("BYMINUTE", rule.by_minute),
        ("BYSECOND", rule.by_second),
    ):
        if values:
            raise RecurrenceError(
                f"{part} cannot be used on an all-day event: it recurs on dates, not times"
            )
