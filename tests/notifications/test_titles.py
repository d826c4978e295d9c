"""Every notification carries the event's title as it was when the notification was written.

Produced through the real routes (update, rollback, delete, restore, share, role change,
removal, transaction), so each writer is shown to pass the title, and read back over REST,
the live feed and the ``since`` replay.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from calendo.core.uow import UnitOfWork
from calendo.notifications.models import Notification
from tests.helpers import Actor, assert_problem
from tests.notifications.factories import feed, next_message, services_of

EVENTS = "/api/events"


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


async def _create(client: httpx.AsyncClient, actor: Actor, title: str) -> int:
    body = {
        "title": title,
        "start_time": "2030-03-20T10:00:00Z",
        "end_time": "2030-03-20T10:30:00Z",
    }
    response = await client.post(EVENTS, json=body, headers=actor.headers)
    event_id: int = _ok(response, 201)["id"]
    return event_id


async def _rename(client: httpx.AsyncClient, actor: Actor, event_id: int, title: str) -> None:
    response = await client.put(
        f"{EVENTS}/{event_id}", json={"title": title}, headers=actor.headers
    )
    _ok(response)


async def _share(
    client: httpx.AsyncClient, owner: Actor, event_id: int, user: Actor, role: str
) -> None:
    body = {"users": [{"user_id": user.id, "role": role}]}
    _ok(await client.post(f"{EVENTS}/{event_id}/share", json=body, headers=owner.headers))


async def _set_role(
    client: httpx.AsyncClient, owner: Actor, event_id: int, user: Actor, role: str
) -> None:
    url = f"{EVENTS}/{event_id}/permissions/{user.id}"
    _ok(await client.put(url, json={"role": role}, headers=owner.headers))


async def _remove(client: httpx.AsyncClient, actor: Actor, event_id: int, user: Actor) -> None:
    url = f"{EVENTS}/{event_id}/permissions/{user.id}"
    _ok(await client.delete(url, headers=actor.headers), 204)


async def _titles(client: httpx.AsyncClient, actor: Actor) -> list[tuple[str, int, str]]:
    """(type, event_id, event_title) of the actor's notifications, oldest first."""
    page = _ok(await client.get("/api/notifications", headers=actor.headers))
    assert page["next_cursor"] is None
    return [(n["type"], n["event_id"], n["event_title"]) for n in reversed(page["items"])]


async def test_every_type_carries_the_title_as_written(
    client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await _create(client, owner, "Standup")
    await _share(client, owner, event_id, editor, "editor")
    await _rename(client, editor, event_id, "Retro")  # the owner hears of it
    await _set_role(client, owner, event_id, editor, "viewer")
    await _set_role(client, owner, event_id, editor, "editor")
    await _rename(client, owner, event_id, "Planning")
    rollback = await client.post(f"{EVENTS}/{event_id}/rollback/1", headers=editor.headers)
    assert _ok(rollback)["title"] == "Standup"
    _ok(await client.delete(f"{EVENTS}/{event_id}", headers=owner.headers), 204)
    _ok(await client.post(f"{EVENTS}/{event_id}/restore", headers=owner.headers))
    await _rename(client, owner, event_id, "Offsite")
    await _remove(client, owner, event_id, editor)

    assert await _titles(client, editor) == [
        ("event_shared", event_id, "Standup"),
        ("permission_changed", event_id, "Retro"),
        ("permission_changed", event_id, "Retro"),
        ("event_updated", event_id, "Planning"),  # a rename carries the new title
        ("event_deleted", event_id, "Standup"),
        ("event_restored", event_id, "Standup"),
        ("event_updated", event_id, "Offsite"),
        ("permission_revoked", event_id, "Offsite"),
    ]
    assert await _titles(client, owner) == [
        ("event_updated", event_id, "Retro"),
        ("event_rolled_back", event_id, "Standup"),  # the title the rollback brought back
    ]


async def test_a_revoked_user_still_learns_which_event_it_was(
    client: httpx.AsyncClient, owner: Actor, viewer: Actor
) -> None:
    event_id = await _create(client, owner, "Board meeting")
    await _share(client, owner, event_id, viewer, "viewer")
    await _remove(client, owner, event_id, viewer)

    assert_problem(await client.get(f"{EVENTS}/{event_id}", headers=viewer.headers), 404)
    assert (await _titles(client, viewer))[-1] == (
        "permission_revoked",
        event_id,
        "Board meeting",
    )


async def test_leaving_an_event_tells_the_owner_its_title(
    client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await _create(client, owner, "Choir rehearsal")
    await _share(client, owner, event_id, editor, "editor")
    await _remove(client, editor, event_id, editor)
    assert await _titles(client, owner) == [("permission_revoked", event_id, "Choir rehearsal")]


async def test_a_later_rename_leaves_old_notifications_alone(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await _create(client, owner, "Standup")
    await _share(client, owner, event_id, editor, "editor")
    await _rename(client, owner, event_id, "Daily sync")
    await _rename(client, owner, event_id, "Weekly sync")

    assert [title for _, _, title in await _titles(client, editor)] == [
        "Standup",
        "Daily sync",
        "Weekly sync",
    ]
    async with UnitOfWork.read(services_of(app).db) as session:
        stored = await session.scalars(select(Notification.event_title).order_by(Notification.id))
        assert list(stored) == ["Standup", "Daily sync", "Weekly sync"]


async def test_transaction_operations_carry_the_title(
    client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await _create(client, owner, "Standup")
    operations = [
        {"op": "share", "event_id": event_id, "users": [{"user_id": editor.id, "role": "editor"}]},
        {"op": "update", "event_id": event_id, "changes": {"title": "Standup (moved)"}},
        {"op": "delete", "event_id": event_id},
    ]
    response = await client.post(
        "/api/transactions", json={"operations": operations}, headers=owner.headers
    )
    _ok(response)
    assert await _titles(client, editor) == [
        ("event_shared", event_id, "Standup"),
        ("event_updated", event_id, "Standup (moved)"),
        ("event_deleted", event_id, "Standup (moved)"),
    ]


async def test_the_live_message_and_the_replay_carry_the_title(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event_id = await _create(client, owner, "Standup")
    await _share(client, owner, event_id, editor, "editor")
    async with feed(app, owner) as ws:
        await _rename(client, editor, event_id, "Retro")
        live = await next_message(ws)
    assert (live["type"], live["event_id"], live["event_title"]) == (
        "event_updated",
        event_id,
        "Retro",
    )
    await _rename(client, owner, event_id, "Retro, renamed later")

    async with feed(app, owner, since=0) as ws:
        replayed = await next_message(ws)
    assert replayed == live  # the stored row, as it was published

    page = _ok(await client.get("/api/notifications", headers=owner.headers))
    assert page["items"] == [live]
