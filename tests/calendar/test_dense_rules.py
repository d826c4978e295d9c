"""MINUTELY and SECONDLY rules, lists in BYMINUTE/BYSECOND, BYYEARDAY and BYWEEKNO: accepted,
and expanded with bounded work whatever the rule.

A rule is no longer refused for firing often ("too dense"): a window holding too many
occurrences is cut by the cap (``truncated``), and the work walked is bounded by the
occurrences the window holds plus a step per month and per day looked at, never by the
seconds stepped over. The tests count the candidates walked (``walk_stats``), never durations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.calendar import recurrence
from calendo.core.errors import RecurrenceCountUnreachable
from tests.calendar.support import Walked
from tests.helpers import Actor, assert_problem

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
HORIZON_MONTHS = (2200 - 2026) * 12 + 10
LEAP_MONDAY_9AM = "BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=9;BYMINUTE=0"


def series(
    rule: str, *, start: datetime = START, zone: str = "UTC", length: timedelta = timedelta(0)
) -> recurrence.Series:
    """A series of ``length`` (one second when zero); ``rule`` normalised as the API would."""
    end = start + (length or timedelta(seconds=1))
    return recurrence.Series(start, end, zone, recurrence.normalize_rule(rule))


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("FREQ=MINUTELY;INTERVAL=15;COUNT=6", "FREQ=MINUTELY;INTERVAL=15;COUNT=6"),
        ("FREQ=SECONDLY", "FREQ=SECONDLY"),
        ("FREQ=DAILY;BYMINUTE=40,0,20", "FREQ=DAILY;BYMINUTE=0,20,40"),
        ("FREQ=HOURLY;BYSECOND=30,0", "FREQ=HOURLY;BYSECOND=0,30"),
        ("FREQ=YEARLY;BYYEARDAY=-1,100,1", "FREQ=YEARLY;BYYEARDAY=1,100,-1"),
        ("FREQ=YEARLY;BYWEEKNO=20,-1;BYDAY=MO", "FREQ=YEARLY;BYDAY=MO;BYWEEKNO=20,-1"),
        ("FREQ=HOURLY;BYYEARDAY=366;BYHOUR=9", "FREQ=HOURLY;BYYEARDAY=366;BYHOUR=9"),
        ("FREQ=MINUTELY;BYSECOND=0,30;BYSETPOS=-1", "FREQ=MINUTELY;BYSETPOS=-1;BYSECOND=0,30"),
    ],
)
def test_the_whole_grammar_is_accepted(raw: str, canonical: str) -> None:
    assert recurrence.normalize_rule(raw) == canonical


def test_a_rule_that_fires_every_second_is_truncated_not_refused() -> None:
    every_second = series("FREQ=SECONDLY")
    recurrence.validate_series(every_second)
    window = (datetime(2150, 6, 1, tzinfo=UTC), datetime(2151, 1, 1, tzinfo=UTC))
    with Walked() as walked:
        found = recurrence.expand(every_second, *window, limit=1000)
    assert found.truncated
    assert [o.start for o in found.occurrences[:2]] == [window[0], window[0] + timedelta(seconds=1)]
    assert len(found.occurrences) == 1000
    # The occurrences kept, the days of the month looked at on the way in: nothing near the
    # 86,400 seconds of a day, let alone the 18 million of the window.
    assert walked.count <= 1000 + 100


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"])
def test_a_minute_of_a_secondly_rule_walks_about_a_minute(zone: str) -> None:
    every_second = series("FREQ=SECONDLY", zone=zone)
    window = (datetime(2100, 6, 14, 12, tzinfo=UTC), datetime(2100, 6, 14, 12, 1, tzinfo=UTC))
    with Walked() as walked:
        found = recurrence.expand(every_second, *window, limit=1000)
    assert len(found.occurrences) == 60 and not found.truncated
    assert walked.count <= 60 + 100


def test_near_a_clock_change_the_walk_widens_by_the_change_only() -> None:
    # 2100-10-31 is the last Sunday of October: Berlin's clocks go back from 03:00 CEST to
    # 02:00 CET at 01:00 UTC.
    every_second = series("FREQ=SECONDLY", zone="Europe/Berlin")
    window = (datetime(2100, 10, 31, 0, 30, tzinfo=UTC), datetime(2100, 10, 31, 1, 30, tzinfo=UTC))
    with Walked() as walked:
        found = recurrence.expand(every_second, *window, limit=5000)
    # 02:30-03:00 CEST; the repeated 02:00-02:30 wall times are their first instants (fold=0),
    # 00:00-00:30 UTC, outside the window: each wall-clock second is one occurrence.
    assert [o.start for o in found.occurrences] == [
        window[0] + timedelta(seconds=n) for n in range(1800)
    ]
    assert walked.count <= 1800 + 2 * 3600 + 100  # at most the hour it changes by, both sides


def test_long_occurrences_of_a_dense_rule_stop_at_the_cap() -> None:
    # Every second, each lasting a day: a one-hour window overlaps 90,000 of them.
    daylong = series("FREQ=SECONDLY", length=timedelta(days=1))
    window = (datetime(2100, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, 1, tzinfo=UTC))
    with Walked() as walked:
        found = recurrence.expand(daylong, *window, limit=500)
    assert found.truncated and len(found.occurrences) == 500
    assert found.occurrences[0].start == window[0] - timedelta(days=1) + timedelta(seconds=1)
    assert walked.count <= 500 + 100


@pytest.mark.parametrize(
    "rule",
    [
        f"FREQ=MINUTELY;{LEAP_MONDAY_9AM};COUNT=5000",
        f"FREQ=SECONDLY;{LEAP_MONDAY_9AM};BYSECOND=0;COUNT=5000",
        "FREQ=MINUTELY;INTERVAL=7;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=5000",
    ],
)
def test_an_unreachable_count_is_found_by_a_bounded_walk(rule: str) -> None:
    with Walked() as walked, pytest.raises(RecurrenceCountUnreachable) as caught:
        recurrence.validate_series(series(rule))
    assert 0 < caught.value.extra["reachable_count"] < 5000
    # One step per month, and per 29 February, plus the clock of each kept minute of the day
    # (1,440 at most): no walk over the minutes of the 175 years to the horizon.
    assert walked.count <= 2 * HORIZON_MONTHS + 5000 + 1440


def test_a_minutely_count_is_reached_by_walking_its_occurrences() -> None:
    with Walked() as walked:
        recurrence.validate_series(series("FREQ=MINUTELY;INTERVAL=15;COUNT=5000"))
        end = recurrence.series_last_end(series("FREQ=MINUTELY;INTERVAL=15;COUNT=5000"))
    assert end == START + timedelta(minutes=15 * 4999, seconds=1)
    # The 5,000 occurrences, a step per day and month, and the rule's clock: one candidate per
    # minute of the day, built once.
    assert walked.count <= 5000 + 1440 + 100


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY;BYYEARDAY=366;BYHOUR=9;COUNT=5000",
        "FREQ=MINUTELY;BYYEARDAY=-366;BYHOUR=9;BYMINUTE=0;COUNT=5000",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=TH;COUNT=5000",
        "FREQ=YEARLY;BYYEARDAY=366;COUNT=5000",
    ],
)
def test_rare_year_days_and_weeks_walk_a_bounded_path(rule: str) -> None:
    with Walked() as walked, pytest.raises(RecurrenceCountUnreachable):
        recurrence.validate_series(series(rule))
    assert walked.count <= 2 * HORIZON_MONTHS + 100


def test_an_interval_that_locks_out_every_minute_is_refused_cheaply() -> None:
    # Every hour from 09:00 (minute 0), but only at minute 30: never.
    locked = series("FREQ=MINUTELY;INTERVAL=60;BYMINUTE=30")
    with Walked() as walked, pytest.raises(recurrence.RecurrenceError, match="no occurrence"):
        recurrence.validate_series(locked)
    assert walked.count <= 1440
    assert recurrence.expand(locked, START, START + timedelta(days=400)).occurrences == []


def test_year_days_of_a_fine_rule_count_from_either_end() -> None:
    last_days = series("FREQ=HOURLY;BYYEARDAY=-1,1;BYHOUR=12")
    found = recurrence.expand(last_days, START, datetime(2028, 1, 2, tzinfo=UTC))
    assert [o.start.date().isoformat() for o in found.occurrences] == [
        "2026-12-31",
        "2027-01-01",
        "2027-12-31",
        "2028-01-01",
    ]


# --------------------------------------------------------------------------- same as dateutil


def dateutil_starts(rule: str, start: datetime, zone: str, end: datetime) -> list[datetime]:
    """dateutil's expansion in the zone, in UTC, up to ``end`` (distinct instants)."""
    local_start = start.astimezone(ZoneInfo(zone))
    found = set()
    for local in rrulestr(rule, dtstart=local_start):
        if local.astimezone(UTC) >= end + timedelta(hours=3):
            break
        found.add(local.astimezone(UTC))
    return sorted(value for value in found if value < end)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        [
            "FREQ=MINUTELY;INTERVAL=17",
            "FREQ=MINUTELY;INTERVAL=20;BYHOUR=1,2,3",
            "FREQ=MINUTELY;BYSECOND=0,30;BYMINUTE=0,1,59",
            "FREQ=SECONDLY;INTERVAL=97;BYMINUTE=0,30",
            "FREQ=HOURLY;BYMINUTE=0,15,30,45",
            "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30;BYSETPOS=2,-1",
            "FREQ=MINUTELY;INTERVAL=7;BYSECOND=10,20;BYSETPOS=-1",
        ]
    ),
    st.datetimes(datetime(2026, 3, 1), datetime(2026, 3, 31)).map(
        lambda value: value.replace(microsecond=0, tzinfo=UTC)
    ),
    st.integers(0, 48 * 60),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_dense_windows_match_dateutil(rule: str, start: datetime, minutes: int, zone: str) -> None:
    one = series(rule, start=start, zone=zone)
    wall = start.astimezone(ZoneInfo(zone))
    if wall.fold or wall.replace(fold=1).utcoffset() != wall.utcoffset():
        return  # an ambiguous DTSTART keeps its own instant: compared elsewhere
    window_start = start + timedelta(minutes=minutes)
    window_end = window_start + timedelta(hours=6)
    expected = [
        value
        for value in dateutil_starts(rule, start, zone, window_end)
        if value + timedelta(seconds=1) > window_start
    ]
    found = recurrence.expand(one, window_start, window_end, limit=5000)
    assert [o.start for o in found.occurrences] == expected


# --------------------------------------------------------------------------- the API


def event_body(rule: str, *, title: str = "Rounds", length: str = "05:00") -> dict[str, str]:
    """A new event at 09:00 UTC lasting ``length`` (minutes:seconds), repeated by ``rule``."""
    return {
        "title": title,
        "start_time": "2026-03-02T09:00:00Z",
        "end_time": f"2026-03-02T09:{length}Z",
        "recurrence_pattern": rule,
    }


async def test_every_15_minutes_through_the_api(client: httpx.AsyncClient, owner: Actor) -> None:
    body = event_body("RRULE:FREQ=MINUTELY;INTERVAL=15;COUNT=6")
    created = await client.post("/api/events", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["recurrence_pattern"] == "FREQ=MINUTELY;INTERVAL=15;COUNT=6"
    listed = await client.get(f"/api/events/{event['id']}/occurrences", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    assert [item["occurrence_start"][11:16] for item in listed.json()["items"]] == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
    ]


async def test_every_second_through_the_api_is_truncated(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    body = event_body("FREQ=SECONDLY", title="Ticker", length="00:01")
    created = await client.post("/api/events", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    window = {"start_time": "2026-03-02T00:00:00Z", "end_time": "2200-01-01T00:00:00Z"}
    with Walked() as walked:
        listed = await client.get(
            f"/api/events/{created.json()['id']}/occurrences", params=window, headers=owner.headers
        )
    assert listed.status_code == 200, listed.text
    assert listed.json()["truncated"] is True
    assert walked.count <= 10 * 5000  # a few bounded walks, never one per second of 174 years


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=DAILY;BYYEARDAY=100", "BYYEARDAY cannot be used with FREQ=DAILY"),
        ("FREQ=MONTHLY;BYWEEKNO=20", "BYWEEKNO can only be used with FREQ=YEARLY"),
        ("FREQ=MINUTELY;BYSECOND=0,30;BYSETPOS=3", "each minute has only 2 candidate(s)"),
        ("FREQ=MINUTELY;INTERVAL=60;BYMINUTE=30", "produces no occurrence"),
    ],
)
async def test_refusals_are_plain_422s(
    client: httpx.AsyncClient, owner: Actor, rule: str, words: str
) -> None:
    body = event_body(rule, title="Refused")
    response = await client.post("/api/events", json=body, headers=owner.headers)
    problem = assert_problem(response, 422)
    assert words in problem["detail"], problem["detail"]
