"""Races: parallel creates under `reject`, parallel conditional updates (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from fastapi import FastAPI

from tests.events.conftest import EventFactory, event_payload
from tests.events.support import Event, count_rows, event_row, version_rows
from tests.helpers import Actor

PARALLEL = 12


async def test_parallel_overlapping_creates_admit_exactly_one(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    async def attempt(i: int) -> httpx.Response:
        payload = event_payload(
            title=f"racer {i}",
            start_time=f"2026-03-20T10:{i:02d}:00Z",
            end_time="2026-03-20T11:00:00Z",
        )
        return await client.post("/api/events", json=payload, headers=owner.headers)

    responses = await asyncio.gather(*(attempt(i) for i in range(PARALLEL)))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: PARALLEL - 1}, [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert [c["event_id"] for c in response.json()["conflicts"]] == [winner["id"]]
    assert await count_rows(app, Event) == 1


async def test_parallel_creates_of_different_users_do_not_block_each_other(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor, editor: Actor, viewer: Actor
) -> None:
    actors = [owner, editor, viewer] * 3
    responses = await asyncio.gather(
        *(client.post("/api/events", json=event_payload(), headers=a.headers) for a in actors)
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 3, 409: 6}
    assert await count_rows(app, Event) == 3


async def test_parallel_puts_with_one_if_match_admit_exactly_one(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    tag = f'"{event["id"]}-1"'

    async def attempt(i: int) -> httpx.Response:
        return await client.put(
            f"/api/events/{event['id']}",
            json={"title": f"writer {i}"},
            headers={**owner.headers, "If-Match": tag},
        )

    responses = await asyncio.gather(*(attempt(i) for i in range(20)))

    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1, [r.text for r in responses]
    assert statuses[412] + statuses[409] == 19
    winner = next(r.json() for r in responses if r.status_code == 200)
    versions = await version_rows(app, event["id"])
    assert [v.version for v in versions] == [1, 2]
    row = await event_row(app, event["id"])
    assert row is not None and row.version == 2 and row.title == winner["title"]


async def test_parallel_unconditional_puts_all_land_without_gaps(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)

    async def attempt(i: int) -> httpx.Response:
        return await client.patch(
            f"/api/events/{event['id']}", json={"title": f"writer {i}"}, headers=owner.headers
        )

    responses = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert Counter(r.status_code for r in responses) == {200: 20}
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 22))
    versions = await version_rows(app, event["id"])
    assert [v.version for v in versions] == list(range(1, 22))
    row = await event_row(app, event["id"])
    assert row is not None and row.version == 21
    assert row.title == versions[-1].snapshot["title"]
