"""The app through Debian's PgBouncer in transaction mode, in front of the test PostgreSQL.

PgBouncer 1.18 hands each transaction (and each statement outside one) whichever server
connection is free, and does not follow named prepared statements from one to the next. With
``CALENDO_DATABASE_POOLER=pgbouncer`` nothing is prepared under a name (core/db.py); the
first test shows what happens without it, the others run the app's reads, writes, batches and
live-session checks through a pool of two server connections shared by many more clients.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from calendo.app import create_app
from calendo.core.config import Settings
from calendo.core.db import Database, create_engine
from tests.conftest import BACKEND, make_settings
from tests.deploy.tools import daemon_dir, require_tool, stop, unprivileged, wait_for_port
from tests.helpers import Actor, register
from tests.servers import free_port

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres",
    reason="needs PostgreSQL: set CALENDO_TEST_BACKEND=postgres and CALENDO_TEST_POSTGRES_URL",
)

# Server connections PgBouncer may open to the test database: far fewer than the app's
# clients, so transactions of different client connections take turns on the same ones.
SERVER_POOL = 2
CONCURRENT = 40


@dataclass
class PgBouncer:
    """A running PgBouncer and the URLs of the test database through it."""

    port: int
    database: str

    def url(self, alias: str | None = None) -> str:
        name = alias or self.database
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


def _config(workdir: Path, port: int, database: str) -> Path:
    users = workdir / "users.txt"
    users.write_text('"postgres" ""\n')
    config = workdir / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"{database} = host=127.0.0.1 port=5432 dbname={database} pool_size={SERVER_POOL}\n"
        # One server connection: the control test's two clients must share it.
        f"single = host=127.0.0.1 port=5432 dbname={database} pool_size=1\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {users}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 500\n"
        f"default_pool_size = {SERVER_POOL}\n"
        # A client kept waiting for a server connection fails fast instead of after 120 s.
        "query_wait_timeout = 10\n"
    )
    for path in (users, config):
        path.chmod(0o644)
    return config


@pytest.fixture
def pgbouncer(database_url: str) -> Iterator[PgBouncer]:
    """PgBouncer on a free loopback port, transaction mode, for this test only."""
    binary = require_tool("pgbouncer")
    database = str(make_url(database_url).database)
    port = free_port()
    with daemon_dir() as workdir:
        log = workdir / "pgbouncer.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [binary, str(_config(workdir, port, database))],
                stdout=out,
                stderr=subprocess.STDOUT,
                **unprivileged(),
            )
        try:
            wait_for_port(port, process, log)
            yield PgBouncer(port=port, database=database)
        finally:
            stop(process)


def _settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_pooler": "pgbouncer", "db_pool_size": 3}
    values.update(overrides)
    return make_settings(url, None, **values)


async def _backend_pid(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_named_prepared_statements_break_without_the_setting(pgbouncer: PgBouncer) -> None:
    """The control: with asyncpg's defaults a statement prepared (and cached by name) in one
    transaction is gone when the next transaction of the same client connection lands on
    another server connection."""
    engine = create_engine(_settings(pgbouncer.url(), database_pooler="none"))
    query = text("SELECT count(*) FROM user_account")
    try:
        async with engine.connect() as first, engine.connect() as second:
            await first.execute(query)  # prepared, under a name, on server connection A
            await first.commit()
            await second.execute(text("SELECT 1"))  # second's transaction now holds A
            with pytest.raises(DBAPIError, match=r"prepared statement .* does not exist"):
                await first.execute(query)  # on server connection B
            await second.commit()
    finally:
        await engine.dispose()


async def test_client_connections_share_server_connections(pgbouncer: PgBouncer) -> None:
    """With the setting, six client connections of one engine run their transactions on the
    single server connection, in turn, and every statement works."""
    db = Database(create_engine(_settings(pgbouncer.url("single"))))
    try:
        clients = [await db.engine.connect() for _ in range(6)]
        pids = set()
        for _ in range(3):
            for conn in clients:
                async with conn.begin():
                    pids.add(int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar()))
                    plus = text("SELECT CAST(:n AS integer) + 1")
                    assert (await conn.execute(plus, {"n": len(pids)})).scalar() == len(pids) + 1
        assert len(pids) == 1
        for conn in clients:
            await conn.close()
    finally:
        await db.dispose()


@pytest.fixture
async def bounced(pgbouncer: PgBouncer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app running on the test database through PgBouncer."""
    app = create_app(_settings(pgbouncer.url()))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _event(title: str, day: int) -> dict[str, str]:
    return {
        "title": title,
        "start_time": f"2030-05-{day:02d}T09:00:00Z",
        "end_time": f"2030-05-{day:02d}T10:00:00Z",
    }


async def _create(client: httpx.AsyncClient, actor: Actor, title: str, day: int) -> dict:
    response = await client.post(
        "/api/events",
        json=_event(title, day),
        headers=actor.headers,
        params={"conflict_strategy": "allow"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_the_app_runs_through_pgbouncer(bounced: httpx.AsyncClient) -> None:
    """Creates, updates, a transaction, listings and notifications, one after the other."""
    owner = await register(bounced, "owner")
    editor = await register(bounced, "editor")
    event = await _create(bounced, owner, "Planning", 1)
    shared = await bounced.post(
        f"/api/events/{event['id']}/share",
        json={"users": [{"user_id": editor.id, "role": "editor"}]},
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
    updated = await bounced.put(
        f"/api/events/{event['id']}",
        json={"title": "Planning 2", "version": event["version"]},
        headers=editor.headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == event["version"] + 1
    stale = await bounced.put(
        f"/api/events/{event['id']}",
        json={"title": "Late", "version": event["version"]},
        headers=owner.headers,
    )
    assert stale.status_code == 409, stale.text
    batch = await bounced.post(
        "/api/transactions",
        json={
            "operations": [
                {"op": "create", "event": _event("Batch", 2)},
                {"op": "update", "event_ref": 0, "changes": {"title": "Batch 2"}},
            ]
        },
        headers=owner.headers,
        params={"conflict_strategy": "allow"},
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][1]["title"] == "Batch 2"
    listed = await bounced.get("/api/events", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    assert {item["title"] for item in listed.json()["items"]} == {"Planning 2", "Batch 2"}
    history = await bounced.get(f"/api/events/{event['id']}/history", headers=owner.headers)
    assert history.status_code == 200, history.text
    assert len(history.json()["items"]) == 2
    notes = await bounced.get("/api/notifications", headers=owner.headers)
    assert notes.status_code == 200, notes.text
    assert [n["type"] for n in notes.json()["items"]] == ["event_updated"]
    # The live-session check: a logged-out token is refused on its next request.
    logout = await bounced.post("/api/auth/logout", headers=editor.headers)
    assert logout.status_code == 204, logout.text
    refused = await bounced.get("/api/events", headers=editor.headers)
    assert refused.status_code == 401, refused.text


async def test_concurrent_requests_over_a_small_pool(bounced: httpx.AsyncClient) -> None:
    """Many more requests at once than server connections: every one succeeds, and the
    writes are all there afterwards, each version once."""
    owner = await register(bounced, "owner")
    events = await asyncio.gather(
        *(_create(bounced, owner, f"E{i}", 1 + i % 28) for i in range(CONCURRENT))
    )

    async def update(event: dict) -> int:
        response = await bounced.put(
            f"/api/events/{event['id']}",
            json={"title": event["title"] + "!", "version": event["version"]},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        return int(response.json()["version"])

    async def read(event: dict) -> str:
        response = await bounced.get(f"/api/events/{event['id']}", headers=owner.headers)
        assert response.status_code == 200, response.text
        return str(response.json()["title"])

    versions = await asyncio.gather(*(update(event) for event in events))
    assert versions == [event["version"] + 1 for event in events]
    titles = await asyncio.gather(*(read(event) for event in events))
    assert titles == [event["title"] + "!" for event in events]
    pages = await asyncio.gather(
        *(
            bounced.get("/api/events", headers=owner.headers, params={"limit": 100})
            for _ in range(10)
        )
    )
    for page in pages:
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == CONCURRENT
