"""The permission row's copies of its event's bounds (migration 0002) never drift.

The calendar page filters and sorts on ``permission.event_start_time``, ``event_series_end``
and ``event_deleted_at``; triggers keep them equal to the event's ``start_time``,
``series_end`` and ``deleted_at`` whatever writes the event or the permission.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from calendo.core.uow import UnitOfWork
from calendo.events.models import Event
from calendo.sharing.models import Permission
from tests.events.conftest import EventFactory
from tests.helpers import Actor

Copies = list[tuple[int, int, tuple[Any, ...], tuple[Any, ...]]]


async def _copies(app: FastAPI) -> Copies:
    """(event id, user id, the permission's copies, the event's values) of every permission."""
    query = (
        select(
            Permission.event_id,
            Permission.user_id,
            Permission.event_start_time,
            Permission.event_series_end,
            Permission.event_deleted_at,
            Event.start_time,
            Event.series_end,
            Event.deleted_at,
        )
        .join(Event, Event.id == Permission.event_id)
        .order_by(Permission.id)
    )
    async with UnitOfWork.read(app.state.services.db) as session:
        rows = (await session.execute(query)).all()
    return [(r[0], r[1], tuple(r[2:5]), tuple(r[5:8])) for r in rows]


async def assert_in_sync(app: FastAPI, permissions: int) -> Copies:
    """Every permission row (``permissions`` of them) carries its event's current values."""
    copies = await _copies(app)
    assert len(copies) == permissions
    drifted = [c for c in copies if c[2] != c[3]]
    assert drifted == []
    return copies


def _copy_of(copies: Copies, event_id: int, user_id: int) -> tuple[Any, ...]:
    return next(c[2] for c in copies if (c[0], c[1]) == (event_id, user_id))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def _calendar_ids(client: httpx.AsyncClient, actor: Actor, **params: str) -> list[int]:
    response = await client.get("/api/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def test_copies_follow_every_write_of_the_event(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
) -> None:
    single = await make_event(
        owner, start_time="2026-03-20T10:00:00Z", end_time="2026-03-20T11:00:00Z"
    )
    series = await make_event(
        owner,
        title="Daily",
        start_time="2026-03-21T08:00:00Z",
        end_time="2026-03-21T08:15:00Z",
        is_recurring=True,
        recurrence_pattern="FREQ=DAILY;COUNT=3",
    )
    copies = await assert_in_sync(app, permissions=2)
    assert _copy_of(copies, series["id"], owner.id) == (
        _at("2026-03-21T08:00:00Z"),
        _at("2026-03-23T08:15:00Z"),
        None,
    )

    users = [{"user_id": editor.id, "role": "editor"}, {"user_id": viewer.id, "role": "viewer"}]
    for event in (single, series):
        share = f"/api/events/{event['id']}/share"
        await _ok(await client.post(share, json={"users": users}, headers=owner.headers))
    await assert_in_sync(app, permissions=6)
    assert await _calendar_ids(client, viewer) == [single["id"], series["id"]]

    # Moving the single event after the series reorders every collaborator's calendar.
    moved = {"start_time": "2026-03-25T10:00:00Z", "end_time": "2026-03-25T11:00:00Z"}
    url = f"/api/events/{single['id']}"
    await _ok(await client.put(url, json=moved, headers=editor.headers))
    copies = await assert_in_sync(app, permissions=6)
    assert _copy_of(copies, single["id"], viewer.id)[0] == _at("2026-03-25T10:00:00Z")
    assert await _calendar_ids(client, viewer) == [series["id"], single["id"]]

    # Rescheduling the series moves its end; an open-ended series has none.
    series_url = f"/api/events/{series['id']}"
    longer = {"recurrence_pattern": "FREQ=DAILY;COUNT=10"}
    await _ok(await client.put(series_url, json=longer, headers=owner.headers))
    copies = await assert_in_sync(app, permissions=6)
    assert _copy_of(copies, series["id"], editor.id)[1] == _at("2026-03-30T08:15:00Z")
    window = {"start_time": "2026-03-29T00:00:00Z", "end_time": "2026-03-30T00:00:00Z"}
    assert await _calendar_ids(client, viewer, **window) == [series["id"]]
    forever = {"recurrence_pattern": "FREQ=WEEKLY"}
    await _ok(await client.put(series_url, json=forever, headers=owner.headers))
    copies = await assert_in_sync(app, permissions=6)
    assert _copy_of(copies, series["id"], viewer.id)[1] is None

    # Delete hides the event from every collaborator; restore brings it back.
    await _ok(await client.delete(url, headers=owner.headers), 204)
    copies = await assert_in_sync(app, permissions=6)
    assert _copy_of(copies, single["id"], editor.id)[2] is not None
    assert await _calendar_ids(client, editor) == [series["id"]]
    await _ok(await client.post(f"{url}/restore", headers=owner.headers))
    copies = await assert_in_sync(app, permissions=6)
    assert _copy_of(copies, single["id"], editor.id)[2] is None
    assert await _calendar_ids(client, editor) == [series["id"], single["id"]]

    # Rolling back to version 1 brings the original start back.
    await _ok(await client.post(f"{url}/rollback/1", headers=owner.headers))
    copies = await assert_in_sync(app, permissions=6)
    assert _copy_of(copies, single["id"], viewer.id)[0] == _at("2026-03-20T10:00:00Z")
    assert await _calendar_ids(client, viewer) == [single["id"], series["id"]]


async def test_copies_follow_batch_and_transactions(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    def slot(day: int) -> dict[str, str]:
        return {
            "title": f"Day {day}",
            "start_time": f"2026-04-{day:02d}T09:00:00Z",
            "end_time": f"2026-04-{day:02d}T10:00:00Z",
        }

    batch = await _ok(
        await client.post(
            "/api/events/batch", json={"events": [slot(3), slot(1)]}, headers=owner.headers
        ),
        201,
    )
    first, second = (item["id"] for item in batch["items"])
    await assert_in_sync(app, permissions=2)

    operations: list[dict[str, Any]] = [
        {"op": "create", "event": slot(2)},
        {"op": "share", "event_ref": 0, "users": [{"user_id": editor.id, "role": "editor"}]},
        {"op": "share", "event_id": first, "users": [{"user_id": editor.id, "role": "viewer"}]},
        {"op": "update", "event_id": first, "changes": slot(5)},
        {"op": "delete", "event_id": second},
    ]
    results = await _ok(
        await client.post(
            "/api/transactions", json={"operations": operations}, headers=owner.headers
        )
    )
    created = results["results"][0]["id"]
    copies = await assert_in_sync(app, permissions=5)
    assert _copy_of(copies, first, editor.id)[0] == _at("2026-04-05T09:00:00Z")
    assert await _calendar_ids(client, owner) == [created, first]
    assert await _calendar_ids(client, editor) == [created, first]


async def test_copies_follow_writes_that_bypass_the_application(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    """The triggers live in the database: a plain UPDATE of the event is followed too."""
    event = await make_event(owner)
    later = _at("2026-07-01T09:00:00Z")
    db = app.state.services.db
    async with UnitOfWork.write(db) as session:
        await session.execute(
            update(Event)
            .where(Event.id == event["id"])
            .values(start_time=later, end_time=_at("2026-07-01T10:00:00Z"), series_end=None)
        )
    copies = await assert_in_sync(app, permissions=1)
    assert _copy_of(copies, event["id"], owner.id) == (later, None, None)
