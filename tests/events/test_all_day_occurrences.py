"""Overrides of an all-day series through the API: an occurrence moves by dates
(``start_date`` / ``end_date``) or by UTC midnights, on ``PATCH …/occurrences/{rid}`` and in
``recurrence_overrides`` alike, and is stored as the UTC midnights Calendo keys and places it
by; any other time is a 422 naming the field, with nothing written. An occurrence is named in
the path by its date, or by a time that is 00:00 on its own offset's clock."""

from __future__ import annotations

from typing import Any

import httpx

from tests.events.conftest import CAMP, EventFactory, read_event
from tests.helpers import Actor, assert_problem


def _url(event_id: int, rid: str = "2026-03-26T00:00:00Z") -> str:
    return f"/api/events/{event_id}/occurrences/{rid}"


async def _ics(client: httpx.AsyncClient, actor: Actor, event_id: int) -> bytes:
    headers = {**actor.headers, "Accept": "text/calendar"}
    response = await client.get(f"/api/events/{event_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def _midnights(*march: str) -> dict[str, str]:
    """An override as stored: its recurrence id, start and end at UTC midnights in March."""
    keys = ("recurrence_id", "start_time", "end_time")
    return {key: f"2026-03-{day}T00:00:00Z" for key, day in zip(keys, march, strict=True)}


async def _exported_as(client: httpx.AsyncClient, actor: Actor, event_id: int, *march: str) -> None:
    """The event's export holds the override of that March date, moved to those dates."""
    exported = await _ics(client, actor, event_id)
    for name, day in zip(("RECURRENCE-ID", "DTSTART", "DTEND"), march, strict=True):
        assert f"{name};VALUE=DATE:202603{day}".encode() in exported, exported


async def _refused(
    response: httpx.Response, loc: list[Any], words: str, before: dict[str, Any], after: Any
) -> None:
    """A 422 at ``loc`` whose detail says ``words``, and the event unchanged (``after``: its
    body read again)."""
    problem = assert_problem(response, 422, "validation-error")
    assert words in problem["detail"], problem["detail"]
    assert problem["errors"][0]["loc"] == loc
    now = await after
    assert (now["version"], now["recurrence_overrides"]) == (
        before["version"],
        before["recurrence_overrides"],
    )


async def test_patching_an_all_day_occurrence_by_dates_stores_midnights(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(owner, **CAMP)
    edited = await client.patch(
        _url(camp["id"]),
        json={"start_date": "2026-03-27", "end_date": "2026-03-30", "title": "Camp, moved"},
        headers=owner.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["recurrence_overrides"] == [
        {**_midnights("26", "27", "30"), "title": "Camp, moved"}
    ]
    await _exported_as(client, owner, camp["id"], "26", "27", "30")
    # A UTC midnight is the same move; null gives the date back to the series.
    same = await client.patch(
        _url(camp["id"]), json={"start_time": "2026-03-27T00:00:00Z"}, headers=owner.headers
    )
    assert same.status_code == 200, same.text
    assert same.json()["version"] == 2  # nothing changed: no new version
    back = await client.patch(
        _url(camp["id"]), json={"start_date": None, "end_date": None}, headers=owner.headers
    )
    assert back.status_code == 200, back.text
    assert back.json()["recurrence_overrides"] == [
        {"recurrence_id": "2026-03-26T00:00:00Z", "title": "Camp, moved"}
    ]


async def test_a_time_that_is_not_a_utc_midnight_is_refused_naming_the_field(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(owner, **CAMP)
    before = await read_event(client, owner, camp["id"])
    cases: list[tuple[dict[str, Any], list[Any], str]] = [
        ({"start_time": "2026-03-26T10:00:00Z"}, ["body", "start_time"], "send start_date"),
        ({"end_time": "2026-03-29T00:00:00+01:00"}, ["body", "end_time"], "send end_date"),
        (
            {"start_date": "2026-03-27", "start_time": "2026-03-27T00:00:00Z"},
            ["body", "start_date"],
            "send start_date or start_time, not both",
        ),
    ]
    for body, loc, words in cases:
        response = await client.patch(_url(camp["id"]), json=body, headers=owner.headers)
        await _refused(response, loc, words, before, read_event(client, owner, camp["id"]))
    detail = (
        await client.patch(
            _url(camp["id"]), json={"start_time": "2026-03-26T10:00:00Z"}, headers=owner.headers
        )
    ).json()["detail"]
    assert detail == (
        "start_time of an occurrence of an all-day series must be a UTC midnight (such as "
        "2026-03-26T00:00:00Z), not 2026-03-26T10:00:00+00:00: an all-day occurrence moves by "
        "whole dates; send start_date (an ISO date such as 2026-03-26) instead"
    )


async def test_dates_on_a_timed_series_occurrence_are_refused(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await make_event(
        owner,
        start_time="2026-03-12T09:00:00Z",
        end_time="2026-03-12T10:00:00Z",
        recurrence_pattern="FREQ=WEEKLY;COUNT=4",
    )
    before = await read_event(client, owner, series["id"])
    response = await client.patch(
        _url(series["id"], "2026-03-26T09:00:00Z"),
        json={"start_date": "2026-03-27"},
        headers=owner.headers,
    )
    words = "start_date is only for an occurrence of an all-day series"
    await _refused(
        response, ["body", "start_date"], words, before, read_event(client, owner, series["id"])
    )
    # A date names no occurrence of a timed series.
    missing = await client.patch(
        _url(series["id"], "2026-03-26"), json={"title": "x"}, headers=owner.headers
    )
    assert (
        "a date names an occurrence of an all-day series"
        in assert_problem(missing, 404, "not-found")["detail"]
    )


async def test_an_all_day_occurrence_is_named_by_its_date_or_a_midnight_on_any_clock(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(owner, **CAMP)
    for version, rid in enumerate(
        ("2026-03-26", "2026-03-26T00:00:00%2B01:00", "2026-03-26T00:00:00-05:00"), start=2
    ):
        edited = await client.patch(
            _url(camp["id"], rid), json={"title": f"Camp {version}"}, headers=owner.headers
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["version"] == version
        assert edited.json()["recurrence_overrides"] == [
            {"recurrence_id": "2026-03-26T00:00:00Z", "title": f"Camp {version}"}
        ]
    # Another time of that date names no occurrence (nor does a date the series skips).
    for rid in ("2026-03-26T10:00:00Z", "2026-03-27"):
        response = await client.patch(
            _url(camp["id"], rid), json={"title": "x"}, headers=owner.headers
        )
        assert_problem(response, 404, "not-found")
    # Cancelling by the date adds the date to the series' exceptions (dates on an all-day one).
    cancelled = await client.delete(_url(camp["id"], "2026-03-19"), headers=owner.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["recurrence_exceptions"] == ["2026-03-19"]
    assert b"EXDATE;VALUE=DATE:20260319" in await _ics(client, owner, camp["id"])


async def test_recurrence_overrides_of_an_all_day_series_take_dates(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    moved = {"recurrence_id": "2026-03-19T00:00:00Z", "start_date": "2026-03-20"}
    camp = await make_event(
        owner, **CAMP, recurrence_overrides=[{**moved, "end_date": "2026-03-23"}]
    )
    assert camp["recurrence_overrides"] == [_midnights("19", "20", "23")]
    await _exported_as(client, owner, camp["id"], "19", "20", "23")
    # An update may send UTC midnights (as a read returns them) or dates.
    url = f"/api/events/{camp['id']}"
    again = [{"recurrence_id": "2026-03-19T00:00:00Z", "start_time": "2026-03-21T00:00:00Z"}]
    updated = await client.put(url, json={"recurrence_overrides": again}, headers=owner.headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["recurrence_overrides"] == again
    # Any other time is refused naming the override and its field; nothing is written.
    before = await read_event(client, owner, camp["id"])
    bad = [{"recurrence_id": "2026-03-19T00:00:00Z", "start_time": "2026-03-20T10:00:00Z"}]
    response = await client.put(url, json={"recurrence_overrides": bad}, headers=owner.headers)
    loc = ["body", "recurrence_overrides", 0, "start_time"]
    await _refused(response, loc, "send start_date", before, read_event(client, owner, camp["id"]))
    listed = (await client.get("/api/events", headers=owner.headers)).json()["items"]
    created = await client.post(
        "/api/events",
        json={"title": "Camp", **CAMP, "recurrence_overrides": bad},
        headers=owner.headers,
        params={"conflict_strategy": "allow"},
    )
    assert assert_problem(created, 422, "validation-error")["errors"][0]["loc"] == loc
    assert (await client.get("/api/events", headers=owner.headers)).json()["items"] == listed
    # Dates on a timed series' override are refused by name.
    timed = await client.post(
        "/api/events",
        json={
            "title": "Stand-up",
            "start_time": "2026-03-12T09:00:00Z",
            "end_time": "2026-03-12T10:00:00Z",
            "recurrence_pattern": "FREQ=WEEKLY;COUNT=4",
            "recurrence_overrides": [{"recurrence_id": "2026-03-19T09:00:00Z", **moved}],
        },
        headers=owner.headers,
    )
    problem = assert_problem(timed, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "recurrence_overrides", 0, "start_date"]
    assert (await client.get("/api/events", headers=owner.headers)).json()["items"] == listed
