"""Free/busy transparency (RFC 5545 TRANSP) and extra dates (RDATE), end to end: bodies in JSON
and MessagePack, conflicts in both directions (writes, the preview, batches, transactions),
occurrences, windows, ``as_of``, sync, validation, permissions and history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import ormsgpack
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from calendo.core.uow import UnitOfWork
from calendo.events.schemas import MAX_RECURRENCE_DATES
from calendo.history.models import EventVersion
from tests.events.conftest import EventFactory, event_payload
from tests.events.support import strip_snapshots
from tests.helpers import Actor, assert_problem

WEEKLY = "FREQ=WEEKLY;COUNT=3"  # 20, 27 March, 3 April 2026, 10:00 UTC
EXTRA = ["2026-03-23T15:00:00Z", "2026-04-20T10:00:00Z"]
SPRING = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-06-01T00:00:00Z"}


async def _create(
    client: httpx.AsyncClient, actor: Actor, strategy: str = "reject", **fields: Any
) -> httpx.Response:
    return await client.post(
        "/api/events",
        json=event_payload(**fields),
        headers=actor.headers,
        params={"conflict_strategy": strategy},
    )


async def _put(
    client: httpx.AsyncClient, actor: Actor, event_id: int, strategy: str = "reject", **fields: Any
) -> httpx.Response:
    return await client.put(
        f"/api/events/{event_id}",
        json=fields,
        headers=actor.headers,
        params={"conflict_strategy": strategy},
    )


async def _occurrences(
    client: httpx.AsyncClient, actor: Actor, event_id: int, **params: str
) -> list[str]:
    response = await client.get(
        f"/api/events/{event_id}/occurrences", params=params, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return [item["occurrence_start"] for item in response.json()["items"]]


# --------------------------------------------------------------------------- bodies


async def test_defaults_and_round_trip_in_json(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    plain = await make_event(owner)
    assert plain["transparency"] == "opaque" and plain["recurrence_dates"] == []
    fields = list(plain)
    assert fields.index("recurrence_dates") == fields.index("recurrence_exceptions") + 1
    assert fields.index("transparency") == fields.index("recurrence_dates") + 1

    created = await make_event(
        owner,
        recurrence_pattern=WEEKLY,
        # Unsorted, duplicated and with an offset: stored sorted, once, in UTC.
        recurrence_dates=[EXTRA[1], "2026-03-23T16:00:00+01:00", EXTRA[0]],
        transparency="transparent",
    )
    assert created["recurrence_dates"] == EXTRA
    assert created["transparency"] == "transparent"
    read = (await client.get(f"/api/events/{created['id']}", headers=owner.headers)).json()
    assert (read["recurrence_dates"], read["transparency"]) == (EXTRA, "transparent")

    # Now opaque, it overlaps ``plain``: allowed and reported.
    updated = await _put(
        client, owner, created["id"], "allow", transparency="opaque", recurrence_dates=[EXTRA[1]]
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["recurrence_dates"], updated.json()["transparency"]) == (
        [EXTRA[1]],
        "opaque",
    )
    # A PUT that leaves them out keeps them.
    kept = (await _put(client, owner, created["id"], title="Renamed")).json()
    assert (kept["recurrence_dates"], kept["transparency"]) == ([EXTRA[1]], "opaque")
    # The calendar page carries them too.
    page = (await client.get("/api/events", headers=owner.headers)).json()["items"]
    by_id = {item["id"]: item for item in page}
    assert by_id[created["id"]]["recurrence_dates"] == [EXTRA[1]]
    assert by_id[plain["id"]]["recurrence_dates"] == []
    assert by_id[plain["id"]]["transparency"] == "opaque"


async def test_round_trip_in_msgpack(client: httpx.AsyncClient, owner: Actor) -> None:
    headers = {
        **owner.headers,
        "Content-Type": "application/msgpack",
        "Accept": "application/msgpack",
    }
    payload = event_payload(
        recurrence_pattern=WEEKLY, recurrence_dates=EXTRA, transparency="transparent"
    )
    created = await client.post("/api/events", content=ormsgpack.packb(payload), headers=headers)
    assert created.status_code == 201, created.content
    body = ormsgpack.unpackb(created.content)
    assert (body["recurrence_dates"], body["transparency"]) == (EXTRA, "transparent")
    changed = await client.put(
        f"/api/events/{body['id']}",
        content=ormsgpack.packb({"transparency": "opaque", "recurrence_dates": []}),
        headers=headers,
    )
    assert changed.status_code == 200, changed.content
    after = ormsgpack.unpackb(changed.content)
    assert (after["recurrence_dates"], after["transparency"]) == ([], "opaque")


# --------------------------------------------------------------------------- transparency


async def test_a_transparent_event_never_conflicts_in_either_direction(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    busy = await _create(client, owner, title="Busy")
    assert busy.status_code == 201, busy.text
    # A transparent event over a busy one: accepted under reject, nothing reported.
    banner = await _create(
        client,
        owner,
        title="Holiday",
        start_time="2026-03-20T00:00:00Z",
        end_time="2026-03-21T00:00:00Z",
        transparency="transparent",
    )
    assert banner.status_code == 201, banner.text
    assert banner.json()["conflicts"] == []
    # An opaque event over the banner only: the banner is not a conflict.
    later = await _create(
        client,
        owner,
        title="Later",
        start_time="2026-03-20T15:00:00Z",
        end_time="2026-03-20T16:00:00Z",
    )
    assert later.status_code == 201, later.text
    allowed = await _create(client, owner, "allow", title="Over both")
    assert [c["title"] for c in allowed.json()["conflicts"]] == ["Busy"]
    # shift leaves a transparent event where it was asked.
    shifted = await _create(client, owner, "shift", transparency="transparent")
    assert shifted.json()["start_time"] == "2026-03-20T10:00:00Z"

    preview = await client.post(
        "/api/events/conflicts",
        json={"start_time": "2026-03-20T12:00:00Z", "end_time": "2026-03-20T13:00:00Z"},
        headers=owner.headers,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["conflicts"] == []  # only the banner is there
    transparent_preview = await client.post(
        "/api/events/conflicts",
        json={
            "start_time": "2026-03-20T10:00:00Z",
            "end_time": "2026-03-20T10:30:00Z",
            "transparency": "transparent",
        },
        headers=owner.headers,
    )
    assert transparent_preview.json() == {
        "conflicts": [],
        "suggestions": [{"start_time": "2026-03-20T10:00:00Z", "end_time": "2026-03-20T10:30:00Z"}],
    }

    # Making the banner opaque is checked like any new time: it overlaps three events now.
    refused = await _put(client, owner, banner.json()["id"], transparency="opaque")
    problem = assert_problem(refused, 409, "schedule-conflict")
    assert {c["title"] for c in problem["conflicts"]} == {"Busy", "Later", "Over both"}
    made_free = await _put(client, owner, allowed.json()["id"], transparency="transparent")
    assert made_free.status_code == 200 and made_free.json()["conflicts"] == []


async def test_transparent_items_of_batches_and_transactions_do_not_conflict(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    items = [event_payload(title="A"), event_payload(title="B", transparency="transparent")]
    batch = await client.post("/api/events/batch", json={"events": items}, headers=owner.headers)
    assert batch.status_code == 201, batch.text
    # A later opaque item over the transparent one only.
    items = [
        event_payload(
            title="C",
            transparency="transparent",
            start_time="2026-03-21T10:00:00Z",
            end_time="2026-03-21T11:00:00Z",
        ),
        event_payload(
            title="D", start_time="2026-03-21T10:00:00Z", end_time="2026-03-21T11:00:00Z"
        ),
    ]
    operations = [{"op": "create", "event": item} for item in items]
    done = await client.post(
        "/api/transactions", json={"operations": operations}, headers=owner.headers
    )
    assert done.status_code == 200, done.text
    # And an opaque pair still conflicts.
    clash = await client.post(
        "/api/events/batch",
        json={"events": [event_payload(title="E"), event_payload(title="F")]},
        headers=owner.headers,
    )
    assert_problem(clash, 409)


# --------------------------------------------------------------------------- RDATE


async def test_rdates_in_occurrences_listings_windows_and_bounds(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await make_event(
        owner,
        recurrence_pattern=WEEKLY,
        recurrence_dates=EXTRA,
        recurrence_exceptions=["2026-03-27T10:00:00Z"],
    )
    starts = await _occurrences(client, owner, series["id"], **SPRING)
    assert starts == [
        "2026-03-20T10:00:00Z",
        "2026-03-23T15:00:00Z",
        "2026-04-03T10:00:00Z",
        "2026-04-20T10:00:00Z",
    ]
    # Without a window the series' bounds reach its last RDATE.
    assert (await _occurrences(client, owner, series["id"]))[-1] == EXTRA[1]
    # A window holding only the last RDATE (after the rule's last occurrence) finds the event:
    # series_end (and the permission rows' copies of it) cover it.
    window = {"start_time": "2026-04-19T00:00:00Z", "end_time": "2026-04-21T00:00:00Z"}
    listed = (await client.get("/api/events", params=window, headers=owner.headers)).json()
    assert [item["id"] for item in listed["items"]] == [series["id"]]
    expanded = (
        await client.get("/api/events", params={**window, "expand": "true"}, headers=owner.headers)
    ).json()
    assert [(i["id"], i["occurrence_start"], i["occurrence_end"]) for i in expanded["items"]] == [
        (series["id"], "2026-04-20T10:00:00Z", "2026-04-20T10:30:00Z")
    ]
    # An RDATE the rule also produces is one occurrence; an EXDATE removes an RDATE too.
    await _put(
        client,
        owner,
        series["id"],
        "allow",
        recurrence_dates=["2026-04-03T10:00:00Z", *EXTRA],
        recurrence_exceptions=[EXTRA[0]],
    )
    starts = await _occurrences(client, owner, series["id"], **SPRING)
    assert starts == [
        "2026-03-20T10:00:00Z",
        "2026-03-27T10:00:00Z",
        "2026-04-03T10:00:00Z",
        "2026-04-20T10:00:00Z",
    ]
    # Dropping the last RDATE pulls the bounds back in.
    await _put(client, owner, series["id"], recurrence_dates=[])
    listed = (await client.get("/api/events", params=window, headers=owner.headers)).json()
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("zone", "rule_start", "extra", "expected"),
    [
        # Berlin: summer time from 29 March 2026; weekly 09:00 local, an RDATE at 09:00 CEST.
        (
            "Europe/Berlin",
            "2026-03-23T08:00:00Z",
            "2026-04-01T07:00:00Z",
            ["2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z", "2026-04-01T07:00:00Z"],
        ),
        # New York: summer time from 8 March 2026; the RDATE falls before the change.
        (
            "America/New_York",
            "2026-03-02T14:00:00Z",
            "2026-03-04T14:00:00Z",
            ["2026-03-02T14:00:00Z", "2026-03-04T14:00:00Z", "2026-03-09T13:00:00Z"],
        ),
    ],
)
async def test_rdates_across_dst_keep_their_instants(
    client: httpx.AsyncClient,
    owner: Actor,
    make_event: EventFactory,
    zone: str,
    rule_start: str,
    extra: str,
    expected: list[str],
) -> None:
    start = datetime.fromisoformat(rule_start)
    series = await make_event(
        owner,
        start_time=rule_start,
        end_time=(start + timedelta(hours=1)).isoformat(),
        timezone=zone,
        recurrence_pattern="FREQ=WEEKLY;COUNT=2",
        recurrence_dates=[extra],
    )
    window = {
        "start_time": (start - timedelta(days=1)).isoformat(),
        "end_time": (start + timedelta(days=14)).isoformat(),
    }
    assert await _occurrences(client, owner, series["id"], **window) == expected
    expanded = (
        await client.get("/api/events", params={**window, "expand": "true"}, headers=owner.headers)
    ).json()
    assert [item["occurrence_start"] for item in expanded["items"]] == expected


async def test_an_rdate_occurrence_conflicts(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await make_event(
        owner, title="Series", recurrence_pattern=WEEKLY, recurrence_dates=EXTRA
    )
    # Overlapping only the RDATE at 15:00 on 23 March.
    clash = await _create(
        client, owner, start_time="2026-03-23T15:15:00Z", end_time="2026-03-23T16:00:00Z"
    )
    problem = assert_problem(clash, 409, "schedule-conflict")
    assert problem["conflicts"] == [
        {
            "event_id": series["id"],
            "title": "Series",
            "occurrence_start": "2026-03-23T15:00:00Z",
            "occurrence_end": "2026-03-23T15:30:00Z",
        }
    ]
    # The other direction: a new RDATE onto a busy slot is refused, and previewed as such.
    busy = await _create(
        client,
        owner,
        title="Dentist",
        start_time="2026-05-04T10:00:00Z",
        end_time="2026-05-04T11:00:00Z",
    )
    assert busy.status_code == 201
    refused = await _put(client, owner, series["id"], recurrence_dates=["2026-05-04T10:00:00Z"])
    assert [c["title"] for c in assert_problem(refused, 409)["conflicts"]] == ["Dentist"]
    preview = await client.post(
        "/api/events/conflicts",
        json={
            "start_time": "2026-03-20T10:00:00Z",
            "end_time": "2026-03-20T10:30:00Z",
            "recurrence_pattern": WEEKLY,
            "recurrence_dates": ["2026-05-04T10:00:00Z"],
            "exclude_event_id": series["id"],
        },
        headers=owner.headers,
    )
    assert [c["title"] for c in preview.json()["conflicts"]] == ["Dentist"]
    lone = await client.post(
        "/api/events/conflicts",
        json={
            "start_time": "2026-03-20T10:00:00Z",
            "end_time": "2026-03-20T10:30:00Z",
            "recurrence_dates": ["2026-05-04T10:00:00Z"],
        },
        headers=owner.headers,
    )
    problem = assert_problem(lone, 422)
    assert problem["errors"][0] == {
        "loc": ["body", "recurrence_dates"],
        "msg": "recurrence_dates are only allowed with a recurrence_pattern",
    }


async def test_as_of_and_sync_carry_the_new_fields(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await make_event(
        owner, recurrence_pattern=WEEKLY, recurrence_dates=EXTRA, transparency="transparent"
    )
    await _put(client, owner, series["id"], "allow", recurrence_dates=[], transparency="opaque")
    async with UnitOfWork.read(app.state.services.db) as session:
        first = (
            await session.execute(
                select(EventVersion.created_at).where(
                    EventVersion.event_id == series["id"], EventVersion.version == 1
                )
            )
        ).scalar_one()
    past = await client.get(
        f"/api/events/{series['id']}",
        params={"as_of": first.isoformat()},
        headers=owner.headers,
    )
    assert past.status_code == 200, past.text
    assert (past.json()["recurrence_dates"], past.json()["transparency"]) == (
        EXTRA,
        "transparent",
    )
    # The past calendar's window finds the event by its (then) last RDATE.
    window = {
        "as_of": first.isoformat(),
        "start_time": "2026-04-19T00:00:00Z",
        "end_time": "2026-04-21T00:00:00Z",
    }
    listed = (await client.get("/api/events", params=window, headers=owner.headers)).json()
    assert [item["id"] for item in listed["items"]] == [series["id"]]
    assert listed["items"][0]["recurrence_dates"] == EXTRA

    synced = (await client.get("/api/sync", headers=owner.headers)).json()
    event = next(c["event"] for c in synced["changes"] if c["event_id"] == series["id"])
    assert (event["recurrence_dates"], event["transparency"]) == ([], "opaque")


# --------------------------------------------------------------------------- validation


async def test_validation_is_422_with_plain_sentences(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        (
            {"transparency": "maybe"},
            ["body", "transparency"],
            "transparency must be one of 'opaque' or 'transparent'",
        ),
        (
            {"recurrence_dates": ["2026-03-25T10:00:00Z"]},
            ["body", "recurrence_dates"],
            "recurrence_dates are only allowed on a recurring event",
        ),
        (
            {"recurrence_pattern": WEEKLY, "recurrence_dates": ["2026-03-19T10:00:00Z"]},
            ["body", "recurrence_dates"],
            "recurrence_dates must not be before start_time: 2026-03-19T10:00:00Z is before "
            "2026-03-20T10:00:00Z",
        ),
        (
            {"recurrence_pattern": WEEKLY, "recurrence_dates": ["2026-03-25T10:00:00"]},
            ["body", "recurrence_dates", "0"],
            "must include a UTC offset",
        ),
        (
            {
                "recurrence_pattern": WEEKLY,
                "recurrence_dates": ["2026-03-25T10:00:00Z"] * (MAX_RECURRENCE_DATES + 1),
            },
            ["body", "recurrence_dates"],
            f"recurrence_dates may hold at most {MAX_RECURRENCE_DATES} items, not "
            f"{MAX_RECURRENCE_DATES + 1}",
        ),
    ]
    for fields, loc, text in cases:
        problem = assert_problem(await _create(client, owner, **fields), 422)
        assert problem["errors"][0]["loc"] == loc, problem
        assert text in problem["errors"][0]["msg"], problem
        assert "Value error" not in problem["detail"] and "Input should" not in problem["detail"]
    event = await make_event(owner, recurrence_pattern=WEEKLY, recurrence_dates=EXTRA)
    nulled = assert_problem(await _put(client, owner, event["id"], transparency=None), 422)
    assert nulled["errors"][0]["msg"] == "transparency cannot be null; omit it to keep its value"
    # No longer recurring: its extra dates go with its rule.
    single = await _put(client, owner, event["id"], is_recurring=False)
    assert single.json()["recurrence_dates"] == []


async def test_a_viewer_cannot_set_them(
    client: httpx.AsyncClient, viewer: Actor, shared_event: dict[str, Any]
) -> None:
    for fields in ({"transparency": "transparent"}, {"recurrence_dates": EXTRA}):
        assert_problem(await _put(client, viewer, shared_event["id"], **fields), 403)


# --------------------------------------------------------------------------- history


async def test_history_prose_diff_notifications_and_rollback(
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    shared_event: dict[str, Any],
) -> None:
    event_id = shared_event["id"]
    await _put(client, owner, event_id, recurrence_pattern=WEEKLY)  # v2
    await _put(client, owner, event_id, recurrence_dates=EXTRA)  # v3
    await _put(client, owner, event_id, transparency="transparent")  # v4
    changelog = (
        await client.get(f"/api/events/{event_id}/changelog", headers=owner.headers)
    ).json()["items"]
    by_version = {entry["version"]: entry for entry in changelog if entry["version"]}
    assert by_version[3]["changed_fields"] == ["recurrence_dates"]
    assert by_version[3]["summary"] == "added 2 extra dates"
    assert by_version[4]["changed_fields"] == ["transparency"]
    assert by_version[4]["summary"] == "made it free/transparent"

    diff = (await client.get(f"/api/events/{event_id}/diff/2/4", headers=owner.headers)).json()
    assert [(c["field"], c["op"], c["old"], c["new"]) for c in diff["changes"]] == [
        ("recurrence_dates", "added", [], EXTRA),
        ("transparency", "changed", "opaque", "transparent"),
    ]
    page = await client.get(
        f"/api/events/{event_id}/diff/2/4", params={"format": "html"}, headers=owner.headers
    )
    assert "Extra dates" in page.text and "free (transparent)" in page.text

    notes = (await client.get("/api/notifications", headers=editor.headers)).json()["items"]
    assert notes[0]["changed_fields"] == ["transparency"]
    assert notes[1]["changed_fields"] == ["recurrence_dates"]

    rolled = await client.post(f"/api/events/{event_id}/rollback/2", headers=editor.headers)
    assert rolled.status_code == 200, rolled.text
    assert (rolled.json()["recurrence_dates"], rolled.json()["transparency"]) == ([], "opaque")
    back = await client.post(f"/api/events/{event_id}/rollback/4", headers=editor.headers)
    assert (back.json()["recurrence_dates"], back.json()["transparency"]) == (EXTRA, "transparent")
    changelog = (
        await client.get(f"/api/events/{event_id}/changelog", headers=owner.headers)
    ).json()["items"]
    assert changelog[-2]["summary"] == (
        "rolled back to version 2; removed 2 extra dates; made it busy/opaque"
    )


async def test_snapshots_older_than_the_fields_read_as_the_defaults(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """Versions written before migration 0006 have no ``transparency`` nor
    ``recurrence_dates`` in their snapshot: reading, diffing and rolling back to them treat the
    missing keys as an opaque event without extra dates."""
    event = await make_event(owner, title="Old")
    await _put(client, owner, event["id"], title="Newer")  # v2
    await strip_snapshots(app, event["id"], ("transparency", "recurrence_dates"))
    await _put(client, owner, event["id"], transparency="transparent", recurrence_pattern=WEEKLY)

    version = (
        await client.get(f"/api/events/{event['id']}/history/1", headers=owner.headers)
    ).json()
    assert version["snapshot"]["transparency"] == "opaque"
    assert version["snapshot"]["recurrence_dates"] == []
    diff = (await client.get(f"/api/events/{event['id']}/diff/1/2", headers=owner.headers)).json()
    assert [c["field"] for c in diff["changes"]] == ["title"]
    changelog = (
        await client.get(f"/api/events/{event['id']}/changelog", headers=owner.headers)
    ).json()["items"]
    assert changelog[1]["summary"] == "renamed from “Old” to “Newer”"
    rolled = await client.post(f"/api/events/{event['id']}/rollback/2", headers=owner.headers)
    assert rolled.status_code == 200, rolled.text
    body = rolled.json()
    assert (body["title"], body["transparency"], body["recurrence_dates"]) == (
        "Newer",
        "opaque",
        [],
    )
    assert body["is_recurring"] is False
    # And a stale write merged against an old base.
    merged = await client.put(
        f"/api/events/{event['id']}",
        json={"location": "Room 9", "version": 2},
        params={"merge": "true"},
        headers=owner.headers,
    )
    assert merged.status_code == 200, merged.text
    assert (merged.json()["location"], merged.json()["transparency"]) == ("Room 9", "opaque")
