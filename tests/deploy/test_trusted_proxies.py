"""Behind a load balancer: forwarded headers count from ``CALENDO_TRUSTED_PROXIES`` only.

From a trusted proxy, ``X-Forwarded-For`` is the client: its audit rows carry that address and
it has a per-IP auth budget of its own. From anyone else the header is ignored, so a client
cannot pick its audit address or a fresh budget by sending one (``core/proxy.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from calendo.app import create_app
from calendo.core.config import Settings
from calendo.core.proxy import TrustedProxyMiddleware
from tests.conftest import make_settings
from tests.helpers import Actor, register

PROXY = "10.0.3.7"  # inside the trusted network
STRANGER = "198.51.100.9"  # a peer that is no proxy of ours
CLIENT = "203.0.113.7"
OTHER_CLIENT = "203.0.113.8"

Peer = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def app(database_url: str, redis_url: str | None) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url,
        redis_url,
        trusted_proxies="10.0.0.0/8, 127.0.0.1",
        rate_limit_enabled=True,
        rate_limit_auth="2/minute",
    )
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
def peer(app: FastAPI) -> Peer:
    """A client whose TCP peer address is the given one."""

    def connect(address: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    return connect


async def _audit_ips(client: httpx.AsyncClient, actor: Actor) -> dict[str, str | None]:
    response = await client.get("/api/audit", headers=actor.headers)
    assert response.status_code == 200, response.text
    return {item["action"]: item["ip"] for item in response.json()["items"]}


async def _failed_login(client: httpx.AsyncClient, forwarded_for: str) -> int:
    response = await client.post(
        "/api/auth/login",
        json={"username": "nobody", "password": "wrong-password"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


@pytest.mark.parametrize(
    ("peer_address", "forwarded_for", "audited"),
    [
        pytest.param(PROXY, CLIENT, CLIENT, id="trusted proxy: the client it forwards"),
        # The client sent "X-Forwarded-For: 1.2.3.4"; our proxy appended the address it saw.
        pytest.param(PROXY, f"1.2.3.4, {CLIENT}", CLIENT, id="trusted proxy: a forged hop"),
        pytest.param(STRANGER, CLIENT, STRANGER, id="untrusted peer: header ignored"),
    ],
)
async def test_audit_rows_carry_the_client_only_a_trusted_proxy_names(
    peer: Peer, peer_address: str, forwarded_for: str, audited: str
) -> None:
    async with peer(peer_address) as client:
        client.headers["X-Forwarded-For"] = forwarded_for
        alice = await register(client, "alice")
        assert await _audit_ips(client, alice) == {"register": audited}


async def test_each_client_behind_the_proxy_has_its_own_auth_budget(peer: Peer) -> None:
    async with peer(PROXY) as client:
        assert [await _failed_login(client, CLIENT) for _ in range(3)] == [401, 401, 429]
        # Another client behind the same proxy is not refused for the first one's failures.
        assert await _failed_login(client, OTHER_CLIENT) == 401
        assert await _failed_login(client, CLIENT) == 429


async def test_an_untrusted_peer_gets_no_fresh_budget_from_a_forwarded_header(
    peer: Peer,
) -> None:
    async with peer(STRANGER) as client:
        statuses = [await _failed_login(client, f"203.0.113.{n}") for n in range(1, 4)]
    assert statuses == [401, 401, 429]
    # The budget spent was the peer's own: a client behind the proxy still has its budget.
    async with peer(PROXY) as client:
        assert await _failed_login(client, CLIENT) == 401


async def test_without_the_setting_no_forwarded_header_is_believed(
    database_url: str, redis_url: str | None
) -> None:
    settings = make_settings(database_url, redis_url)
    assert settings.trusted_proxies == []
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.headers["X-Forwarded-For"] = CLIENT
            alice = await register(client, "alice")
            assert await _audit_ips(client, alice) == {"register": "127.0.0.1"}


async def _seen_scope(
    trusted: list[str], peer_address: str, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """What an app behind the middleware sees of client and scheme."""
    seen: dict[str, Any] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(client=scope["client"], scheme=scope["scheme"])

    middleware = TrustedProxyMiddleware(inner, trusted=trusted)
    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer_address, 40000),
        "headers": headers,
        "path": "/",
    }

    async def receive() -> Any:
        raise AssertionError("not read")

    async def send(message: Any) -> None:
        raise AssertionError("not sent")

    await middleware(scope, receive, send)
    return seen


async def test_the_scheme_comes_from_a_trusted_proxy_only() -> None:
    headers = [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", CLIENT.encode())]
    trusted = await _seen_scope(["10.0.0.0/8"], PROXY, headers)
    assert trusted == {"client": (CLIENT, 0), "scheme": "https"}
    untrusted = await _seen_scope(["10.0.0.0/8"], STRANGER, headers)
    assert untrusted == {"client": (STRANGER, 40000), "scheme": "http"}


@pytest.mark.parametrize("value", ["*", "10.0.0.0/33", "proxy.internal", "10.0.0.1 10.0.0.2"])
def test_a_malformed_proxy_address_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="CALENDO_TRUSTED_PROXIES"):
        Settings(_env_file=None, trusted_proxies=value)  # type: ignore[call-arg]


def test_proxy_addresses_are_read_comma_separated_and_normalised() -> None:
    settings = Settings(_env_file=None, trusted_proxies=" 10.0.0.0/8,192.0.2.1 , ::1")  # type: ignore[call-arg]
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.0.2.1/32", "::1/128"]
