"""Authorization matrix: every ``/api`` route × every kind of caller → the contract's status.

The cases are generated from the app's route table, so a new route cannot slip through: a
route without an entry in ``TABLE`` produces a failing case that asks for one (and an entry
whose route is gone fails too). Callers: no token, an expired token, a stranger, and the
viewer, editor and owner of one shared event. The contract's rules:

- ``public``: anyone (register, login, refresh); a stale ``Authorization`` header is ignored.
- ``user``: any authenticated caller; no or expired token → 401.
- ``viewer`` / ``editor`` / ``owner`` (routes on one event): enough role → success; a role
  too low → 403; a stranger → 404 (existence does not leak); no or expired token → 401.
- ``recipient``: the editor's notification marked read by the editor → 204, by anyone else
  → 404 (someone else's notification does not exist for you); the editor's feed token
  likewise (only the editor may revoke it).
- WebSocket: a bad token closes with 4401 (1008 accepted); a good one keeps the socket open.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from calendo.app import create_app
from calendo.core.security import create_token
from tests.conftest import BACKEND, make_settings
from tests.helpers import Actor, register
from tests.security.routes import WS, api_routes, offline_app
from tests.security.support import (
    WS_REFUSED,
    GuardedClient,
    claims_of,
    module_database,
    ws_outcome,
)

Minimum = Literal["public", "user", "recipient", "viewer", "editor", "owner"]
CALLERS = ("anonymous", "expired", "stranger", "viewer", "editor", "owner")
RANK = {"viewer": 1, "editor": 2, "owner": 3}
OPEN = "open"


@dataclass(frozen=True)
class Rule:
    """Who may call a route and what the allowed caller gets."""

    minimum: Minimum
    success: int | str
    # Contract exceptions for one caller (e.g. a collaborator may remove themself).
    overrides: Mapping[str, int] = field(default_factory=dict)
    # Setup the route needs: "deleted" (restore needs a deleted event), "account" (the caller is
    # a fresh account of its own: the account routes change or delete the caller), "series"
    # (the event repeats, twice that day: the occurrence routes name its first occurrence).
    setup: str = ""


# The minimum role of every /api route (method, path). Keep in step with the API contract.
TABLE: dict[tuple[str, str], Rule] = {
    ("POST", "/api/auth/register"): Rule("public", 201),
    ("POST", "/api/auth/login"): Rule("public", 200),
    ("POST", "/api/auth/refresh"): Rule("public", 200),
    ("POST", "/api/auth/logout"): Rule("user", 204),
    ("GET", "/api/auth/me"): Rule("user", 200),
    ("PATCH", "/api/auth/me"): Rule("user", 200, setup="account"),
    ("POST", "/api/auth/me/password"): Rule("user", 204, setup="account"),
    ("DELETE", "/api/auth/me"): Rule("user", 204, setup="account"),
    ("GET", "/api/users"): Rule("user", 200),
    ("GET", "/api/events"): Rule("user", 200),
    # Any user: it lists only what the caller may restore (tests/events/test_trash.py).
    ("GET", "/api/events/trash"): Rule("user", 200),
    ("POST", "/api/events"): Rule("user", 201),
    ("POST", "/api/events/batch"): Rule("user", 201),
    ("POST", "/api/events/conflicts"): Rule("user", 200),
    # Imports into the caller's own calendar (tests/ical/test_import.py: UIDs of others' events).
    ("POST", "/api/events/import"): Rule("user", 200),
    ("GET", "/api/notifications"): Rule("user", 200),
    ("POST", "/api/notifications/read"): Rule("user", 204),
    ("POST", "/api/notifications/{notification_id}/read"): Rule("recipient", 204),
    (WS, "/api/notifications/ws"): Rule("user", OPEN),
    ("GET", "/api/sync"): Rule("user", 200),
    ("GET", "/api/audit"): Rule("user", 200),
    ("POST", "/api/transactions"): Rule("user", 200),
    ("GET", "/api/events/{event_id}"): Rule("viewer", 200),
    ("PUT", "/api/events/{event_id}"): Rule("editor", 200),
    ("PATCH", "/api/events/{event_id}"): Rule("editor", 200),
    ("DELETE", "/api/events/{event_id}"): Rule("owner", 204),
    ("POST", "/api/events/{event_id}/restore"): Rule("owner", 200, setup="deleted"),
    ("GET", "/api/events/{event_id}/occurrences"): Rule("viewer", 200),
    ("POST", "/api/events/{event_id}/share"): Rule("owner", 200),
    ("GET", "/api/events/{event_id}/permissions"): Rule("viewer", 200),
    ("PUT", "/api/events/{event_id}/permissions/{user_id}"): Rule("owner", 200),
    # The target is the viewer: the owner removes them, or they leave on their own.
    ("DELETE", "/api/events/{event_id}/permissions/{user_id}"): Rule(
        "owner", 204, overrides={"viewer": 204}
    ),
    ("GET", "/api/events/{event_id}/history"): Rule("viewer", 200),
    ("GET", "/api/events/{event_id}/history/{version_id}"): Rule("viewer", 200),
    ("GET", "/api/events/{event_id}/changelog"): Rule("viewer", 200),
    ("GET", "/api/events/{event_id}/diff/{version_id1}/{version_id2}"): Rule("viewer", 200),
    ("POST", "/api/events/{event_id}/rollback/{version_id}"): Rule("editor", 200),
    ("POST", "/api/feeds"): Rule("user", 201),
    ("GET", "/api/feeds"): Rule("user", 200),
    ("DELETE", "/api/feeds/{feed_id}"): Rule("recipient", 204, setup="feed"),
    # The secret in the path is the credential: any caller, any Authorization header.
    ("GET", "/api/feeds/{token}.ics"): Rule("public", 200, setup="feed"),
    ("PATCH", "/api/events/{event_id}/occurrences/{recurrence_id}"): Rule(
        "editor", 200, setup="series"
    ),
    ("DELETE", "/api/events/{event_id}/occurrences/{recurrence_id}"): Rule(
        "editor", 200, setup="series"
    ),
    ("POST", "/api/events/{event_id}/split"): Rule("editor", 200, setup="series"),
    # The scene's event was not made by a split: an allowed caller gets the 404 that says so.
    ("POST", "/api/events/{event_id}/split/undo"): Rule("editor", 404),
}

ROUTES = api_routes(offline_app())


def expected_status(rule: Rule, caller: str) -> int | str | frozenset[int]:
    """What the contract says ``caller`` gets from a route with ``rule``."""
    if caller in rule.overrides:
        return rule.overrides[caller]
    if rule.minimum == "public":
        return rule.success
    if caller in ("anonymous", "expired"):
        return WS_REFUSED if rule.success == OPEN else 401
    if rule.minimum == "user":
        return rule.success
    if rule.minimum == "recipient":
        return rule.success if caller == "editor" else 404
    if caller == "stranger":
        return 404
    return rule.success if RANK[caller] >= RANK[rule.minimum] else 403


def _cases() -> list[Any]:
    cases = []
    for route in ROUTES:
        if route not in TABLE:
            cases.append(pytest.param(route, None, id=f"{route[0]} {route[1]} UNCLASSIFIED"))
            continue
        for caller in CALLERS:
            cases.append(pytest.param(route, caller, id=f"{route[0]} {route[1]} [{caller}]"))
    return cases


# One app, database and set of accounts for the whole module (building them is most of the
# cost); every case still gets a fresh event, shared afresh, so no case sees another's writes.
DAYS = itertools.count()


@dataclass
class People:
    """The module's accounts; their tokens are never revoked (cases log out fresh logins)."""

    client: httpx.AsyncClient
    app: FastAPI
    actors: dict[str, Actor]


@dataclass
class Scene:
    """A fresh event of the owner at version 2, shared with the editor and the viewer."""

    people: People
    event_id: int
    notification_id: int
    event_start: str
    sessions: dict[str, Actor] = field(default_factory=dict)
    # The editor's feed (``setup="feed"``): its id and secret.
    feed: dict[str, Any] = field(default_factory=lambda: {"id": 0, "token": "none"})

    @property
    def client(self) -> httpx.AsyncClient:
        return self.people.client

    @property
    def actors(self) -> dict[str, Actor]:
        return self.people.actors

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller == "expired":
            return {"Authorization": f"Bearer {self.expired_token()}"}
        return self.sessions.get(caller, self.actors[caller]).headers

    def token(self, caller: str) -> str | None:
        header = self.headers(caller).get("Authorization")
        return header.removeprefix("Bearer ") if header else None

    def expired_token(self) -> str:
        """The owner's token for the owner's live login, expired a minute ago."""
        settings = self.people.app.state.services.settings
        claims = claims_of(self.actors["owner"].access_token)
        long_ago = datetime.now(UTC) - timedelta(minutes=settings.access_token_minutes + 1)
        token, _, _ = create_token(
            settings,
            user_id=int(claims["sub"]),
            session_id=claims["sid"],
            token_type="access",
            now=long_ago,
        )
        return token


@pytest.fixture(scope="module")
def matrix_database(
    database_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with module_database(database_template, tmp_path_factory.mktemp("matrix")) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def people(matrix_database: str) -> AsyncIterator[People]:
    redis_url = os.environ.get("CALENDO_TEST_REDIS_URL") if BACKEND == "postgres" else None
    app = create_app(make_settings(matrix_database, redis_url))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with GuardedClient(transport=transport, base_url="http://testserver") as client:
            names = ("owner", "editor", "viewer", "stranger")
            actors = {name: await register(client, name) for name in names}
            yield People(client, app, actors)


async def _login(client: httpx.AsyncClient, actor: Actor) -> Actor:
    """A new login (session) of the same account."""
    body = {"username": actor.username, "password": actor.password}
    response = await client.post("/api/auth/login", json=body)
    assert response.status_code == 200, response.text
    tokens = response.json()
    return replace(
        actor, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"]
    )


async def new_scene(people: People) -> Scene:
    """A fresh shared event at version 2, and the editor's notification about it."""
    client, actors = people.client, people.actors
    owner = actors["owner"].headers
    created = await client.post(
        "/api/events", json=_event_payload(), params={"conflict_strategy": "allow"}, headers=owner
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    share = {"users": [{"user_id": actors[r].id, "role": r} for r in ("editor", "viewer")]}
    shared = await client.post(f"/api/events/{event_id}/share", json=share, headers=owner)
    assert shared.status_code == 200, shared.text
    update = await client.put(f"/api/events/{event_id}", json={"title": "v2"}, headers=owner)
    assert update.status_code == 200, update.text
    inbox = await client.get("/api/notifications", headers=actors["editor"].headers)
    notification = next(n for n in inbox.json()["items"] if n["event_id"] == event_id)
    return Scene(people, event_id, notification["id"], created.json()["start_time"])


def _event_payload() -> dict[str, Any]:
    """A new event on a day of its own (no scheduling conflict)."""
    day = datetime(2031, 1, 1, 9, tzinfo=UTC) + timedelta(days=next(DAYS))
    return {
        "title": "Matrix",
        "start_time": day.isoformat(),
        "end_time": (day + timedelta(hours=1)).isoformat(),
    }


def _body(scene: Scene, method: str, path: str) -> Any:
    """A valid body for the route, or None."""
    owner = scene.actors["owner"]
    account = scene.sessions.get("account", owner)
    n = next(DAYS)
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/auth/register"): {
            "username": f"newcomer{n}",
            "email": f"newcomer{n}@example.com",
            "password": "s3cret-pass",
        },
        ("POST", "/api/auth/login"): {"username": owner.username, "password": owner.password},
        ("POST", "/api/auth/refresh"): {
            "refresh_token": scene.sessions.get("refresh", owner).refresh_token
        },
        ("POST", "/api/events"): _event_payload(),
        ("POST", "/api/events/batch"): {"events": [_event_payload()]},
        ("POST", "/api/events/conflicts"): {
            k: v for k, v in _event_payload().items() if k != "title"
        },
        ("POST", "/api/transactions"): {
            "operations": [{"op": "create", "event": _event_payload()}]
        },
        ("PUT", "/api/events/{event_id}"): {"title": "Changed"},
        ("PATCH", "/api/events/{event_id}"): {"location": "Room 2"},
        ("PATCH", "/api/events/{event_id}/occurrences/{recurrence_id}"): {"title": "Own"},
        ("POST", "/api/events/{event_id}/split"): {
            "recurrence_id": (
                datetime.fromisoformat(scene.event_start) + timedelta(hours=1)
            ).isoformat(),
            "dry_run": True,
        },
        ("POST", "/api/events/{event_id}/share"): {
            "users": [{"user_id": scene.actors["stranger"].id, "role": "viewer"}]
        },
        ("PUT", "/api/events/{event_id}/permissions/{user_id}"): {"role": "editor"},
        ("PATCH", "/api/auth/me"): {"timezone": "Europe/Berlin"},
        ("POST", "/api/auth/me/password"): {
            "current_password": account.password,
            "new_password": "an0ther-s3cret",
        },
        ("DELETE", "/api/auth/me"): {"password": account.password},
        ("POST", "/api/feeds"): {"name": "Phone"},
    }
    return bodies.get((method, path))


def _url(scene: Scene, path: str) -> str:
    return path.format(
        event_id=scene.event_id,
        user_id=scene.actors["viewer"].id,
        version_id=1,
        version_id1=1,
        version_id2=2,
        notification_id=scene.notification_id,
        feed_id=scene.feed["id"],
        token=scene.feed["token"],
        recurrence_id=scene.event_start,
    )


def _calendar_file() -> bytes:
    """An iCalendar file of one new event on a day of its own (``POST /api/events/import``)."""
    event = _event_payload()
    start, end = (
        datetime.fromisoformat(event[k]).strftime("%Y%m%dT%H%M%SZ")
        for k in ("start_time", "end_time")
    )
    return (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"
        f"UID:matrix-{next(DAYS)}@example.com\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
        "SUMMARY:Matrix\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


async def _call(scene: Scene, method: str, path: str, caller: str) -> httpx.Response:
    params = {"q": "o"} if path == "/api/users" else {}
    if path == "/api/events/import":
        headers = {**scene.headers(caller), "Content-Type": "text/calendar"}
        return await scene.client.post(path, content=_calendar_file(), headers=headers)
    return await scene.client.request(
        method,
        _url(scene, path),
        json=_body(scene, method, path),
        params=params,
        headers=scene.headers(caller),
    )


# Routes that end a login: the case uses fresh logins so the module's tokens stay valid.
SESSION_ROUTES = {("POST", "/api/auth/logout"), ("POST", "/api/auth/refresh")}


async def _prepare(scene: Scene, route: tuple[str, str], caller: str) -> None:
    if route in SESSION_ROUTES:
        scene.sessions["refresh"] = await _login(scene.client, scene.actors["owner"])
        if caller in scene.actors:
            scene.sessions[caller] = await _login(scene.client, scene.actors[caller])
    if TABLE[route].setup == "account" and caller in scene.actors:
        account = await register(scene.client, f"account{next(DAYS)}")
        scene.sessions["account"] = scene.sessions[caller] = account
    if TABLE[route].setup == "feed":
        created = await scene.client.post(
            "/api/feeds", json={"name": "Matrix"}, headers=scene.headers("editor")
        )
        assert created.status_code == 201, created.text
        scene.feed = created.json()
    if TABLE[route].setup == "series":
        series = await scene.client.put(
            f"/api/events/{scene.event_id}",
            # Two hourly occurrences on the scene's own day: no later event's day meets them.
            json={"recurrence_pattern": "FREQ=HOURLY;COUNT=2"},
            headers=scene.headers("owner"),
        )
        assert series.status_code == 200, series.text
    if TABLE[route].setup == "deleted":
        deleted = await scene.client.delete(
            f"/api/events/{scene.event_id}", headers=scene.headers("owner")
        )
        assert deleted.status_code == 204, deleted.text


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("route", "caller"), _cases())
async def test_route_answers_caller_as_the_contract_says(
    people: People, route: tuple[str, str], caller: str | None
) -> None:
    method, path = route
    assert caller is not None and route in TABLE, (
        f"{method} {path} has no entry in TABLE (tests/security/test_authz_matrix.py): "
        "classify it with its minimum role"
    )
    scene = await new_scene(people)
    await _prepare(scene, route, caller)
    expected = expected_status(TABLE[route], caller)
    if method == WS:
        outcome = await ws_outcome(scene.people.app, scene.token(caller))
        assert outcome in expected if isinstance(expected, frozenset) else outcome == expected
        return
    response = await _call(scene, method, path, caller)
    assert response.status_code == expected, f"{caller}: {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    if response.status_code == 401:
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_table_names_only_existing_routes() -> None:
    stale = sorted(set(TABLE) - set(ROUTES))
    assert not stale, f"TABLE entries for routes that no longer exist: {stale}"
