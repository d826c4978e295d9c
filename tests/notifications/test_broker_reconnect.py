"""A feed whose Redis pub/sub connection dropped and came back misses nothing, and repeats
nothing: what was published meanwhile comes from the database (core/pubsub.py,
notifications/feed.py).

Each test runs its own ``redis-server`` on a free port, so ``CLIENT KILL TYPE pubsub`` hits
this test's broker only; the database is the run's (SQLite or PostgreSQL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.app import create_app
from calendo.core.deps import Services
from calendo.core.uow import UnitOfWork
from calendo.notifications.feed import REMEMBERED, Delivered
from calendo.notifications.service import notify, replay_since
from tests.conftest import make_settings
from tests.deploy.tools import daemon_dir, require_tool, start_redis, stop
from tests.helpers import Actor, register
from tests.notifications.factories import create_event_row, feed, next_message, produce
from tests.servers import free_port

NOTIFICATIONS = 20


@pytest.fixture
def own_redis() -> Iterator[str]:
    """A redis-server of this test alone; its URL."""
    binary = require_tool("redis-server")
    port = free_port()
    with daemon_dir() as workdir:
        process = start_redis(binary, workdir, port)
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop(process)


@pytest.fixture
async def app(database_url: str, own_redis: str) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database_url, own_redis))
    async with LifespanManager(application):
        yield application


def _services(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


class _Lost:
    """A publisher whose messages never arrive: a publish made while the subscriber's
    connection was down."""

    async def publish(self, channel: str, message: bytes) -> None:
        del channel, message


async def _notify_unseen(session: AsyncSession, owner: Actor, editor: Actor, event_id: int) -> None:
    """Write a notification for ``owner`` in ``session``, its publish lost."""
    await notify(
        session,
        _Lost(),
        recipient_ids=[owner.id],
        type="event_updated",
        event_id=event_id,
        event_title="Standup",
        actor_id=editor.id,
        actor_username=editor.username,
        changed_fields=["title"],
        version=2,
    )


async def _produce_unseen(app: FastAPI, owner: Actor, editor: Actor, event_id: int) -> None:
    async with UnitOfWork.independent(_services(app).db) as session:
        await _notify_unseen(session, owner, editor, event_id)


async def _kill_pubsub(url: str) -> int:
    """Drop every pub/sub connection of the server; how many there were."""
    client = aioredis.from_url(url)
    try:
        return int(await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub"))
    finally:
        await client.aclose()


async def _ids_in_db(app: FastAPI, owner: Actor) -> list[int]:
    async with UnitOfWork.read(_services(app).db) as session:
        return [n.id for n in await replay_since(session, user_id=owner.id, since_id=0, limit=500)]


async def _actors_and_event(app: FastAPI) -> tuple[Actor, Actor, int]:
    """The feed's owner, the editor whose changes notify them, and the event."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        owner = await register(http, "owner")
        editor = await register(http, "editor")
    return owner, editor, await create_event_row(_services(app).db, owner.id)


async def test_what_the_gap_lost_is_replayed_once_in_order(app: FastAPI, own_redis: str) -> None:
    """Two notifications whose publishes were lost while the connection was down arrive after
    it comes back, from the database, before the next live one; none twice."""
    owner, editor, event_id = await _actors_and_event(app)
    async with feed(app, owner) as ws:
        await produce(app, recipients=[owner], actor=editor, event_id=event_id)
        first = await next_message(ws)
        await _produce_unseen(app, owner, editor, event_id)
        await _produce_unseen(app, owner, editor, event_id)
        assert await _kill_pubsub(own_redis) == 1
        received = [first["id"]] + [(await next_message(ws))["id"] for _ in range(2)]
        await produce(app, recipients=[owner], actor=editor, event_id=event_id)
        received.append((await next_message(ws))["id"])
        with anyio.move_on_after(0.3):  # nothing else: no duplicate trails behind
            extra = await next_message(ws, within=0.3)
            pytest.fail(f"duplicate or stray message {extra}")
    assert received == await _ids_in_db(app, owner)
    assert _services(app).broker.reconnects == 1  # type: ignore[attr-defined]


async def test_a_drop_in_the_middle_of_a_stream_loses_and_repeats_nothing(
    app: FastAPI, own_redis: str
) -> None:
    """Notifications published one after another while the pub/sub connection is killed:
    the feed delivers each of them exactly once, in id order."""
    owner, editor, event_id = await _actors_and_event(app)
    async with feed(app, owner) as ws:
        received: list[int] = []

        async def read_all() -> None:
            while len(received) < NOTIFICATIONS:
                received.append((await next_message(ws, within=10))["id"])

        async with anyio.create_task_group() as group:
            group.start_soon(read_all)
            for index in range(NOTIFICATIONS):
                if index == NOTIFICATIONS // 2:
                    assert await _kill_pubsub(own_redis) == 1
                await produce(app, recipients=[owner], actor=editor, event_id=event_id)
    assert received == await _ids_in_db(app, owner)
    assert len(set(received)) == NOTIFICATIONS


async def test_a_notification_committed_but_never_published_arrives_by_the_next_heartbeat(
    database_url: str, own_redis: str
) -> None:
    """A process killed between its commit and its publish: no broker message ever comes, no
    reconnect happens. The heartbeat sees the id above its floor that it never sent and
    replays it from the database, once; then the feed reads on live."""
    application = create_app(make_settings(database_url, own_redis, ws_heartbeat_seconds=0.2))
    async with LifespanManager(application):
        owner, editor, event_id = await _actors_and_event(application)
        async with feed(application, owner) as ws:
            await produce(application, recipients=[owner], actor=editor, event_id=event_id)
            first = await next_message(ws)
            await _produce_unseen(application, owner, editor, event_id)
            unseen = await next_message(ws, within=5)
            await produce(application, recipients=[owner], actor=editor, event_id=event_id)
            received = [first["id"], unseen["id"], (await next_message(ws))["id"]]
            with anyio.move_on_after(0.7):  # three more heartbeats: nothing sent twice
                extra = await next_message(ws, within=5)
                pytest.fail(f"duplicate or stray message {extra}")
        assert received == await _ids_in_db(application, owner)
        assert _services(application).broker.reconnects == 0  # type: ignore[attr-defined]


async def test_a_live_notification_waits_for_a_smaller_one_committed_first(
    database_url: str, own_redis: str
) -> None:
    """Publish order is not commit order across processes: one committed first and published
    late (or never, its process killed) must still go out before a larger id the client sees,
    or a reconnect with ``since=<the larger>`` would skip it for ever. With a heartbeat far
    off, the feed sends both, in id order, as soon as the larger one arrives."""
    application = create_app(make_settings(database_url, own_redis, ws_heartbeat_seconds=60))
    async with LifespanManager(application):
        owner, editor, event_id = await _actors_and_event(application)
        async with feed(application, owner) as ws:
            await _produce_unseen(application, owner, editor, event_id)
            await produce(application, recipients=[owner], actor=editor, event_id=event_id)
            received = [(await next_message(ws, within=5))["id"] for _ in range(2)]
            with anyio.move_on_after(0.5):
                extra = await next_message(ws, within=5)
                pytest.fail(f"duplicate or stray message {extra}")
        assert received == await _ids_in_db(application, owner)
        assert len(received) == 2


async def test_notify_takes_its_ids_in_commit_order(app: FastAPI) -> None:
    """A notification written by a transaction that wrote no feed rows still takes the
    commit-order lock first (on PostgreSQL; SQLite has one writer and needs none)."""
    owner, editor, event_id = await _actors_and_event(app)
    async with UnitOfWork.independent(_services(app).db) as session:
        await _notify_unseen(session, owner, editor, event_id)
        postgres = session.get_bind().dialect.name == "postgresql"
        assert session.commit_order_locked is postgres


def test_delivered_remembers_the_last_ids_and_trails_the_floor_behind_them() -> None:
    """A gap replay starts below the last ``REMEMBERED`` ids sent, not at the highest, and
    skips those: a smaller id that commits late is still replayed, none is sent twice."""
    delivered = Delivered(floor=7)
    for notification_id in (20, 9, 21):  # 9 committed after 20 went out
        delivered.add(notification_id)
    assert delivered.floor == 7 and delivered.high == 21
    assert all(n in delivered for n in (9, 20, 21)) and 8 not in delivered
    for notification_id in range(100, 100 + REMEMBERED):
        delivered.add(notification_id)
    assert delivered.floor == 21  # the three oldest were forgotten, the floor rose to them
    assert 21 not in delivered and 100 in delivered
