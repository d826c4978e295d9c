"""``GET /api/audit``: the caller's trail, what it holds, what failed requests leave, privacy."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from calendo.audit.models import AuditEntry
from calendo.core.pagination import encode_cursor
from calendo.core.uow import UnitOfWork
from tests.helpers import Actor, assert_problem, register
from tests.sync import api

URL = "/api/audit"


async def _trail(client: httpx.AsyncClient, actor: Actor, **params: Any) -> list[dict[str, Any]]:
    """Every entry of the caller's trail, following the cursor."""
    items: list[dict[str, Any]] = []
    while True:
        response = await client.get(URL, params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


async def _stored(app: FastAPI) -> list[AuditEntry]:
    async with UnitOfWork.read(app.state.services.db) as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_trail_records_account_and_event_operations_newest_first(
    app: FastAPI, client: httpx.AsyncClient, editor: Actor
) -> None:
    alice = await register(client, "alice")
    failed = await _login(client, "alice", "wrong-password")
    assert failed.status_code == 401
    login = await _login(client, "alice", alice.password)
    assert login.status_code == 200
    tokens = login.json()
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    event = await api.create(client, alice, title="Board")
    await api.update(client, alice, event["id"], title="Board meeting")
    await api.share(client, alice, event["id"], editor, "editor")
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204

    items = await _trail(client, alice)

    assert [i["action"] for i in items] == [
        "logout",
        "shared",
        "event_updated",
        "event_created",
        "token_refresh",
        "login",
        "login_failed",
        "register",
    ]
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    by_action = {i["action"]: i for i in items}
    assert by_action["login_failed"]["actor_id"] is None
    assert by_action["login_failed"]["details"] == {"identifier": "alice"}
    assert by_action["event_updated"]["event_id"] == event["id"]
    assert by_action["event_updated"]["details"]["changed_fields"] == ["title"]
    assert by_action["shared"]["details"]["user_id"] == editor.id
    assert all(i["actor_id"] in (alice.id, None) for i in items)
    assert all(i["ip"] == "127.0.0.1" for i in items)
    assert all(i["created_at"].endswith("Z") for i in items)
    assert set(items[0]) == {"id", "action", "actor_id", "event_id", "ip", "created_at", "details"}
    # The same rows are in the database.
    stored = [e for e in await _stored(app) if alice.id in (e.actor_id, e.subject_user_id)]
    assert sorted(e.id for e in stored) == sorted(i["id"] for i in items)


async def test_others_actions_on_my_events_appear_without_their_ip(
    client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event = await api.create(client, owner)
    await api.share(client, owner, event["id"], editor, "editor")
    await api.update(client, editor, event["id"], title="Edited by editor")

    [latest, *_] = await _trail(client, owner)
    assert (latest["action"], latest["actor_id"]) == ("event_updated", editor.id)
    assert latest["ip"] is None  # the editor's address is theirs, not the owner's to see
    [their_latest, *_] = await _trail(client, editor)
    assert (their_latest["id"], their_latest["ip"]) == (latest["id"], "127.0.0.1")


async def test_failed_requests_leave_no_entry_but_failed_logins_do(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    event = await api.create(client, owner)
    await api.update(client, owner, event["id"], title="v2")
    before = await _stored(app)

    stale = await client.put(
        f"/api/events/{event['id']}", json={"title": "late", "version": 1}, headers=owner.headers
    )
    assert_problem(stale, 409, "version-conflict")
    invalid = await client.put(
        f"/api/events/{event['id']}",
        json={"end_time": "2020-01-01T00:00:00Z"},
        headers=owner.headers,
    )
    assert_problem(invalid, 422)
    assert [e.id for e in await _stored(app)] == [e.id for e in before]

    assert (await _login(client, "owner", "not-the-password")).status_code == 401
    after = await _stored(app)
    assert len(after) == len(before) + 1
    assert (after[-1].action, after[-1].subject_user_id) == ("login_failed", owner.id)
    assert (await _trail(client, owner))[0]["action"] == "login_failed"


async def test_stranger_sees_none_of_it(
    client: httpx.AsyncClient, owner: Actor, stranger: Actor
) -> None:
    event = await api.create(client, owner)
    await api.update(client, owner, event["id"], title="Secret")
    await _login(client, "owner", "wrong-password")

    items = await _trail(client, stranger)
    assert [i["action"] for i in items] == ["register"]
    assert items[0]["actor_id"] == stranger.id


async def test_pages_follow_the_cursor(client: httpx.AsyncClient, owner: Actor) -> None:
    event = await api.create(client, owner)
    for i in range(4):
        await api.update(client, owner, event["id"], title=f"v{i}")
    everything = await _trail(client, owner, limit=50)
    assert len(everything) == 6  # register, created, 4 updates
    paged = await _trail(client, owner, limit=4)
    assert paged == everything
    first = (await client.get(URL, params={"limit": 4}, headers=owner.headers)).json()
    assert len(first["items"]) == 4 and first["next_cursor"] is not None


async def test_bad_parameters_and_auth(client: httpx.AsyncClient, owner: Actor) -> None:
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"cursor": "%%%"},
        {"cursor": encode_cursor(2**40)},
    ):
        response = await client.get(URL, params=params, headers=owner.headers)
        assert_problem(response, 422, "validation-error")
    assert_problem(await client.get(URL), 401)
