"""Operational endpoints, the error model, rate limits and body limits."""

from __future__ import annotations

import re

import httpx
import pytest
from asgi_lifespan import LifespanManager

from calendo.app import create_app
from tests.conftest import make_settings
from tests.helpers import Actor, assert_problem, register


async def test_health(client: httpx.AsyncClient, settings) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok" if settings.redis_url else "disabled",
    }


async def test_health_503_when_database_unreachable() -> None:
    # Port 1 refuses connections at once: no driver thread outlives the test.
    app = create_app(make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/calendo", None))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] != "ok"


async def test_metrics_exposes_request_counts(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'calendo_http_requests_total{method="GET",route="/health",status="200"}' in response.text
    assert "calendo_http_request_duration_seconds_bucket" in response.text
    assert "calendo_websocket_connections" in response.text


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/does-not-exist"), 404)
    assert_problem(await client.delete("/api/auth/login"), 405)


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"


async def test_openapi_documents_problems_and_msgpack(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "Problem" in schema["components"]["schemas"]
    register_op = schema["paths"]["/api/auth/register"]["post"]
    assert "application/msgpack" in register_op["requestBody"]["content"]
    assert {"406", "408", "409", "415", "422", "429", "431", "503"} <= register_op[
        "responses"
    ].keys()
    paths = schema["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            if path.startswith("/api"):
                assert "431" in operation["responses"], (method, path)
                assert ("503" in operation["responses"]) == (method != "get"), (method, path)
    login_body = schema["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in login_body
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413, "payload-too-large")


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422)


async def test_auth_rate_limit(database_url: str, redis_url: str | None) -> None:
    settings = make_settings(
        database_url, redis_url, rate_limit_enabled=True, rate_limit_auth="3/minute"
    )
    app = create_app(settings)
    async with LifespanManager(app):
        await app.state.limiter.reset()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            payload = {"username": "nobody", "password": "whatever-1"}
            statuses = []
            for _ in range(4):
                response = await client.post("/api/auth/login", json=payload)
                statuses.append(response.status_code)
                assert response.headers["ratelimit-limit"] == "3"
            assert statuses == [401, 401, 401, 429]
            body = assert_problem(response, 429, "rate-limited")
            assert int(response.headers["retry-after"]) >= 1
            assert response.headers["ratelimit-remaining"] == "0"
            assert "3 per" in body["detail"]


async def test_user_rate_limit_is_per_user(database_url: str, redis_url: str | None) -> None:
    settings = make_settings(
        database_url,
        redis_url,
        rate_limit_enabled=True,
        rate_limit_default="2/minute",
        rate_limit_auth="100/minute",
    )
    app = create_app(settings)
    async with LifespanManager(app):
        await app.state.limiter.reset()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            alice: Actor = await register(client, "alice")
            bob: Actor = await register(client, "bobby")
            codes = [
                (await client.get("/api/auth/me", headers=alice.headers)).status_code
                for _ in range(3)
            ]
            assert codes == [200, 200, 429]
            assert (await client.get("/api/auth/me", headers=bob.headers)).status_code == 200


def test_log_lines_never_carry_tokens() -> None:
    import logging

    from calendo.core.observability import RedactTokens

    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        (("127.0.0.1", 5000), "/api/notifications/ws?token=eyJhbGci.abc.def&since=4"),
        None,
    )
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert "eyJhbGci" not in line
    assert "token=[redacted]&since=4" in line


def _asset_urls(html: str) -> list[str]:
    """Every script, stylesheet and icon a docs page loads, and any absolute URL in it."""
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""["'`](?:https?:)?//[^"'`]+""", html
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_their_assets_from_calendo(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    urls = _asset_urls(response.text)
    assert urls, "the page loads its UI from somewhere"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        kind = asset.headers["content-type"].split(";")[0]
        expected = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
        assert kind == expected[url[url.rindex(".") :]], (url, kind)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, f"{page} runs a script of its own"


async def test_swagger_oauth2_redirect_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text


async def test_the_websocket_feed_is_described_in_openapi(client: httpx.AsyncClient) -> None:
    """The feed is no HTTP operation, so the API description documents it."""
    description = (await client.get("/openapi.json")).json()["info"]["description"]
    for needed in ("/api/notifications/ws", "since=", "4401", "4408", "4429", "ping"):
        assert needed in description
