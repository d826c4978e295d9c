"""notify(): who is notified, what is written, and when (and whether) it is published."""

from __future__ import annotations

from datetime import datetime

import anyio
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from calendo.core.uow import UnitOfWork
from calendo.notifications.models import Notification
from calendo.notifications.service import notify
from tests.helpers import Actor
from tests.notifications.factories import create_event, services_of


class RecordingBroker:
    """Records publishes; optionally fails them."""

    def __init__(self, *, fail: bool = False) -> None:
        self.published: list[tuple[str, dict[str, object]]] = []
        self.fail = fail

    async def publish(self, channel: str, message: bytes) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.published.append((channel, orjson.loads(message)))


class Boom(Exception):
    """Makes a unit of work roll back."""


async def _rows(app: FastAPI) -> list[Notification]:
    async with UnitOfWork.read(services_of(app).db) as session:
        return list((await session.scalars(select(Notification).order_by(Notification.id))).all())


async def _notify(
    app: FastAPI, broker: object, actor: Actor, recipients: list[int], event_id: int
) -> None:
    async with UnitOfWork.independent(services_of(app).db) as session:
        await notify(
            session,
            broker,  # type: ignore[arg-type]
            recipient_ids=recipients,
            type="event_updated",
            event_id=event_id,
            event_title="Standup",
            actor_id=actor.id,
            actor_username=actor.username,
            changed_fields=["title", "location"],
            version=3,
        )


async def test_notify_writes_one_row_per_recipient_but_never_the_actor(
    app: FastAPI, owner: Actor, editor: Actor, viewer: Actor
) -> None:
    event_id = await create_event(app, owner.id)
    broker = RecordingBroker()
    await _notify(app, broker, editor, [owner.id, editor.id, viewer.id, viewer.id], event_id)

    rows = await _rows(app)
    assert sorted(r.user_id for r in rows) == sorted([owner.id, viewer.id])
    assert all(r.actor_id == editor.id and r.read_at is None for r in rows)
    assert sorted(channel for channel, _ in broker.published) == sorted(
        [f"user:{owner.id}", f"user:{viewer.id}"]
    )


async def test_notify_with_only_the_actor_writes_and_publishes_nothing(
    app: FastAPI, owner: Actor
) -> None:
    event_id = await create_event(app, owner.id)
    broker = RecordingBroker()
    await _notify(app, broker, owner, [owner.id], event_id)
    assert await _rows(app) == []
    assert broker.published == []


async def test_message_is_the_read_schema(app: FastAPI, owner: Actor, editor: Actor) -> None:
    event_id = await create_event(app, owner.id)
    broker = RecordingBroker()
    await _notify(app, broker, editor, [owner.id], event_id)

    [row] = await _rows(app)
    [(channel, message)] = broker.published
    assert channel == f"user:{owner.id}"
    assert message == {
        "id": row.id,
        "type": "event_updated",
        "event_id": event_id,
        "event_title": "Standup",
        "actor": {"id": editor.id, "username": "editor"},
        "changed_fields": ["title", "location"],
        "version": 3,
        "created_at": message["created_at"],
        "read_at": None,
    }
    created_at = str(message["created_at"])
    assert created_at.endswith("Z")
    assert datetime.fromisoformat(created_at) == row.created_at


async def test_publish_waits_for_the_commit(app: FastAPI, owner: Actor, editor: Actor) -> None:
    event_id = await create_event(app, owner.id)
    broker = RecordingBroker()
    async with UnitOfWork.independent(services_of(app).db) as session:
        await notify(
            session,
            broker,
            recipient_ids=[owner.id],
            type="event_deleted",
            event_id=event_id,
            event_title="Standup",
            actor_id=editor.id,
            actor_username=editor.username,
        )
        assert broker.published == []
        assert await _rows(app) == []  # not visible outside the transaction yet
    assert [m["type"] for _, m in broker.published] == ["event_deleted"]
    assert len(await _rows(app)) == 1


async def test_rollback_publishes_nothing(app: FastAPI, owner: Actor, editor: Actor) -> None:
    """Through the app's own broker (memory or Redis): the rolled-back one never arrives."""
    services = services_of(app)
    event_id = await create_event(app, owner.id)
    async with services.broker.subscribe(f"user:{owner.id}") as subscription:
        with pytest.raises(Boom):
            async with UnitOfWork.independent(services.db) as session:
                await notify(
                    session,
                    services.broker,
                    recipient_ids=[owner.id],
                    type="event_shared",
                    event_id=event_id,
                    event_title="Standup",
                    actor_id=editor.id,
                    actor_username=editor.username,
                )
                raise Boom
        assert await _rows(app) == []
        await _notify(app, services.broker, editor, [owner.id], event_id)
        with anyio.fail_after(3):
            first = orjson.loads(await subscription.get())
        await anyio.sleep(0.2)
        assert subscription.queue.empty()

    [row] = await _rows(app)
    assert first["id"] == row.id and first["type"] == "event_updated"


async def test_failed_publish_keeps_the_commit(app: FastAPI, owner: Actor, editor: Actor) -> None:
    event_id = await create_event(app, owner.id)
    await _notify(app, RecordingBroker(fail=True), editor, [owner.id], event_id)
    assert len(await _rows(app)) == 1


async def test_unknown_type_is_a_programming_error(app: FastAPI, owner: Actor) -> None:
    event_id = await create_event(app, owner.id)
    with pytest.raises(ValueError, match="unknown notification type"):
        async with UnitOfWork.independent(services_of(app).db) as session:
            await notify(
                session,
                RecordingBroker(),
                recipient_ids=[2],
                type="event_exploded",
                event_id=event_id,
                event_title="Standup",
                actor_id=owner.id,
                actor_username=owner.username,
            )
    async with UnitOfWork.read(services_of(app).db) as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0
