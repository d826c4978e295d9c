"""Fixtures: a fresh database per test on SQLite or PostgreSQL, the app, a client, actors.

The backend comes from ``CALENDO_TEST_BACKEND`` (``sqlite`` by default, ``postgres`` to use
``CALENDO_TEST_POSTGRES_URL`` together with ``CALENDO_TEST_REDIS_URL``). SQLite tests copy a
migrated template file; PostgreSQL tests share one migrated database, truncated after each test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from calendo.__main__ import migrate
from calendo.app import create_app
from calendo.core.config import Settings
from calendo.models import Base
from tests.helpers import Actor, register

BACKEND = os.environ.get("CALENDO_TEST_BACKEND", "sqlite")
# ``CALENDO_FAST_PATH=off`` runs the suite on the slow path: every statement through
# ``Connection.execute``, SQLite on aiosqlite (``core.db.create_engine``).
FAST_PATH = os.environ.get("CALENDO_FAST_PATH", "on")
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def pytest_report_header() -> str:
    """Say which backend this run uses."""
    return f"calendo backend: {BACKEND}, fast path {FAST_PATH}"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _sqlalchemy_pg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return url.replace("postgresql://", "postgresql+asyncpg://", 1)
    return url


async def _recreate_pg_database(url: str) -> None:
    dsn = _asyncpg_dsn(url)
    base, _, name = dsn.rpartition("/")
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run: a template SQLite file, or the PostgreSQL test database."""
    if BACKEND == "postgres":
        url = _sqlalchemy_pg_url(os.environ["CALENDO_TEST_POSTGRES_URL"])
        asyncio.run(_recreate_pg_database(url))
        migrate(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    if BACKEND == "postgres":
        yield database_template
        asyncio.run(_truncate(database_template))
        return
    path = tmp_path / "calendo.db"
    shutil.copyfile(database_template, path)
    yield f"sqlite+aiosqlite:///{path}"


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def redis_url() -> Iterator[str | None]:
    """The Redis of the PostgreSQL run (flushed around each test), or None."""
    if BACKEND != "postgres":
        yield None
        return
    url = os.environ["CALENDO_TEST_REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def make_settings(database_url: str, redis_url: str | None, **overrides: object) -> Settings:
    """Test settings: cheap Argon2, limits off unless a test turns them on, the fast path as
    ``CALENDO_FAST_PATH`` says."""
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "redis_url": redis_url,
        "secret_key": SECRET,
        "rate_limit_enabled": False,
        "argon2_time_cost": 1,
        "argon2_memory_cost": 64,
        "fast_path": FAST_PATH,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    return make_settings(database_url, redis_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Actor:
    return await register(client, "owner")


@pytest.fixture
async def editor(client: httpx.AsyncClient) -> Actor:
    return await register(client, "editor")


@pytest.fixture
async def viewer(client: httpx.AsyncClient) -> Actor:
    return await register(client, "viewer")


@pytest.fixture
async def stranger(client: httpx.AsyncClient) -> Actor:
    return await register(client, "stranger")


# Event factories, shared by every domain's tests.
from tests.events.conftest import make_event, shared_event  # noqa: E402, F401
