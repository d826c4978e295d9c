""" "This and following": ``POST /api/events/{id}/split`` (dry run and real), with overrides
and exceptions on both sides of the split, shares kept, both histories, RELATED-TO links,
atomicity, permissions, and ``POST /api/events/{id}/split/undo``."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from calendo.core.uow import UnitOfWork
from calendo.events.models import Event
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem

DAILY = "FREQ=DAILY;COUNT=6"  # 20–25 March 2026, 10:00–10:30 UTC
SPLIT_AT = "2026-03-23T10:00:00Z"


def _day(day: int, hour: int = 10, minute: int = 0) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"


async def _series(client: httpx.AsyncClient, actor: Actor, make_event: EventFactory) -> int:
    """A daily series of six with an override and an exception on each side of 23 March."""
    event = await make_event(actor, recurrence_pattern=DAILY)
    event_id: int = event["id"]
    for day, body in ((21, {"title": "Early"}), (24, {"start_time": _day(24, 15)})):
        edited = await client.patch(
            f"/api/events/{event_id}/occurrences/{_day(day)}", json=body, headers=actor.headers
        )
        assert edited.status_code == 200, edited.text
    for day in (22, 25):
        cancelled = await client.delete(
            f"/api/events/{event_id}/occurrences/{_day(day)}", headers=actor.headers
        )
        assert cancelled.status_code == 200, cancelled.text
    return event_id


async def _starts(client: httpx.AsyncClient, actor: Actor, event_id: int) -> list[str]:
    response = await client.get(f"/api/events/{event_id}/occurrences", headers=actor.headers)
    assert response.status_code == 200, response.text
    return [item["occurrence_start"] for item in response.json()["items"]]


async def _count_events(app: FastAPI) -> int:
    async with UnitOfWork.read(app.state.services.db) as session:
        return int((await session.execute(select(func.count()).select_from(Event))).scalar_one())


async def test_a_dry_run_previews_both_series_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event_id = await _series(client, owner, make_event)
    before = await _count_events(app)
    body = {
        "recurrence_id": SPLIT_AT,
        "changes": {"title": "Later", "start_time": _day(23, 11), "end_time": _day(23, 11, 30)},
        "dry_run": True,
    }
    response = await client.post(f"/api/events/{event_id}/split", json=body, headers=owner.headers)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["dry_run"] is True
    assert preview["series"]["recurrence_pattern"] == "FREQ=DAILY;UNTIL=20260323T095959Z"
    assert preview["series"]["recurrence_exceptions"] == [_day(22)]
    assert preview["new_series"]["id"] is None
    assert preview["new_series"]["recurrence_pattern"] == "FREQ=DAILY;COUNT=3"
    assert preview["new_series"]["title"] == "Later"
    assert preview["new_series"]["recurrence_exceptions"] == [_day(25, 11)]  # moved with it
    # The override of 24 March moves with the new series, an hour later like it.
    assert preview["overrides"] == {
        "kept": [_day(21)],
        "moved": [_day(24, 11)],
        "orphaned": [],
    }
    assert [(o["original_start"], o["occurrence_start"]) for o in preview["occurrences"]] == [
        (_day(23), _day(23, 11)),
        (_day(24, 15), _day(24, 16)),
    ]
    assert preview["occurrences_truncated"] is False
    assert await _count_events(app) == before
    unchanged = await client.get(f"/api/events/{event_id}", headers=owner.headers)
    assert unchanged.json()["version"] == 5


async def test_a_split_ends_the_series_and_continues_it_with_the_changes(
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    make_event: EventFactory,
) -> None:
    event_id = await _series(client, owner, make_event)
    original = await _starts(client, owner, event_id)
    shared = await client.post(
        f"/api/events/{event_id}/share",
        json={
            "users": [
                {"user_id": editor.id, "role": "editor"},
                {"user_id": viewer.id, "role": "viewer"},
            ]
        },
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
    body = {"recurrence_id": SPLIT_AT, "changes": {"location": "Room 9"}}
    response = await client.post(
        f"/api/events/{event_id}/split",
        json=body,
        headers={**editor.headers, "If-Match": f'"{event_id}-5"'},
    )
    assert response.status_code == 201, response.text
    result = response.json()
    new_id = result["new_series"]["id"]
    assert result["series"]["version"] == 6 and result["new_series"]["version"] == 1
    # Together the two series have exactly the original occurrences.
    head, tail = await _starts(client, owner, event_id), await _starts(client, owner, new_id)
    assert head == [_day(20), _day(21)]
    assert tail == [_day(23), _day(24, 15)]
    assert head + tail == original
    new = (await client.get(f"/api/events/{new_id}", headers=viewer.headers)).json()
    assert new["owner_id"] == owner.id  # the old series' owner, whoever split it
    assert new["location"] == "Room 9"
    assert new["recurrence_overrides"] == [{"recurrence_id": _day(24), "start_time": _day(24, 15)}]
    assert {(p["user_id"], p["role"]) for p in new["permissions"]} == {
        (owner.id, "owner"),
        (editor.id, "editor"),
        (viewer.id, "viewer"),
    }
    assert new["related_events"] == [{"event_id": event_id, "relation": "split_from", "version": 1}]
    old = (await client.get(f"/api/events/{event_id}", headers=owner.headers)).json()
    assert old["related_events"] == [{"event_id": new_id, "relation": "split_into", "version": 6}]
    assert old["recurrence_overrides"] == [{"recurrence_id": _day(21), "title": "Early"}]
    # Each history says what happened.
    for target, version, summary in ((event_id, 6, "repeats"), (new_id, 1, "created")):
        log = await client.get(f"/api/events/{target}/changelog", headers=owner.headers)
        entry = next(e for e in log.json()["items"] if e["version"] == version)
        assert entry["note"].startswith(f"Split at {SPLIT_AT}"), entry
        assert summary in entry["summary"], entry
    # The viewer's calendar has the new series through its share.
    synced = (await client.get("/api/sync", headers=viewer.headers)).json()
    assert new_id in [c["event_id"] for c in synced["changes"]]


async def test_undo_restores_the_series_and_deletes_the_new_one(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event_id = await _series(client, owner, make_event)
    original = await _starts(client, owner, event_id)
    split = await client.post(
        f"/api/events/{event_id}/split",
        json={"recurrence_id": SPLIT_AT, "changes": {"title": "Later"}},
        headers=owner.headers,
    )
    new_id = split.json()["new_series"]["id"]
    # An edit of the old series after the split survives the undo.
    await client.put(f"/api/events/{event_id}", json={"location": "Hall"}, headers=owner.headers)
    undone = await client.post(f"/api/events/{new_id}/split/undo", headers=owner.headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["deleted_event_id"] == new_id
    series = undone.json()["series"]
    assert series["recurrence_pattern"] == DAILY and series["location"] == "Hall"
    assert series["related_events"] == []
    assert await _starts(client, owner, event_id) == original
    assert_problem(await client.get(f"/api/events/{new_id}", headers=owner.headers), 404)
    # Nothing left to undo.
    assert_problem(
        await client.post(f"/api/events/{new_id}/split/undo", headers=owner.headers), 404
    )


async def test_undo_is_refused_once_the_new_series_was_edited(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event_id = await _series(client, owner, make_event)
    split = await client.post(
        f"/api/events/{event_id}/split", json={"recurrence_id": SPLIT_AT}, headers=owner.headers
    )
    new_id = split.json()["new_series"]["id"]
    await client.put(f"/api/events/{new_id}", json={"title": "Mine"}, headers=owner.headers)
    refused = await client.post(f"/api/events/{new_id}/split/undo", headers=owner.headers)
    problem = assert_problem(refused, 409)
    assert problem["type"].endswith("split-not-undoable")
    assert "Roll it back to version 1" in problem["detail"]
    # After rolling the edit back, the undo goes through.
    await client.post(f"/api/events/{new_id}/rollback/1", headers=owner.headers)
    version = (await client.get(f"/api/events/{new_id}", headers=owner.headers)).json()["version"]
    assert version == 3
    still = await client.post(f"/api/events/{new_id}/split/undo", headers=owner.headers)
    assert_problem(still, 409)  # a rollback is an edit too: version 3, not 1


async def test_bad_split_points_and_permissions(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    viewer: Actor,
    stranger: Actor,
    make_event: EventFactory,
) -> None:
    event_id = await _series(client, owner, make_event)
    await client.post(
        f"/api/events/{event_id}/share",
        json={"users": [{"user_id": viewer.id, "role": "viewer"}]},
        headers=owner.headers,
    )
    before = await _count_events(app)
    url = f"/api/events/{event_id}/split"
    for rid, text in (
        (_day(20), "first occurrence"),
        (_day(23, 12), "must be an occurrence of the series' rule"),
        (_day(22), "must be an occurrence of the series' rule"),  # cancelled
    ):
        problem = assert_problem(
            await client.post(url, json={"recurrence_id": rid}, headers=owner.headers), 422
        )
        assert text in problem["detail"] or text in str(problem["errors"]), problem
    for body in (
        {},
        {"recurrence_id": "soon"},
        {"recurrence_id": SPLIT_AT, "changes": {"is_recurring": False}},
        {"recurrence_id": SPLIT_AT, "extra": 1},
    ):
        assert_problem(await client.post(url, json=body, headers=owner.headers), 422)
    assert_problem(
        await client.post(url, json={"recurrence_id": SPLIT_AT}, headers=viewer.headers), 403
    )
    assert_problem(
        await client.post(url, json={"recurrence_id": SPLIT_AT}, headers=stranger.headers), 404
    )
    stale = await client.post(
        url,
        json={"recurrence_id": SPLIT_AT},
        headers={**owner.headers, "If-Match": f'"{event_id}-1"'},
    )
    assert_problem(stale, 412)
    single = await make_event(
        owner, start_time="2026-05-01T10:00:00Z", end_time="2026-05-01T11:00:00Z"
    )
    assert_problem(
        await client.post(
            f"/api/events/{single['id']}/split",
            json={"recurrence_id": "2026-05-01T10:00:00Z"},
            headers=owner.headers,
        ),
        422,
    )
    assert_problem(
        await client.post(f"/api/events/{single['id']}/split/undo", headers=owner.headers), 404
    )
    assert await _count_events(app) == before + 1  # only the single event


async def test_a_split_whose_new_series_conflicts_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event_id = await _series(client, owner, make_event)
    await make_event(owner, title="Busy", start_time=_day(23, 14), end_time=_day(23, 15))
    before = await _count_events(app)
    moved = {"start_time": _day(23, 14, 15), "end_time": _day(23, 14, 45)}
    refused = await client.post(
        f"/api/events/{event_id}/split",
        json={"recurrence_id": SPLIT_AT, "changes": moved},
        headers=owner.headers,
    )
    assert_problem(refused, 409)
    assert await _count_events(app) == before
    unchanged = (await client.get(f"/api/events/{event_id}", headers=owner.headers)).json()
    assert unchanged["version"] == 5 and unchanged["related_events"] == []


async def test_the_preview_is_capped(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, recurrence_pattern="FREQ=DAILY")
    response = await client.post(
        f"/api/events/{event['id']}/split",
        params={"limit": 5},
        json={"recurrence_id": "2026-03-25T10:00:00Z", "dry_run": True},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["occurrences"]) == 5
    assert response.json()["occurrences_truncated"] is True
    over = await client.post(
        f"/api/events/{event['id']}/split",
        params={"limit": 1001},
        json={"recurrence_id": "2026-03-25T10:00:00Z", "dry_run": True},
        headers=owner.headers,
    )
    assert_problem(over, 422)


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]
