"""One user holds at most CALENDO_WS_MAX_PER_USER live feeds per process (a real server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from calendo.core.errors import WS_TOO_MANY
from tests.helpers import Actor, register
from tests.servers import Server, free_port, server_env, start_server, stop_server, wait_healthy

CAP = 3


@pytest.fixture
def server(database_url: str, redis_url: str | None, tmp_path: Path) -> Iterator[Server]:
    env = server_env(database_url, redis_url, free_port(), CALENDO_WS_MAX_PER_USER=str(CAP))
    running = start_server("capped", tmp_path, env)
    try:
        wait_healthy(running)
        yield running
    finally:
        stop_server(running)


async def _open(stack: AsyncExitStack, server: Server, actor: Actor) -> ClientConnection:
    ws = await stack.enter_async_context(connect(f"{server.ws_url}?token={actor.access_token}"))
    return ws


async def _closed_with(ws: ClientConnection) -> int | None:
    with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
        while True:
            await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def _alive(ws: ClientConnection) -> None:
    """A ping answered: the socket is open (a closed one raises ConnectionClosed)."""
    pong = await ws.ping()
    with anyio.fail_after(5):
        await pong


async def test_one_feed_over_the_cap_is_closed_4429_the_others_keep_working(
    server: Server,
) -> None:
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
        owner = await register(client, "capowner")
        other = await register(client, "capother")
        async with AsyncExitStack() as stack:
            feeds = [await _open(stack, server, owner) for _ in range(CAP)]
            extra = await _open(stack, server, owner)
            assert await _closed_with(extra) == WS_TOO_MANY
            # Another user is not counted against the owner's cap.
            others = [await _open(stack, server, other) for _ in range(CAP)]
            for ws in [*feeds, *others]:
                await _alive(ws)
            created = await client.post(
                "/api/events",
                json={
                    "title": "Shared",
                    "start_time": "2026-06-01T09:00:00Z",
                    "end_time": "2026-06-01T10:00:00Z",
                },
                headers=owner.headers,
            )
            assert created.status_code == 201, created.text
            share = {"users": [{"user_id": other.id, "role": "editor"}]}
            shared = await client.post(
                f"/api/events/{created.json()['id']}/share", json=share, headers=owner.headers
            )
            assert shared.status_code == 200, shared.text
            renamed = await client.patch(
                f"/api/events/{created.json()['id']}", json={"title": "x"}, headers=other.headers
            )
            assert renamed.status_code == 200, renamed.text
            for ws in feeds:  # every feed within the cap still delivers
                with anyio.fail_after(5):
                    message = json.loads(await ws.recv())
                    while message["type"] == "ping":
                        message = json.loads(await ws.recv())
                assert message["type"] == "event_updated"
            await feeds[0].close()
            await anyio.sleep(0.2)
            replacement = await _open(stack, server, owner)  # a freed seat is taken again
            await _alive(replacement)
