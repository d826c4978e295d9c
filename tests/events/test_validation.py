"""Every field rule of an event body: 422 problem with `errors`, and nothing written."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.events.conftest import event_payload
from tests.events.support import AuditEntry, Event, EventVersion, Permission, count_rows
from tests.helpers import Actor, assert_problem

INVALID: dict[str, dict[str, Any]] = {
    "title empty": {"title": ""},
    "title blank": {"title": "   \t "},
    "title 201 chars": {"title": "x" * 201},
    "title missing": {"title": None},
    "title not a string": {"title": 123},
    "description 10001 chars": {"description": "d" * 10_001},
    "location 501 chars": {"location": "l" * 501},
    "naive start": {"start_time": "2026-03-20T10:00:00"},
    "naive end": {"end_time": "2026-03-20T10:30:00"},
    "date-only start": {"start_time": "2026-03-20"},
    "numeric start": {"start_time": 1_774_000_000},
    "garbage start": {"start_time": "tomorrow at ten"},
    "missing start": {"start_time": None},
    "end equals start": {"end_time": "2026-03-20T10:00:00Z"},
    "end before start": {"end_time": "2026-03-20T09:00:00Z"},
    "unknown timezone": {"timezone": "Mars/Olympus"},
    "empty timezone": {"timezone": ""},
    "host alias timezone": {"timezone": "localtime"},
    "bad FREQ": {"recurrence_pattern": "FREQ=FORTNIGHTLY"},
    "BYWEEKNO outside YEARLY": {"recurrence_pattern": "FREQ=MONTHLY;BYWEEKNO=20"},
    "BYYEARDAY with DAILY": {"recurrence_pattern": "FREQ=DAILY;BYYEARDAY=1;COUNT=3"},
    "COUNT and UNTIL": {"recurrence_pattern": "FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z"},
    "garbage rule": {"recurrence_pattern": "every other tuesday"},
    "empty rule": {"recurrence_pattern": ""},
    "unknown rule part": {"recurrence_pattern": "FREQ=DAILY;FOO=1"},
    "rule never fires": {"recurrence_pattern": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"},
    "UNTIL before start": {"recurrence_pattern": "FREQ=DAILY;UNTIL=20250101T000000Z"},
    "rule of wrong type": {"recurrence_pattern": 42},
    "structured bad frequency": {"recurrence_pattern": {"frequency": "sometimes"}},
    "structured unknown key": {"recurrence_pattern": {"frequency": "daily", "every": 2}},
    "pattern with is_recurring false": {
        "is_recurring": False,
        "recurrence_pattern": "FREQ=DAILY;COUNT=2",
    },
    "is_recurring true without pattern": {"is_recurring": True},
    "is_recurring not a boolean": {"is_recurring": "perhaps"},
    "year 1": {"start_time": "0001-01-01T00:00:00Z"},
    "year 9999": {"end_time": "9999-12-31T23:59:59Z"},
    "year 1 with offset": {"start_time": "0001-01-01T00:30:00+01:00"},
    "unknown field": {"colour": "red"},
    "read-only field on create": {"owner_id": 5},
    "naive exception": {
        "recurrence_pattern": "FREQ=DAILY;COUNT=3",
        "recurrence_exceptions": ["2026-03-21T10:00:00"],
    },
    "exceptions not a list": {
        "recurrence_pattern": "FREQ=DAILY;COUNT=3",
        "recurrence_exceptions": "2026-03-21T10:00:00Z",
    },
    "note too long": {"note": "n" * 501},
    "exceptions on a single event": {"recurrence_exceptions": ["2026-03-20T10:00:00Z"]},
}


async def assert_nothing_written(app: FastAPI) -> None:
    for model in (Event, EventVersion, Permission, AuditEntry):
        if model is AuditEntry:
            assert await count_rows(app, model, action="event_created") == 0
        else:
            assert await count_rows(app, model) == 0, model


async def test_invalid_create_is_422(client: httpx.AsyncClient, app: FastAPI, owner: Actor) -> None:
    # One test for every case: a fresh database per case would cost more than the cases.
    for name, overrides in INVALID.items():
        body = event_payload(**overrides)
        body = {key: value for key, value in body.items() if value is not None}
        response = await client.post("/api/events", json=body, headers=owner.headers)

        assert response.status_code == 422, (name, response.text)
        problem = assert_problem(response, 422, "validation-error")
        assert problem["errors"], name
        assert all({"loc", "msg"} <= error.keys() for error in problem["errors"]), name
        assert "Traceback" not in response.text
    await assert_nothing_written(app)


FIELD_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"title": ""}, "title"),
    ({"description": "d" * 10_001}, "description"),
    ({"end_time": "2026-03-20T09:00:00Z"}, "end_time"),
    ({"timezone": "Nowhere/City"}, "timezone"),
    ({"recurrence_pattern": "FREQ=MINUTELY;BYSECOND=60"}, "recurrence_pattern"),
    ({"is_recurring": True}, "recurrence_pattern"),
]


async def test_errors_name_the_field(client: httpx.AsyncClient, owner: Actor) -> None:
    for overrides, location in FIELD_ERRORS:
        response = await client.post(
            "/api/events", json=event_payload(**overrides), headers=owner.headers
        )
        problem = assert_problem(response, 422)
        assert any(location in error["loc"] for error in problem["errors"]), problem


async def test_rule_problems_are_named(client: httpx.AsyncClient, owner: Actor) -> None:
    cases = {
        "FREQ=MONTHLY;BYWEEKNO=20": "BYWEEKNO can only be used with FREQ=YEARLY",
        "FREQ=DAILY;COUNT=2;UNTIL=20260401T000000Z": "COUNT and UNTIL",
        "FREQ=FORTNIGHTLY": "FREQ",
    }
    for rule, words in cases.items():
        response = await client.post(
            "/api/events", json=event_payload(recurrence_pattern=rule), headers=owner.headers
        )
        problem = assert_problem(response, 422)
        assert words in problem["detail"], problem["detail"]


ACCEPTED: list[dict[str, Any]] = [
    {"title": "x" * 200},
    {"title": "x"},
    {"description": "d" * 10_000},
    {"location": "l" * 500},
    {"start_time": "1900-01-01T00:00:00Z", "end_time": "1900-01-01T01:00:00Z"},
    {"start_time": "2200-01-01T00:00:00Z", "end_time": "2200-01-01T01:00:00Z"},
    {"timezone": "America/Argentina/Buenos_Aires"},
    {"is_recurring": False},
    {"is_recurring": False, "recurrence_pattern": None},
    {"description": None, "location": None, "recurrence_exceptions": []},
]


async def test_boundary_values_are_accepted(client: httpx.AsyncClient, owner: Actor) -> None:
    for overrides in ACCEPTED:
        response = await client.post(
            "/api/events",
            json=event_payload(**overrides),
            params={"conflict_strategy": "allow"},
            headers=owner.headers,
        )
        assert response.status_code == 201, (overrides, response.text)


NORMALISED: list[tuple[str | dict[str, Any], str]] = [
    ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"),
    ("rrule:freq=weekly;byday=we,mo;count=10", "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"),
    ("FREQ=DAILY;INTERVAL=1", "FREQ=DAILY"),
    (
        {"frequency": "weekly", "interval": 2, "by_weekday": ["MO", "FR"], "count": 10},
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;COUNT=10",
    ),
    ({"frequency": "monthly", "by_month_day": [1, 15]}, "FREQ=MONTHLY;BYMONTHDAY=1,15"),
    (
        {"frequency": "daily", "until": "2026-04-01T00:00:00Z"},
        "FREQ=DAILY;UNTIL=20260401T000000Z",
    ),
    ({"frequency": "yearly", "count": 3, "by_weekday": None}, "FREQ=YEARLY;COUNT=3"),
]


async def test_patterns_are_normalised(client: httpx.AsyncClient, owner: Actor) -> None:
    for pattern, canonical in NORMALISED:
        response = await client.post(
            "/api/events",
            json=event_payload(recurrence_pattern=pattern),
            params={"conflict_strategy": "allow"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["recurrence_pattern"] == canonical
        assert body["is_recurring"] is True


async def test_exceptions_are_stored_as_utc_sorted_and_deduplicated(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    body = event_payload(
        recurrence_pattern="FREQ=DAILY;COUNT=5",
        recurrence_exceptions=[
            "2026-03-23T10:00:00Z",
            "2026-03-21T11:00:00+01:00",
            "2026-03-21T10:00:00Z",
        ],
    )
    response = await client.post("/api/events", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    assert response.json()["recurrence_exceptions"] == [
        "2026-03-21T10:00:00Z",
        "2026-03-23T10:00:00Z",
    ]


async def test_malformed_json_and_wrong_top_level_type(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    headers = {**owner.headers, "Content-Type": "application/json"}
    assert_problem(await client.post("/api/events", content=b"{oops", headers=headers), 422)
    assert_problem(
        await client.post("/api/events", json=[event_payload()], headers=owner.headers), 422
    )
    assert_problem(await client.post("/api/events", json="title", headers=owner.headers), 422)
    await assert_nothing_written(app)


async def test_bad_query_parameters_are_422(client: httpx.AsyncClient, owner: Actor) -> None:
    post = await client.post(
        "/api/events",
        json=event_payload(),
        params={"conflict_strategy": "maybe"},
        headers=owner.headers,
    )
    assert_problem(post, 422)
    assert_problem(await client.get("/api/events/not-a-number", headers=owner.headers), 422)
    long_note = await client.post(
        "/api/events", json=event_payload(), params={"note": "n" * 501}, headers=owner.headers
    )
    assert_problem(long_note, 422)
