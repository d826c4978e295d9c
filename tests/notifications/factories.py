"""Helpers of the notification tests: event rows, ``notify()`` in a unit of work, WS clients.

The events API belongs to another domain, so tests insert a minimal event row with the ORM
and produce notifications by calling ``notify()`` the way the event services will.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from calendo.core.db import Database
from calendo.core.deps import Services
from calendo.core.pubsub import redis_channel_prefix
from calendo.core.uow import UnitOfWork
from calendo.events.models import Event
from calendo.notifications.service import notify, user_channel
from tests.helpers import Actor


def services_of(app: FastAPI) -> Services:
    """The app's lifespan services."""
    services: Services = app.state.services
    return services


async def create_event(app: FastAPI, owner_id: int, title: str = "Standup") -> int:
    """Insert a minimal event row through the app's database."""
    return await create_event_row(services_of(app).db, owner_id, title)


async def create_event_row(db: Database, owner_id: int, title: str = "Standup") -> int:
    """Insert a minimal event row (the notification's foreign key needs one)."""
    async with UnitOfWork.independent(db) as session:
        event = Event(
            owner_id=owner_id,
            title=title,
            start_time=datetime(2030, 1, 7, 9, tzinfo=UTC),
            end_time=datetime(2030, 1, 7, 10, tzinfo=UTC),
        )
        session.add(event)
        await session.flush()
        return event.id


async def produce(
    app: FastAPI,
    *,
    recipients: Sequence[Actor],
    actor: Actor,
    event_id: int,
    kind: str = "event_updated",
    changed_fields: Sequence[str] = ("title",),
    version: int | None = 2,
    title: str = "Standup",
) -> None:
    """Call ``notify()`` in its own committed unit of work, as a write request would."""
    services = services_of(app)
    async with UnitOfWork.independent(services.db) as session:
        await notify(
            session,
            services.broker,
            recipient_ids=[r.id for r in recipients],
            type=kind,
            event_id=event_id,
            event_title=title,
            actor_id=actor.id,
            actor_username=actor.username,
            changed_fields=changed_fields,
            version=version,
        )


@asynccontextmanager
async def ws_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose transport speaks WebSocket to the (already started) app."""
    async with (
        ASGIWebSocketTransport(app=app, initial_receive_timeout=5.0) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


@asynccontextmanager
async def feed(
    app: FastAPI, actor: Actor, *, since: int | None = None
) -> AsyncIterator[AsyncWebSocketSession]:
    """An open notification feed for ``actor``, subscribed (at Redis too) before it yields."""
    query = f"?token={actor.access_token}" + (f"&since={since}" if since is not None else "")
    async with ws_client(app) as client, aconnect_ws(f"/api/notifications/ws{query}", client) as ws:
        await wait_subscribed(app, actor.id)
        yield ws


async def wait_subscribed(app: FastAPI, user_id: int, *, count: int = 1) -> None:
    """Wait until Redis has confirmed the channel subscription (the memory broker is instant)."""
    redis = services_of(app).redis
    if redis is not None:
        await wait_redis_subscribers(redis, user_id, count)


async def wait_redis_subscribers(redis: aioredis.Redis, user_id: int, count: int) -> None:
    """Wait until ``count`` Redis connections have confirmed their subscription for the user."""
    channel = redis_channel_prefix(redis) + user_channel(user_id)

    async def subscribed() -> bool:
        return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) >= count

    await poll_until(subscribed)


async def poll_until(check: Callable[[], Awaitable[bool]], *, seconds: float = 5.0) -> None:
    """Poll ``check`` every 10 ms until it holds; fail after ``seconds``."""
    for _ in range(int(seconds / 0.01)):
        if await check():
            return
        await anyio.sleep(0.01)
    raise AssertionError(f"condition still false after {seconds} s")


async def next_message(ws: AsyncWebSocketSession, within: float = 3.0) -> dict[str, Any]:
    """The next notification, skipping heartbeats."""
    with anyio.fail_after(within):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message.get("type") != "ping":
                return message


def gauge(app: FastAPI, name: str) -> float:
    """A metric's current value."""
    value = services_of(app).metrics.registry.get_sample_value(name)
    return value or 0.0


async def wait_no_connections(app: FastAPI) -> None:
    """Wait until every feed has unwound on the server side (it does after the client left)."""

    async def none_left() -> bool:
        return gauge(app, "calendo_websocket_connections") == 0

    await poll_until(none_left)
