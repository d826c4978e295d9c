"""The probes' endpoints and the image's HEALTHCHECK command (``calendo healthcheck``).

Readiness (``/health``) follows PostgreSQL and Redis; liveness (``/health/live``) does not, so
a database outage takes pods out of the load balancer without restarting them all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from calendo.app import create_app
from tests.conftest import make_settings
from tests.servers import free_port, server_env, start_server, stop_server, wait_healthy


async def test_liveness_does_not_follow_the_database() -> None:
    # Port 1 refuses connections at once: the database is down, the process is alive.
    app = create_app(make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/calendo", None))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    http = httpx.AsyncClient(transport=transport, base_url="http://t")
    async with LifespanManager(app), http:
        answers = {path: await http.get(path) for path in ("/health/live", "/health")}
    assert {path: r.status_code for path, r in answers.items()} == {
        "/health/live": 200,
        "/health": 503,
    }
    assert answers["/health/live"].json() == {"status": "ok"}


async def test_liveness_is_documented(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/health/live"]["get"]
    assert operation["tags"] == ["operations"]
    assert operation["summary"].startswith("Liveness")


def _healthcheck(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calendo", "healthcheck"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.slow
def test_the_healthcheck_command_follows_the_server(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    # As in the image: listening on every interface, checked on loopback.
    env = server_env(database_url, redis_url, free_port(), CALENDO_HOST="0.0.0.0")
    server = start_server("health", tmp_path, env)
    try:
        wait_healthy(server)
        assert _healthcheck(env, tmp_path).returncode == 0
    finally:
        stop_server(server)
    down = _healthcheck(env, tmp_path)
    assert down.returncode == 1
    assert f"127.0.0.1:{env['CALENDO_PORT']}/health" in down.stderr
