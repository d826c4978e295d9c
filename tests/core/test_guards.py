"""Oversized header blocks get 431 before any token is read; a stalled body gets 408."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from calendo.core.config import Settings
from calendo.core.guards import GuardMiddleware
from calendo.core.security import TokenVerifier
from tests.conftest import make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem

BODY_TIMEOUT = 0.2


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    return make_settings(database_url, redis_url, body_read_timeout_seconds=BODY_TIMEOUT)


async def test_a_40_kb_header_block_gets_431_and_no_token_decode(
    client: httpx.AsyncClient, owner: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes: list[str] = []
    real = TokenVerifier.decode

    def counting(self: TokenVerifier, token: str, **kwargs: object) -> object:
        decodes.append(token)
        return real(self, token, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(TokenVerifier, "decode", counting)
    huge = {"authorization": "Bearer " + "a" * 40_000}
    response = await client.get("/api/events", headers=huge)
    assert_problem(response, 431, "header-fields-too-large")
    assert "16384" in response.json()["detail"]
    assert decodes == []
    padded = {**owner.headers, "x-padding": "p" * 17_000}
    assert_problem(await client.get("/api/events", headers=padded), 431, "header-fields-too-large")
    ok = await client.get("/api/events", headers={**owner.headers, "x-padding": "p" * 8_000})
    assert ok.status_code == 200, ok.text


async def test_a_websocket_handshake_with_huge_headers_is_refused() -> None:
    """Refused before the app: no token read, no subscription, close 1008 (HTTP 403)."""
    reached: list[Scope] = []
    sent: list[Message] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    guard = GuardMiddleware(inner, max_header_bytes=16_384, body_timeout=BODY_TIMEOUT)
    scope: Scope = {"type": "websocket", "path": "/api/notifications/ws", "headers": []}
    await guard({**scope, "headers": [(b"x-padding", b"p" * 20_000)]}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}] and reached == []
    await guard({**scope, "headers": [(b"x-padding", b"p" * 8_000)]}, receive, send)
    assert len(reached) == 1 and len(sent) == 1


async def test_a_stalled_body_gets_408_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    """A client that sends half a body and stops is answered, and no event is created."""
    sent: list[Message] = []
    first = b'{"title": "Stalled", '
    chunks: asyncio.Queue[Message] = asyncio.Queue()
    chunks.put_nowait({"type": "http.request", "body": first, "more_body": True})

    async def receive() -> Message:
        return await chunks.get()  # never delivers the rest

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(k.encode(), v.encode()) for k, v in owner.headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/events",
        "raw_path": b"/api/events",
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-type", b"application/json"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"request-timeout" in body
    listed = await client.get("/api/events", headers=owner.headers)
    assert listed.status_code == 200 and listed.json()["items"] == []


async def test_a_streamed_body_that_keeps_coming_is_not_cut(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """The deadline is per chunk: a slow but steady upload within it succeeds."""

    async def slow_body():  # type: ignore[no-untyped-def]
        for part in (
            b'{"title": "Steady", ',
            b'"start_time": "2026-05-01T10:00:00Z", ',
            b'"end_time": "2026-05-01T11:00:00Z"}',
        ):
            await asyncio.sleep(BODY_TIMEOUT / 2)
            yield part

    response = await client.post(
        "/api/events",
        content=slow_body(),
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text


async def test_head_is_the_get_without_its_content(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """RFC 9110, 9.3.2: the GET's status and headers, no body; refusals keep their status."""
    event = await make_event(owner)
    url = f"/api/events/{event['id']}"
    got = await client.get(url, headers=owner.headers)
    head = await client.head(url, headers=owner.headers)
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "content-type", "content-length", "cache-control"):
        assert head.headers.get(name) == got.headers.get(name), name
    assert int(head.headers["content-length"]) == len(got.content) > 0
    fresh = await client.head(url, headers={**owner.headers, "If-None-Match": got.headers["etag"]})
    assert fresh.status_code == 304
    assert (await client.head("/health")).status_code == 200
    refused = await client.head(url)
    assert refused.status_code == 401 and refused.content == b""
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.head("/api/events/2147483647", headers=owner.headers)).status_code == 404
    # A path that has no GET is still a 405, and HEAD writes nothing; a 405's Allow names
    # HEAD wherever it names GET (RFC 9110, 15.5.6: the methods the resource supports).
    no_get = await client.head("/api/auth/register")
    assert (no_get.status_code, no_get.headers["allow"]) == (405, "POST")
    refused = await client.patch("/health")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")
    assert refused.json()["status"] == 405
    listed = await client.get("/api/events", headers=owner.headers)
    assert [item["id"] for item in listed.json()["items"]] == [event["id"]]
