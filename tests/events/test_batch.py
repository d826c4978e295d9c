"""POST /api/events/batch: all or nothing, errors naming the failing item."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import ormsgpack
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from calendo.app import create_app
from calendo.events.schemas import _rfc3339
from tests.conftest import make_settings
from tests.events.conftest import EventFactory, event_payload
from tests.events.support import (
    AuditEntry,
    Event,
    EventVersion,
    Permission,
    count_rows,
    version_rows,
)
from tests.helpers import Actor, assert_problem, register
from tests.validation_counts import count_calls


def day_items(count: int, **overrides: Any) -> list[dict[str, Any]]:
    """``count`` non-overlapping half-hour events, one per hour from 1 April."""
    items = []
    for i in range(count):
        day, hour = divmod(i, 12)
        items.append(
            event_payload(
                title=f"item {i}",
                start_time=f"2026-04-{1 + day:02d}T{8 + hour:02d}:00:00Z",
                end_time=f"2026-04-{1 + day:02d}T{8 + hour:02d}:30:00Z",
                **overrides,
            )
        )
    return items


async def batch(
    client: httpx.AsyncClient, actor: Actor, items: list[dict[str, Any]], **params: Any
) -> httpx.Response:
    return await client.post(
        "/api/events/batch", json={"events": items}, params=params, headers=actor.headers
    )


async def snapshot_counts(app: FastAPI) -> tuple[int, int, int, int]:
    """Events, versions, permissions and event audit rows."""
    return (
        await count_rows(app, Event),
        await count_rows(app, EventVersion),
        await count_rows(app, Permission),
        await count_rows(app, AuditEntry, action="event_created"),
    )


async def test_batch_creates_every_event_tagged_batch(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    items = day_items(5)
    items[2]["recurrence_pattern"] = {"frequency": "daily", "count": 2}
    response = await batch(client, owner, items)

    assert response.status_code == 201, response.text
    body = response.json()["items"]
    assert [item["title"] for item in body] == [f"item {i}" for i in range(5)]
    assert all(item["my_role"] == "owner" and item["version"] == 1 for item in body)
    assert body[2]["recurrence_pattern"] == "FREQ=DAILY;COUNT=2"
    assert all(item["conflicts"] == [] for item in body)
    assert await count_rows(app, Event) == 5
    for item in body:
        versions = await version_rows(app, item["id"])
        assert [(v.version, v.action, v.tags) for v in versions] == [(1, "created", ["batch"])]
        assert await count_rows(app, Permission, event_id=item["id"], role="owner") == 1
    listed = await client.get("/api/events", headers=owner.headers)
    assert len(listed.json()["items"]) == 5


async def test_an_invalid_item_fails_the_whole_batch(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    items = day_items(50)
    items[37]["title"] = ""
    response = await batch(client, owner, items)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["index"] == 37
    assert problem["detail"].startswith("item 37: ")
    assert problem["errors"][0]["loc"] == ["body", "events", 37, "title"]
    assert await snapshot_counts(app) == (0, 0, 0, 0)


async def test_an_item_invalid_for_the_service_fails_the_whole_batch(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    items = day_items(50)
    items[37]["end_time"] = items[37]["start_time"]
    items[41]["is_recurring"] = True
    response = await batch(client, owner, items)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["index"] == 37
    assert problem["detail"].startswith("item 37: ")
    assert problem["errors"] == [
        {"loc": ["body", "events", 37, "end_time"], "msg": "end_time must be after start_time"}
    ]
    assert await snapshot_counts(app) == (0, 0, 0, 0)


async def test_a_conflicting_item_fails_the_whole_batch(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    items = day_items(50)
    blocker = await make_event(
        owner, title="Blocker", start_time=items[37]["start_time"], end_time=items[37]["end_time"]
    )
    before = await snapshot_counts(app)
    response = await batch(client, owner, items)
    problem = assert_problem(response, 409, "schedule-conflict")
    assert problem["index"] == 37
    assert problem["detail"].startswith("item 37: ")
    assert [c["event_id"] for c in problem["conflicts"]] == [blocker["id"]]
    assert await snapshot_counts(app) == before

    allowed = await batch(client, owner, items, conflict_strategy="allow")
    assert allowed.status_code == 201
    assert [c["title"] for c in allowed.json()["items"][37]["conflicts"]] == ["Blocker"]


async def test_items_conflicting_with_each_other_name_the_later_one(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    items = day_items(6)
    items[4]["start_time"], items[4]["end_time"] = items[1]["start_time"], items[1]["end_time"]
    response = await batch(client, owner, items)
    problem = assert_problem(response, 409, "schedule-conflict")
    assert problem["index"] == 4
    assert [c["title"] for c in problem["conflicts"]] == ["item 1"]
    # Item 1 was never written, so it is named by its index rather than an id.
    assert [(c["event_id"], c["batch_index"]) for c in problem["conflicts"]] == [(None, 1)]
    assert await snapshot_counts(app) == (0, 0, 0, 0)

    shifted = await batch(client, owner, items, conflict_strategy="shift")
    assert shifted.status_code == 201, shifted.text
    assert shifted.json()["items"][4]["start_time"] == items[1]["end_time"]

    later = await batch(
        client,
        owner,
        [{**items[1], "title": "Clash"}, {**items[1], "title": "Clash 2"}],
        conflict_strategy="allow",
    )
    assert later.status_code == 201, later.text
    first, second = later.json()["items"]
    # Within an allowed batch, an earlier item is named by the id it was given.
    assert first["id"] in {c["event_id"] for c in second["conflicts"]}


async def test_empty_and_malformed_batches_are_422(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    assert_problem(await batch(client, owner, []), 422)
    for body in ({}, {"events": "no"}, {"events": day_items(1), "extra": 1}, [event_payload()]):
        response = await client.post("/api/events/batch", json=body, headers=owner.headers)
        assert_problem(response, 422)
    assert_problem(await client.post("/api/events/batch", json={"events": day_items(1)}), 401)
    assert await count_rows(app, Event) == 0


@pytest.fixture
async def small_batch_client(
    database_url: str, redis_url: str | None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_settings(database_url, redis_url, batch_max=3))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


async def test_batch_max_is_configurable(
    small_batch_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = small_batch_client
    user = await register(client, "batcher")
    problem = assert_problem(await batch(client, user, day_items(4)), 422, "validation-error")
    assert "at most 3" in problem["detail"]
    assert await count_rows(app, Event) == 0
    assert (await batch(client, user, day_items(3))).status_code == 201
    assert await count_rows(app, Event) == 3


async def test_default_batch_max_is_100(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    problem = assert_problem(await batch(client, owner, day_items(101)), 422)
    assert "at most 100" in problem["detail"]
    assert await count_rows(app, Event) == 0


# --- counted before validated (issue 14, finding 4) ------------------------------------------

JSON, MSGPACK = "application/json", "application/msgpack"


def encode(body: Any, media: str) -> bytes:
    # json.dumps, with its spaces, as the report measured the body.
    return json.dumps(body).encode() if media == JSON else ormsgpack.packb(body)


async def post_batch(
    client: httpx.AsyncClient, actor: Actor, body: Any, media: str
) -> httpx.Response:
    headers = {**actor.headers, "Content-Type": media}
    return await client.post("/api/events/batch", content=encode(body, media), headers=headers)


def assert_too_many(response: httpx.Response, limit: int) -> None:
    """The one problem for a batch over the limit, naming it (as before items were counted
    first)."""
    problem = assert_problem(response, 422, "validation-error")
    detail = f"a batch holds at most {limit} events"
    assert problem["detail"] == detail
    assert problem["errors"] == [{"loc": ["body", "events"], "msg": detail}]
    assert "index" not in problem


@pytest.mark.parametrize("media", [JSON, MSGPACK])
async def test_oversized_batch_validates_no_item(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor, media: str
) -> None:
    # Every item is well formed, so validating one would parse its two times.
    with count_calls(_rfc3339) as parsed:
        response = await post_batch(client, owner, {"events": [event_payload()] * 1000}, media)
    assert_too_many(response, 100)
    assert parsed.count == 0
    assert await count_rows(app, Event) == 0


@pytest.mark.parametrize("media", [JSON, MSGPACK])
async def test_the_reported_oversized_batch_is_the_limit_problem(
    client: httpx.AsyncClient, owner: Actor, media: str
) -> None:
    body = {"events": [{"x": 1}] * 100_000}
    if media == JSON:
        assert len(encode(body, media)) == 1_000_012  # under the 1 MB body limit
    assert_too_many(await post_batch(client, owner, body, media), 100)


@pytest.mark.parametrize("media", [JSON, MSGPACK])
async def test_batch_at_the_limit_validates_every_item(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor, media: str
) -> None:
    with count_calls(_rfc3339) as parsed:
        response = await post_batch(client, owner, {"events": day_items(100)}, media)
    assert response.status_code == 201, response.text
    assert parsed.count == 200  # start and end of each item: the counter sees validation
    assert await count_rows(app, Event) == 100


async def test_configured_batch_max_is_counted_before_validation(
    small_batch_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = small_batch_client
    user = await register(client, "counter")
    for media in (JSON, MSGPACK):
        with count_calls(_rfc3339) as parsed:
            response = await post_batch(client, user, {"events": day_items(4)}, media)
        assert_too_many(response, 3)
        assert parsed.count == 0
    assert (await post_batch(client, user, {"events": day_items(3)}, MSGPACK)).status_code == 201
    assert await count_rows(app, Event) == 3
