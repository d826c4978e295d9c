"""Single-occurrence edits (RFC 5545 RECURRENCE-ID), end to end: ``PATCH`` and ``DELETE`` of
``/api/events/{id}/occurrences/{recurrence_id}``, and ``recurrence_overrides`` as a field, in
occurrences, windows, conflicts, ``as_of``, sync, notifications, history and rollback; the
overrides kept (re-keyed) when the series moves, and reported when its rule orphans them."""

from __future__ import annotations

from typing import Any

import httpx
import ormsgpack
from fastapi import FastAPI
from sqlalchemy import select

from calendo.calendar.overrides import MAX_OVERRIDES
from calendo.core.uow import UnitOfWork
from calendo.history.models import EventVersion
from tests.events.conftest import EventFactory, event_payload
from tests.helpers import Actor, assert_problem

WEEKLY = "FREQ=WEEKLY;COUNT=3"  # 20, 27 March, 3 April 2026, 10:00 UTC
SECOND = "2026-03-27T10:00:00Z"
SPRING = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-06-01T00:00:00Z"}


def _url(event_id: int, rid: str = SECOND) -> str:
    return f"/api/events/{event_id}/occurrences/{rid}"


async def _occurrences(
    client: httpx.AsyncClient, actor: Actor, event_id: int, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/events/{event_id}/occurrences", params=params, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _series(make_event: EventFactory, actor: Actor, **fields: Any) -> dict[str, Any]:
    return await make_event(actor, recurrence_pattern=WEEKLY, **fields)


# --------------------------------------------------------------------------- one occurrence


async def test_an_edited_occurrence_moves_and_carries_its_own_title(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    response = await client.patch(
        _url(series["id"]),
        json={"start_time": "2026-03-28T14:00:00Z", "title": "Moved stand-up"},
        headers={**owner.headers, "If-Match": f'"{series["id"]}-1"'},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 2 and response.headers["etag"] == f'"{series["id"]}-2"'
    assert body["title"] == "Standup"  # the series keeps its own
    assert body["recurrence_overrides"] == [
        {
            "recurrence_id": SECOND,
            "start_time": "2026-03-28T14:00:00Z",
            "title": "Moved stand-up",
        }
    ]
    items = await _occurrences(client, owner, series["id"])
    assert [(i["occurrence_start"], i["occurrence_end"]) for i in items] == [
        ("2026-03-20T10:00:00Z", "2026-03-20T10:30:00Z"),
        ("2026-03-28T14:00:00Z", "2026-03-28T14:30:00Z"),  # same length as the series
        ("2026-04-03T10:00:00Z", "2026-04-03T10:30:00Z"),
    ]
    assert items[1]["recurrence_id"] == SECOND and items[1]["title"] == "Moved stand-up"
    assert "recurrence_id" not in items[0]

    expanded = await client.get(
        "/api/events", params={**SPRING, "expand": "true"}, headers=owner.headers
    )
    titles = [(i["occurrence_start"], i["title"]) for i in expanded.json()["items"]]
    assert titles[1] == ("2026-03-28T14:00:00Z", "Moved stand-up")
    # The old slot is empty now; the new one finds the series.
    for start, end, found in (
        ("2026-03-27T09:00:00Z", "2026-03-27T12:00:00Z", []),
        ("2026-03-28T13:00:00Z", "2026-03-28T15:00:00Z", [series["id"]]),
    ):
        window = {"start_time": start, "end_time": end}
        listed = (await client.get("/api/events", params=window, headers=owner.headers)).json()
        assert [item["id"] for item in listed["items"]] == found


async def test_a_field_sent_as_null_goes_back_to_the_series(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    await client.patch(
        _url(series["id"]), json={"title": "Own", "location": "Room 2"}, headers=owner.headers
    )
    partly = await client.patch(_url(series["id"]), json={"title": None}, headers=owner.headers)
    assert partly.json()["recurrence_overrides"] == [
        {"recurrence_id": SECOND, "location": "Room 2"}
    ]
    gone = await client.patch(_url(series["id"]), json={"location": None}, headers=owner.headers)
    assert gone.json()["recurrence_overrides"] == []
    assert gone.json()["version"] == 4


async def test_a_start_at_the_occurrences_own_time_is_no_start_of_its_own(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """A start equal to the recurrence id is the series' start (it moves with the series as
    the recurrence id does), stored as none, as an iCalendar import reads a ``DTSTART`` equal
    to its ``RECURRENCE-ID``: export, then re-import by UID, changes nothing."""
    series = await _series(
        make_event,
        owner,
        recurrence_overrides=[{"recurrence_id": SECOND, "start_time": SECOND, "title": "Own"}],
    )
    stored = [{"recurrence_id": SECOND, "title": "Own"}]
    assert series["recurrence_overrides"] == stored
    third = _url(series["id"], "2026-04-03T10:00:00Z")
    moved = await client.patch(
        third, json={"start_time": "2026-04-03T12:00:00+02:00"}, headers=owner.headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["recurrence_overrides"] == stored  # 12:00 in +02:00 is its own 10:00Z
    kept = await client.patch(
        third,
        json={"start_time": "2026-04-03T10:00:00Z", "end_time": "2026-04-03T12:00:00Z"},
        headers=owner.headers,
    )
    assert kept.status_code == 200, kept.text
    stored.append({"recurrence_id": "2026-04-03T10:00:00Z", "end_time": "2026-04-03T12:00:00Z"})
    assert kept.json()["recurrence_overrides"] == stored
    url = f"/api/events/{series['id']}"
    exported = await client.get(url, headers={**owner.headers, "Accept": "text/calendar"})
    assert exported.status_code == 200, exported.text
    imported = await client.post(
        "/api/events/import",
        content=exported.content,
        headers={**owner.headers, "Content-Type": "text/calendar"},
    )
    assert imported.status_code == 200, imported.text
    after = (await client.get(url, headers=owner.headers)).json()
    assert (after["recurrence_overrides"], after["version"]) == (stored, kept.json()["version"])


async def test_a_stale_merge_takes_overrides_named_on_another_offset(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """A stale ``PUT ?merge=true`` whose overrides name their occurrences on another offset
    merges as one in UTC would: the other writer's title kept, the overrides stored in UTC,
    and a second stale write of the same list is no conflict with the first."""
    series = await _series(make_event, owner)
    url = f"/api/events/{series['id']}"
    retitled = await client.put(url, json={"title": "Weekly sync"}, headers=owner.headers)
    assert retitled.status_code == 200, retitled.text
    sent = [{"recurrence_id": "2026-03-27T11:00:00+01:00", "location": "Room 2"}]
    merged = await client.put(
        url,
        json={"recurrence_overrides": sent, "version": 1},
        params={"merge": "true"},
        headers=owner.headers,
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    stored = [{"recurrence_id": SECOND, "location": "Room 2"}]
    assert (body["title"], body["recurrence_overrides"], body["version"]) == (
        "Weekly sync",
        stored,
        3,
    )
    again = await client.put(
        url,
        json={"recurrence_overrides": [{**sent[0], "recurrence_id": SECOND}], "version": 2},
        params={"merge": "true"},
        headers=owner.headers,
    )
    assert again.status_code == 200, again.text
    assert (again.json()["recurrence_overrides"], again.json()["version"]) == (stored, 3)


async def test_an_occurrence_moved_past_the_series_end_is_found_there(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    last = "2026-04-03T10:00:00Z"
    await client.patch(
        _url(series["id"], last),
        json={"start_time": "2026-05-04T08:00:00Z", "end_time": "2026-05-04T09:00:00Z"},
        headers=owner.headers,
    )
    window = {"start_time": "2026-05-04T00:00:00Z", "end_time": "2026-05-05T00:00:00Z"}
    listed = (await client.get("/api/events", params=window, headers=owner.headers)).json()
    assert [item["id"] for item in listed["items"]] == [series["id"]]


async def test_cancelling_an_occurrence_makes_it_an_exception_and_drops_its_override(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    await client.patch(_url(series["id"]), json={"title": "Own"}, headers=owner.headers)
    response = await client.delete(_url(series["id"]), headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["recurrence_exceptions"] == [SECOND]
    assert response.json()["recurrence_overrides"] == []
    starts = [i["occurrence_start"] for i in await _occurrences(client, owner, series["id"])]
    assert starts == ["2026-03-20T10:00:00Z", "2026-04-03T10:00:00Z"]
    # Cancelled, it is no longer an occurrence to edit or cancel.
    assert_problem(await client.delete(_url(series["id"]), headers=owner.headers), 404)


async def test_an_occurrence_the_series_does_not_have_is_404(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    single = await make_event(
        owner, start_time="2026-05-01T10:00:00Z", end_time="2026-05-01T11:00:00Z"
    )
    for event_id, rid in (
        (series["id"], "2026-03-27T10:00:01Z"),
        (series["id"], "2026-04-10T10:00:00Z"),  # after COUNT
        (single["id"], "2026-05-01T10:00:00Z"),  # not a series
    ):
        problem = assert_problem(
            await client.patch(_url(event_id, rid), json={"title": "x"}, headers=owner.headers),
            404,
        )
        assert "no occurrence starting at" in problem["detail"]
    assert_problem(
        await client.patch(_url(series["id"], "yesterday"), json={}, headers=owner.headers), 422
    )
    naive = await client.patch(
        _url(series["id"], "2026-03-27T10:00:00"), json={}, headers=owner.headers
    )
    assert_problem(naive, 422)


async def test_who_may_edit_an_occurrence(
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
    shared_event: dict[str, Any],
) -> None:
    event_id = shared_event["id"]
    made = await client.put(
        f"/api/events/{event_id}", json={"recurrence_pattern": WEEKLY}, headers=owner.headers
    )
    assert made.status_code == 200, made.text
    rid = "2026-03-27T10:00:00Z"
    for actor, status in ((stranger, 404), (viewer, 403)):
        assert_problem(
            await client.patch(_url(event_id, rid), json={"title": "x"}, headers=actor.headers),
            status,
        )
        assert_problem(await client.delete(_url(event_id, rid), headers=actor.headers), status)
    edited = await client.patch(_url(event_id, rid), json={"title": "x"}, headers=editor.headers)
    assert edited.status_code == 200, edited.text
    stale = await client.patch(
        _url(event_id, rid),
        json={"title": "y"},
        headers={**editor.headers, "If-Match": f'"{event_id}-2"'},
    )
    assert_problem(stale, 412)
    by_version = await client.patch(
        _url(event_id, rid), json={"title": "y", "version": 2}, headers=editor.headers
    )
    assert_problem(by_version, 409)
    cancelled = await client.delete(_url(event_id, rid), headers=editor.headers)
    assert cancelled.status_code == 200, cancelled.text
    # Nothing the refused ones sent was written.
    versions = (await client.get(f"/api/events/{event_id}/history", headers=owner.headers)).json()
    assert len(versions["items"]) == 4


async def test_messagepack_edit(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    headers = {
        **owner.headers,
        "Content-Type": "application/msgpack",
        "Accept": "application/msgpack",
    }
    response = await client.patch(
        _url(series["id"]), content=ormsgpack.packb({"title": "Packed"}), headers=headers
    )
    assert response.status_code == 200, response.text
    body = ormsgpack.unpackb(response.content)
    assert body["recurrence_overrides"][0]["title"] == "Packed"


# --------------------------------------------------------------------------- conflicts


async def test_a_moved_occurrence_is_conflict_checked_both_ways(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    blocker = await make_event(
        owner, title="Dentist", start_time="2026-03-28T14:00:00Z", end_time="2026-03-28T15:00:00Z"
    )
    move = {"start_time": "2026-03-28T14:15:00Z"}
    refused = await client.patch(_url(series["id"]), json=move, headers=owner.headers)
    problem = assert_problem(refused, 409)
    assert problem["conflicts"][0]["event_id"] == blocker["id"]
    allowed = await client.patch(
        _url(series["id"]),
        json=move,
        params={"conflict_strategy": "allow"},
        headers=owner.headers,
    )
    assert allowed.status_code == 200, allowed.text
    assert [c["event_id"] for c in allowed.json()["conflicts"]] == [blocker["id"]]
    # A new event on the moved occurrence conflicts with it, not with its old slot.
    for start, conflicts in (("2026-03-28T14:20:00Z", 1), ("2026-03-27T10:00:00Z", 0)):
        check = await client.post(
            "/api/events/conflicts",
            json={"start_time": start, "end_time": start.replace(":00Z", ":05Z")},
            headers=owner.headers,
        )
        ids = [c["event_id"] for c in check.json()["conflicts"]]
        assert ids.count(series["id"]) == conflicts, check.json()
    # Made free, the occurrence no longer conflicts.
    free = await client.patch(
        _url(series["id"]), json={"transparency": "transparent"}, headers=owner.headers
    )
    assert free.json()["conflicts"] == []
    check = await client.post(
        "/api/events/conflicts",
        json={"start_time": "2026-03-28T14:20:00Z", "end_time": "2026-03-28T14:25:00Z"},
        headers=owner.headers,
    )
    assert series["id"] not in [c["event_id"] for c in check.json()["conflicts"]]


# --------------------------------------------------------------------------- the series


async def test_moving_the_series_moves_its_overrides_across_dst(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    # Weekly 10:00 Europe/Berlin: 20 and 27 March (CET), 3 April (CEST, 08:00Z).
    berlin = await make_event(
        owner,
        start_time="2026-03-20T09:00:00Z",
        end_time="2026-03-20T10:00:00Z",
        timezone="Europe/Berlin",
        recurrence_pattern=WEEKLY,
    )
    # Weekly 09:00 America/New_York: 2 March (EST, 14:00Z), 9 and 16 March (EDT, 13:00Z).
    new_york = await make_event(
        owner,
        start_time="2026-03-02T14:00:00Z",
        end_time="2026-03-02T15:00:00Z",
        timezone="America/New_York",
        recurrence_pattern=WEEKLY,
    )
    cases = (
        (berlin, "2026-04-03T08:00:00Z", "2026-03-20T10:00:00Z", "2026-04-03T09:00:00Z"),
        (new_york, "2026-03-09T13:00:00Z", "2026-03-02T15:00:00Z", "2026-03-09T14:00:00Z"),
    )
    for event, rid, new_start, new_rid in cases:
        edited = await client.patch(
            _url(event["id"], rid), json={"title": "Own"}, headers=owner.headers
        )
        assert edited.status_code == 200, edited.text
        end = new_start.replace(new_start[11:13], f"{int(new_start[11:13]) + 1:02d}")
        moved = await client.put(
            f"/api/events/{event['id']}",
            json={"start_time": new_start, "end_time": end},
            headers=owner.headers,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["recurrence_overrides"] == [{"recurrence_id": new_rid, "title": "Own"}]
        assert moved.json()["orphaned_overrides"] == []
        items = await _occurrences(client, owner, event["id"])
        owned = [i for i in items if i.get("title") == "Own"]
        assert [(i["occurrence_start"], i["recurrence_id"]) for i in owned] == [(new_rid, new_rid)]


async def test_a_rule_change_orphans_an_override_and_keeps_it(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    await client.patch(_url(series["id"]), json={"title": "Own"}, headers=owner.headers)
    fortnightly = await client.put(
        f"/api/events/{series['id']}",
        json={"recurrence_pattern": "FREQ=WEEKLY;INTERVAL=2;COUNT=2"},
        headers=owner.headers,
    )
    assert fortnightly.status_code == 200, fortnightly.text
    assert fortnightly.json()["orphaned_overrides"] == [SECOND]
    assert fortnightly.json()["recurrence_overrides"] == [{"recurrence_id": SECOND, "title": "Own"}]
    items = await _occurrences(client, owner, series["id"])
    assert [i["occurrence_start"] for i in items] == [
        "2026-03-20T10:00:00Z",
        "2026-04-03T10:00:00Z",
    ]
    assert all("title" not in i for i in items)
    # The rule back: the override applies again.
    weekly = await client.put(
        f"/api/events/{series['id']}", json={"recurrence_pattern": WEEKLY}, headers=owner.headers
    )
    assert weekly.json()["orphaned_overrides"] == []
    items = await _occurrences(client, owner, series["id"])
    assert [i.get("title") for i in items] == [None, "Own", None]


async def test_overrides_as_a_field_of_creates_and_batches(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    payload = event_payload(
        recurrence_pattern=WEEKLY,
        recurrence_overrides=[
            {"recurrence_id": "2026-04-03T12:00:00+02:00", "location": "Roof"},
            {"recurrence_id": SECOND, "end_time": "2026-03-27T12:00:00Z"},
        ],
    )
    batch = await client.post(
        "/api/events/batch", json={"events": [payload]}, headers=owner.headers
    )
    assert batch.status_code == 201, batch.text
    created = batch.json()["items"][0]
    assert created["recurrence_overrides"] == [
        {"recurrence_id": SECOND, "end_time": "2026-03-27T12:00:00Z"},
        {"recurrence_id": "2026-04-03T10:00:00Z", "location": "Roof"},
    ]
    items = await _occurrences(client, owner, created["id"])
    assert items[1]["occurrence_end"] == "2026-03-27T12:00:00Z"
    assert items[2]["location"] == "Roof"


async def test_overrides_are_validated_with_plain_sentences(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"recurrence_overrides": [{"recurrence_id": SECOND, "title": "x"}]},
            "recurrence_overrides are only allowed on a recurring event",
        ),
        (
            {
                "recurrence_pattern": WEEKLY,
                "recurrence_overrides": [{"recurrence_id": "2026-03-28T10:00:00Z"}],
            },
            "the series has no occurrence starting at 2026-03-28T10:00:00Z",
        ),
        (
            {
                "recurrence_pattern": WEEKLY,
                "recurrence_overrides": [
                    {"recurrence_id": SECOND, "start_time": "2026-03-19T10:00:00Z"}
                ],
            },
            "cannot start before the series' start_time",
        ),
        (
            {
                "recurrence_pattern": WEEKLY,
                "recurrence_overrides": [
                    {"recurrence_id": SECOND, "end_time": "2026-03-27T09:00:00Z"}
                ],
            },
            f"the occurrence {SECOND} must end after it starts",
        ),
        (
            {
                "recurrence_pattern": WEEKLY,
                "recurrence_overrides": [{"recurrence_id": SECOND}, {"recurrence_id": SECOND}],
            },
            f"two overrides for the occurrence {SECOND}",
        ),
        (
            {
                "recurrence_pattern": WEEKLY,
                "recurrence_overrides": [{"recurrence_id": SECOND}] * (MAX_OVERRIDES + 1),
            },
            f"recurrence_overrides may hold at most {MAX_OVERRIDES} items",
        ),
        (
            {
                "recurrence_pattern": WEEKLY,
                "recurrence_overrides": [{"recurrence_id": SECOND, "x": 1}],
            },
            "x",
        ),
    ]
    for fields, text in cases:
        response = await client.post(
            "/api/events", json=event_payload(**fields), headers=owner.headers
        )
        problem = assert_problem(response, 422)
        assert text in str(problem), problem
    listed = (await client.get("/api/events", headers=owner.headers)).json()
    assert listed["items"] == []  # nothing written
    series = await _series(make_event, owner)
    moved_early = await client.patch(
        _url(series["id"]), json={"start_time": "2026-03-01T10:00:00Z"}, headers=owner.headers
    )
    assert (
        "cannot start before the series' start_time" in assert_problem(moved_early, 422)["detail"]
    )
    assert_problem(
        await client.patch(_url(series["id"]), json={"title": ""}, headers=owner.headers), 422
    )
    assert_problem(
        await client.patch(_url(series["id"]), json={"colour": "red"}, headers=owner.headers), 422
    )


# --------------------------------------------------------------------------- history


async def test_history_names_the_occurrence_and_rollback_restores_the_overrides(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    shared_event: dict[str, Any],
) -> None:
    event_id = shared_event["id"]
    await client.put(
        f"/api/events/{event_id}",
        json={"recurrence_pattern": WEEKLY, "timezone": "Europe/Berlin"},
        headers=owner.headers,
    )  # v2
    rid = "2026-03-27T10:00:00Z"
    await client.patch(
        _url(event_id, rid),
        json={"start_time": "2026-03-27T13:00:00Z", "title": "Later"},
        headers=editor.headers,
    )  # v3
    await client.delete(_url(event_id, "2026-04-03T09:00:00Z"), headers=owner.headers)  # v4
    changelog = (
        await client.get(f"/api/events/{event_id}/changelog", headers=owner.headers)
    ).json()["items"]
    by_version = {entry["version"]: entry for entry in changelog if entry["version"]}
    assert by_version[3]["changed_fields"] == ["recurrence_overrides"]
    assert by_version[3]["summary"] == (
        "moved the Fri 27 Mar 2026 occurrence to Fri 27 Mar 2026, 14:00–14:30 Europe/Berlin; "
        "renamed the Fri 27 Mar 2026 occurrence to “Later”"
    )
    assert by_version[4]["summary"] == "added 1 exception"
    page = await client.get(
        f"/api/events/{event_id}/diff/2/3", params={"format": "html"}, headers=owner.headers
    )
    assert "Single-occurrence edits" in page.text and "title “Later”" in page.text
    notes = (await client.get("/api/notifications", headers=owner.headers)).json()["items"]
    assert notes[-1]["changed_fields"] == ["recurrence_overrides"]

    async with UnitOfWork.read(app.state.services.db) as session:
        v3_at = (
            await session.execute(
                select(EventVersion.created_at).where(
                    EventVersion.event_id == event_id, EventVersion.version == 3
                )
            )
        ).scalar_one()
    past = await client.get(
        f"/api/events/{event_id}", params={"as_of": v3_at.isoformat()}, headers=owner.headers
    )
    assert past.json()["recurrence_overrides"][0]["title"] == "Later"
    synced = (await client.get("/api/sync", headers=editor.headers)).json()
    event = next(c["event"] for c in synced["changes"] if c["event_id"] == event_id)
    assert event["recurrence_exceptions"] == ["2026-04-03T09:00:00Z"]

    rolled = await client.post(f"/api/events/{event_id}/rollback/2", headers=editor.headers)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["recurrence_overrides"] == []
    assert rolled.json()["recurrence_exceptions"] == []
    back = await client.post(f"/api/events/{event_id}/rollback/3", headers=editor.headers)
    assert back.json()["recurrence_overrides"] == [
        {"recurrence_id": rid, "start_time": "2026-03-27T13:00:00Z", "title": "Later"}
    ]
    items = await _occurrences(client, owner, event_id)
    assert [i["occurrence_start"] for i in items][1] == "2026-03-27T13:00:00Z"


async def test_a_transaction_edits_overrides_atomically(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await _series(make_event, owner)
    operations: list[dict[str, Any]] = [
        {
            "op": "update",
            "event_id": series["id"],
            "changes": {"recurrence_overrides": [{"recurrence_id": SECOND, "title": "Own"}]},
        },
        {"op": "update", "event_id": series["id"], "changes": {"title": ""}},  # invalid
    ]
    refused = await client.post(
        "/api/transactions", json={"operations": operations}, headers=owner.headers
    )
    assert_problem(refused, 422)
    unchanged = (await client.get(f"/api/events/{series['id']}", headers=owner.headers)).json()
    assert unchanged["recurrence_overrides"] == [] and unchanged["version"] == 1
    done = await client.post(
        "/api/transactions", json={"operations": operations[:1]}, headers=owner.headers
    )
    assert done.status_code == 200, done.text
    items = await _occurrences(client, owner, series["id"])
    assert [i.get("title") for i in items] == [None, "Own", None]


async def test_a_malformed_recurrence_id_is_one_plain_error_at_its_field(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    """A recurrence id is a date or a time. As a `Day | Time` union a bad one was two errors
    whose `loc` and text named pydantic's validators (`function-after[_in_range(), …]`)."""
    series = await _series(make_event, owner)
    url = f"/api/events/{series['id']}"
    overrides = {"recurrence_overrides": [{"recurrence_id": "garbage", "title": "x"}]}
    cases = [
        ("PUT", url, overrides, ["body", "recurrence_overrides", "0", "recurrence_id"]),
        ("POST", f"{url}/split", {"recurrence_id": "garbage"}, ["body", "recurrence_id"]),
        ("PATCH", _url(series["id"], "garbage"), {"title": "x"}, ["path", "recurrence_id"]),
    ]
    for method, target, body, loc in cases:
        response = await client.request(method, target, json=body, headers=owner.headers)
        problem = assert_problem(response, 422, "validation-error")
        assert problem["errors"] == [
            {
                "loc": loc,
                "msg": "recurrence_id must be an RFC 3339 date-time with an offset, such as "
                "2026-03-20T10:00:00Z, not 'garbage'",
            }
        ]
        assert "function" not in problem["detail"]
    async with UnitOfWork.read(app.state.services.db) as session:
        versions = await session.scalars(
            select(EventVersion.version).where(EventVersion.event_id == series["id"])
        )
        assert list(versions) == [1]
