"""Tests for calendo.calendar.recurrence: rule canonicalisation, zones and series expansion."""

import time as clock
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.calendar.recurrence import (
    MAX_COUNT,
    Occurrence,
    RecurrenceError,
    Series,
    expand,
    load_zone,
    normalize_rule,
    occurs_in,
    series_last_end,
    validate_series,
)

HOUR = timedelta(hours=1)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"]
PROPERTY = settings(max_examples=100, deadline=None)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A UTC datetime from its parts."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def series(
    start: datetime,
    rule: str | None = None,
    *,
    zone: str = "UTC",
    duration: timedelta = HOUR,
    exdates: tuple[datetime, ...] = (),
) -> Series:
    """A series with the given first start and duration."""
    return Series(start, start + duration, zone, rule, exdates)


def starts(
    expansion_series: Series, window_start: datetime, window_end: datetime
) -> list[datetime]:
    """Occurrence starts of an expansion."""
    return [occ.start for occ in expand(expansion_series, window_start, window_end).occurrences]


# --------------------------------------------------------------------------- normalize_rule


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (
            "  rrule:freq=weekly;byday=we,mo;interval=2;count=10  ",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10",
        ),
        ("RRULE:FREQ=DAILY", "FREQ=DAILY"),
        ("FREQ=DAILY;INTERVAL=1;", "FREQ=DAILY"),
        (
            "COUNT=5;BYMONTH=3;WKST=SU;BYMONTHDAY=1;FREQ=YEARLY",
            "FREQ=YEARLY;BYMONTHDAY=1;BYMONTH=3;COUNT=5;WKST=SU",
        ),
        ("FREQ=WEEKLY;WKST=MO", "FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYDAY=-1FR,+1MO", "FREQ=MONTHLY;BYDAY=1MO,-1FR"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1,15,1,15", "FREQ=MONTHLY;BYMONTHDAY=1,15,-1"),
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        ),
        ("FREQ=DAILY;BYHOUR=17,9;BYMINUTE=30", "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=30"),
        ("FREQ=DAILY;UNTIL=20250131T120000Z", "FREQ=DAILY;UNTIL=20250131T120000Z"),
        ("FREQ=DAILY;UNTIL=20250131", "FREQ=DAILY;UNTIL=20250131T235959Z"),
        ("FREQ=HOURLY;INTERVAL=6", "FREQ=HOURLY;INTERVAL=6"),
    ],
)
def test_normalize_rule_string(raw: str, canonical: str) -> None:
    assert normalize_rule(raw) == canonical


@pytest.mark.parametrize(
    ("structured", "canonical"),
    [
        (
            {"frequency": "weekly", "interval": 2, "by_weekday": ["WE", "MO"], "count": 10},
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10",
        ),
        ({"frequency": "monthly", "by_month_day": [31]}, "FREQ=MONTHLY;BYMONTHDAY=31"),
        (
            {
                "frequency": "yearly",
                "by_week_no": [20],
                "by_weekday": ["MO"],
                "by_year_day": [],
                "week_start": "SU",
            },
            "FREQ=YEARLY;BYDAY=MO;BYWEEKNO=20;WKST=SU",
        ),
        ({"frequency": "yearly", "by_year_day": [1, -1]}, "FREQ=YEARLY;BYYEARDAY=1,-1"),
        (
            {"frequency": "daily", "by_hour": [9, 16], "by_minute": [0, 30], "by_second": [0]},
            "FREQ=DAILY;BYHOUR=9,16;BYMINUTE=0,30;BYSECOND=0",
        ),
        (
            {"frequency": "yearly", "until": "2025-06-01T10:00:00+02:00"},
            "FREQ=YEARLY;UNTIL=20250601T080000Z",
        ),
        (
            {"frequency": "daily", "until": datetime(2025, 1, 1, 9, tzinfo=ZoneInfo("Asia/Tokyo"))},
            "FREQ=DAILY;UNTIL=20250101T000000Z",
        ),
        ({"frequency": "daily", "until": "2025-01-01"}, "FREQ=DAILY;UNTIL=20250101T235959Z"),
        ({"frequency": "daily", "until": date(2025, 1, 1)}, "FREQ=DAILY;UNTIL=20250101T235959Z"),
        (
            {"frequency": "daily", "interval": None, "by_weekday": [], "count": None},
            "FREQ=DAILY",
        ),
    ],
)
def test_normalize_rule_structured(structured: dict[str, Any], canonical: str) -> None:
    assert normalize_rule(structured) == canonical


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("RRULE:", "empty"),
        ("INTERVAL=2", "needs a FREQ"),
        ("FREQ=", "needs a FREQ"),
        ("FREQ=FORTNIGHTLY", "unknown FREQ 'FORTNIGHTLY'"),
        ("FREQ=DAILY;COLOR=RED", "unknown rule part 'COLOR'"),
        ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO can only be used with FREQ=YEARLY"),
        ("FREQ=DAILY;COUNT", "malformed rule part"),
        ("FREQ=DAILY;COUNT=3;count=4", "duplicate rule part 'COUNT'"),
        ("FREQ=DAILY;INTERVAL=two", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;INTERVAL=1.5", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be between 1 and 1000"),
        ("FREQ=DAILY;INTERVAL=1001", "INTERVAL must be between 1 and 1000"),
        ("FREQ=DAILY;COUNT=0", f"COUNT must be between 1 and {MAX_COUNT}"),
        (f"FREQ=DAILY;COUNT={MAX_COUNT + 1}", f"COUNT must be between 1 and {MAX_COUNT}"),
        ("FREQ=DAILY;COUNT=99999999999", f"COUNT must be between 1 and {MAX_COUNT}"),
        ("FREQ=DAILY;COUNT=" + "9" * 40, "COUNT must be a whole number"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20250101T000000Z", "COUNT and UNTIL cannot both be set"),
        ("FREQ=YEARLY;BYWEEKNO=0", "BYWEEKNO value 0 is out of range (1..53 or -53..-1)"),
        ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO value 54 is out of range"),
        ("FREQ=YEARLY;BYWEEKNO=20;BYDAY=1MO", "numbered BYDAY values cannot be used with BYWEEKNO"),
        ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY value 367 is out of range (1..366 or"),
        ("FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY cannot be used with FREQ=DAILY"),
        ("FREQ=MONTHLY;BYYEARDAY=1", "BYYEARDAY cannot be used with FREQ=MONTHLY"),
        ("FREQ=YEARLY;BYMONTH=1;BYYEARDAY=100", "never produces an occurrence"),
        ("FREQ=MINUTELY;BYSECOND=0,30;BYSETPOS=3", "each minute has only 2 candidate(s)"),
        ("FREQ=SECONDLY;BYMINUTE=0;BYSETPOS=2", "each second has only 1 candidate(s)"),
        ("FREQ=MINUTELY;BYSECOND=60", "BYSECOND value 60 is out of range"),
        ("FREQ=WEEKLY;BYDAY=XX", "invalid BYDAY value 'XX'"),
        ("FREQ=WEEKLY;BYDAY=MO,,TU", "BYDAY needs a comma-separated list"),
        ("FREQ=WEEKLY;BYDAY=", "BYDAY needs a comma-separated list"),
        ("FREQ=MONTHLY;BYDAY=0MO", "out of range"),
        ("FREQ=MONTHLY;BYDAY=6MO", "out of range (1..5)"),
        ("FREQ=YEARLY;BYDAY=54MO", "out of range (1..53)"),
        ("FREQ=WEEKLY;BYDAY=1MO", "numbered weekdays need FREQ=MONTHLY or YEARLY"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY value 0 is out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY value 32 is out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY value -32 is out of range"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH value 13 is out of range"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR value 24 is out of range"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BYxxx rule part"),
        ("FREQ=DAILY;BYHOUR=9;BYSETPOS=2", "BYSETPOS never matches"),
        ("FREQ=DAILY;UNTIL=20250101T000000", "UNTIL must be in UTC"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL 'tomorrow' must look like"),
        ("FREQ=DAILY;UNTIL=20250230", "is not a valid date"),
        ("FREQ=WEEKLY;WKST=XY", "invalid WKST value"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "BYMONTHDAY never matches"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-30", "BYMONTHDAY never matches"),
        ("FREQ=DAILY;BYMONTH=4,6,9,11;BYMONTHDAY=31", "BYMONTHDAY never matches"),
        ("FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=15", "never produces an occurrence"),
        ("FREQ=YEARLY;BYMONTH=1;BYDAY=10MO", "never produces an occurrence"),
        ("FREQ=DAILY;BYDAY=MO;BYMONTHDAY=1;BYMONTH=2;INTERVAL=1;WKST=XX", "WKST"),
        ("x" * 2000, "too long"),
    ],
)
def test_normalize_rule_rejects(raw: str, message: str) -> None:
    with pytest.raises(RecurrenceError) as info:
        normalize_rule(raw)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("structured", "message"),
    [
        ({"frequency": "daily", "colour": "red"}, "unknown rule field 'colour'"),
        ({1: "daily"}, "unknown rule field 1"),
        ({"interval": 2}, "needs a frequency"),
        ({}, "needs a frequency"),
        ({"frequency": 3}, "frequency must be a single code, not 3"),
        ({"frequency": "yearly", "week_start": "MO,TU"}, "week_start must be a single code"),
        ({"frequency": "hourly-ish"}, "unknown FREQ"),
        ({"frequency": "fortnightly"}, "unknown FREQ 'fortnightly'"),
        ({"frequency": "daily", "interval": "2"}, "interval must contain whole numbers"),
        ({"frequency": "daily", "interval": True}, "interval must contain whole numbers"),
        ({"frequency": "daily", "count": 2.0}, "count must contain whole numbers"),
        ({"frequency": "weekly", "by_weekday": "MO"}, "by_weekday must be a list"),
        ({"frequency": "weekly", "by_weekday": ["MO,TU"]}, "must be weekday codes"),
        ({"frequency": "weekly", "by_weekday": [1]}, "must be weekday codes"),
        ({"frequency": "monthly", "by_month_day": ["1"]}, "by_month_day must contain whole"),
        ({"frequency": "daily", "until": datetime(2025, 1, 1)}, "until must include a UTC offset"),
        ({"frequency": "daily", "until": "2025-01-01T10:00:00"}, "until must include a UTC offset"),
        ({"frequency": "daily", "until": "soon"}, "is not an RFC 3339 date-time"),
        ({"frequency": "daily", "until": 20250101}, "until must be an RFC 3339"),
        ({"frequency": "daily", "count": 3, "until": "2025-01-01T00:00:00Z"}, "COUNT and UNTIL"),
    ],
)
def test_normalize_rule_structured_rejects(structured: dict[Any, Any], message: str) -> None:
    with pytest.raises(RecurrenceError) as info:
        normalize_rule(structured)
    assert message in str(info.value)


def test_normalize_rule_rejects_other_types() -> None:
    with pytest.raises(RecurrenceError):
        normalize_rule(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- zones


def test_load_zone() -> None:
    assert load_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars/Olympus",
        "europe/berlin",
        "../etc/passwd",
        "/etc/localtime",
        "America",
        "localtime",
    ],
)
def test_load_zone_rejects(name: str) -> None:
    with pytest.raises(RecurrenceError) as info:
        load_zone(name)
    assert str(info.value) == f"unknown time zone {name!r}"


def test_expand_and_validate_reject_unknown_zone() -> None:
    bad = series(utc(2024, 1, 1, 9), zone="Nowhere/City")
    with pytest.raises(RecurrenceError, match="unknown time zone 'Nowhere/City'"):
        expand(bad, utc(2024, 1, 1), utc(2024, 2, 1))
    with pytest.raises(RecurrenceError, match="unknown time zone"):
        validate_series(bad)


# --------------------------------------------------------------------------- expand


def test_single_event_inside_outside_and_touching() -> None:
    single = series(utc(2024, 5, 1, 9), duration=timedelta(minutes=30))
    result = expand(single, utc(2024, 5, 1), utc(2024, 5, 2))
    assert result.occurrences == [Occurrence(utc(2024, 5, 1, 9), utc(2024, 5, 1, 9, 30))]
    assert not result.truncated
    assert starts(single, utc(2024, 5, 2), utc(2024, 5, 3)) == []
    # Touching on either side is not an overlap.
    assert starts(single, utc(2024, 5, 1, 9, 30), utc(2024, 5, 1, 10)) == []
    assert starts(single, utc(2024, 5, 1, 8), utc(2024, 5, 1, 9)) == []
    # Overlapping by a minute on either side is.
    assert starts(single, utc(2024, 5, 1, 9, 29), utc(2024, 5, 1, 10)) == [utc(2024, 5, 1, 9)]
    assert starts(single, utc(2024, 5, 1, 8), utc(2024, 5, 1, 9, 1)) == [utc(2024, 5, 1, 9)]


def test_single_event_exdate_removes_it() -> None:
    single = series(utc(2024, 5, 1, 9), exdates=(utc(2024, 5, 1, 9),))
    assert starts(single, utc(2024, 5, 1), utc(2024, 5, 2)) == []


def test_daily_count() -> None:
    daily = series(utc(2024, 1, 30, 9), "FREQ=DAILY;COUNT=4", duration=timedelta(minutes=45))
    result = expand(daily, utc(2024, 1, 1), utc(2025, 1, 1))
    assert [occ.start for occ in result.occurrences] == [
        utc(2024, 1, 30, 9),
        utc(2024, 1, 31, 9),
        utc(2024, 2, 1, 9),
        utc(2024, 2, 2, 9),
    ]
    assert all(occ.end - occ.start == timedelta(minutes=45) for occ in result.occurrences)


def test_weekly_byday() -> None:
    # 2024-01-01 is a Monday.
    weekly = series(utc(2024, 1, 1, 12), "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6")
    assert starts(weekly, utc(2024, 1, 1), utc(2024, 2, 1)) == [
        utc(2024, 1, day, 12) for day in (1, 3, 5, 8, 10, 12)
    ]


def test_weekly_interval_keeps_its_phase_far_from_the_start() -> None:
    fortnightly = series(utc(2024, 1, 1, 12), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU")
    found = starts(fortnightly, utc(2030, 1, 1), utc(2030, 2, 1))
    assert found
    for start in found:
        assert start.weekday() == 1
        # Tuesdays of even weeks counted from the Tuesday 2024-01-02.
        assert (start - utc(2024, 1, 2, 12)).days % 14 == 0


def test_exdates_are_removed_by_exact_instant() -> None:
    daily = series(
        utc(2024, 1, 1, 9),
        "FREQ=DAILY;COUNT=5",
        exdates=(utc(2024, 1, 2, 9), utc(2024, 1, 4, 9, 0, 1)),
    )
    assert starts(daily, utc(2024, 1, 1), utc(2024, 2, 1)) == [
        utc(2024, 1, 1, 9),
        utc(2024, 1, 3, 9),
        utc(2024, 1, 4, 9),  # the exdate one second later does not match
        utc(2024, 1, 5, 9),
    ]


@PROPERTY
@given(
    st.sampled_from(["FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=DAILY;INTERVAL=3", "FREQ=MONTHLY;COUNT=4"]),
    st.sampled_from(ZONES),
    st.integers(min_value=-30, max_value=400),
    st.integers(min_value=1, max_value=14 * 24),
    st.booleans(),
)
def test_occurs_in_agrees_with_expand(
    rule: str, zone: str, offset_days: int, hours: int, excluded: bool
) -> None:
    start = utc(2026, 3, 2, 9)
    exdates = (start + timedelta(days=2),) if excluded else ()
    weekly = series(start, rule, zone=zone, exdates=exdates)
    window_start = start + timedelta(days=offset_days)
    window_end = window_start + timedelta(hours=hours)
    expected = bool(expand(weekly, window_start, window_end, limit=1).occurrences)
    assert occurs_in(weekly, window_start, window_end) is expected
    assert occurs_in(weekly, window_start, window_end) is expected  # the memoised answer


def test_occurs_in_follows_an_edit_of_the_series() -> None:
    # Memoised by content: the excluded occurrence is gone from the answer at once.
    before = series(utc(2026, 3, 2, 9), "FREQ=WEEKLY")
    after = series(utc(2026, 3, 2, 9), "FREQ=WEEKLY", exdates=(utc(2026, 3, 16, 9),))
    window = (utc(2026, 3, 16), utc(2026, 3, 17))
    assert occurs_in(before, *window) is True
    assert occurs_in(after, *window) is False
    assert occurs_in(before, *window) is True


def test_window_edges() -> None:
    daily = series(utc(2024, 1, 1, 9), "FREQ=DAILY", duration=2 * HOUR)
    # Started before the window but still running: included.
    assert starts(daily, utc(2024, 1, 2, 10), utc(2024, 1, 2, 12)) == [utc(2024, 1, 2, 9)]
    # Ended exactly at the window start, or starts exactly at the window end: excluded.
    assert starts(daily, utc(2024, 1, 2, 11), utc(2024, 1, 3, 9)) == []
    assert starts(daily, utc(2024, 1, 2, 11), utc(2024, 1, 3, 9, 1)) == [utc(2024, 1, 3, 9)]


def test_window_before_the_series_is_empty() -> None:
    daily = series(utc(2024, 1, 1, 9), "FREQ=DAILY")
    assert starts(daily, utc(2023, 1, 1), utc(2024, 1, 1, 9)) == []


def test_truncation_flag() -> None:
    daily = series(utc(2024, 1, 1, 9), "FREQ=DAILY")
    capped = expand(daily, utc(2024, 1, 1), utc(2024, 1, 11), limit=3)
    assert [occ.start for occ in capped.occurrences] == [utc(2024, 1, d, 9) for d in (1, 2, 3)]
    assert capped.truncated
    exact = expand(daily, utc(2024, 1, 1), utc(2024, 1, 11), limit=10)
    assert len(exact.occurrences) == 10
    assert not exact.truncated


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=DAILY", "FREQ=WEEKLY;INTERVAL=3"])
def test_open_ended_rule_far_in_the_future_is_fast(rule: str) -> None:
    start = datetime(2024, 3, 18, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    berlin = series(start.astimezone(UTC), rule, zone="Europe/Berlin")
    began = clock.perf_counter()
    result = expand(berlin, utc(2124, 6, 1), utc(2124, 7, 1))
    assert clock.perf_counter() - began < 0.5
    assert result.occurrences
    assert all(utc(2124, 5, 31) < occ.start < utc(2124, 7, 1) for occ in result.occurrences)
    if rule != "FREQ=HOURLY":
        # Summer time: 09:00 Berlin is 07:00 UTC.
        assert {
            occ.start.astimezone(ZoneInfo("Europe/Berlin")).hour for occ in result.occurrences
        } == {9}
        assert {occ.start.hour for occ in result.occurrences} == {7}


def test_open_ended_hourly_with_huge_window_stops_at_limit() -> None:
    hourly = series(utc(2024, 1, 1), "FREQ=HOURLY")
    began = clock.perf_counter()
    result = expand(hourly, utc(2024, 1, 1), utc(9000, 1, 1), limit=1000)
    assert clock.perf_counter() - began < 0.5
    assert len(result.occurrences) == 1000
    assert result.truncated


def test_rule_that_never_fires_for_its_start_yields_nothing_quickly() -> None:
    # Every 7 days from a Tuesday never reaches a Monday.
    never = series(utc(2024, 1, 2, 9), "FREQ=DAILY;INTERVAL=7;BYDAY=MO")
    began = clock.perf_counter()
    assert expand(never, utc(2024, 1, 1), utc(2030, 1, 1)).occurrences == []
    assert clock.perf_counter() - began < 0.5
    with pytest.raises(RecurrenceError, match="no occurrence"):
        validate_series(never)


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        # Mondays around the 2024 transitions; 09:00 local before and after each.
        (
            "Europe/Berlin",
            ((2024, 3, 25, 8), (2024, 4, 1, 7)),
            ((2024, 10, 21, 7), (2024, 10, 28, 8)),
        ),
        (
            "America/New_York",
            ((2024, 3, 4, 14), (2024, 3, 11, 13)),
            ((2024, 10, 28, 13), (2024, 11, 4, 14)),
        ),
    ],
)
def test_weekly_meeting_keeps_local_time_across_dst(
    zone: str, spring: tuple[tuple[int, ...], ...], autumn: tuple[tuple[int, ...], ...]
) -> None:
    tz = ZoneInfo(zone)
    first = datetime(2024, 1, 1, 9, tzinfo=tz).astimezone(UTC)
    weekly = series(first, "FREQ=WEEKLY;BYDAY=MO", zone=zone)
    for before, after in (spring, autumn):
        window_start, window_end = utc(*before[:3]), utc(*after[:3]) + timedelta(days=1)
        found = starts(weekly, window_start, window_end)
        assert found == [utc(*before), utc(*after)]
        assert found[0].hour != found[1].hour
        assert all(start.astimezone(tz).hour == 9 for start in found)


def test_nonexistent_and_ambiguous_local_times_are_resolved_with_fold_zero() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2024, 3, 29, 2, 30, tzinfo=berlin).astimezone(UTC)
    daily = series(first, "FREQ=DAILY", zone="Europe/Berlin")
    spring = starts(daily, utc(2024, 3, 30), utc(2024, 4, 1, 12))
    # 02:30 does not exist on 31 March: the pre-gap offset (+01:00) puts it at 01:30 UTC,
    # which reads 03:30 local.
    assert spring == [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)]
    assert spring[1].astimezone(berlin).hour == 3
    autumn = starts(daily, utc(2024, 10, 26), utc(2024, 10, 28, 12))
    # 02:30 happens twice on 27 October: the first (summer time, +02:00) is used.
    assert autumn == [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]


def test_start_in_the_repeated_hour_keeps_its_instant() -> None:
    # 01:30 UTC on 27 October 2024 is the second 02:30 in Berlin (fold=1, winter time).
    start = utc(2024, 10, 27, 1, 30)
    daily = series(start, "FREQ=DAILY;COUNT=2", zone="Europe/Berlin")
    assert starts(daily, utc(2024, 10, 26), utc(2024, 10, 29)) == [start, utc(2024, 10, 28, 1, 30)]


@pytest.mark.parametrize("rule", ["FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=MONTHLY"])
def test_monthly_on_the_31st_skips_short_months(rule: str) -> None:
    monthly = series(utc(2024, 1, 31, 10), rule)
    found = starts(monthly, utc(2024, 1, 1), utc(2025, 1, 1))
    assert [start.month for start in found] == [1, 3, 5, 7, 8, 10, 12]
    assert {start.day for start in found} == {31}
    # Same far from the start, where expansion begins near the window.
    assert starts(monthly, utc(2030, 4, 1), utc(2030, 7, 1)) == [utc(2030, 5, 31, 10)]


def test_yearly_on_29_february() -> None:
    leap = series(utc(2024, 2, 29, 10), "FREQ=YEARLY")
    assert starts(leap, utc(2024, 1, 1), utc(2033, 1, 1)) == [
        utc(2024, 2, 29, 10),
        utc(2028, 2, 29, 10),
        utc(2032, 2, 29, 10),
    ]


def test_until_is_inclusive_and_in_utc() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2024, 1, 1, 9, tzinfo=berlin).astimezone(UTC)
    daily = series(first, "FREQ=DAILY;UNTIL=20240103T080000Z", zone="Europe/Berlin")
    assert starts(daily, utc(2024, 1, 1), utc(2024, 2, 1)) == [
        utc(2024, 1, 1, 8),
        utc(2024, 1, 2, 8),
        utc(2024, 1, 3, 8),
    ]


def test_sub_second_start_is_kept() -> None:
    start = utc(2024, 1, 1, 9) + timedelta(microseconds=250)
    daily = series(start, "FREQ=DAILY;COUNT=2")
    assert starts(daily, utc(2024, 1, 1), utc(2024, 2, 1)) == [start, start + timedelta(days=1)]


def test_results_are_utc() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    first = datetime(2024, 1, 1, 9, tzinfo=tokyo)
    result = expand(
        Series(first, first + HOUR, "Asia/Tokyo", "FREQ=DAILY;COUNT=2"),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        utc(2024, 2, 1),
    )
    assert [occ.start for occ in result.occurrences] == [utc(2024, 1, 1, 0), utc(2024, 1, 2, 0)]
    assert all(occ.start.tzinfo is UTC and occ.end.tzinfo is UTC for occ in result.occurrences)


@pytest.mark.parametrize(
    ("window_start", "window_end", "limit", "message"),
    [
        (datetime(2024, 1, 1), utc(2024, 2, 1), 10, "window start must be a timezone-aware"),
        (utc(2024, 1, 1), datetime(2024, 2, 1), 10, "window end must be a timezone-aware"),
        (utc(2024, 2, 1), utc(2024, 1, 1), 10, "must not be before the window start"),
        (utc(2024, 1, 1), utc(2024, 2, 1), 0, "limit must be a positive"),
    ],
)
def test_expand_rejects_bad_requests(
    window_start: datetime, window_end: datetime, limit: int, message: str
) -> None:
    daily = series(utc(2024, 1, 1, 9), "FREQ=DAILY")
    with pytest.raises(RecurrenceError, match=message):
        expand(daily, window_start, window_end, limit=limit)


# --------------------------------------------------------------------------- validate_series


def test_validate_series_accepts_good_series() -> None:
    validate_series(series(utc(2024, 1, 1, 9)))
    validate_series(series(utc(2024, 1, 1, 9), "FREQ=WEEKLY;BYDAY=MO", zone="Europe/Berlin"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (series(utc(2024, 1, 2), "FREQ=DAILY;UNTIL=20240101T000000Z"), "UNTIL is before the start"),
        (Series(datetime(2024, 1, 1), datetime(2024, 1, 2), "UTC", None), "timezone-aware"),
        (Series(utc(2024, 1, 2), utc(2024, 1, 1), "UTC", None), "end must not be before"),
        (series(utc(2024, 1, 1), "FREQ=DAILY;FOO=1"), "unknown rule part 'FOO'"),
        (series(utc(2024, 1, 1), exdates=(datetime(2024, 1, 1),)), "timezone-aware"),
        # A monthly rule from 31 January restricted to April never matches (April has 30 days).
        (series(utc(2024, 1, 31), "FREQ=MONTHLY;BYMONTH=4"), "no occurrence"),
        # With INTERVAL=2 from 10:00 only even hours are reachable.
        (series(utc(2024, 1, 1, 10), "FREQ=HOURLY;INTERVAL=2;BYHOUR=3"), "no occurrence"),
        # Every 28 hours from Saturday 02:00 cycles through six weekdays, never Friday.
        (series(utc(2020, 2, 1, 2), "FREQ=HOURLY;INTERVAL=28;BYDAY=FR"), "no occurrence"),
        # Every other month from February never reaches September.
        (series(utc(2020, 2, 1), "FREQ=MONTHLY;INTERVAL=2;BYMONTH=9"), "no occurrence"),
    ],
)
def test_validate_series_rejects(bad: Series, message: str) -> None:
    with pytest.raises(RecurrenceError, match=message):
        validate_series(bad)


# --------------------------------------------------------------------------- series_last_end


def test_series_last_end() -> None:
    start = utc(2024, 1, 1, 9)
    assert series_last_end(series(start)) == start + HOUR
    assert series_last_end(series(start, "FREQ=DAILY;COUNT=3")) == utc(2024, 1, 3, 10)
    last_removed = series(start, "FREQ=DAILY;COUNT=3", exdates=(utc(2024, 1, 3, 9),))
    assert series_last_end(last_removed) == utc(2024, 1, 2, 10)
    until = series(start, "FREQ=DAILY;UNTIL=20240110T120000Z")
    last_end = series_last_end(until)
    assert last_end is not None
    assert last_end >= utc(2024, 1, 10, 10)  # the real last occurrence's end
    assert last_end == utc(2024, 1, 10, 13)  # UNTIL + duration, the documented bound
    assert series_last_end(series(start, "FREQ=WEEKLY")) is None


def test_series_last_end_count_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2024, 3, 25, 9, tzinfo=berlin).astimezone(UTC)
    weekly = series(first, "FREQ=WEEKLY;COUNT=2", zone="Europe/Berlin")
    assert series_last_end(weekly) == utc(2024, 4, 1, 8)


# --------------------------------------------------------------------------- properties


@st.composite
def counted_rules(draw: st.DrawFn) -> str:
    """Random bounded rules: daily/weekly/monthly, INTERVAL 1..3, COUNT 1..50."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 3))}"]
    if freq == "WEEKLY" and draw(st.booleans()):
        days = draw(
            st.sets(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1)
        )
        parts.append("BYDAY=" + ",".join(sorted(days)))
    if freq == "MONTHLY" and draw(st.booleans()):
        parts.append(f"BYMONTHDAY={draw(st.sampled_from([1, 15, 28, 29, 30, 31, -1]))}")
    parts.append(f"COUNT={draw(st.integers(1, 50))}")
    return ";".join(parts)


starts_2020s = st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31)).map(
    lambda value: value.replace(microsecond=0, tzinfo=UTC)
)
durations = st.integers(0, 3 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


def reference(rule: str, start: datetime, zone: str, duration: timedelta) -> list[Occurrence]:
    """Independent expansion: dateutil's own parser on a local DTSTART, converted to UTC."""
    local_start = start.astimezone(ZoneInfo(zone))
    occurrences = []
    for local in rrulestr(rule, dtstart=local_start):
        occ_start = local.astimezone(UTC)
        if local.replace(tzinfo=None) == local_start.replace(tzinfo=None):
            occ_start = start  # DTSTART keeps its instant even when it was fold=1
        occurrences.append(Occurrence(occ_start, occ_start + duration))
    return sorted(occurrences, key=lambda occ: occ.start)


@PROPERTY
@given(counted_rules(), starts_2020s, st.sampled_from(ZONES), durations)
def test_expand_matches_dateutil(
    rule: str, start: datetime, zone: str, duration: timedelta
) -> None:
    window = (utc(2019, 1, 1), utc(2050, 1, 1))
    # A sparse rule (BYMONTHDAY=31 every third month) may reach past the window: compare the
    # occurrences that overlap it.
    expected = [
        occ
        for occ in reference(rule, start, zone, duration)
        if occ.end > window[0] and occ.start < window[1]
    ]
    result = expand(series(start, rule, zone=zone, duration=duration), *window)
    assert result.occurrences == expected
    assert not result.truncated


@st.composite
def open_rules(draw: st.DrawFn) -> str:
    """Random open-ended rules, to exercise expansion that starts near the window."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 5))}"]
    if freq in ("WEEKLY", "DAILY") and draw(st.booleans()):
        days = draw(
            st.sets(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1)
        )
        parts.append("BYDAY=" + ",".join(sorted(days)))
    if freq == "WEEKLY" and draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(['MO', 'SU', 'WE']))}")
    # Either BYMONTHDAY or numbered weekdays: mixing them mostly gives rules that never fire,
    # which the brute force would search up to year 9999.
    monthly = draw(st.sampled_from(["plain", "BYMONTHDAY", "BYDAY"]))
    if freq == "MONTHLY" and monthly == "BYMONTHDAY":
        parts.append(f"BYMONTHDAY={draw(st.sampled_from([1, 15, 29, 31, -1]))}")
    if freq == "MONTHLY" and monthly == "BYDAY":
        parts.append(f"BYDAY={draw(st.sampled_from(['1MO', '-1FR', '2TU,4TU']))}")
    return ";".join(parts)


@PROPERTY
@given(
    open_rules(),
    starts_2020s,
    st.sampled_from(ZONES),
    durations,
    st.integers(-30, 3000),
    st.integers(1, 90),
)
def test_expand_window_far_from_start_matches_brute_force(
    rule: str, start: datetime, zone: str, duration: timedelta, offset: int, length: int
) -> None:
    window_start = start + timedelta(days=offset, hours=offset % 24)
    window_end = window_start + timedelta(days=length)
    expected = []
    local_start = start.astimezone(ZoneInfo(zone))
    for local in rrulestr(rule, dtstart=local_start):
        occ_start = local.astimezone(UTC)
        if local.replace(tzinfo=None) == local_start.replace(tzinfo=None):
            occ_start = start  # DTSTART keeps its instant even when it was fold=1
        if occ_start >= window_end:
            break
        if occ_start + duration > window_start:
            expected.append(Occurrence(occ_start, occ_start + duration))
    result = expand(series(start, rule, zone=zone, duration=duration), window_start, window_end)
    assert result.occurrences == expected


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive wall time exists in ``zone`` (is not in a DST gap)."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@PROPERTY
@given(counted_rules(), starts_2020s, st.sampled_from(ZONES))
def test_occurrences_keep_the_local_wall_clock_time(rule: str, start: datetime, zone: str) -> None:
    tz = ZoneInfo(zone)
    wall_time = start.astimezone(tz).time()
    result = expand(series(start, rule, zone=zone), utc(2019, 1, 1), utc(2050, 1, 1))
    assert result.occurrences
    for occ in result.occurrences:
        local = occ.start.astimezone(tz)
        if _exists(datetime.combine(local.date(), wall_time), tz):
            assert local.time() == wall_time


rule_fragments = st.sampled_from(
    [
        "FREQ=", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY", "MINUTELY", ";", ",", "=",
        "RRULE:", "BYDAY=", "MO", "1MO", "-1FR", "53SU", "BYMONTHDAY=", "BYMONTH=", "BYSETPOS=",
        "BYHOUR=", "BYMINUTE=", "COUNT=", "UNTIL=", "INTERVAL=", "WKST=", "1", "-1", "0", "31",
        "366", "5000", "99999999", "20250101", "T000000", "Z", " ", "x", "\u00df", "\x00",
    ]
)  # fmt: skip
rule_texts = st.one_of(st.text(max_size=60), st.lists(rule_fragments, max_size=14).map("".join))
field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["daily", "weekly", "monthly", "yearly", "MO", "2025-01-01T00:00:00Z"]),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.lists(st.one_of(st.integers(-40, 40), st.sampled_from(["MO", "1MO", "XX"]), st.none())),
)
rule_fields = st.dictionaries(
    st.one_of(
        st.sampled_from(
            [
                "frequency",
                "interval",
                "by_weekday",
                "by_month_day",
                "by_month",
                "by_set_pos",
                "count",
                "until",
            ]
        ),
        st.text(max_size=10),
    ),
    field_values,
    max_size=6,
)


@PROPERTY
@given(st.one_of(rule_texts, rule_fields))
def test_normalize_rule_only_raises_recurrence_error_and_is_idempotent(
    pattern: str | dict[str, Any],
) -> None:
    try:
        canonical = normalize_rule(pattern)
    except RecurrenceError as exc:
        assert str(exc)
        return
    assert normalize_rule(canonical) == canonical
    assert not canonical.startswith("RRULE:")
