"""Two real server processes on one PostgreSQL and one Redis must behave as one service:
rate limits are shared, a logout on one is a logout on both, a feed revoked on one is refused
by both, and what one caches the other never serves stale (content or access).

Defences: the limiter's Redis storage (``core/ratelimit.py``), the login session checked in
the database on every request (``auth/repository.live_username``), cache keys that
embed the event version and an access check before every cache read (``core/cache.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import BACKEND
from tests.security.support import guarded
from tests.servers import Server, running_cluster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BACKEND != "postgres",
        reason="needs two server processes on PostgreSQL + Redis: run with "
        "CALENDO_TEST_BACKEND=postgres, CALENDO_TEST_POSTGRES_URL and CALENDO_TEST_REDIS_URL",
    ),
]

WINDOW = {"start_time": "2026-06-01T00:00:00Z", "end_time": "2026-06-15T00:00:00Z"}


@pytest.fixture(scope="module")
def shared_cluster(
    database_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """One pair for the module's unlimited tests (starting servers is the slow part)."""
    redis_url = os.environ["CALENDO_TEST_REDIS_URL"]
    with running_cluster(database_template, redis_url, tmp_path_factory.mktemp("cluster")) as pair:
        yield pair


@pytest.fixture
def cluster(
    shared_cluster: tuple[Server, Server], database_url: str, redis_url: str | None
) -> tuple[Server, Server]:
    """The shared pair, with the database truncated and Redis flushed around each test."""
    del database_url, redis_url
    return shared_cluster


@pytest.fixture
def limited_cluster(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> Iterator[tuple[Server, Server]]:
    limits = {
        "CALENDO_RATE_LIMIT_ENABLED": "true",
        "CALENDO_RATE_LIMIT_AUTH": "3/minute",
        "CALENDO_RATE_LIMIT_DEFAULT": "2/minute",
    }
    with running_cluster(database_url, redis_url, tmp_path, **limits) as servers:
        yield servers


def http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=10, trust_env=False)


async def register(client: httpx.AsyncClient, server: Server, name: str) -> dict[str, Any]:
    body = {"username": name, "email": f"{name}@example.com", "password": "s3cret-pass"}
    response = await client.post(server.url + "/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    account["headers"] = {"Authorization": f"Bearer {account['access_token']}"}
    return account


async def test_rate_limits_are_shared_by_the_processes(
    limited_cluster: tuple[Server, Server],
) -> None:
    a, b = limited_cluster
    bad = {"username": "nobody", "password": "wrong-password"}
    async with http() as client:
        # A registration counts in the success budget, not in the failed-login one.
        user = await register(client, a, "limited")
        statuses = [
            (await client.post(server.url + "/api/auth/login", json=bad)).status_code
            for server in (b, a, b)
        ]
        assert statuses == [401, 401, 401], statuses
        last = await client.post(a.url + "/api/auth/login", json=bad)
        assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
        assert last.headers["ratelimit-remaining"] == "0"
        me = [
            (await client.get(server.url + "/api/auth/me", headers=user["headers"])).status_code
            for server in (a, b, a)
        ]
        assert me == [200, 200, 429], me


async def _ws_close_code(server: Server, token: str) -> int | None:
    """The close code the socket gets before any message (None if it stays open 1 s)."""
    async with connect(f"{server.ws_url}?token={token}", proxy=None, open_timeout=5) as ws:
        try:
            await guarded(ws.recv(), seconds=1)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except TimeoutError:
            return None
    return None


async def test_logout_on_one_process_is_a_logout_on_the_other(
    cluster: tuple[Server, Server],
) -> None:
    a, b = cluster
    async with http() as client:
        user = await register(client, a, "leaver")
        assert (
            await client.get(b.url + "/api/auth/me", headers=user["headers"])
        ).status_code == 200
        assert await _ws_close_code(b, user["access_token"]) is None
        logout = await client.post(a.url + "/api/auth/logout", headers=user["headers"])
        assert logout.status_code == 204
        after = await client.get(b.url + "/api/auth/me", headers=user["headers"])
        assert after.status_code == 401, after.text
        refresh = await client.post(
            b.url + "/api/auth/refresh", json={"refresh_token": user["refresh_token"]}
        )
        assert refresh.status_code == 401, refresh.text
        assert await _ws_close_code(b, user["access_token"]) in (4401, 1008)


async def test_a_feed_revoked_on_one_process_is_refused_by_the_other(
    cluster: tuple[Server, Server],
) -> None:
    """A feed's secret is looked up on every request (``ical.tokens.open_feed``): no process
    keeps a revoked feed alive, and none serves a rendering it cached before the revoke."""
    a, b = cluster
    async with http() as client:
        user = await register(client, a, "subscriber")
        created = await client.post(
            a.url + "/api/feeds", json={"name": "Phone"}, headers=user["headers"]
        )
        assert created.status_code == 201, created.text
        feed = created.json()
        path = f"/api/feeds/{feed['token']}.ics"
        assert (await client.get(b.url + path)).status_code == 200  # B renders and caches it
        revoked = await client.delete(f"{a.url}/api/feeds/{feed['id']}", headers=user["headers"])
        assert revoked.status_code == 204
        assert (await client.get(b.url + path)).status_code == 404
        assert (await client.get(a.url + path)).status_code == 404


async def _occurrences(
    client: httpx.AsyncClient, server: Server, user: dict[str, Any], event_id: int
) -> httpx.Response:
    return await client.get(
        f"{server.url}/api/events/{event_id}/occurrences", params=WINDOW, headers=user["headers"]
    )


async def test_what_one_process_caches_the_other_never_serves_stale(
    cluster: tuple[Server, Server],
) -> None:
    a, b = cluster
    async with http() as client:
        owner = await register(client, a, "cacheowner")
        viewer = await register(client, a, "cacheviewer")
        series = {
            "title": "Daily",
            "start_time": "2026-06-01T09:00:00Z",
            "end_time": "2026-06-01T09:30:00Z",
            "recurrence_pattern": "FREQ=DAILY;COUNT=30",
        }
        created = await client.post(a.url + "/api/events", json=series, headers=owner["headers"])
        assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        share = {"users": [{"user_id": viewer["user"]["id"], "role": "viewer"}]}
        shared = await client.post(
            f"{a.url}/api/events/{event_id}/share", json=share, headers=owner["headers"]
        )
        assert shared.status_code == 200, shared.text

        for _ in range(2):  # read twice on B: the second read is served from the cache
            before = await _occurrences(client, b, viewer, event_id)
            assert before.status_code == 200, before.text
            assert before.json()["items"][0]["occurrence_start"] == "2026-06-01T09:00:00Z"

        moved = {"start_time": "2026-06-01T14:00:00Z", "end_time": "2026-06-01T14:30:00Z"}
        update = await client.put(
            f"{a.url}/api/events/{event_id}", json=moved, headers=owner["headers"]
        )
        assert update.status_code == 200, update.text
        after = await _occurrences(client, b, viewer, event_id)
        assert after.status_code == 200, after.text
        starts = [item["occurrence_start"] for item in after.json()["items"]]
        assert starts[0] == "2026-06-01T14:00:00Z" and all("T14:00:00" in s for s in starts)

        revoke = await client.delete(
            f"{a.url}/api/events/{event_id}/permissions/{viewer['user']['id']}",
            headers=owner["headers"],
        )
        assert revoke.status_code == 204, revoke.text
        assert (await _occurrences(client, b, viewer, event_id)).status_code == 404
        detail = await client.get(f"{b.url}/api/events/{event_id}", headers=viewer["headers"])
        assert detail.status_code == 404
