"""The live feed: auth and 4401, live delivery after commit, ``since`` replay, heartbeats."""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import httpx
import orjson
import pytest
from fastapi import FastAPI
from httpx_ws import WebSocketDisconnect, aconnect_ws

from calendo.core.config import Settings
from calendo.core.errors import WS_UNAUTHORIZED
from calendo.core.uow import UnitOfWork
from calendo.notifications.service import notify
from tests.conftest import BACKEND, make_settings
from tests.helpers import Actor
from tests.notifications.factories import (
    create_event,
    feed,
    gauge,
    next_message,
    produce,
    services_of,
    wait_no_connections,
    wait_subscribed,
    ws_client,
)

HEARTBEAT = 0.3
WS = "/api/notifications/ws"
CONNECTIONS = "calendo_websocket_connections"
SENT = "calendo_notifications_sent_total"


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """Fast heartbeats, so that pings and token re-checks happen within a test."""
    return make_settings(database_url, redis_url, ws_heartbeat_seconds=HEARTBEAT)


async def _rest_items(client: httpx.AsyncClient, actor: Actor) -> list[dict[str, object]]:
    response = await client.get("/api/notifications", headers=actor.headers)
    assert response.status_code == 200
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def _close_code(app: FastAPI, url: str) -> int:
    """Connect and return the close code the server sends before any message."""
    async with ws_client(app) as client, aconnect_ws(url, client) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_text(timeout=3)
    return closed.value.code


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-jwt"])
async def test_bad_or_missing_token_closes_4401(app: FastAPI, query: str) -> None:
    assert await _close_code(app, WS + query) == WS_UNAUTHORIZED
    assert gauge(app, CONNECTIONS) == 0


async def test_refresh_token_is_not_an_access_token(app: FastAPI, owner: Actor) -> None:
    assert await _close_code(app, f"{WS}?token={owner.refresh_token}") == WS_UNAUTHORIZED


async def test_logged_out_token_closes_4401(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    assert (await client.post("/api/auth/logout", headers=owner.headers)).status_code == 204
    assert await _close_code(app, f"{WS}?token={owner.access_token}") == WS_UNAUTHORIZED


async def test_live_notification_arrives_after_commit(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await create_event(app, owner.id)
    async with feed(app, owner) as ws:
        assert gauge(app, CONNECTIONS) == 1
        await ws.send_text("clients may talk; the server ignores it")
        await produce(app, recipients=[owner, editor], actor=editor, event_id=event_id)
        with anyio.fail_after(1):
            message = await next_message(ws)
    assert [message] == await _rest_items(client, owner)  # same JSON as REST
    assert message["actor"] == {"id": editor.id, "username": "editor"}
    assert gauge(app, SENT) == 1
    await wait_no_connections(app)


async def test_authorization_header_works_too(app: FastAPI, owner: Actor, editor: Actor) -> None:
    event_id = await create_event(app, owner.id)
    async with ws_client(app) as client, aconnect_ws(WS, client, headers=owner.headers) as ws:
        await wait_subscribed(app, owner.id)
        await produce(app, recipients=[owner], actor=editor, event_id=event_id, kind="event_shared")
        assert (await next_message(ws))["type"] == "event_shared"


async def test_rolled_back_notification_never_reaches_the_socket(
    app: FastAPI, owner: Actor, editor: Actor
) -> None:
    services = services_of(app)
    event_id = await create_event(app, owner.id)
    async with feed(app, owner) as ws:
        with pytest.raises(RuntimeError):
            async with UnitOfWork.independent(services.db) as session:
                await notify(
                    session,
                    services.broker,
                    recipient_ids=[owner.id],
                    type="event_deleted",
                    event_id=event_id,
                    event_title="Standup",
                    actor_id=editor.id,
                    actor_username=editor.username,
                )
                raise RuntimeError("roll back")
        await produce(app, recipients=[owner], actor=editor, event_id=event_id)
        assert (await next_message(ws))["type"] == "event_updated"


async def test_since_replays_missed_ones_once_in_order_then_live(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await create_event(app, owner.id)
    for version in (2, 3, 4):
        await produce(app, recipients=[owner], actor=editor, event_id=event_id, version=version)
    first, second, third = sorted(int(str(i["id"])) for i in await _rest_items(client, owner))

    async with feed(app, owner, since=first) as ws:
        replayed = [await next_message(ws), await next_message(ws)]
        await produce(app, recipients=[owner], actor=editor, event_id=event_id, version=5)
        live = await next_message(ws)
        with pytest.raises(TimeoutError):
            await next_message(ws, within=2 * HEARTBEAT)  # nothing more, only pings
    assert [m["id"] for m in replayed] == [second, third]
    assert [m["version"] for m in replayed] == [3, 4]
    assert live["version"] == 5 and live["id"] > third
    assert gauge(app, SENT) == 3


async def test_since_zero_replays_everything(app: FastAPI, owner: Actor, editor: Actor) -> None:
    event_id = await create_event(app, owner.id)
    await produce(app, recipients=[owner], actor=editor, event_id=event_id, version=2)
    async with feed(app, owner, since=0) as ws:
        assert (await next_message(ws))["version"] == 2


async def test_live_copy_of_a_replayed_notification_is_dropped(
    app: FastAPI, owner: Actor, editor: Actor
) -> None:
    """A notification committed during the replay arrives twice on the server; once on the wire."""
    event_id = await create_event(app, owner.id)
    await produce(app, recipients=[owner], actor=editor, event_id=event_id, version=2)
    broker = services_of(app).broker
    async with feed(app, owner, since=0) as ws:
        replayed = await next_message(ws)
        await broker.publish(f"user:{owner.id}", orjson.dumps(replayed))  # the late live copy
        await produce(app, recipients=[owner], actor=editor, event_id=event_id, version=3)
        assert (await next_message(ws))["version"] == 3


@pytest.mark.skipif(BACKEND != "postgres", reason="SQLite serialises writers: ids commit in order")
async def test_notification_ids_commit_in_the_order_they_are_taken(
    app: FastAPI, owner: Actor, editor: Actor
) -> None:
    """A writer that took notification id N holds the commit-order lock to its commit: a
    second writer waits for it, then takes N+1. So no id commits after a larger one, and a
    client's ``since=<largest seen>`` skips nothing (notifications/feed.py)."""
    services = services_of(app)
    event_id = await create_event(app, owner.id)
    second_done = anyio.Event()

    async def second_writer() -> None:
        await produce(app, recipients=[owner], actor=editor, event_id=event_id)
        second_done.set()

    async with AsyncExitStack() as slow_transaction:
        slow = await slow_transaction.enter_async_context(UnitOfWork.independent(services.db))
        await notify(
            slow,
            services.broker,
            recipient_ids=[owner.id],
            type="event_restored",
            event_id=event_id,
            event_title="Standup",
            actor_id=editor.id,
            actor_username=editor.username,
        )  # id N, not committed yet
        async with anyio.create_task_group() as group:
            group.start_soon(second_writer)
            with anyio.move_on_after(0.5):
                await second_done.wait()
            assert not second_done.is_set()  # waiting for the lock, no id taken yet
            await slow_transaction.aclose()  # commit N: the second writer goes on
            with anyio.fail_after(10):
                await second_done.wait()
    async with feed(app, owner, since=0) as ws:
        received = [await next_message(ws) for _ in range(2)]
    assert [m["type"] for m in received] == ["event_restored", "event_updated"]
    assert received[0]["id"] < received[1]["id"]


async def test_idle_socket_gets_pings(app: FastAPI, owner: Actor) -> None:
    async with feed(app, owner) as ws:
        with anyio.fail_after(HEARTBEAT * 5):
            assert await ws.receive_json() == {"type": "ping"}
            assert await ws.receive_json() == {"type": "ping"}


async def test_logout_closes_the_open_socket_4401(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    async with feed(app, owner) as ws:
        assert (await client.post("/api/auth/logout", headers=owner.headers)).status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            await next_message(ws, within=HEARTBEAT * 5)
    assert closed.value.code == WS_UNAUTHORIZED
    await wait_no_connections(app)


@pytest.mark.parametrize("since", ["abc", "-1", str(2**31), str(10**20)])
async def test_since_out_of_an_ids_range_refuses_the_handshake(
    app: FastAPI, owner: Actor, since: str
) -> None:
    """A ``since`` no id can have is refused before accept (1008, an HTTP 403 on the wire):
    a number past SQLite's 64-bit integer used to reach the replay query and kill the socket
    with an OverflowError and no close frame."""
    codes: list[int] = []
    async with ws_client(app) as client:
        try:
            async with aconnect_ws(f"{WS}?token={owner.access_token}&since={since}", client):
                pass  # pragma: no cover - the handshake is refused
        except* WebSocketDisconnect as refused:
            codes = [leaf.code for leaf in _leaves(refused)]
    assert codes == [1008]
    assert gauge(app, CONNECTIONS) == 0


def _leaves(group: BaseExceptionGroup[WebSocketDisconnect]) -> list[WebSocketDisconnect]:
    return [
        leaf
        for inner in group.exceptions
        for leaf in (_leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner])
    ]
