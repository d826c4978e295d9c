"""How far around a window a rule's walk must look: wall-clock time and UTC differ by the
zone's offset, so a walk in wall-clock order starts before the window's UTC reading and stops
after it by at most that much (two days of slack, or for dense rules the zone's own offsets
near the window), saturating at the ends of ``datetime``'s range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from calendo.calendar.rrule import Rule

# Wall-clock time and UTC never differ by more than ~16 hours; two days of slack around a window
# keeps every relevant occurrence inside the iterated range whatever the zone.
MARGIN: Final = timedelta(days=2)
# Dense rules (several occurrences an hour) start and stop their walks by the zone's own
# offsets around the window, sampled this often, instead of by MARGIN (two days of them).
_OFFSET_SAMPLE: Final = timedelta(hours=1)
_OFFSET_SAMPLES: Final = range(-48, 49)


def dense(rule: Rule) -> bool:
    """Whether the rule may fire several times an hour, so that two days of margin around a
    window could hold hundreds of thousands of occurrences."""
    return rule.freq in ("MINUTELY", "SECONDLY") or len(rule.by_minute) * len(rule.by_second) > 1


def wall_floor(zone: ZoneInfo, rule: Rule, instant: datetime) -> datetime:
    """A naive wall-clock time before that of every occurrence starting after ``instant``."""
    if not dense(rule):
        return naive_utc(instant, -MARGIN)
    # An occurrence after ``instant`` reads ``its instant + its offset`` on the wall clock (the
    # offset before a gap for a time in it); beyond the sampled days it reads later anyway.
    least, _ = _offsets_near(zone, instant)
    return naive_utc(instant, least)


def reorder(zone: ZoneInfo, rule: Rule, instant: datetime) -> timedelta:
    """How far past ``instant`` an occurrence generated later (in wall-clock order) may still
    start before it: at most the offset change of the zone's transitions around it."""
    if not dense(rule):
        return MARGIN
    least, greatest = _offsets_near(zone, instant)
    return greatest - least


def _offsets_near(zone: ZoneInfo, instant: datetime) -> tuple[timedelta, timedelta]:
    """The least and the greatest UTC offset ``zone`` has from two days before ``instant`` to
    two days after it, sampled hourly (each zone keeps an offset for hours at least)."""
    try:
        offsets = [
            (instant + k * _OFFSET_SAMPLE).astimezone(zone).utcoffset() or timedelta(0)
            for k in _OFFSET_SAMPLES
        ]
    except OverflowError:  # at the ends of datetime's range: the generic margin
        return -MARGIN, MARGIN
    return min(offsets), max(offsets)


def add_clamped(value: datetime, delta: timedelta) -> datetime:
    """value + delta, saturating at datetime's range (keeping value's tzinfo)."""
    try:
        return value + delta
    except OverflowError:
        bound = datetime.max if delta > timedelta(0) else datetime.min
        return bound.replace(tzinfo=value.tzinfo)


def naive_utc(instant: datetime, delta: timedelta) -> datetime:
    """The naive UTC reading of ``instant + delta``, comparable with wall-clock times."""
    return add_clamped(instant.astimezone(UTC).replace(tzinfo=None), delta)
