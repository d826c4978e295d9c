"""Collaboration: share, list, change and revoke permissions."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from calendo.notifications.models import Notification
from calendo.sync.models import SyncChange
from tests.events.conftest import EventFactory
from tests.events.support import AuditEntry, Permission, count_rows, permission_rows
from tests.helpers import Actor, assert_problem


async def share(
    client: httpx.AsyncClient, actor: Actor, event: dict[str, Any], *users: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/events/{event['id']}/share", json={"users": list(users)}, headers=actor.headers
    )


def permissions_path(event: dict[str, Any], user_id: int | None = None) -> str:
    suffix = "" if user_id is None else f"/{user_id}"
    return f"/api/events/{event['id']}/permissions{suffix}"


# --------------------------------------------------------------------------- share


async def test_share_by_id_and_by_username_returns_the_full_list(
    client: httpx.AsyncClient,
    app: FastAPI,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
) -> None:
    event = await make_event(owner)
    response = await share(
        client,
        owner,
        event,
        {"user_id": editor.id, "role": "editor"},
        {"username": "viewer", "role": "viewer"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(p["user_id"], p["username"], p["role"]) for p in body] == [
        (owner.id, "owner", "owner"),
        (editor.id, "editor", "editor"),
        (viewer.id, "viewer", "viewer"),
    ]
    assert all(p["granted_by"] == owner.id and p["granted_at"] for p in body)
    assert await permission_rows(app, event["id"]) == {
        owner.id: "owner",
        editor.id: "editor",
        viewer.id: "viewer",
    }
    assert await count_rows(app, AuditEntry, event_id=event["id"], action="shared") == 2
    assert await count_rows(app, Notification, user_id=viewer.id, type="event_shared") == 1
    assert await count_rows(app, Notification, user_id=owner.id) == 0

    seen = await client.get(f"/api/events/{event['id']}", headers=viewer.headers)
    assert seen.status_code == 200
    assert seen.json()["my_role"] == "viewer"


async def test_resharing_updates_the_role(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    viewer: Actor,
) -> None:
    response = await share(client, owner, shared_event, {"user_id": viewer.id, "role": "editor"})
    assert response.status_code == 200, response.text
    roles = {p["user_id"]: p["role"] for p in response.json()}
    assert roles[viewer.id] == "editor"
    assert await count_rows(app, Permission, event_id=shared_event["id"]) == 3
    assert await count_rows(app, Notification, user_id=viewer.id, type="permission_changed") == 1
    assert await count_rows(app, SyncChange, user_id=viewer.id, change="upsert") == 2

    same = await share(client, owner, shared_event, {"username": "viewer", "role": "editor"})
    assert same.status_code == 200
    assert await count_rows(app, Notification, user_id=viewer.id, type="permission_changed") == 1

    edited = await client.put(
        f"/api/events/{shared_event['id']}", json={"title": "By viewer"}, headers=viewer.headers
    )
    assert edited.status_code == 200


async def test_naming_a_user_twice_keeps_the_last_role(
    client: httpx.AsyncClient,
    app: FastAPI,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
) -> None:
    event = await make_event(owner)
    response = await share(
        client,
        owner,
        event,
        {"user_id": editor.id, "role": "viewer"},
        {"username": "editor", "role": "editor"},
    )
    assert response.status_code == 200, response.text
    assert {p["user_id"]: p["role"] for p in response.json()}[editor.id] == "editor"
    assert await count_rows(app, Notification, user_id=editor.id) == 1
    assert await count_rows(app, AuditEntry, event_id=event["id"], action="shared") == 1


async def test_sharing_with_an_unknown_user_is_404_naming_it(
    client: httpx.AsyncClient,
    app: FastAPI,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
) -> None:
    event = await make_event(owner)
    by_id = await share(
        client,
        owner,
        event,
        {"user_id": editor.id, "role": "editor"},
        {"user_id": 987654, "role": "viewer"},
    )
    problem = assert_problem(by_id, 404, "user-not-found")
    assert "987654" in problem["detail"]
    by_name = await share(client, owner, event, {"username": "ghost", "role": "viewer"})
    assert "ghost" in assert_problem(by_name, 404, "user-not-found")["detail"]
    assert await permission_rows(app, event["id"]) == {owner.id: "owner"}


async def test_sharing_with_yourself_or_the_owner_is_422(
    client: httpx.AsyncClient, app: FastAPI, shared_event: dict[str, Any], owner: Actor
) -> None:
    for target in (
        {"user_id": owner.id, "role": "viewer"},
        {"username": "owner", "role": "editor"},
    ):
        assert_problem(await share(client, owner, shared_event, target), 422, "validation-error")
    assert (await permission_rows(app, shared_event["id"]))[owner.id] == "owner"


async def test_share_body_rules(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor, editor: Actor
) -> None:
    event = await make_event(owner)
    for target in (
        {"user_id": editor.id, "role": "owner"},
        {"user_id": editor.id, "role": "admin"},
        {"user_id": editor.id},
        {"role": "viewer"},
        {"user_id": editor.id, "username": "editor", "role": "viewer"},
        {"user_id": "me", "role": "viewer"},
        {"user_id": editor.id, "role": "viewer", "extra": True},
    ):
        problem = assert_problem(await share(client, owner, event, target), 422)
        assert problem["errors"]
    empty = await client.post(
        f"/api/events/{event['id']}/share", json={"users": []}, headers=owner.headers
    )
    assert_problem(empty, 422)
    assert await permission_rows(app, event["id"]) == {owner.id: "owner"}


async def test_only_the_owner_shares(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    target = {"user_id": stranger.id, "role": "viewer"}
    assert_problem(await share(client, editor, shared_event, target), 403, "permission-denied")
    assert_problem(await share(client, viewer, shared_event, target), 403, "permission-denied")
    assert_problem(await share(client, stranger, shared_event, target), 404, "event-not-found")
    assert stranger.id not in await permission_rows(app, shared_event["id"])


async def test_deleted_events_cannot_be_shared(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor, editor: Actor
) -> None:
    event = await make_event(owner)
    await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
    response = await share(client, owner, event, {"user_id": editor.id, "role": "viewer"})
    assert_problem(response, 404, "event-not-found")


# --------------------------------------------------------------------------- list


async def test_permissions_are_listed_to_viewers_and_up(
    client: httpx.AsyncClient,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    for actor in (owner, editor, viewer):
        response = await client.get(permissions_path(shared_event), headers=actor.headers)
        assert response.status_code == 200, response.text
        assert [(p["username"], p["role"]) for p in response.json()] == [
            ("owner", "owner"),
            ("editor", "editor"),
            ("viewer", "viewer"),
        ]
    assert_problem(await client.get(permissions_path(shared_event), headers=stranger.headers), 404)
    assert_problem(await client.get(permissions_path(shared_event)), 401)


# --------------------------------------------------------------------------- change


async def test_owner_changes_a_role(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    viewer: Actor,
) -> None:
    response = await client.put(
        permissions_path(shared_event, viewer.id), json={"role": "editor"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["user_id"], body["username"], body["role"]) == (viewer.id, "viewer", "editor")
    assert body["granted_by"] == owner.id
    assert (await permission_rows(app, shared_event["id"]))[viewer.id] == "editor"
    assert await count_rows(app, AuditEntry, action="permission_changed") == 1
    # my_role changed: the collaborator's sync feed must carry the event again.
    assert await count_rows(app, SyncChange, user_id=viewer.id, change="upsert") == 2
    assert await count_rows(app, Notification, user_id=viewer.id, type="permission_changed") == 1


async def test_changing_roles_is_owner_only_and_checked(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    body = {"role": "editor"}
    path = permissions_path(shared_event, viewer.id)
    assert_problem(await client.put(path, json=body, headers=editor.headers), 403)
    assert_problem(await client.put(path, json=body, headers=viewer.headers), 403)
    assert_problem(await client.put(path, json=body, headers=stranger.headers), 404)
    own = permissions_path(shared_event, owner.id)
    assert_problem(await client.put(own, json={"role": "viewer"}, headers=owner.headers), 422)
    unknown = permissions_path(shared_event, stranger.id)
    assert_problem(
        await client.put(unknown, json=body, headers=owner.headers), 404, "permission-not-found"
    )
    nobody = permissions_path(shared_event, 987654)
    assert_problem(await client.put(nobody, json=body, headers=owner.headers), 404)
    for bad in ({"role": "owner"}, {"role": "admin"}, {}, {"role": "viewer", "x": 1}):
        assert_problem(await client.put(path, json=bad, headers=owner.headers), 422)
    assert await permission_rows(app, shared_event["id"]) == {
        owner.id: "owner",
        editor.id: "editor",
        viewer.id: "viewer",
    }


# --------------------------------------------------------------------------- revoke


async def test_owner_revokes_and_the_ex_collaborator_loses_access(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
) -> None:
    response = await client.delete(permissions_path(shared_event, editor.id), headers=owner.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert editor.id not in await permission_rows(app, shared_event["id"])
    event_path = f"/api/events/{shared_event['id']}"
    assert_problem(await client.get(event_path, headers=editor.headers), 404, "event-not-found")
    put = await client.put(event_path, json={"title": "x"}, headers=editor.headers)
    assert_problem(put, 404)
    assert (await client.get("/api/events", headers=editor.headers)).json()["items"] == []
    assert await count_rows(app, AuditEntry, action="unshared") == 1
    assert await count_rows(app, SyncChange, user_id=editor.id, change="delete") == 1
    assert await count_rows(app, Notification, user_id=editor.id, type="permission_revoked") == 1
    again = await client.delete(permissions_path(shared_event, editor.id), headers=owner.headers)
    assert_problem(again, 404, "permission-not-found")


async def test_a_collaborator_may_leave(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    viewer: Actor,
) -> None:
    response = await client.delete(
        permissions_path(shared_event, viewer.id), headers=viewer.headers
    )
    assert response.status_code == 204
    assert viewer.id not in await permission_rows(app, shared_event["id"])
    assert_problem(
        await client.get(f"/api/events/{shared_event['id']}", headers=viewer.headers), 404
    )
    assert await count_rows(app, Notification, user_id=owner.id, type="permission_revoked") == 1


async def test_revoking_someone_else_needs_the_owner(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    assert_problem(
        await client.delete(permissions_path(shared_event, viewer.id), headers=editor.headers), 403
    )
    assert_problem(
        await client.delete(permissions_path(shared_event, editor.id), headers=viewer.headers), 403
    )
    assert_problem(
        await client.delete(permissions_path(shared_event, viewer.id), headers=stranger.headers),
        404,
    )
    assert_problem(
        await client.delete(permissions_path(shared_event, stranger.id), headers=stranger.headers),
        404,
    )
    assert_problem(
        await client.delete(permissions_path(shared_event, owner.id), headers=owner.headers), 422
    )
    assert_problem(
        await client.delete(permissions_path(shared_event, owner.id), headers=editor.headers), 403
    )
    assert_problem(await client.delete(permissions_path(shared_event, viewer.id)), 401)
    assert len(await permission_rows(app, shared_event["id"])) == 3
