"""Account settings and deletion: default time zone, password and email changes, deletion."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from fastapi import FastAPI
from sqlalchemy import func, select

from calendo.__main__ import alembic_config, migrate
from calendo.audit.models import AuditEntry
from calendo.auth.caller import authenticate
from calendo.auth.models import AuthSession, User
from calendo.core.uow import UnitOfWork
from calendo.notifications.models import Notification
from calendo.sharing.models import Permission
from calendo.sync.models import SyncChange
from tests.auth.test_rate_limits import client_at, limited_app, login, retry_after
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem, register
from tests.notifications.test_migration import AT, USERS, _connect, _read
from tests.notifications.test_migration import scratch_url as scratch_url  # the fixture

PASSWORD = "s3cret-pass"  # tests.helpers.register's default


async def _login(client: httpx.AsyncClient, actor: Actor) -> Actor:
    """A second login (token family) of an account."""
    response = await client.post(
        "/api/auth/login", json={"username": actor.username, "password": actor.password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return replace(actor, access_token=body["access_token"], refresh_token=body["refresh_token"])


async def _refresh(client: httpx.AsyncClient, actor: Actor) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": actor.refresh_token})


async def _audit(app: FastAPI, action: str, user_id: int) -> list[AuditEntry]:
    async with UnitOfWork.read(app.state.services.db) as session:
        query = select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.subject_user_id == user_id
        )
        return list((await session.scalars(query)).all())


async def _user(app: FastAPI, user_id: int) -> User:
    async with UnitOfWork.read(app.state.services.db) as session:
        return (await session.scalars(select(User).where(User.id == user_id))).one()


async def _count(app: FastAPI, model: Any, *conditions: Any) -> int:
    async with UnitOfWork.read(app.state.services.db) as session:
        query = select(func.count()).select_from(model).where(*conditions)
        return int((await session.scalars(query)).one())


# --------------------------------------------------------------------------- time zone


async def test_new_account_defaults_to_utc(client: httpx.AsyncClient, owner: Actor) -> None:
    me = await client.get("/api/auth/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json()["timezone"] == "UTC"


async def test_current_user_carries_the_stored_zone(app: FastAPI, owner: Actor) -> None:
    services = app.state.services
    async with UnitOfWork.independent(services.db) as session:
        user = (await session.scalars(select(User).where(User.id == owner.id))).one()
        user.timezone = "Europe/Berlin"
    caller = await authenticate(services.tokens, services.db.reads, owner.access_token)
    assert (caller.id, caller.username, caller.timezone) == (owner.id, "owner", "Europe/Berlin")


async def test_set_timezone_needs_no_password(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.patch(
        "/api/auth/me", json={"timezone": "America/New_York"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "America/New_York" and body["email"] == "owner@example.com"
    me = await client.get("/api/auth/me", headers=owner.headers)
    assert me.json()["timezone"] == "America/New_York"
    services = app.state.services
    caller = await authenticate(services.tokens, services.db.reads, owner.access_token)
    assert caller.timezone == "America/New_York"
    [entry] = await _audit(app, "account_updated", owner.id)
    assert entry.actor_id == owner.id and entry.details == {"changed_fields": ["timezone"]}


async def test_unchanged_values_write_no_audit_entry(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.patch("/api/auth/me", json={"timezone": "UTC"}, headers=owner.headers)
    assert response.status_code == 200 and response.json()["timezone"] == "UTC"
    assert await _audit(app, "account_updated", owner.id) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": None}, None),
        ({"email": None, "current_password": PASSWORD}, None),
        ({"email": "not-an-email", "current_password": PASSWORD}, "email"),
        ({"username": "renamed"}, "username"),
        ({"timezone": 5}, "timezone"),
    ],
)
async def test_bad_account_updates_are_422(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    payload: dict[str, Any],
    field: str | None,
) -> None:
    response = await client.patch("/api/auth/me", json=payload, headers=owner.headers)
    body = assert_problem(response, 422, "validation-error")
    if field is not None:
        assert any(field in error["loc"] for error in body["errors"]), body
    user = await _user(app, owner.id)
    assert (user.timezone, user.email) == ("UTC", "owner@example.com")


async def test_unknown_zone_is_a_plain_sentence(client: httpx.AsyncClient, owner: Actor) -> None:
    response = await client.patch(
        "/api/auth/me", json={"timezone": "Mars/Olympus_Mons"}, headers=owner.headers
    )
    body = assert_problem(response, 422, "validation-error")
    assert "Mars/Olympus_Mons" in body["detail"] and "time zone" in body["detail"]


async def _seed_account(url: str) -> None:
    async with _connect(url) as conn:
        row = {"id": 1, "username": "old", "email": "old@example.com", "password_hash": "x"}
        await conn.execute(USERS.insert(), [row | {"created_at": AT}])
        await conn.execute(
            sa.text(
                "INSERT INTO auth_session (user_id, refresh_jti, created_at) VALUES (1, 'jti', :at)"
            ),
            {"at": AT},
        )


def test_migration_0003_gives_existing_accounts_utc_and_keeps_rows_down(
    scratch_url: str,
) -> None:
    migrate(scratch_url, "0002")
    asyncio.run(_seed_account(scratch_url))
    migrate(scratch_url, "0003")
    rows = asyncio.run(_read(scratch_url, "SELECT id, timezone, deleted_at FROM user_account"))
    assert rows == [{"id": 1, "timezone": "UTC", "deleted_at": None}]
    command.downgrade(alembic_config(scratch_url), "0002")
    [row] = asyncio.run(_read(scratch_url, "SELECT * FROM user_account"))
    assert row["username"] == "old" and "timezone" not in row and "deleted_at" not in row
    # Dropped in place: the sessions that reference the account are still there.
    assert asyncio.run(_read(scratch_url, "SELECT user_id FROM auth_session")) == [{"user_id": 1}]


# --------------------------------------------------------------------------- email


async def test_change_email_with_password(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.patch(
        "/api/auth/me",
        json={"email": "New.Owner@Example.com", "current_password": PASSWORD},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "new.owner@example.com"
    assert (await _user(app, owner.id)).email == "new.owner@example.com"
    new = await client.post(
        "/api/auth/login", json={"email": "new.owner@example.com", "password": PASSWORD}
    )
    assert new.status_code == 200
    old = await client.post(
        "/api/auth/login", json={"email": "owner@example.com", "password": PASSWORD}
    )
    assert_problem(old, 401, "not-authenticated")
    [entry] = await _audit(app, "account_updated", owner.id)
    assert entry.details == {"changed_fields": ["email"]}


async def test_change_email_needs_the_password(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.patch(
        "/api/auth/me", json={"email": "new@example.com"}, headers=owner.headers
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"] == ["body", "current_password"]
    assert (await _user(app, owner.id)).email == "owner@example.com"


async def test_change_email_with_wrong_password_is_403_and_audited(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.patch(
        "/api/auth/me",
        json={"email": "new@example.com", "timezone": "Asia/Tokyo", "current_password": "nope"},
        headers=owner.headers,
    )
    assert_problem(response, 403, "wrong-password")
    user = await _user(app, owner.id)
    assert (user.email, user.timezone) == ("owner@example.com", "UTC")  # nothing applied
    [failed] = await _audit(app, "password_check_failed", owner.id)
    assert failed.actor_id == owner.id and failed.details == {"purpose": "account_update"}
    assert await _audit(app, "account_updated", owner.id) == []


async def test_email_of_another_account_is_409(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    response = await client.patch(
        "/api/auth/me",
        json={"email": "EDITOR@example.com", "current_password": PASSWORD},
        headers=owner.headers,
    )
    body = assert_problem(response, 409, "conflict")
    assert body["detail"] == "That email is already registered"
    assert (await _user(app, owner.id)).email == "owner@example.com"


# --------------------------------------------------------------------------- password


async def test_change_password_revokes_every_other_login(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    other = await _login(client, owner)
    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": PASSWORD, "new_password": "a-new-long-secret"},
        headers=owner.headers,
    )
    assert response.status_code == 204, response.text
    # This login lives on: its access token and its refresh token still work.
    assert (await client.get("/api/auth/me", headers=owner.headers)).status_code == 200
    assert (await _refresh(client, owner)).status_code == 200
    # The other login is dead at once, access and refresh token alike.
    assert_problem(await client.get("/api/auth/me", headers=other.headers), 401)
    assert_problem(await _refresh(client, other), 401, "not-authenticated")
    # The old password no longer logs in; the new one does.
    old = await client.post("/api/auth/login", json={"username": "owner", "password": PASSWORD})
    assert_problem(old, 401, "not-authenticated")
    new = await client.post(
        "/api/auth/login", json={"username": "owner", "password": "a-new-long-secret"}
    )
    assert new.status_code == 200
    live = AuthSession.revoked_at.is_(None), AuthSession.user_id == owner.id
    assert await _count(app, AuthSession, *live) == 2  # this login and the new one
    [entry] = await _audit(app, "password_changed", owner.id)
    assert entry.actor_id == owner.id and entry.details == {"revoked_sessions": 1}


async def test_change_password_with_wrong_password_is_403_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    other = await _login(client, owner)
    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": "wrong-password", "new_password": "a-new-long-secret"},
        headers=owner.headers,
    )
    body = assert_problem(response, 403, "wrong-password")
    assert "password" in body["detail"]
    assert (await client.get("/api/auth/me", headers=other.headers)).status_code == 200
    login = await client.post("/api/auth/login", json={"username": "owner", "password": PASSWORD})
    assert login.status_code == 200
    [failed] = await _audit(app, "password_check_failed", owner.id)
    assert failed.details == {"purpose": "password_change"}
    assert await _audit(app, "password_changed", owner.id) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"current_password": PASSWORD, "new_password": "short"},
        {"current_password": PASSWORD, "new_password": "x" * 257},
        {"current_password": PASSWORD},
        {"new_password": "a-new-long-secret"},
        {"current_password": PASSWORD, "new_password": "a-new-long-secret", "extra": 1},
    ],
)
async def test_bad_password_changes_are_422(
    client: httpx.AsyncClient, owner: Actor, payload: dict[str, Any]
) -> None:
    response = await client.post("/api/auth/me/password", json=payload, headers=owner.headers)
    assert_problem(response, 422, "validation-error")
    login = await client.post("/api/auth/login", json={"username": "owner", "password": PASSWORD})
    assert login.status_code == 200


async def test_wrong_passwords_are_failed_logins_to_the_limits(
    database_url: str, redis_url: str | None
) -> None:
    async with (
        limited_app(database_url, redis_url, rate_limit_auth="2/minute") as app,
        client_at(app, "10.7.7.7") as client,
    ):
        owner = await register(client, "owner")
        wrong = {"current_password": "not-the-password", "new_password": "a-new-long-secret"}
        for path, method, body in (
            ("/api/auth/me/password", "POST", wrong),
            ("/api/auth/me", "DELETE", {"password": "not-the-password"}),
        ):
            response = await client.request(method, path, json=body, headers=owner.headers)
            assert_problem(response, 403, "wrong-password")
        # The address's failed-login budget is spent: the right password is refused before
        # it is checked, and so is a login from there.
        right = {"current_password": PASSWORD, "new_password": "a-new-long-secret"}
        refused = await client.post("/api/auth/me/password", json=right, headers=owner.headers)
        assert retry_after(refused) > 0
        assert retry_after(await login(client, "owner", PASSWORD)) > 0
        assert (await _user(app, owner.id)).deleted_at is None
        # A time zone change needs no password, and no budget.
        zone = {"timezone": "Europe/Paris"}
        assert (await client.patch("/api/auth/me", json=zone, headers=owner.headers)).is_success
        async with client_at(app, "10.8.8.8") as elsewhere:
            assert (await login(elsewhere, "owner", PASSWORD)).status_code == 200


# --------------------------------------------------------------------------- unauthenticated


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("PATCH", "/api/auth/me", {"timezone": "Europe/Berlin"}),
        ("POST", "/api/auth/me/password", {"current_password": "x", "new_password": "y" * 8}),
        ("DELETE", "/api/auth/me", {"password": PASSWORD}),
    ],
)
async def test_account_routes_need_a_login(
    client: httpx.AsyncClient, owner: Actor, method: str, path: str, payload: dict[str, Any]
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await client.request(method, path, json=payload, headers=headers)
        assert_problem(response, 401, "not-authenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/api/auth/me", headers=owner.headers)).json()["timezone"] == "UTC"


# --------------------------------------------------------------------------- deletion


async def _delete(client: httpx.AsyncClient, actor: Actor, password: str) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/auth/me", json={"password": password}, headers=actor.headers
    )


async def test_delete_with_wrong_or_no_password_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, shared_event: dict[str, Any]
) -> None:
    assert_problem(await _delete(client, owner, "wrong-password"), 403, "wrong-password")
    no_body = await client.request("DELETE", "/api/auth/me", headers=owner.headers)
    assert_problem(no_body, 422, "validation-error")
    assert (await _user(app, owner.id)).deleted_at is None
    assert (await client.get("/api/auth/me", headers=owner.headers)).status_code == 200
    event = await client.get(f"/api/events/{shared_event['id']}", headers=owner.headers)
    assert event.status_code == 200
    [failed] = await _audit(app, "password_check_failed", owner.id)
    assert failed.details == {"purpose": "deletion"}


async def test_delete_account_ends_every_login(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    other = await _login(client, owner)
    assert (await _delete(client, owner, PASSWORD)).status_code == 204
    for actor in (owner, other):
        assert_problem(await client.get("/api/auth/me", headers=actor.headers), 401)
        assert_problem(await _refresh(client, actor), 401, "not-authenticated")
    for identifier in ({"username": "owner"}, {"email": "owner@example.com"}):
        login = await client.post("/api/auth/login", json={**identifier, "password": PASSWORD})
        assert_problem(login, 401, "not-authenticated")
    live = AuthSession.revoked_at.is_(None), AuthSession.user_id == owner.id
    assert await _count(app, AuthSession, *live) == 0
    user = await _user(app, owner.id)
    assert user.deleted_at is not None
    assert (user.username, user.email, user.password_hash) == ("owner", f"deleted:{owner.id}", "")
    [entry] = await _audit(app, "account_deleted", owner.id)
    assert entry.actor_id == owner.id
    assert entry.details == {
        "username": "owner",
        "events_deleted": 0,
        "shares_left": 0,
        "revoked_sessions": 2,
    }


async def test_delete_account_deletes_owned_events_and_keeps_their_history(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    shared_event: dict[str, Any],
) -> None:
    event_id = shared_event["id"]
    before = await client.get("/api/sync", headers=editor.headers)
    assert (await _delete(client, owner, PASSWORD)).status_code == 204
    for actor in (editor, viewer):
        gone = await client.get(f"/api/events/{event_id}", headers=actor.headers)
        assert_problem(gone, 404, "event-not-found")
    # The collaborators keep the history, which still names the owner.
    history = await client.get(f"/api/events/{event_id}/history", headers=editor.headers)
    assert history.status_code == 200, history.text
    latest = history.json()["items"][0]
    assert latest["action"] == "deleted"
    assert latest["author"] == {"id": owner.id, "username": "owner"}
    assert latest["note"] == "The owner deleted their account"
    # They were told, by the owner's name.
    for actor in (editor, viewer):
        inbox = await client.get("/api/notifications", headers=actor.headers)
        first = inbox.json()["items"][0]
        assert first["type"] == "event_deleted" and first["event_id"] == event_id
        assert first["actor"] == {"id": owner.id, "username": "owner"}
    # Their sync feeds report the delete.
    cursor = before.json()["next_cursor"]
    sync = await client.get("/api/sync", params={"cursor": cursor}, headers=editor.headers)
    changes = {c["event_id"]: c["change"] for c in sync.json()["changes"]}
    assert changes[event_id] == "delete"
    [entry] = await _audit(app, "account_deleted", owner.id)
    assert entry.details["events_deleted"] == 1


async def test_delete_account_leaves_shared_events(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_event: EventFactory,
    owner: Actor,
    stranger: Actor,
) -> None:
    theirs = await make_event(stranger, title="Stranger's party")
    shared = await client.post(
        f"/api/events/{theirs['id']}/share",
        json={"users": [{"user_id": owner.id, "role": "editor"}]},
        headers=stranger.headers,
    )
    assert shared.status_code == 200
    assert (await _delete(client, owner, PASSWORD)).status_code == 204
    # The stranger's event lives on, without the deleted account.
    event = await client.get(f"/api/events/{theirs['id']}", headers=stranger.headers)
    assert event.status_code == 200
    permissions = await client.get(
        f"/api/events/{theirs['id']}/permissions", headers=stranger.headers
    )
    assert [p["user_id"] for p in permissions.json()] == [stranger.id]
    inbox = await client.get("/api/notifications", headers=stranger.headers)
    first = inbox.json()["items"][0]
    assert first["type"] == "permission_revoked" and first["event_id"] == theirs["id"]
    assert first["actor"] == {"id": owner.id, "username": "owner"}
    [unshared] = [
        e for e in await _audit(app, "unshared", stranger.id) if e.details["user_id"] == owner.id
    ]
    assert unshared.actor_id == owner.id
    [entry] = await _audit(app, "account_deleted", owner.id)
    assert (entry.details["events_deleted"], entry.details["shares_left"]) == (0, 1)


async def test_delete_account_erases_its_personal_rows(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
    shared_event: dict[str, Any],
) -> None:
    # The owner gets a notification and a feed row of their own, then leaves a deleted event.
    elsewhere = await make_event(editor, title="Editor's event")
    await client.post(
        f"/api/events/{elsewhere['id']}/share",
        json={"users": [{"user_id": owner.id, "role": "viewer"}]},
        headers=editor.headers,
    )
    deleted = await client.delete(f"/api/events/{elsewhere['id']}", headers=editor.headers)
    assert deleted.status_code == 204
    assert await _count(app, Notification, Notification.user_id == owner.id) > 0
    assert (await _delete(client, owner, PASSWORD)).status_code == 204
    assert await _count(app, Notification, Notification.user_id == owner.id) == 0
    assert await _count(app, SyncChange, SyncChange.user_id == owner.id) == 0
    roles = await _count(
        app, Permission, Permission.user_id == owner.id, Permission.role != "owner"
    )
    assert roles == 0
    # Their owner row stays, naming the owner of the deleted event.
    owned = Permission.user_id == owner.id, Permission.event_id == shared_event["id"]
    assert await _count(app, Permission, *owned) == 1


async def test_deleted_username_is_retired_and_email_released(
    client: httpx.AsyncClient, owner: Actor, stranger: Actor, make_event: EventFactory
) -> None:
    assert (await _delete(client, owner, PASSWORD)).status_code == 204
    again = await client.post(
        "/api/auth/register",
        json={"username": "owner", "email": "fresh@example.com", "password": "long-enough"},
    )
    assert_problem(again, 409, "conflict")
    fresh = await client.post(
        "/api/auth/register",
        json={"username": "owner2", "email": "OWNER@example.com", "password": "long-enough"},
    )
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["user"]["id"] != owner.id
    # No one can find or share with the deleted account any more.
    found = await client.get("/api/users", params={"q": "owner"}, headers=stranger.headers)
    assert [u["username"] for u in found.json()["items"]] == ["owner2"]
    event = await make_event(stranger)
    for target in ({"user_id": owner.id}, {"username": "owner"}):
        share = await client.post(
            f"/api/events/{event['id']}/share",
            json={"users": [{**target, "role": "viewer"}]},
            headers=stranger.headers,
        )
        assert_problem(share, 404, "user-not-found")


async def test_deletion_beside_collaborators_writes_answers_no_5xx(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_event: EventFactory,
    owner: Actor,
    editor: Actor,
    stranger: Actor,
    shared_event: dict[str, Any],
) -> None:
    """The deletion locks what it touches in the global order (docs/architecture.md, "Lock
    order"): writes of the events it deletes and leaves, run at the same time, wait or fail
    cleanly, never deadlock into a 5xx."""
    theirs = await make_event(stranger, title="Stranger's")
    share = {"users": [{"user_id": owner.id, "role": "editor"}]}
    await client.post(f"/api/events/{theirs['id']}/share", json=share, headers=stranger.headers)
    another = await make_event(stranger, title="Another")
    responses = await asyncio.gather(
        _delete(client, owner, PASSWORD),
        client.patch(
            f"/api/events/{shared_event['id']}", json={"title": "Renamed"}, headers=editor.headers
        ),
        client.patch(
            f"/api/events/{theirs['id']}", json={"title": "Renamed"}, headers=stranger.headers
        ),
        client.post(f"/api/events/{another['id']}/share", json=share, headers=stranger.headers),
    )
    assert [r.status_code for r in responses if r.status_code >= 500] == []
    assert responses[0].status_code == 204
    assert (await _user(app, owner.id)).deleted_at is not None
    gone = await client.get(f"/api/events/{shared_event['id']}", headers=editor.headers)
    assert_problem(gone, 404, "event-not-found")
