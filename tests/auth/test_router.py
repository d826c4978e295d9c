"""Every auth path: register, login, refresh rotation and reuse, logout, bad tokens."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import ormsgpack
import pytest
from sqlalchemy import delete, func, select

from calendo.audit.models import AuditEntry
from calendo.auth.models import User
from calendo.core.security import create_token
from calendo.core.uow import UnitOfWork
from tests.conftest import SECRET
from tests.helpers import Actor, assert_problem


async def test_register_returns_user_and_tokens(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"username": "alice", "email": "Alice@Example.com", "password": "long-enough"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"]["username"] == "alice"
    assert body["user"]["email"] == "alice@example.com"
    assert "password" not in str(body["user"]) and "hash" not in str(body["user"])
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["id"] == body["user"]["id"]


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "owner", "email": "new@example.com", "password": "long-enough"},
        {"username": "fresh", "email": "OWNER@example.com", "password": "long-enough"},
    ],
)
async def test_register_duplicate_is_409(
    client: httpx.AsyncClient, owner: Actor, payload: dict[str, str]
) -> None:
    assert_problem(await client.post("/api/auth/register", json=payload), 409, "conflict")


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "ab", "email": "a@example.com", "password": "long-enough"},
        {"username": "bad name!", "email": "a@example.com", "password": "long-enough"},
        {"username": "x" * 33, "email": "a@example.com", "password": "long-enough"},
        {"username": "valid", "email": "not-an-email", "password": "long-enough"},
        {"username": "valid", "email": "a@example.com", "password": "short"},
        {"username": "valid", "email": "a@example.com"},
        {"username": "valid", "email": "a@example.com", "password": "long-enough", "admin": True},
    ],
)
async def test_register_validation(client: httpx.AsyncClient, payload: dict[str, object]) -> None:
    body = assert_problem(await client.post("/api/auth/register", json=payload), 422)
    assert body["errors"] and all({"loc", "msg"} <= e.keys() for e in body["errors"])


async def test_login_by_username_email_and_form(client: httpx.AsyncClient, owner: Actor) -> None:
    by_name = await client.post(
        "/api/auth/login", json={"username": "owner", "password": owner.password}
    )
    by_email = await client.post(
        "/api/auth/login", json={"email": "owner@example.com", "password": owner.password}
    )
    email_in_username = await client.post(
        "/api/auth/login", json={"username": "OWNER@example.com", "password": owner.password}
    )
    form = await client.post(
        "/api/auth/login", data={"username": "owner", "password": owner.password}
    )
    for response in (by_name, by_email, email_in_username, form):
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == owner.id


async def test_bad_credentials_read_the_same(client: httpx.AsyncClient, owner: Actor, app) -> None:  # type: ignore[no-untyped-def]
    wrong = await client.post(
        "/api/auth/login", json={"username": "owner", "password": "wrong-pass"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"username": "nobody", "password": "wrong-pass"}
    )
    a = assert_problem(wrong, 401)
    b = assert_problem(unknown, 401)
    assert a["detail"] == b["detail"]
    assert wrong.headers["www-authenticate"] == "Bearer"
    async with UnitOfWork.read(app.state.services.db) as session:
        failed = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "login_failed", AuditEntry.subject_user_id == owner.id)
        )
    assert failed == 1


async def test_login_requires_identifier(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/auth/login", json={"password": "whatever1"}), 422)


async def test_refresh_rotates(client: httpx.AsyncClient, owner: Actor) -> None:
    response = await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert response.status_code == 200
    pair = response.json()
    assert pair["refresh_token"] != owner.refresh_token
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200
    again = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 200


async def test_reused_refresh_token_revokes_family(client: httpx.AsyncClient, owner: Actor) -> None:
    first = (
        await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token})
    ).json()
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert_problem(reuse, 401)
    # Every token of the family is dead now: the rotated refresh and both access tokens.
    assert_problem(
        await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401
    )
    for token in (first["access_token"], owner.access_token):
        assert_problem(
            await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}), 401
        )


async def test_other_logins_survive_reuse_detection(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    other = (
        await client.post("/api/auth/login", json={"username": "owner", "password": owner.password})
    ).json()
    await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token})
    await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token})
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert me.status_code == 200


async def test_logout_kills_access_and_refresh(client: httpx.AsyncClient, owner: Actor) -> None:
    response = await client.post(
        "/api/auth/logout", headers=owner.headers, json={"refresh_token": owner.refresh_token}
    )
    assert response.status_code == 204
    assert_problem(await client.get("/api/auth/me", headers=owner.headers), 401)
    assert_problem(
        await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token}), 401
    )


async def test_logout_without_body(client: httpx.AsyncClient, owner: Actor) -> None:
    assert (await client.post("/api/auth/logout", headers=owner.headers)).status_code == 204
    assert_problem(
        await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token}), 401
    )


def _forge(claims: dict[str, object], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims(actor: Actor, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(actor.id),
        "sid": 1,
        "type": "access",
        "jti": "x",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def _alg_none(claims: dict[str, object]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    import orjson

    return f"{b64(orjson.dumps({'alg': 'none', 'typ': 'JWT'}))}.{b64(orjson.dumps(claims))}."


async def test_bad_tokens_are_401(client: httpx.AsyncClient, owner: Actor) -> None:
    claims = _claims(owner)
    tokens = {
        "missing": None,
        "garbage": "not-a-jwt",
        "expired": _forge(_claims(owner, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "other key": _forge(claims, key="another-secret-key-of-sufficient-length-000"),
        "alg none": _alg_none(claims),
        "refresh as access": owner.refresh_token,
        "no type": _forge({k: v for k, v in claims.items() if k != "type"}),
        "tampered": owner.access_token[:-4]
        + ("AAAA" if not owner.access_token.endswith("AAAA") else "BBBB"),
        "unknown session": _forge(_claims(owner, sid=999)),
    }
    for name, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.get("/api/auth/me", headers=headers)
        body = assert_problem(response, 401)
        assert response.headers.get("www-authenticate") == "Bearer", name
        assert "Traceback" not in body["detail"]


async def test_access_token_as_refresh_is_401(client: httpx.AsyncClient, owner: Actor) -> None:
    assert_problem(
        await client.post("/api/auth/refresh", json={"refresh_token": owner.access_token}), 401
    )


async def test_token_of_deleted_user_is_401(client: httpx.AsyncClient, owner: Actor, app) -> None:  # type: ignore[no-untyped-def]
    async with UnitOfWork.independent(app.state.services.db) as session:
        await session.execute(delete(User).where(User.id == owner.id))
    assert_problem(await client.get("/api/auth/me", headers=owner.headers), 401)
    assert_problem(
        await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token}), 401
    )


async def test_token_signed_by_server_key_but_wrong_user(
    client: httpx.AsyncClient, owner: Actor, settings
) -> None:  # type: ignore[no-untyped-def]
    token, _, _ = create_token(
        settings,
        user_id=owner.id + 100,
        session_id=1,
        token_type="access",
        now=datetime.now(UTC) - timedelta(seconds=1),
    )
    assert_problem(
        await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}), 401
    )


async def test_user_search(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, viewer: Actor
) -> None:
    response = await client.get("/api/users", params={"q": "ed"}, headers=owner.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [{"id": editor.id, "username": "editor"}]}
    wildcard = await client.get("/api/users", params={"q": "%"}, headers=owner.headers)
    assert wildcard.json() == {"items": []}
    assert_problem(await client.get("/api/users", params={"q": "ed"}), 401)
    assert_problem(await client.get("/api/users", headers=owner.headers), 422)


async def test_msgpack_round_trip_register_and_login(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
    body = ormsgpack.packb(
        {"username": "packer", "email": "p@example.com", "password": "long-enough"}
    )
    response = await client.post("/api/auth/register", content=body, headers=headers)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/msgpack"
    data = ormsgpack.unpackb(response.content)
    assert data["user"]["username"] == "packer"
    login = await client.post(
        "/api/auth/login",
        content=ormsgpack.packb({"username": "packer", "password": "long-enough"}),
        headers=headers,
    )
    assert login.status_code == 200
    assert ormsgpack.unpackb(login.content)["user"]["id"] == data["user"]["id"]


async def test_unsupported_accept_is_406(client: httpx.AsyncClient, owner: Actor) -> None:
    response = await client.get("/api/auth/me", headers={**owner.headers, "Accept": "text/csv"})
    assert_problem(response, 406, "not-acceptable")


async def test_unsupported_body_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register", content=b"<user/>", headers={"Content-Type": "application/xml"}
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_invalid_msgpack_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register", content=b"\xc1\xc1", headers={"Content-Type": "application/msgpack"}
    )
    assert_problem(response, 400)


async def test_register_is_one_user_even_when_raced(client: httpx.AsyncClient) -> None:
    import asyncio

    payload = {"username": "racer", "email": "r@example.com", "password": "long-enough"}
    responses = await asyncio.gather(
        *(client.post("/api/auth/register", json=payload) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]


async def test_token_refresh_and_logout_are_audited(
    client: httpx.AsyncClient, owner: Actor, app
) -> None:  # type: ignore[no-untyped-def]
    pair = (
        await client.post("/api/auth/refresh", json={"refresh_token": owner.refresh_token})
    ).json()
    await client.post(
        "/api/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    async with UnitOfWork.read(app.state.services.db) as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor_id == owner.id)
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["register", "token_refresh", "logout"]


async def test_the_login_form_takes_the_password_grant_only(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    fields = {"username": "owner", "password": owner.password}
    stated = await client.post("/api/auth/login", data={**fields, "grant_type": "password"})
    assert stated.status_code == 200, stated.text
    assert stated.json()["user"]["id"] == owner.id
    for grant in ("client_credentials", "refresh_token", ""):
        refused = await client.post("/api/auth/login", data={**fields, "grant_type": grant})
        body = assert_problem(refused, 422)
        assert [e["loc"] for e in body["errors"]] == [["body", "grant_type"]], body
        assert "password" in body["errors"][0]["msg"]
        assert "access_token" not in refused.text
