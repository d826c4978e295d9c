"""Token attacks, each on REST routes and on the notification WebSocket.

Every forged, stale or misused token must give 401 + ``WWW-Authenticate: Bearer`` + a problem
body on REST, and close the socket with 4401 (or 1008) before any message. The defences are
in ``calendo/core/security.py`` (PyJWT with ``algorithms=["HS256"]``, every claim required,
``leeway=0``) and ``calendo/auth/repository.live_username`` (the login session must be
live and belong to the token's subject).

``iat`` in the future is rejected: PyJWT (2.x) validates ``iat`` whenever the claim is present
and ``verify_iat`` is on (the default) and raises ``ImmatureSignatureError`` when it is later
than now + leeway; Calendo requires ``iat`` and uses no leeway, so a token "issued" in the
future never works. ``nbf`` is not issued by Calendo but is honoured when present.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from calendo.events.models import Event
from tests.helpers import Actor, assert_problem, register
from tests.security.support import (
    PUBLIC_KEY_PEM,
    WS_REFUSED,
    claims_of,
    delete_user,
    fresh_claims,
    hmac_signed,
    now_plus,
    server_signed,
    unsigned,
    with_payload,
    ws_outcome,
)


@dataclass(frozen=True)
class World:
    """What an attack may use: the app, a client, a victim and an attacker account."""

    app: FastAPI
    client: httpx.AsyncClient
    victim: Actor
    attacker: Actor


TokenMaker = Callable[[World], Awaitable[str]]


async def _alg_none(world: World) -> str:
    return unsigned(
        {"alg": "none", "typ": "JWT"}, fresh_claims(claims_of(world.victim.access_token))
    )


async def _alg_none_mixed_case(world: World) -> str:
    return unsigned(
        {"alg": "nOnE", "typ": "JWT"}, fresh_claims(claims_of(world.victim.access_token))
    )


async def _hs256_with_public_key(world: World) -> str:
    return hmac_signed(fresh_claims(claims_of(world.victim.access_token)), PUBLIC_KEY_PEM)


async def _rs256_header(world: World) -> str:
    # Signed with the real secret but claiming RS256: only the algorithm pin refuses it.
    claims = fresh_claims(claims_of(world.victim.access_token))
    return hmac_signed(claims, _secret(world), header_alg="RS256")


async def _hs512_real_secret(world: World) -> str:
    # A valid HMAC with the real key, under an algorithm the server does not accept.
    return hmac_signed(
        fresh_claims(claims_of(world.victim.access_token)), _secret(world), alg="HS512"
    )


async def _wrong_secret(world: World) -> str:
    return hmac_signed(fresh_claims(claims_of(world.victim.access_token)), "x" * 48)


async def _expired(world: World) -> str:
    claims = claims_of(world.victim.access_token)
    return server_signed(fresh_claims(claims, iat=now_plus(-3600), exp=now_plus(-1)))


async def _nbf_future(world: World) -> str:
    return server_signed(fresh_claims(claims_of(world.victim.access_token), nbf=now_plus(3600)))


async def _iat_future(world: World) -> str:
    claims = claims_of(world.victim.access_token)
    return server_signed(fresh_claims(claims, iat=now_plus(3600), exp=now_plus(7200)))


async def _missing_exp(world: World) -> str:
    return server_signed(fresh_claims(claims_of(world.victim.access_token), exp=None))


async def _tampered_subject(world: World) -> str:
    # The attacker's own token, re-pointed at the victim without re-signing.
    return with_payload(world.attacker.access_token, sub=str(world.victim.id))


async def _tampered_type(world: World) -> str:
    return with_payload(world.victim.refresh_token, type="access")


async def _foreign_session(world: World) -> str:
    # Correctly signed, but the login session named belongs to someone else.
    attacker_sid = claims_of(world.attacker.access_token)["sid"]
    return server_signed(fresh_claims(claims_of(world.victim.access_token), sid=attacker_sid))


async def _revoked(world: World) -> str:
    response = await world.client.post("/api/auth/logout", headers=world.victim.headers)
    assert response.status_code == 204, response.text
    return world.victim.access_token


async def _refresh_as_access(world: World) -> str:
    return world.victim.refresh_token


async def _deleted_user(world: World) -> str:
    doomed = await register(world.client, "doomed")
    await delete_user(world.app, doomed.id)
    return doomed.access_token


async def _garbage(_world: World) -> str:
    return "not.a.jwt"


def _secret(world: World) -> str:
    key: str = world.app.state.services.settings.signing_key
    return key


ATTACKS: dict[str, TokenMaker] = {
    "alg-none": _alg_none,
    "alg-none-mixed-case": _alg_none_mixed_case,
    "hs256-signed-with-public-key": _hs256_with_public_key,
    "rs256-header": _rs256_header,
    "hs512-with-real-secret": _hs512_real_secret,
    "wrong-secret": _wrong_secret,
    "expired": _expired,
    "nbf-in-future": _nbf_future,
    "iat-in-future": _iat_future,
    "missing-exp": _missing_exp,
    "tampered-subject": _tampered_subject,
    "tampered-type": _tampered_type,
    "foreign-session": _foreign_session,
    "revoked-after-logout": _revoked,
    "refresh-as-access": _refresh_as_access,
    "deleted-user": _deleted_user,
    "garbage": _garbage,
}


@pytest.fixture
def world(app: FastAPI, client: httpx.AsyncClient, owner: Actor, stranger: Actor) -> World:
    return World(app=app, client=client, victim=owner, attacker=stranger)


def _assert_401(response: httpx.Response) -> None:
    assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


_EVENT = {"title": "x", "start_time": "2026-03-20T10:00:00Z", "end_time": "2026-03-20T11:00:00Z"}
_WEEK = "start_time=2026-03-16T00:00:00Z&end_time=2026-03-23T00:00:00Z"
_EMPTY_WEEK = "start_time=2027-03-15T00:00:00Z&end_time=2027-03-22T00:00:00Z"


def _reads(event_id: int) -> list[str]:
    """The reads that check the login session inside their own statement (``auth.bearer``),
    on a page with the victim's event and on an empty one."""
    return [
        f"/api/events/{event_id}",
        f"/api/events/{event_id + 1000}",
        f"/api/events/{event_id}?as_of=2030-01-01T00:00:00Z",
        "/api/events?limit=20",
        f"/api/events?{_WEEK}",
        f"/api/events?{_EMPTY_WEEK}",
        f"/api/events?{_WEEK}&expand=true",
        f"/api/events?{_EMPTY_WEEK}&expand=true",
        "/api/events?as_of=2030-01-01T00:00:00Z",
    ]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_rest_refuses(world: World, attack: str) -> None:
    created = await world.client.post("/api/events", json=_EVENT, headers=world.victim.headers)
    assert created.status_code == 201
    token = await ATTACKS[attack](world)
    headers = {"Authorization": f"Bearer {token}"}
    _assert_401(await world.client.get("/api/auth/me", headers=headers))
    _assert_401(await world.client.post("/api/events", json=_EVENT, headers=headers))
    event_id = created.json()["id"]
    for path in _reads(event_id):
        _assert_401(await world.client.get(path, headers=headers))
    # Writes too, on an event that exists and one that does not, and nothing is written.
    for path in (f"/api/events/{event_id}", f"/api/events/{event_id + 1000}"):
        _assert_401(await world.client.put(path, json={"title": "hijacked"}, headers=headers))
        _assert_401(await world.client.patch(path, json={"title": "hijacked"}, headers=headers))
    rows = await world.app.state.services.db.reads.all(
        select(Event.title, Event.version).where(Event.id == event_id)
    )
    assert [(row.title, row.version) for row in rows] == [("x", 1)]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_websocket_refuses(world: World, attack: str) -> None:
    token = await ATTACKS[attack](world)
    assert await ws_outcome(world.app, token) in WS_REFUSED


async def test_the_genuine_token_works_on_both(world: World) -> None:
    """The control: the victim's own token is accepted, so the refusals above mean something."""
    assert (await world.client.get("/api/auth/me", headers=world.victim.headers)).status_code == 200
    created = await world.client.post("/api/events", json=_EVENT, headers=world.victim.headers)
    expected = [200, 404, 200, 200, 200, 200, 200, 200, 200]
    statuses = [
        (await world.client.get(path, headers=world.victim.headers)).status_code
        for path in _reads(created.json()["id"])
    ]
    assert statuses == expected
    assert await ws_outcome(world.app, world.victim.access_token) == "open"


async def test_access_token_is_not_a_refresh_token(world: World) -> None:
    response = await world.client.post(
        "/api/auth/refresh", json={"refresh_token": world.victim.access_token}
    )
    _assert_401(response)


async def test_forged_refresh_tokens_are_refused(world: World) -> None:
    claims = claims_of(world.victim.refresh_token)
    forged = [
        unsigned({"alg": "none"}, claims),
        hmac_signed(claims, PUBLIC_KEY_PEM),
        with_payload(world.attacker.refresh_token, sub=str(world.victim.id)),
        server_signed({**claims, "exp": now_plus(-1)}),
    ]
    for token in forged:
        _assert_401(await world.client.post("/api/auth/refresh", json={"refresh_token": token}))


async def test_refresh_token_dies_with_logout(world: World) -> None:
    assert (
        await world.client.post("/api/auth/logout", headers=world.victim.headers)
    ).status_code == 204
    response = await world.client.post(
        "/api/auth/refresh", json={"refresh_token": world.victim.refresh_token}
    )
    _assert_401(response)


async def test_websocket_without_any_token_is_refused(world: World) -> None:
    assert await ws_outcome(world.app, None) in WS_REFUSED
