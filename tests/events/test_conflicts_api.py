"""Scheduling conflicts through the API: reject, allow, shift, and the preview endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from calendo.app import create_app
from tests.conftest import make_settings
from tests.events.conftest import EventFactory, event_payload
from tests.events.support import Event, EventVersion, count_rows, event_row
from tests.helpers import Actor, assert_problem, register


async def create(
    client: httpx.AsyncClient, actor: Actor, strategy: str | None = None, **fields: Any
) -> httpx.Response:
    params = {"conflict_strategy": strategy} if strategy else {}
    return await client.post(
        "/api/events", json=event_payload(**fields), params=params, headers=actor.headers
    )


def conflict(
    event: dict[str, Any], start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": event["id"],
        "title": event["title"],
        "occurrence_start": start or event["start_time"],
        "occurrence_end": end or event["end_time"],
    }


async def test_reject_is_the_default_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    existing = await make_event(owner, title="Existing")
    response = await create(
        client, owner, start_time="2026-03-20T10:15:00Z", end_time="2026-03-20T11:00:00Z"
    )
    problem = assert_problem(response, 409, "schedule-conflict")
    assert problem["conflicts"] == [conflict(existing)]
    assert await count_rows(app, Event) == 1
    assert await count_rows(app, EventVersion) == 1

    explicit = await create(client, owner, "reject", title="Other")
    assert_problem(explicit, 409, "schedule-conflict")


async def test_allow_writes_and_reports(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    first = await make_event(owner, title="First")
    second = await make_event(
        owner, title="Second", start_time="2026-03-20T10:20:00Z", end_time="2026-03-20T11:00:00Z"
    )
    response = await create(client, owner, "allow", end_time="2026-03-20T10:45:00Z")
    assert response.status_code == 201, response.text
    assert response.json()["conflicts"] == [conflict(first), conflict(second)]
    assert await count_rows(app, Event) == 3


async def test_touching_is_not_a_conflict(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(owner)  # 10:00-10:30
    after = await create(
        client, owner, start_time="2026-03-20T10:30:00Z", end_time="2026-03-20T11:00:00Z"
    )
    assert after.status_code == 201, after.text
    assert after.json()["conflicts"] == []
    before = await create(
        client, owner, start_time="2026-03-20T09:30:00Z", end_time="2026-03-20T10:00:00Z"
    )
    assert before.status_code == 201, before.text


async def test_shift_places_at_the_first_free_slot(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(owner, title="A")  # 10:00-10:30
    await make_event(
        owner, title="B", start_time="2026-03-20T10:30:00Z", end_time="2026-03-20T11:00:00Z"
    )
    await make_event(
        owner, title="C", start_time="2026-03-20T11:20:00Z", end_time="2026-03-20T12:00:00Z"
    )
    response = await create(
        client,
        owner,
        "shift",
        title="Moved",
        start_time="2026-03-20T10:10:00Z",
        end_time="2026-03-20T10:40:00Z",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["start_time"], body["end_time"]) == (
        "2026-03-20T12:00:00Z",
        "2026-03-20T12:30:00Z",
    )
    assert body["conflicts"] == []
    row = await event_row(app, body["id"])
    assert row is not None
    assert row.start_time.isoformat() == "2026-03-20T12:00:00+00:00"
    assert row.series_end is not None
    assert row.series_end.isoformat() == "2026-03-20T12:30:00+00:00"

    free = await create(
        client,
        owner,
        "shift",
        title="Free",
        start_time="2026-03-20T11:00:00Z",
        end_time="2026-03-20T11:20:00Z",
    )
    assert free.json()["start_time"] == "2026-03-20T11:00:00Z"


async def test_shift_moves_an_update_too(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(
        owner, title="Blocker", start_time="2026-03-20T12:00:00Z", end_time="2026-03-20T13:00:00Z"
    )
    event = await make_event(owner)
    response = await client.put(
        f"/api/events/{event['id']}",
        json={"start_time": "2026-03-20T12:30:00Z", "end_time": "2026-03-20T13:00:00Z"},
        params={"conflict_strategy": "shift"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["start_time"] == "2026-03-20T13:00:00Z"
    assert response.json()["end_time"] == "2026-03-20T13:30:00Z"


@pytest.fixture
async def short_horizon_client(
    database_url: str, redis_url: str | None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_settings(database_url, redis_url, shift_horizon_days=1))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


async def test_shift_fails_without_a_slot_in_the_horizon(
    short_horizon_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = short_horizon_client
    user = await register(client, "busy")
    blocker = await create(
        client,
        user,
        title="Conference",
        start_time="2026-03-20T09:00:00Z",
        end_time="2026-03-21T11:00:00Z",
    )
    assert blocker.status_code == 201
    response = await create(client, user, "shift")
    problem = assert_problem(response, 409, "schedule-conflict")
    assert "1 days" in problem["detail"]
    assert [c["title"] for c in problem["conflicts"]] == ["Conference"]
    assert await count_rows(app, Event) == 1

    # Exactly at the horizon: the conference ends at 11:00 the next day.
    ok = await create(
        client, user, "shift", start_time="2026-03-20T11:00:00Z", end_time="2026-03-20T11:30:00Z"
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["start_time"] == "2026-03-21T11:00:00Z"


async def test_shared_events_are_part_of_the_calendar(
    client: httpx.AsyncClient,
    shared_event: dict[str, Any],
    make_event: EventFactory,
    viewer: Actor,
    stranger: Actor,
) -> None:
    response = await create(client, viewer, title="Mine")
    problem = assert_problem(response, 409, "schedule-conflict")
    assert problem["conflicts"] == [conflict(shared_event)]

    # Someone else's calendar does not count.
    strangers = await create(client, stranger, title="Unrelated")
    assert strangers.status_code == 201, strangers.text


async def test_deleted_events_do_not_conflict(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    assert (
        await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
    ).status_code == 204
    assert (await create(client, owner)).status_code == 201


async def test_recurring_series_overlap_each_other(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    daily = await make_event(
        owner,
        title="Daily",
        start_time="2026-03-16T10:00:00Z",
        end_time="2026-03-16T10:30:00Z",
        recurrence_pattern="FREQ=DAILY;BYDAY=MO,TU,WE,TH;COUNT=8",
    )
    # Fridays never meet Monday-Thursday.
    friday = await create(
        client,
        owner,
        title="Friday",
        start_time="2026-03-20T10:00:00Z",
        end_time="2026-03-20T11:00:00Z",
        recurrence_pattern="FREQ=WEEKLY;COUNT=4",
    )
    assert friday.status_code == 201, friday.text
    # Thursdays from the 26th at 10:15 meet the daily series once (26 March only).
    response = await create(
        client,
        owner,
        title="Thursday",
        start_time="2026-03-19T10:15:00Z",
        end_time="2026-03-19T10:45:00Z",
        recurrence_pattern="FREQ=WEEKLY;INTERVAL=1;COUNT=3",
    )
    problem = assert_problem(response, 409, "schedule-conflict")
    assert problem["conflicts"] == [
        conflict(daily, "2026-03-19T10:00:00Z", "2026-03-19T10:30:00Z"),
        conflict(daily, "2026-03-26T10:00:00Z", "2026-03-26T10:30:00Z"),
    ]


async def test_a_single_event_inside_a_series_conflicts(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    series = await make_event(
        owner,
        title="Open ended",
        start_time="2026-01-05T10:00:00Z",
        end_time="2026-01-05T11:00:00Z",
        recurrence_pattern="FREQ=WEEKLY;BYDAY=MO",
    )
    response = await create(
        client, owner, start_time="2026-06-01T10:30:00Z", end_time="2026-06-01T12:00:00Z"
    )
    problem = assert_problem(response, 409)
    assert problem["conflicts"] == [
        conflict(series, "2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z")
    ]
    skipped = await create(
        client, owner, start_time="2026-06-02T10:30:00Z", end_time="2026-06-02T12:00:00Z"
    )
    assert skipped.status_code == 201


async def test_preview_reports_conflicts_and_suggestions_without_writing(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    existing = await make_event(owner, title="Existing", end_time="2026-03-20T11:00:00Z")
    await make_event(
        owner, title="Later", start_time="2026-03-20T11:30:00Z", end_time="2026-03-20T12:00:00Z"
    )
    before = (await count_rows(app, Event), await count_rows(app, EventVersion))
    response = await client.post(
        "/api/events/conflicts",
        json={"start_time": "2026-03-20T10:30:00Z", "end_time": "2026-03-20T11:00:00Z"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conflicts"] == [conflict(existing)]
    assert body["suggestions"] == [
        {"start_time": "2026-03-20T11:00:00Z", "end_time": "2026-03-20T11:30:00Z"},
        {"start_time": "2026-03-20T12:00:00Z", "end_time": "2026-03-20T12:30:00Z"},
        {"start_time": "2026-03-20T12:30:00Z", "end_time": "2026-03-20T13:00:00Z"},
    ]
    assert (await count_rows(app, Event), await count_rows(app, EventVersion)) == before


async def test_preview_with_a_rule_and_a_free_time(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(
        owner, title="Friday", start_time="2026-03-27T10:00:00Z", end_time="2026-03-27T11:00:00Z"
    )
    response = await client.post(
        "/api/events/conflicts",
        json={
            "start_time": "2026-03-20T10:00:00+01:00",
            "end_time": "2026-03-20T11:00:00+01:00",
            "timezone": "Europe/Berlin",
            "recurrence_pattern": "RRULE:FREQ=WEEKLY;COUNT=3",
        },
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # 10:00 Berlin is 09:00Z until 29 March, so the 27 March occurrence (09:00-10:00Z) only
    # touches the 10:00Z event; from 3 April (CEST) the series is at 08:00Z.
    assert body["conflicts"] == []
    assert len(body["suggestions"]) == 3
    assert body["suggestions"][0] == {
        "start_time": "2026-03-20T09:00:00Z",
        "end_time": "2026-03-20T10:00:00Z",
    }
    for slot in body["suggestions"]:
        assert slot["end_time"] > slot["start_time"]


async def test_preview_validates_its_body(client: httpx.AsyncClient, owner: Actor) -> None:
    for body in (
        {"start_time": "2026-03-20T10:00:00Z"},
        {"start_time": "2026-03-20T10:00:00Z", "end_time": "2026-03-20T09:00:00Z"},
        {"start_time": "2026-03-20T10:00:00", "end_time": "2026-03-20T11:00:00Z"},
        {
            "start_time": "2026-03-20T10:00:00Z",
            "end_time": "2026-03-20T11:00:00Z",
            "recurrence_pattern": "FREQ=MINUTELY;BYSECOND=60",
        },
        {"start_time": "2026-03-20T10:00:00Z", "end_time": "2026-03-20T11:00:00Z", "x": 1},
    ):
        response = await client.post("/api/events/conflicts", json=body, headers=owner.headers)
        assert_problem(response, 422)
    assert_problem(await client.post("/api/events/conflicts", json={}), 401)


async def test_shift_keeps_a_series_shape_or_refuses(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    await make_event(
        owner, title="Blocker", start_time="2026-03-16T10:00:00Z", end_time="2026-03-16T11:00:00Z"
    )
    plain = await create(
        client,
        owner,
        "shift",
        title="Weekly",
        start_time="2026-03-16T10:30:00Z",
        end_time="2026-03-16T11:00:00Z",
        recurrence_pattern="FREQ=WEEKLY;COUNT=3",
    )
    assert plain.status_code == 201, plain.text
    assert plain.json()["start_time"] == "2026-03-16T11:00:00Z"
    series = await client.get(
        f"/api/events/{plain.json()['id']}/occurrences", headers=owner.headers
    )
    assert [o["occurrence_start"] for o in series.json()["items"]] == [
        "2026-03-16T11:00:00Z",
        "2026-03-23T11:00:00Z",
        "2026-03-30T11:00:00Z",
    ]

    # BYHOUR pins the time of day: moving the start cannot move the occurrences.
    pinned = await create(
        client,
        owner,
        "shift",
        title="Pinned",
        start_time="2026-03-16T10:30:00Z",
        end_time="2026-03-16T11:00:00Z",
        recurrence_pattern="FREQ=DAILY;BYHOUR=10;BYMINUTE=30;COUNT=3",
    )
    problem = assert_problem(pinned, 409, "schedule-conflict")
    assert problem["conflicts"]
    assert await count_rows(app, Event) == 2
