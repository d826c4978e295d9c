"""All-day and multi-day events (RFC 5545 ``VALUE=DATE``), end to end: bodies in JSON and
MessagePack, placement in the caller's zone (account zone or ``tz``) for reads, windows,
``expand=true`` and ``/occurrences`` across DST in several zones (the ±14 h extremes
included), no bleeding into the next day, recurring dates with EXDATE/RDATE, conflict checks
in the caller's zone, transparency, validation, permissions, history, ``as_of`` and sync."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import ormsgpack
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from calendo.core.uow import UnitOfWork
from calendo.events.models import Event
from calendo.history.models import EventVersion
from tests.events.support import strip_snapshots
from tests.events.test_calendar_copies import _copy_of, assert_in_sync
from tests.events.test_transparency_rdates import _put
from tests.events.test_tz_rendering import set_default_zone
from tests.helpers import Actor, assert_problem

ZONES = ("America/New_York", "Europe/Berlin", "Pacific/Kiritimati", "Etc/GMT+12")
HOLIDAY = {"title": "Holiday", "all_day": True, "start_date": "2026-03-12"}


async def _create(
    client: httpx.AsyncClient, actor: Actor, strategy: str = "reject", **fields: Any
) -> httpx.Response:
    return await client.post(
        "/api/events", json=fields, headers=actor.headers, params={"conflict_strategy": strategy}
    )


async def _made(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    response = await _create(client, actor, "allow", **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _day(zone: str, day: date) -> tuple[str, str]:
    """The window of one whole date in ``zone``, as RFC 3339 with that zone's offsets."""
    where = ZoneInfo(zone)
    start = datetime.combine(day, datetime.min.time(), where)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), where)
    return start.isoformat(), end.isoformat()


async def _ids(client: httpx.AsyncClient, actor: Actor, **params: Any) -> list[int]:
    response = await client.get("/api/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- bodies


async def test_create_and_read_an_all_day_event(client: httpx.AsyncClient, owner: Actor) -> None:
    created = await _made(client, owner, **HOLIDAY)
    # end_date defaults to the day after; the times are the UTC placement in a write.
    assert (created["all_day"], created["start_date"], created["end_date"]) == (
        True,
        "2026-03-12",
        "2026-03-13",
    )
    assert (created["start_time"], created["end_time"]) == (
        "2026-03-12T00:00:00Z",
        "2026-03-13T00:00:00Z",
    )
    fields = list(created)
    assert fields.index("all_day") == fields.index("recurrence_overrides") + 1
    assert fields[fields.index("all_day") : fields.index("all_day") + 3] == [
        "all_day",
        "start_date",
        "end_date",
    ]
    path = f"/api/events/{created['id']}"
    berlin = (await client.get(path, params={"tz": "Europe/Berlin"}, headers=owner.headers)).json()
    assert (berlin["start_time"], berlin["end_time"]) == (
        "2026-03-12T00:00:00+01:00",
        "2026-03-13T00:00:00+01:00",
    )
    # The account zone applies without tz.
    await set_default_zone(client, owner, "America/New_York")
    ny = (await client.get(path, headers=owner.headers)).json()
    assert (ny["start_time"], ny["end_time"], ny["start_date"]) == (
        "2026-03-12T00:00:00-04:00",
        "2026-03-13T00:00:00-04:00",
        "2026-03-12",
    )
    timed = await _made(
        client,
        owner,
        title="Call",
        start_time="2026-03-20T10:00:00Z",
        end_time="2026-03-20T11:00:00Z",
    )
    assert (timed["all_day"], timed["start_date"], timed["end_date"]) == (False, None, None)


async def test_stored_bounds_cover_every_zone(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    created = await _made(
        client,
        owner,
        title="Trip",
        all_day=True,
        start_date="2026-03-14",
        end_date="2026-03-17",
        recurrence_pattern="FREQ=YEARLY;COUNT=2",
    )
    async with UnitOfWork.read(app.state.services.db) as session:
        row = (
            await session.execute(
                select(Event.start_time, Event.end_time, Event.series_end).where(
                    Event.id == created["id"]
                )
            )
        ).one()
    assert row.start_time == datetime(2026, 3, 13, 10, tzinfo=UTC)  # 14 March 00:00 UTC - 14 h
    assert row.end_time == datetime(2026, 3, 17, 14, tzinfo=UTC)
    assert row.series_end == datetime(2027, 3, 17, 14, tzinfo=UTC)  # the last end + 14 h


async def test_json_and_msgpack(client: httpx.AsyncClient, owner: Actor) -> None:
    headers = {
        **owner.headers,
        "Content-Type": "application/msgpack",
        "Accept": "application/msgpack",
    }
    payload = {
        "title": "Offsite",
        "all_day": True,
        "start_date": "2026-05-04",
        "end_date": "2026-05-06",
        "recurrence_pattern": "FREQ=MONTHLY;COUNT=3",
        "recurrence_exceptions": ["2026-06-04"],
    }
    created = await client.post("/api/events", content=ormsgpack.packb(payload), headers=headers)
    assert created.status_code == 201, created.content
    body = ormsgpack.unpackb(created.content)
    assert (body["all_day"], body["start_date"], body["end_date"]) == (
        True,
        "2026-05-04",
        "2026-05-06",
    )
    assert body["recurrence_exceptions"] == ["2026-06-04"]
    moved = await client.put(
        f"/api/events/{body['id']}",
        content=ormsgpack.packb({"start_date": "2026-05-05", "end_date": "2026-05-08"}),
        headers=headers,
    )
    assert moved.status_code == 200, moved.content
    after = ormsgpack.unpackb(moved.content)
    assert (after["start_date"], after["end_date"]) == ("2026-05-05", "2026-05-08")
    # An update that sends dates in the lists (no serialiser warning: warnings are errors here).
    excepted = await client.put(
        f"/api/events/{body['id']}",
        content=ormsgpack.packb({"recurrence_exceptions": ["2026-07-05"]}),
        headers=headers,
    )
    assert excepted.status_code == 200, excepted.content
    assert ormsgpack.unpackb(excepted.content)["recurrence_exceptions"] == ["2026-07-05"]


async def test_echoing_a_read_back_is_accepted(client: httpx.AsyncClient, owner: Actor) -> None:
    created = await _made(client, owner, **HOLIDAY)
    read = (
        await client.get(
            f"/api/events/{created['id']}", params={"tz": "Asia/Tokyo"}, headers=owner.headers
        )
    ).json()
    # start_time reads 00:00 on start_date (in Tokyo): it agrees with the dates.
    echo = {k: v for k, v in read.items() if k not in ("permissions", "version")}
    response = await _put(client, owner, created["id"], **{**echo, "title": "Holiday (all)"})
    assert response.status_code == 200, response.text
    assert response.json()["start_date"] == "2026-03-12"


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("zone", ZONES)
async def test_windows_place_dates_in_the_callers_zone(
    client: httpx.AsyncClient, owner: Actor, zone: str
) -> None:
    await set_default_zone(client, owner, zone)
    event = await _made(client, owner, **HOLIDAY)
    day = date(2026, 3, 12)
    for offset, found in ((-1, False), (0, True), (1, False)):
        start, end = _day(zone, day + timedelta(days=offset))
        listed = await _ids(client, owner, start_time=start, end_time=end)
        assert (event["id"] in listed) is found, (zone, offset)
        expanded = await client.get(
            "/api/events",
            params={"start_time": start, "end_time": end, "expand": "true"},
            headers=owner.headers,
        )
        items = expanded.json()["items"]
        assert bool(items) is found, (zone, offset)
    # expand=true and the body: the date's placement in the zone, written with its offset.
    start, end = _day(zone, day)
    [item] = (
        await client.get(
            "/api/events",
            params={"start_time": start, "end_time": end, "expand": "true"},
            headers=owner.headers,
        )
    ).json()["items"]
    assert _instant(item["occurrence_start"]) == _instant(start)
    assert _instant(item["occurrence_end"]) == _instant(end)
    assert _instant(item["start_time"]) == _instant(start)
    # One minute before the end of the date in that zone still holds it; the first minute
    # after does not: no bleeding into the next day.
    last = _instant(end) - timedelta(minutes=1)
    assert event["id"] in await _ids(
        client, owner, start_time=last.isoformat(), end_time=_instant(end).isoformat()
    )
    after = _instant(end) + timedelta(minutes=1)
    assert event["id"] not in await _ids(
        client, owner, start_time=_instant(end).isoformat(), end_time=after.isoformat()
    )


async def test_tz_places_dates_for_the_read(client: httpx.AsyncClient, owner: Actor) -> None:
    """A read naming ``tz`` places dates in it, whatever the account zone (UTC here): the
    same rule that picks the zone the body is rendered in."""
    event = await _made(client, owner, **HOLIDAY)
    # 12 March in Kiritimati (+14) is 11 March 10:00Z – 12 March 10:00Z.
    window = {"start_time": "2026-03-11T09:00:00Z", "end_time": "2026-03-11T11:00:00Z"}
    assert event["id"] not in await _ids(client, owner, **window)
    assert event["id"] in await _ids(client, owner, tz="Pacific/Kiritimati", **window)
    occurrences = await client.get(
        f"/api/events/{event['id']}/occurrences",
        params={"tz": "Pacific/Kiritimati"},
        headers=owner.headers,
    )
    assert occurrences.json()["items"] == [
        {
            "occurrence_start": "2026-03-12T00:00:00+14:00",
            "occurrence_end": "2026-03-13T00:00:00+14:00",
        }
    ]


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", "2026-03-08", 23),
        ("America/New_York", "2026-11-01", 25),
        ("Europe/Berlin", "2026-03-29", 23),
        ("Europe/Berlin", "2026-10-25", 25),
    ],
)
async def test_a_date_on_a_dst_change_lasts_its_day(
    client: httpx.AsyncClient, owner: Actor, zone: str, day: str, hours: int
) -> None:
    await set_default_zone(client, owner, zone)
    event = await _made(client, owner, title="Change day", all_day=True, start_date=day)
    items = (
        await client.get(f"/api/events/{event['id']}/occurrences", headers=owner.headers)
    ).json()["items"]
    [item] = items
    start, end = _instant(item["occurrence_start"]), _instant(item["occurrence_end"])
    assert end - start == timedelta(hours=hours)
    assert start.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") == f"{day} 00:00"
    # Windows and expand=true agree: the day holds it, the days either side do not.
    the_day = date.fromisoformat(day)
    for offset, found in ((-1, False), (0, True), (1, False)):
        window_start, window_end = _day(zone, the_day + timedelta(days=offset))
        window = {"start_time": window_start, "end_time": window_end}
        assert (event["id"] in await _ids(client, owner, **window)) is found, offset
        expanded = await client.get(
            "/api/events", params={**window, "expand": "true"}, headers=owner.headers
        )
        occurrences = [
            (i["occurrence_start"], i["occurrence_end"]) for i in expanded.json()["items"]
        ]
        assert occurrences == (
            [(item["occurrence_start"], item["occurrence_end"])] if found else []
        )


async def test_recurring_dates_with_exdates_and_rdates(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    await set_default_zone(client, owner, "Europe/Berlin")
    weekly = await _made(
        client,
        owner,
        title="Gym",
        all_day=True,
        start_date="2026-03-16",
        recurrence_pattern="FREQ=WEEKLY;BYDAY=MO",
        recurrence_exceptions=["2026-03-30"],  # across the change to summer time
        recurrence_dates=["2026-03-25", "2026-03-16"],  # the second is the rule's own
    )
    assert weekly["recurrence_dates"] == ["2026-03-16", "2026-03-25"]
    window = {"start_time": "2026-03-15T00:00:00+01:00", "end_time": "2026-04-14T00:00:00+02:00"}
    items = (
        await client.get(
            f"/api/events/{weekly['id']}/occurrences", params=window, headers=owner.headers
        )
    ).json()["items"]
    assert [i["occurrence_start"] for i in items] == [
        "2026-03-16T00:00:00+01:00",
        "2026-03-23T00:00:00+01:00",
        "2026-03-25T00:00:00+01:00",
        "2026-04-06T00:00:00+02:00",
        "2026-04-13T00:00:00+02:00",
    ]
    monthly = await _made(
        client,
        owner,
        title="Rent",
        all_day=True,
        start_date="2026-01-31",
        end_date="2026-02-02",  # two days
        recurrence_pattern="FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4",
    )
    expanded = (
        await client.get(
            "/api/events",
            params={
                "start_time": "2026-02-01T00:00:00+01:00",
                "end_time": "2026-05-01T00:00:00+02:00",
                "expand": "true",
            },
            headers=owner.headers,
        )
    ).json()["items"]
    rent = [
        (i["occurrence_start"], i["occurrence_end"]) for i in expanded if i["id"] == monthly["id"]
    ]
    assert rent == [
        ("2026-01-31T00:00:00+01:00", "2026-02-02T00:00:00+01:00"),
        ("2026-02-28T00:00:00+01:00", "2026-03-02T00:00:00+01:00"),
        ("2026-03-31T00:00:00+02:00", "2026-04-02T00:00:00+02:00"),
        ("2026-04-30T00:00:00+02:00", "2026-05-02T00:00:00+02:00"),
    ]
    # The window 30 April in Berlin holds the last occurrence (30 April – 2 May).
    start, end = _day("Europe/Berlin", date(2026, 4, 30))
    assert monthly["id"] in await _ids(client, owner, start_time=start, end_time=end)
    start, end = _day("Europe/Berlin", date(2026, 5, 2))
    assert monthly["id"] not in await _ids(client, owner, start_time=start, end_time=end)


# --------------------------------------------------------------------------- conflicts


async def test_conflicts_place_dates_in_the_actors_zone(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    holiday = await _made(client, owner, **HOLIDAY)
    late = {
        "title": "Late call",
        "start_time": "2026-03-12T23:30:00Z",
        "end_time": "2026-03-12T23:45:00Z",
    }
    # In UTC, 23:30Z on 12 March is on the holiday.
    refused = assert_problem(await _create(client, owner, **late), 409, "schedule-conflict")
    assert refused["conflicts"] == [
        {
            "event_id": holiday["id"],
            "title": "Holiday",
            "occurrence_start": "2026-03-12T00:00:00Z",
            "occurrence_end": "2026-03-13T00:00:00Z",
        }
    ]
    # In Kiritimati it is 13:30 on 13 March: no conflict.
    await set_default_zone(client, owner, "Pacific/Kiritimati")
    assert (await _create(client, owner, **late)).status_code == 201
    # An all-day event against a timed one, in the actor's zone: Berlin's 13 March holds
    # 10:00 Berlin.
    await set_default_zone(client, owner, "Europe/Berlin")
    meeting = await _made(
        client,
        owner,
        title="Meeting",
        start_time="2026-03-13T10:00:00+01:00",
        end_time="2026-03-13T11:00:00+01:00",
    )
    day_off = {"title": "Day off", "all_day": True, "start_date": "2026-03-13"}
    problem = assert_problem(await _create(client, owner, **day_off), 409)
    assert {c["event_id"] for c in problem["conflicts"]} >= {meeting["id"]}
    check = {k: v for k, v in day_off.items() if k != "title"}
    preview = await client.post("/api/events/conflicts", json=check, headers=owner.headers)
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert {c["event_id"] for c in report["conflicts"]} >= {meeting["id"]}
    # Suggestions are whole free days, placed in Berlin.
    assert report["suggestions"][0] == {
        "start_time": "2026-03-13T23:00:00Z",
        "end_time": "2026-03-14T23:00:00Z",
    }
    # shift moves an all-day event by whole days.
    shifted = await _create(client, owner, "shift", **day_off)
    assert shifted.status_code == 201, shifted.text
    assert (shifted.json()["start_date"], shifted.json()["end_date"]) == (
        "2026-03-14",
        "2026-03-15",
    )


async def test_a_transparent_all_day_holiday_never_conflicts(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    holiday = await _made(client, owner, **HOLIDAY, transparency="transparent")
    meeting = {
        "title": "Meeting",
        "start_time": "2026-03-12T10:00:00Z",
        "end_time": "2026-03-12T11:00:00Z",
    }
    assert (await _create(client, owner, **meeting)).status_code == 201
    other = {**HOLIDAY, "title": "Other holiday", "transparency": "transparent"}
    assert (await _create(client, owner, **other)).status_code == 201
    # Made opaque again, it is conflict-checked like a new time.
    refused = await _put(client, owner, holiday["id"], transparency="opaque")
    assert_problem(refused, 409, "schedule-conflict")


async def test_batches_and_transactions_take_all_day_items(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    batch = await client.post(
        "/api/events/batch",
        json={"events": [HOLIDAY, {**HOLIDAY, "title": "Twice"}]},
        headers=owner.headers,
    )
    problem = assert_problem(batch, 409)
    assert problem["conflicts"][0]["batch_index"] == 0
    transaction = await client.post(
        "/api/transactions",
        json={"operations": [{"op": "create", "event": {**HOLIDAY, "start_date": "2026-04-01"}}]},
        headers=owner.headers,
    )
    assert transaction.status_code == 200, transaction.text
    assert transaction.json()["results"][0]["start_date"] == "2026-04-01"


# --------------------------------------------------------------------------- validation


async def test_validation_is_422_naming_the_field(client: httpx.AsyncClient, owner: Actor) -> None:
    timed = {"title": "T", "start_time": "2026-03-20T10:00:00Z", "end_time": "2026-03-20T11:00:00Z"}
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"title": "A", "all_day": True}, ["body", "start_date"], "needs start_date"),
        (
            {**HOLIDAY, "end_date": "2026-03-12"},
            ["body", "end_date"],
            "end_date must be after start_date",
        ),
        (
            {**timed, "start_date": "2026-03-20"},
            ["body", "start_date"],
            "only allowed on an all-day",
        ),
        (
            {**timed, "all_day": False, "end_date": "2026-03-21"},
            ["body", "end_date"],
            "only allowed on an all-day",
        ),
        (
            {**HOLIDAY, "start_time": "2026-03-12T09:00:00Z"},
            ["body", "start_time"],
            "start_time contradicts start_date",
        ),
        (
            {**HOLIDAY, "end_time": "2026-03-14T00:00:00Z"},
            ["body", "end_time"],
            "end_time contradicts end_date",
        ),
        ({"title": "A", "start_date": "2026-03-12"}, ["body", "start_time"], "required"),
        ({**HOLIDAY, "start_date": "12/03/2026"}, ["body", "start_date"], "ISO dates"),
        ({**HOLIDAY, "start_date": 20260312}, ["body", "start_date"], "ISO dates"),
        ({**HOLIDAY, "start_date": "2026-02-30"}, ["body", "start_date"], ""),
        ({**HOLIDAY, "start_date": "1899-12-31"}, ["body", "start_date"], "between the years"),
        (
            {**HOLIDAY, "recurrence_pattern": "FREQ=DAILY;BYHOUR=9"},
            ["body", "recurrence_pattern"],
            "BYHOUR cannot be used on an all-day event",
        ),
        (
            {**HOLIDAY, "recurrence_pattern": "FREQ=HOURLY;COUNT=3"},
            ["body", "recurrence_pattern"],
            "FREQ=HOURLY cannot be used on an all-day event",
        ),
        (
            {
                **HOLIDAY,
                "recurrence_pattern": "FREQ=WEEKLY",
                "recurrence_exceptions": ["2026-03-19T00:00:00Z"],
            },
            ["body", "recurrence_exceptions"],
            "of an all-day event are dates",
        ),
        (
            {**timed, "recurrence_pattern": "FREQ=DAILY", "recurrence_dates": ["2026-03-25"]},
            ["body", "recurrence_dates"],
            "of a timed event are times",
        ),
        (
            {**HOLIDAY, "recurrence_pattern": "FREQ=WEEKLY", "recurrence_dates": ["2026-03-05"]},
            ["body", "recurrence_dates"],
            "must not be before",
        ),
        (
            {**HOLIDAY, "recurrence_dates": ["2026-03-25"]},
            ["body", "recurrence_dates"],
            "recurring",
        ),
    ]
    for fields, loc, text in cases:
        problem = assert_problem(await _create(client, owner, **fields), 422, "validation-error")
        assert problem["errors"][0]["loc"] == loc, (fields, problem)
        assert text in problem["errors"][0]["msg"], (fields, problem)
        assert "Value error" not in problem["detail"], problem
    assert (await client.get("/api/events", headers=owner.headers)).json()["items"] == []

    # Updates: times on an all-day event, and making it timed without both times.
    holiday = await _made(client, owner, **HOLIDAY)
    moved = assert_problem(
        await _put(client, owner, holiday["id"], start_time="2026-03-12T09:00:00Z"), 422
    )
    assert moved["errors"][0]["loc"] == ["body", "start_time"]
    assert "cannot be set on an all-day event" in moved["errors"][0]["msg"]
    half = assert_problem(
        await _put(client, owner, holiday["id"], all_day=False, start_time="2026-03-12T09:00:00Z"),
        422,
    )
    assert "making an all-day event timed needs start_time and end_time" in half["detail"]
    nulled = assert_problem(await _put(client, owner, holiday["id"], start_date=None), 422)
    assert nulled["errors"][0]["loc"] == ["body", "start_date"]
    kind = assert_problem(await _put(client, owner, holiday["id"], all_day=None), 422)
    assert kind["errors"][0]["msg"] == "all_day cannot be null; omit it to keep its value"
    # A null end_date is the default one: the day after start_date.
    longer = await _put(client, owner, holiday["id"], end_date="2026-03-15")
    assert longer.json()["end_date"] == "2026-03-15"
    reset = await _put(client, owner, holiday["id"], end_date=None)
    assert reset.json()["end_date"] == "2026-03-13"
    preview = await client.post(
        "/api/events/conflicts", json={"all_day": True}, headers=owner.headers
    )
    assert_problem(preview, 422)


async def test_a_viewer_or_a_stranger_cannot_edit(
    client: httpx.AsyncClient, owner: Actor, viewer: Actor, stranger: Actor
) -> None:
    event = await _made(client, owner, **HOLIDAY)
    share = await client.post(
        f"/api/events/{event['id']}/share",
        json={"users": [{"user_id": viewer.id, "role": "viewer"}]},
        headers=owner.headers,
    )
    assert share.status_code == 200
    assert_problem(await _put(client, viewer, event["id"], start_date="2026-03-13"), 403)
    assert_problem(await _put(client, stranger, event["id"], start_date="2026-03-13"), 404)
    read = (await client.get(f"/api/events/{event['id']}", headers=viewer.headers)).json()
    assert read["start_date"] == "2026-03-12"


# --------------------------------------------------------------------------- history


async def test_updates_history_rollback_as_of_and_sync(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    timed = await _made(
        client,
        owner,
        title="Conference",
        start_time="2026-03-12T09:00:00Z",
        end_time="2026-03-12T17:00:00Z",
    )
    event_id = timed["id"]
    made_all_day = await _put(client, owner, event_id, all_day=True, start_date="2026-03-12")  # v2
    assert made_all_day.status_code == 200, made_all_day.text
    body = made_all_day.json()
    assert (body["all_day"], body["start_date"], body["end_date"]) == (
        True,
        "2026-03-12",
        "2026-03-13",
    )
    moved = await _put(client, owner, event_id, start_date="2026-03-14", end_date="2026-03-17")
    assert moved.status_code == 200, moved.text  # v3
    timed_again = await _put(
        client,
        owner,
        event_id,
        all_day=False,
        start_time="2026-03-20T09:00:00Z",
        end_time="2026-03-20T10:00:00Z",
    )  # v4
    assert timed_again.status_code == 200, timed_again.text
    assert (timed_again.json()["all_day"], timed_again.json()["start_date"]) == (False, None)

    changelog = (
        await client.get(f"/api/events/{event_id}/changelog", headers=owner.headers)
    ).json()["items"]
    summaries = {e["version"]: e["summary"] for e in changelog if e["version"]}
    assert summaries[2] == "made it an all-day event on 12 March 2026"
    assert summaries[3] == "moved to 14–16 March 2026"
    assert summaries[4] == "made it a timed event on Fri 20 Mar 2026, 09:00–10:00 UTC"
    by_version = {e["version"]: e for e in changelog if e["version"]}
    assert by_version[2]["changed_fields"] == [
        "start_time",
        "end_time",
        "all_day",
        "start_date",
        "end_date",
    ]

    diff = (await client.get(f"/api/events/{event_id}/diff/2/3", headers=owner.headers)).json()
    assert [(c["field"], c["old"], c["new"]) for c in diff["changes"]] == [
        ("start_time", "2026-03-12T00:00:00Z", "2026-03-14T00:00:00Z"),
        ("end_time", "2026-03-13T00:00:00Z", "2026-03-17T00:00:00Z"),
        ("start_date", "2026-03-12", "2026-03-14"),
        ("end_date", "2026-03-13", "2026-03-17"),
    ]
    page = await client.get(
        f"/api/events/{event_id}/diff/2/3", params={"format": "html"}, headers=owner.headers
    )
    assert "First date" in page.text and "Sat 14 Mar 2026" in page.text

    rolled = await client.post(f"/api/events/{event_id}/rollback/3", headers=owner.headers)
    assert rolled.status_code == 200, rolled.text
    back = rolled.json()
    assert (back["all_day"], back["start_date"], back["end_date"]) == (
        True,
        "2026-03-14",
        "2026-03-17",
    )
    assert changelog[-1]["version"] == 4
    version = (
        await client.get(
            f"/api/events/{event_id}/history/3",
            params={"tz": "Europe/Berlin"},
            headers=owner.headers,
        )
    ).json()
    assert (version["snapshot"]["start_date"], version["snapshot"]["start_time"]) == (
        "2026-03-14",
        "2026-03-14T00:00:00+01:00",
    )
    start, end = _day("UTC", date(2026, 3, 16))
    assert event_id in await _ids(client, owner, start_time=start, end_time=end)

    # as_of: the all-day version, placed in the caller's zone for the window and the body.
    async with UnitOfWork.read(app.state.services.db) as session:
        times = dict(
            (
                await session.execute(
                    select(EventVersion.version, EventVersion.created_at).where(
                        EventVersion.event_id == event_id
                    )
                )
            ).all()
        )
    at = (times[3] + timedelta(microseconds=1)).isoformat()
    past = (
        await client.get(
            f"/api/events/{event_id}",
            params={"as_of": at, "tz": "Europe/Berlin"},
            headers=owner.headers,
        )
    ).json()
    assert (past["all_day"], past["start_date"], past["start_time"]) == (
        True,
        "2026-03-14",
        "2026-03-14T00:00:00+01:00",
    )
    await set_default_zone(client, owner, "Pacific/Kiritimati")
    listed = (
        await client.get(
            "/api/events",
            params={
                "as_of": at,
                "start_time": "2026-03-16T12:00:00Z",
                "end_time": "2026-03-16T13:00:00Z",
            },
            headers=owner.headers,
        )
    ).json()["items"]
    assert listed == []  # 16 March ends at 10:00Z in Kiritimati
    listed = (
        await client.get(
            "/api/events",
            params={
                "as_of": at,
                "start_time": "2026-03-16T09:00:00Z",
                "end_time": "2026-03-16T10:00:00Z",
            },
            headers=owner.headers,
        )
    ).json()["items"]
    assert [(i["id"], i["start_time"]) for i in listed] == [(event_id, "2026-03-14T00:00:00+14:00")]

    synced = (await client.get("/api/sync", headers=owner.headers)).json()
    event = next(c["event"] for c in synced["changes"] if c["event_id"] == event_id)
    assert (event["all_day"], event["start_date"], event["end_date"], event["start_time"]) == (
        True,
        "2026-03-14",
        "2026-03-17",
        "2026-03-14T00:00:00Z",
    )


async def test_snapshots_older_than_the_fields_read_as_timed(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    """Versions written before migration 0008 have no all-day keys: they read as timed."""
    event = await _made(
        client,
        owner,
        title="Old",
        start_time="2026-03-20T10:00:00Z",
        end_time="2026-03-20T11:00:00Z",
    )
    await _put(client, owner, event["id"], title="Newer")  # v2
    await strip_snapshots(app, event["id"], ("all_day", "start_date", "end_date"))
    await _put(client, owner, event["id"], all_day=True, start_date="2026-03-20")  # v3
    version = (
        await client.get(f"/api/events/{event['id']}/history/1", headers=owner.headers)
    ).json()
    assert (version["snapshot"]["all_day"], version["snapshot"]["start_date"]) == (False, None)
    diff = (await client.get(f"/api/events/{event['id']}/diff/1/2", headers=owner.headers)).json()
    assert [c["field"] for c in diff["changes"]] == ["title"]
    rolled = await client.post(f"/api/events/{event['id']}/rollback/2", headers=owner.headers)
    assert rolled.status_code == 200, rolled.text
    body = rolled.json()
    assert (body["all_day"], body["start_date"], body["start_time"]) == (
        False,
        None,
        "2026-03-20T10:00:00Z",
    )


async def test_trash_restore_and_the_calendar_copies(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, viewer: Actor
) -> None:
    event = await _made(client, owner, **HOLIDAY, end_date="2026-03-14")
    share = await client.post(
        f"/api/events/{event['id']}/share",
        json={"users": [{"user_id": viewer.id, "role": "viewer"}]},
        headers=owner.headers,
    )
    assert share.status_code == 200
    copies = await assert_in_sync(app, 2)
    assert _copy_of(copies, event["id"], viewer.id)[:2] == (
        datetime(2026, 3, 11, 10, tzinfo=UTC),
        datetime(2026, 3, 14, 14, tzinfo=UTC),
    )
    moved = await _put(client, owner, event["id"], start_date="2026-04-01", end_date="2026-04-02")
    assert moved.status_code == 200, moved.text
    copies = await assert_in_sync(app, 2)
    assert _copy_of(copies, event["id"], viewer.id)[0] == datetime(2026, 3, 31, 10, tzinfo=UTC)
    # The viewer, in New York, finds it on 1 April there.
    await set_default_zone(client, viewer, "America/New_York")
    start, end = _day("America/New_York", date(2026, 4, 1))
    assert event["id"] in await _ids(client, viewer, start_time=start, end_time=end)

    assert (
        await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
    ).status_code == 204
    trash = (
        await client.get("/api/events/trash", params={"tz": "Asia/Tokyo"}, headers=owner.headers)
    ).json()["items"]
    assert [(t["start_date"], t["start_time"]) for t in trash] == [
        ("2026-04-01", "2026-04-01T00:00:00+09:00")
    ]
    restored = await client.post(f"/api/events/{event['id']}/restore", headers=owner.headers)
    assert restored.status_code == 200, restored.text
    assert (restored.json()["all_day"], restored.json()["start_date"]) == (True, "2026-04-01")
    await assert_in_sync(app, 2)


async def test_switching_kinds_converts_kept_exceptions_and_extra_dates(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    series = await _made(
        client,
        owner,
        title="Standup",
        start_time="2026-03-02T09:00:00+01:00",
        end_time="2026-03-02T09:15:00+01:00",
        timezone="Europe/Berlin",
        recurrence_pattern="FREQ=WEEKLY;BYDAY=MO",
        recurrence_exceptions=["2026-03-30T09:00:00+02:00"],
        recurrence_dates=["2026-03-04T09:00:00+01:00"],
    )
    # Timed -> all-day: each kept instant becomes its date in the event's zone.
    made = await _put(client, owner, series["id"], all_day=True, start_date="2026-03-02")
    assert made.status_code == 200, made.text
    body = made.json()
    assert (body["recurrence_exceptions"], body["recurrence_dates"]) == (
        ["2026-03-30"],
        ["2026-03-04"],
    )
    # All-day -> timed: each kept date takes the new start's time of day, in the event's zone.
    timed = await _put(
        client,
        owner,
        series["id"],
        all_day=False,
        start_time="2026-03-02T10:00:00+01:00",
        end_time="2026-03-02T10:30:00+01:00",
    )
    assert timed.status_code == 200, timed.text
    body = timed.json()
    assert (body["recurrence_exceptions"], body["recurrence_dates"]) == (
        ["2026-03-30T08:00:00Z"],
        ["2026-03-04T09:00:00Z"],
    )
    # Sent with the switch, they must be of the new kind.
    refused = await _put(
        client,
        owner,
        series["id"],
        all_day=True,
        start_date="2026-03-02",
        recurrence_exceptions=["2026-03-30T08:00:00Z"],
    )
    assert assert_problem(refused, 422)["errors"][0]["loc"] == ["body", "recurrence_exceptions"]


async def test_times_in_a_list_stay_in_time_order(client: httpx.AsyncClient, owner: Actor) -> None:
    """Lists that may hold dates (all-day) or times sort times by instant, not by text."""
    series = await _made(
        client,
        owner,
        title="Daily",
        start_time="2026-03-02T09:00:00Z",
        end_time="2026-03-02T09:15:00Z",
        recurrence_pattern="FREQ=DAILY",
        recurrence_dates=["2026-03-05T01:00:00Z", "2026-03-05T05:00:00+05:00"],
    )
    assert series["recurrence_dates"] == ["2026-03-05T00:00:00Z", "2026-03-05T01:00:00Z"]
