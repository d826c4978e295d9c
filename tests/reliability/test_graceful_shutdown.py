"""SIGTERM on a real server: the request in flight finishes, live feeds get 1001 (going away),
and a feed that reconnects elsewhere with ``since`` gets what committed meanwhile.

The request is held in flight without any sleep: it is sent with ``Expect: 100-continue`` and
its body is withheld until the server answers ``100 Continue``, which uvicorn does only once
the app is reading the body. SIGTERM goes in then; the body only after the feed has been
closed, that is after shutdown has begun. Defences: ``core/serving.py`` (the close code) and
uvicorn's ``timeout_graceful_shutdown`` (``CALENDO_GRACEFUL_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from calendo.core.serving import GOING_AWAY
from tests.helpers import Actor, register
from tests.servers import Server, free_port, server_env, start_server, stop_server, wait_healthy

pytestmark = pytest.mark.slow


def _server(name: str, database_url: str, redis_url: str | None, workdir: Path) -> Server:
    env = server_env(database_url, redis_url, free_port(), CALENDO_BODY_READ_TIMEOUT_SECONDS="60")
    server = start_server(name, workdir, env)
    wait_healthy(server)
    return server


async def _create_event(http: httpx.AsyncClient, owner: Actor, title: str, day: int) -> int:
    window = {
        "start_time": f"2030-01-{day:02}T09:00:00Z",
        "end_time": f"2030-01-{day:02}T10:00:00Z",
    }
    response = await http.post(
        "/api/events", headers=owner.headers, json={"title": title, **window}
    )
    assert response.status_code == 201, response.text
    event_id: int = response.json()["id"]
    return event_id


def _share_body(user: Actor) -> bytes:
    return json.dumps({"users": [{"user_id": user.id, "role": "viewer"}]}).encode()


async def _start_share(server: Server, owner: Actor, event_id: int, body: bytes) -> Any:
    """Send a share request's head with ``Expect: 100-continue``; return once the app reads."""
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /api/events/{event_id}/share HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {owner.access_token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    writer.write(head.encode())
    await writer.drain()
    with anyio.fail_after(10):
        interim = await reader.readuntil(b"\r\n\r\n")
    assert interim.startswith(b"HTTP/1.1 100 "), interim
    return reader, writer


async def _finish(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes
) -> tuple[int, dict[str, Any]]:
    """Send the withheld body; the status and JSON of the response (the server then closes)."""
    writer.write(body)
    await writer.drain()
    with anyio.fail_after(20):
        raw = await reader.read()  # until EOF: a shutting-down server closes after responding
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(payload)


async def _next(ws: ClientConnection) -> dict[str, Any]:
    """The next notification (pings skipped)."""
    with anyio.fail_after(10):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message.get("type") != "ping":
                return message


def _feed(server: Server, user: Actor, since: int) -> Any:
    return connect(f"{server.ws_url}?token={user.access_token}&since={since}", proxy=None)


async def test_sigterm_finishes_the_request_in_flight_and_closes_feeds_with_1001(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    first = _server("first", database_url, redis_url, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=first.url, trust_env=False, timeout=10) as http:
            alice = await register(http, "alice")
            bob = await register(http, "bob")
            lunch = await _create_event(http, alice, "Lunch", day=7)
            review = await _create_event(http, alice, "Review", day=8)
            shared = await http.post(
                f"/api/events/{lunch}/share",
                headers={**alice.headers, "Content-Type": "application/json"},
                content=_share_body(bob),
            )
            assert shared.status_code == 200, shared.text

        async with _feed(first, bob, since=0) as feed:
            seen = await _next(feed)  # the replay: Lunch was shared with bob
            assert (seen["type"], seen["event_id"]) == ("event_shared", lunch)
            body = _share_body(bob)
            reader, writer = await _start_share(first, alice, review, body)

            first.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                await _next(feed)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == GOING_AWAY
            assert "since" in closed.value.rcvd.reason

            # Shutdown has begun (the feed is closed): the request in flight still completes.
            status, shares = await _finish(reader, writer, body)
        assert status == 200, shares
        assert {s["user_id"]: s["role"] for s in shares}[bob.id] == "viewer"
        # uvicorn re-raises the signal once its shutdown is complete (exit status 143 in a shell).
        assert first.process.wait(timeout=30) == -signal.SIGTERM, first.log_tail()
        assert "Application shutdown complete" in first.log_tail()
    finally:
        stop_server(first)

    # Bob resumes on another process with since: the share committed during shutdown is there.
    second = _server("second", database_url, redis_url, tmp_path)
    try:
        async with _feed(second, bob, since=seen["id"]) as feed:
            missed = await _next(feed)
        assert (missed["type"], missed["event_id"]) == ("event_shared", review)
        assert missed["id"] > seen["id"]
    finally:
        stop_server(second)
