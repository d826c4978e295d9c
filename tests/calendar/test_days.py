"""All-day series in the calendar engine (``calendar.days``): dates expand on floating UTC
midnights and are placed on the same dates in a viewer's zone; a window selects exactly the
occurrences whose placement overlaps it, in order, with an exact cap; DST days are 23 or 25
hours long; a date never reaches into the next one; the stored reach covers every zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.calendar import days, recurrence
from calendo.calendar.recurrence import Occurrence, Series

PROPERTY = settings(max_examples=120, deadline=None, database=None)
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "America/Havana",  # its DST gap is at midnight: the day starts at 01:00
    "Australia/Lord_Howe",  # half-hour DST
)
RULES = (
    None,
    "FREQ=DAILY;COUNT=10",
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=WEEKLY;BYDAY=MO,FR;UNTIL=20260601",
    "FREQ=MONTHLY;BYMONTHDAY=1,-1",
    "FREQ=YEARLY",
)
DAY0 = date(2026, 1, 1)


def _floating(day: date) -> datetime:
    return days.floating(day)


def all_day(start: date, length: int, rule: str | None, zone: str, **extra: object) -> Series:
    return Series(
        _floating(start),
        _floating(start + timedelta(days=length)),
        "UTC",
        rule,
        days_in=zone,
        **extra,  # type: ignore[arg-type]
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[Series, datetime, datetime, int]:
    start = DAY0 + timedelta(days=draw(st.integers(0, 300)))
    rule = draw(st.sampled_from(RULES))
    dated = st.integers(0, 400).map(lambda d: _floating(start + timedelta(days=d)))
    series = all_day(
        start,
        draw(st.integers(1, 4)),
        rule,
        draw(st.sampled_from(ZONES)),
        exdates=tuple(draw(st.lists(dated, max_size=4))) if rule else (),
        rdates=tuple(draw(st.lists(dated, max_size=4))) if rule else (),
    )
    window_start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, 60 * 24 * 500))
    )
    window_end = window_start + timedelta(minutes=draw(st.integers(1, 60 * 24 * 40)))
    return series, window_start, window_end, draw(st.integers(1, 8))


def _brute(
    series: Series, start: datetime, end: datetime, limit: int
) -> tuple[list[Occurrence], bool]:
    """Every floating occurrence, placed, filtered by the window: the definition."""
    zone = ZoneInfo(series.days_in or "UTC")
    floating = replace(series, days_in=None)
    wide = recurrence.expand(
        floating, datetime(2025, 12, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC), limit=5000
    ).occurrences
    placed = [Occurrence(*days.place(o.start, o.end, zone)) for o in wide]
    found = [o for o in placed if o.end > start and o.start < end]
    return found[:limit], len(found) > limit


@PROPERTY
@given(cases())
def test_a_window_selects_exactly_the_placed_occurrences(
    case: tuple[Series, datetime, datetime, int],
) -> None:
    series, start, end, limit = case
    expansion = recurrence.expand(series, start, end, limit=limit)
    assert (expansion.occurrences, expansion.truncated) == _brute(series, start, end, limit)


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("Europe/Berlin", date(2026, 3, 12), 24),
        ("Australia/Lord_Howe", date(2026, 4, 5), 24.5),
    ],
)
def test_a_date_lasts_its_day_in_the_zone(zone: str, day: date, hours: float) -> None:
    [occ] = recurrence.expand(
        all_day(day, 1, None, zone),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    ).occurrences
    local = ZoneInfo(zone)
    assert occ.start.astimezone(local).replace(tzinfo=None) == datetime.combine(
        day, datetime.min.time()
    )
    assert occ.end.astimezone(local).date() == day + timedelta(days=1)
    assert occ.end - occ.start == timedelta(hours=hours)


def test_a_midnight_the_zone_skips_starts_the_day_at_the_gap() -> None:
    # Havana springs forward at 00:00 on 8 March 2026: that date begins at 01:00 CDT.
    [occ] = recurrence.expand(
        all_day(date(2026, 3, 8), 1, None, "America/Havana"),
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 20, tzinfo=UTC),
    ).occurrences
    assert occ.start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 CST = 01:00 CDT
    assert occ.end == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert occ.end - occ.start == timedelta(hours=23)


@pytest.mark.parametrize("zone", ZONES)
def test_no_bleeding_into_the_next_day(zone: str) -> None:
    local = ZoneInfo(zone)
    series = all_day(date(2026, 3, 12), 1, None, zone)
    next_day = datetime(2026, 3, 13, tzinfo=local)
    assert not recurrence.expand(series, next_day, next_day + timedelta(days=1)).occurrences
    previous_day = datetime(2026, 3, 11, tzinfo=local)
    assert not recurrence.expand(series, previous_day, previous_day + timedelta(days=1)).occurrences
    last_minute = datetime(2026, 3, 12, 23, 59, tzinfo=local)
    assert recurrence.expand(series, last_minute, last_minute + timedelta(minutes=1)).occurrences


def test_weekly_on_dates_with_exdates_and_rdates() -> None:
    series = all_day(
        date(2026, 3, 2),
        1,
        "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        "Europe/Berlin",
        exdates=(_floating(date(2026, 3, 9)),),
        rdates=(_floating(date(2026, 3, 11)),),
    )
    found = recurrence.expand(
        series, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    berlin = ZoneInfo("Europe/Berlin")
    assert [o.start.astimezone(berlin).date().isoformat() for o in found.occurrences] == [
        "2026-03-02",
        "2026-03-11",
        "2026-03-16",
        "2026-03-23",
    ]
    # The last end is placed too: 00:00 Berlin after the last date.
    assert recurrence.series_last_end(series) == datetime(2026, 3, 23, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "rule",
    ["FREQ=HOURLY", "FREQ=MINUTELY;COUNT=3", "FREQ=DAILY;BYHOUR=9", "FREQ=WEEKLY;BYMINUTE=30"],
)
def test_rules_below_a_day_are_refused(rule: str) -> None:
    with pytest.raises(recurrence.RecurrenceError, match="all-day"):
        recurrence.validate_series(all_day(date(2026, 3, 2), 1, rule, "UTC"))


def test_the_reach_covers_every_zone() -> None:
    # Every zone's placement of a date lies within DATE_REACH of its UTC midnights.
    day = date(2026, 6, 21)
    for name in available_timezones() - {"localtime"}:
        start, end = days.place(_floating(day), _floating(day + timedelta(days=1)), ZoneInfo(name))
        assert _floating(day) - days.DATE_REACH <= start, name
        assert end <= _floating(day + timedelta(days=1)) + days.DATE_REACH, name
