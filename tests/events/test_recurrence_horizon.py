"""Issue 14, finding 3: expansion never walks past the horizon (the end of 2200).

A rule that rarely fires (29 February on a Monday: six times between 2026 and 2200) with a
large COUNT used to walk every day (or hour) up to year 9999 looking for the rest, inside the
request: 15-23 s in which the server answered nothing. Now a new or changed series whose COUNT
cannot be reached before the horizon is a 422 ``recurrence-count-unreachable`` on every write
path, a stored one simply ends at its last occurrence before the horizon, and the walks are
counted (``recurrence.walk_stats``): the tests bound that count, never a duration.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from dateutil.rrule import rrulestr
from fastapi import FastAPI
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from calendo.calendar import recurrence, stepped
from calendo.core.cooperative import Pacer
from calendo.core.errors import RecurrenceCountUnreachable
from calendo.core.uow import UnitOfWork
from calendo.events.models import Event
from calendo.events.schemas import MAX_YEAR
from tests.calendar.support import Walked
from tests.events.support import event_row
from tests.helpers import Actor, assert_problem

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
LEAP_MONDAYS = "BYMONTH=2;BYMONTHDAY=29;BYDAY=MO"
DAILY_RARE = f"FREQ=DAILY;{LEAP_MONDAYS};COUNT=5000"
HOURLY_RARE = f"FREQ=HOURLY;{LEAP_MONDAYS};COUNT=5000"
SLUG = "recurrence-count-unreachable"
HORIZON = date(2200, 12, 31)
# What a walk of every candidate up to the horizon would cost: one per day, one per hour.
DAYS_TO_HORIZON = (HORIZON - START.date()).days + 1
HOURS_TO_HORIZON = DAYS_TO_HORIZON * 24
MONTHS_TO_HORIZON = (HORIZON.year - START.year) * 12 + HORIZON.month - START.month + 1


def series(rule: str | None, *, start: datetime = START, zone: str = "UTC") -> recurrence.Series:
    """A one-hour series; ``rule`` is normalised as the API would."""
    pattern = recurrence.normalize_rule(rule) if rule is not None else None
    return recurrence.Series(start, start + timedelta(hours=1), zone, pattern)


def body(rule: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Leap Monday",
        "start_time": "2026-03-02T09:00:00Z",
        "end_time": "2026-03-02T10:00:00Z",
        "recurrence_pattern": rule,
        **extra,
    }


def assert_unreachable(response: httpx.Response, reachable: int) -> dict[str, Any]:
    problem = assert_problem(response, 422, SLUG)
    assert "COUNT=5000 cannot be reached before the end of 2200" in problem["detail"]
    assert f"only {reachable} occurrence(s)" in problem["detail"]
    assert (problem["count"], problem["reachable_count"]) == (5000, reachable)
    assert problem["horizon"] == "2200-12-31"
    return problem


# --------------------------------------------------------------------------- the pure walk


def test_the_horizon_is_the_last_year_an_event_may_fall_in() -> None:
    assert recurrence.HORIZON_YEAR == MAX_YEAR == 2200


@pytest.mark.parametrize(("rule", "reachable"), [(DAILY_RARE, 6), (HOURLY_RARE, 6 * 24)])
def test_unreachable_count_is_refused_after_a_bounded_walk(rule: str, reachable: int) -> None:
    with Walked() as walked, pytest.raises(RecurrenceCountUnreachable) as caught:
        recurrence.validate_series(series(rule))
    assert caught.value.extra["reachable_count"] == reachable
    # Far below one candidate per day (or hour) up to 2200: the months without a 29 February
    # cost one step each, and the walk ends at the horizon.
    assert walked.count <= DAYS_TO_HORIZON
    assert walked.count <= 2 * MONTHS_TO_HORIZON


@pytest.mark.parametrize("freq", ["WEEKLY", "MONTHLY", "YEARLY"])
def test_unreachable_count_of_coarse_rules(freq: str) -> None:
    by_day = "BYMONTH=2;BYDAY=MO" if freq == "WEEKLY" else LEAP_MONDAYS
    with Walked() as walked, pytest.raises(RecurrenceCountUnreachable):
        recurrence.validate_series(series(f"FREQ={freq};{by_day};COUNT=5000"))
    # About one candidate per period (at most a week) stepped over, up to the horizon.
    assert walked.count <= DAYS_TO_HORIZON // 7 + 10


def test_an_ordinary_count_walks_about_count_candidates() -> None:
    with Walked() as walked:
        recurrence.validate_series(series("FREQ=DAILY;COUNT=10"))
        last = recurrence.series_last_end(series("FREQ=DAILY;COUNT=10"))
    assert last == START + timedelta(days=9, hours=1)
    # The month, a day before the start, and each of the ten days and times (the walk is
    # done once and remembered for the series' bounds).
    assert walked.count <= 3 * 10 + 2


def test_a_count_reached_just_before_the_horizon_is_accepted() -> None:
    # Six leap-day Mondays up to 2200 (2044, 2072, 2112, 2140, 2168, 2196).
    ok = series(f"FREQ=DAILY;{LEAP_MONDAYS};COUNT=6")
    recurrence.validate_series(ok)
    assert recurrence.series_last_end(ok) == datetime(2196, 2, 29, 10, tzinfo=UTC)
    with pytest.raises(RecurrenceCountUnreachable):
        recurrence.validate_series(series(f"FREQ=DAILY;{LEAP_MONDAYS};COUNT=7"))


def test_no_occurrence_before_the_horizon_is_no_occurrence() -> None:
    # Every 200 years from 2100: the next one, 2300, is past the horizon.
    late = series("FREQ=YEARLY;INTERVAL=200;COUNT=2", start=datetime(2100, 6, 1, tzinfo=UTC))
    with pytest.raises(RecurrenceCountUnreachable, match="only 1 occurrence"):
        recurrence.validate_series(late)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=YEARLY",
        "FREQ=WEEKLY;BYDAY=MO",
        "FREQ=DAILY;UNTIL=99991231T235959Z",
        "FREQ=HOURLY;BYHOUR=9",
        f"FREQ=DAILY;{LEAP_MONDAYS}",
    ],
)
def test_expansion_stops_at_the_horizon(rule: str) -> None:
    open_ended = series(rule)
    near = recurrence.expand(
        open_ended,
        datetime(2150, 1, 1, tzinfo=UTC),
        datetime(9999, 1, 1, tzinfo=UTC),
        limit=100_000,
    )
    assert near.occurrences
    assert near.occurrences[-1].start < datetime(2201, 1, 1, tzinfo=UTC)
    with Walked() as walked:
        past = recurrence.expand(
            open_ended, datetime(2201, 1, 2, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        )
    assert past.occurrences == []
    assert walked.count <= 100  # the last days before the horizon, nothing beyond it


def test_the_horizon_is_on_the_series_wall_clock() -> None:
    # 23:30 on New Year's Eve 2200 in Tokyo is 14:30 UTC: still before the horizon.
    tokyo = ZoneInfo("Asia/Tokyo")
    start = datetime(2200, 12, 29, 23, 30, tzinfo=tokyo).astimezone(UTC)
    daily = series("FREQ=DAILY", start=start, zone="Asia/Tokyo")
    found = recurrence.expand(daily, start, datetime(2201, 2, 1, tzinfo=UTC)).occurrences
    assert [o.start.astimezone(tokyo).day for o in found] == [29, 30, 31]


def test_a_stored_unreachable_count_ends_at_its_last_occurrence() -> None:
    # Such rows may exist from before; reading them must never raise.
    stored = recurrence.Series(START, START + timedelta(hours=1), "UTC", DAILY_RARE)
    assert recurrence.series_last_end(stored) == datetime(2196, 2, 29, 10, tzinfo=UTC)
    everything = recurrence.expand(stored, START, datetime(2300, 1, 1, tzinfo=UTC))
    assert [o.start.year for o in everything.occurrences] == [2044, 2072, 2112, 2140, 2168, 2196]
    assert not everything.truncated


async def test_paced_expansion_of_a_rare_series_is_bounded() -> None:
    stored = recurrence.Series(START, START + timedelta(hours=1), "UTC", HOURLY_RARE)
    window = (START, datetime(2300, 1, 1, tzinfo=UTC))
    with Walked() as walked:
        paced = await Pacer(budget=0.0).drive(stepped.expansion(stored, *window, limit=1000))
    assert paced == recurrence.expand(stored, *window, limit=1000)
    assert len(paced.occurrences) == 6 * 24
    assert walked.count <= 2 * MONTHS_TO_HORIZON * 4  # a few walks of the bounded kind


# --------------------------------------------------------------------------- same as dateutil


def dateutil_starts(rule: str, start: datetime, zone: str) -> list[datetime]:
    """dateutil's own expansion in the zone, in UTC, cut at the horizon (wall clock).

    COUNT is applied here, over an UNTIL just after the horizon: dateutil itself would look
    for an unreachable COUNT's remaining occurrences up to year 9999.
    """
    parts = dict(part.split("=") for part in rule.split(";"))
    count = int(parts.pop("COUNT"))
    parts["UNTIL"] = "22010102T000000Z"
    bounded = ";".join(f"{key}={value}" for key, value in parts.items())
    local_start = start.astimezone(ZoneInfo(zone))
    found = []
    for local in islice(rrulestr(bounded, dtstart=local_start), count):
        if local.year > recurrence.HORIZON_YEAR:
            break
        found.append(local.astimezone(UTC))
    return found


@st.composite
def fine_rules(draw: st.DrawFn) -> str:
    """DAILY and HOURLY rules with the parts the month-by-month walk handles itself."""
    freq = draw(st.sampled_from(["DAILY", "HOURLY"]))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.sampled_from([1, 2, 3, 5, 7, 25, 49, 100]))}"]
    if draw(st.booleans()):
        parts.append("BYMONTH=" + ",".join(map(str, draw(st.sets(st.integers(1, 12), min_size=1)))))
    if draw(st.booleans()):
        days = draw(st.sets(st.sampled_from([1, 2, 15, 28, 29, 30, 31, -1, -2]), min_size=1))
        parts.append("BYMONTHDAY=" + ",".join(map(str, days)))
    elif draw(st.booleans()):
        days = draw(
            st.sets(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1)
        )
        parts.append("BYDAY=" + ",".join(sorted(days)))
    if draw(st.booleans()):
        hours = draw(st.sets(st.integers(0, 23), min_size=1, max_size=3))
        parts.append("BYHOUR=" + ",".join(map(str, hours)))
    if freq == "DAILY" and draw(st.booleans()):
        parts.append(f"BYMINUTE={draw(st.integers(0, 59))}")
        parts.append(f"BYSETPOS={draw(st.sampled_from(['1', '-1', '2', '1,-1', '3,-2']))}")
    parts.append(f"COUNT={draw(st.integers(1, 40))}")
    return ";".join(parts)


@settings(max_examples=150, deadline=None)
@given(
    fine_rules(),
    st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31)).map(
        lambda value: value.replace(microsecond=0, tzinfo=UTC)
    ),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"]),
)
def test_fine_walk_matches_dateutil(rule: str, start: datetime, zone: str) -> None:
    try:
        canonical = recurrence.normalize_rule(rule)
    except recurrence.RecurrenceError:
        assume(False)
        return
    one = series(canonical, start=start, zone=zone)
    try:
        recurrence.validate_series(one)
    except recurrence.RecurrenceError:
        assume(False)
        return
    except RecurrenceCountUnreachable:
        pass
    expected = sorted(set(_with_start(dateutil_starts(canonical, start, zone), start, zone)))
    found = recurrence.expand(one, start - timedelta(days=1), datetime(2201, 1, 2, tzinfo=UTC))
    assert [o.start for o in found.occurrences] == expected


def _with_start(starts: list[datetime], start: datetime, zone: str) -> Iterator[datetime]:
    """DTSTART keeps its own instant (fold=1) when it is among the occurrences."""
    wall = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    for value in starts:
        same_wall = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == wall
        yield start if same_wall else value


# --------------------------------------------------------------------------- the API


@pytest.mark.parametrize(("rule", "reachable"), [(DAILY_RARE, 6), (HOURLY_RARE, 144)])
async def test_create_answers_422(
    client: httpx.AsyncClient, owner: Actor, rule: str, reachable: int
) -> None:
    with Walked() as walked:
        response = await client.post("/api/events", json=body(rule), headers=owner.headers)
    problem = assert_unreachable(response, reachable)
    assert problem["errors"][0]["loc"] == ["body", "recurrence_pattern"]
    assert walked.count <= min(DAYS_TO_HORIZON, 2 * MONTHS_TO_HORIZON)


async def test_conflicts_preview_answers_422(client: httpx.AsyncClient, owner: Actor) -> None:
    preview = {k: v for k, v in body(HOURLY_RARE).items() if k != "title"}
    with Walked() as walked:
        response = await client.post("/api/events/conflicts", json=preview, headers=owner.headers)
    assert_unreachable(response, 144)
    assert walked.count <= 2 * MONTHS_TO_HORIZON


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_update_answers_422_and_keeps_the_event(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, method: str
) -> None:
    created = await client.post(
        "/api/events", json=body("FREQ=DAILY;COUNT=3"), headers=owner.headers
    )
    assert created.status_code == 201, created.text
    event = created.json()
    response = await client.request(
        method,
        f"/api/events/{event['id']}",
        json={"recurrence_pattern": DAILY_RARE},
        headers=owner.headers,
    )
    assert_unreachable(response, 6)
    row = await event_row(app, event["id"])
    assert row is not None
    assert (row.recurrence_pattern, row.version) == ("FREQ=DAILY;COUNT=3", 1)


async def test_batch_item_answers_422_naming_it(client: httpx.AsyncClient, owner: Actor) -> None:
    items = [body("FREQ=DAILY;COUNT=2", title="Fine"), body(DAILY_RARE)]
    response = await client.post("/api/events/batch", json={"events": items}, headers=owner.headers)
    problem = assert_unreachable(response, 6)
    assert problem["index"] == 1
    assert problem["detail"].startswith("item 1: COUNT=5000")


async def test_transaction_operation_answers_422_naming_it(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    operations = [{"op": "create", "event": body(DAILY_RARE)}]
    response = await client.post(
        "/api/transactions", json={"operations": operations}, headers=owner.headers
    )
    problem = assert_unreachable(response, 6)
    assert problem["index"] == 0
    assert problem["detail"].startswith("operation 0: COUNT=5000")


async def test_stored_event_with_an_unreachable_count_still_reads(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    created = await client.post(
        "/api/events", json=body(f"FREQ=DAILY;{LEAP_MONDAYS};COUNT=6"), headers=owner.headers
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    # As a row written before the horizon check: the same rule asking for 5000.
    async with UnitOfWork.independent(app.state.services.db) as session:
        await session.execute(
            update(Event).where(Event.id == event_id).values(recurrence_pattern=DAILY_RARE)
        )
    with Walked() as walked:
        response = await client.get(f"/api/events/{event_id}/occurrences", headers=owner.headers)
        window = await client.get(
            f"/api/events/{event_id}/occurrences",
            params={"start_time": "2100-01-01T00:00:00Z", "end_time": "9000-01-01T00:00:00Z"},
            headers=owner.headers,
        )
    assert response.status_code == 200, response.text
    # Default window: from the start to the series' end, its last occurrence before 2201.
    years = [item["occurrence_start"][:4] for item in response.json()["items"]]
    assert years == ["2044", "2072", "2112", "2140", "2168", "2196"]
    assert window.status_code == 200, window.text
    assert [i["occurrence_start"][:4] for i in window.json()["items"]] == [
        "2112",
        "2140",
        "2168",
        "2196",
    ]
    assert walked.count <= 4 * 2 * MONTHS_TO_HORIZON
    read = await client.get(f"/api/events/{event_id}", headers=owner.headers)
    assert read.status_code == 200, read.text
    # A title edit does not touch the schedule and is not refused.
    renamed = await client.patch(
        f"/api/events/{event_id}", json={"title": "Renamed"}, headers=owner.headers
    )
    assert renamed.status_code == 200, renamed.text
