"""The broker, the rate limiter and the cache on a Sentinel-managed Redis, across a failover.

The test starts a master and a replica (``redis-server``) and one ``redis-sentinel`` on free
loopback ports, runs the app on ``redis+sentinel://`` URLs, writes through all three, kills
the master and waits for the sentinel to promote the replica. Then the same three keep
working on the new master: the limiter's counts and the cached value carried over by
replication, and the live feed gets every notification, the ones published while Redis was
away from the database (notifications/feed.py). The promotion is over when a command through
the app's own Sentinel-managed pool succeeds, not when the sentinel first names the replica:
for a moment after that it may name no master (core/redis_client.py).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel

from calendo.app import create_app
from calendo.core.deps import Services
from calendo.core.redis_client import PatientSentinel, connect_redis, parse_sentinel_url
from calendo.core.uow import UnitOfWork
from calendo.notifications.service import replay_since
from tests.conftest import make_settings
from tests.deploy.tools import daemon_dir, require_tool, start_redis, stop
from tests.helpers import register
from tests.notifications.factories import create_event_row, feed, next_message, produce
from tests.servers import free_port

SERVICE = "calendo"
LIMIT = 12
HEARTBEAT = 5.0


@dataclass
class Sentinelled:
    """A master, its replica and the sentinel watching them."""

    master_port: int
    replica_port: int
    sentinel_port: int
    master: subprocess.Popen[bytes]  # the master's process, which the test kills

    def url(self, db: int) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/{db}"

    def current_master_port(self) -> int:
        sentinel = redis.Redis(port=self.sentinel_port)
        try:
            _host, port = sentinel.sentinel_get_master_addr_by_name(SERVICE)
            return int(port)
        finally:
            sentinel.close()


def _sentinel_config(workdir: Path, port: int, master_port: int) -> Path:
    config = workdir / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 500\n"
        f"sentinel failover-timeout {SERVICE} 5000\n"
    )
    return config


def _wait(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """Poll ``check`` (a Redis error counts as not yet) until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"still waiting for {what} after {seconds} s")


@pytest.fixture
def sentinelled() -> Iterator[Sentinelled]:
    """A synchronised master and replica, and a sentinel that knows both (quorum 1)."""
    server = require_tool("redis-server")
    sentinel_binary = require_tool("redis-sentinel")
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    with daemon_dir() as workdir:
        master_dir, replica_dir = workdir / "master", workdir / "replica"
        master_dir.mkdir()
        replica_dir.mkdir()
        processes = [start_redis(server, master_dir, master_port)]
        try:
            processes.append(
                start_redis(
                    server, replica_dir, replica_port, "--replicaof", "127.0.0.1", str(master_port)
                )
            )
            replica = redis.Redis(port=replica_port)
            _wait(lambda: replica.info("replication")["master_link_status"] == "up", "the sync")
            replica.close()
            config = _sentinel_config(workdir, sentinel_port, master_port)
            processes.append(start_redis(sentinel_binary, workdir, sentinel_port, str(config)))
            watcher = redis.Redis(port=sentinel_port)
            # The sentinel reads the master's replicas from its INFO, every 10 s after the first.
            _wait(lambda: len(watcher.sentinel_slaves(SERVICE)) == 1, "the sentinel's replica", 30)
            watcher.close()
            yield Sentinelled(master_port, replica_port, sentinel_port, processes[0])
        finally:
            for process in processes:
                stop(process)


@pytest.fixture
async def app(database_url: str, sentinelled: Sentinelled) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url,
        sentinelled.url(0),
        cache_redis_url=sentinelled.url(1),
        rate_limit_enabled=True,
        rate_limit_default=f"{LIMIT}/minute",
        # A publish that fails in the failover is delivered by the next heartbeat's catch-up
        # (notifications/feed.py): one heartbeat must fit in the test's wait for a message.
        ws_heartbeat_seconds=HEARTBEAT,
    )
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


def test_the_url_form() -> None:
    """Sentinels, service and database from the URL; a malformed one is refused."""
    target = parse_sentinel_url("redis+sentinel://:pw@a:26380,b/mymaster/3")
    assert target.sentinels == (("a", 26380), ("b", 26379))
    assert (target.service, target.db, target.password) == ("mymaster", 3, "pw")
    with pytest.raises(ValueError, match="redis\\+sentinel://host:port"):
        connect_redis("redis+sentinel://a:26379/")


async def _reachable_through_sentinel(
    client: aioredis.Redis, port: int, seconds: float = 15
) -> None:
    """Wait until a PING through the client's Sentinel-managed pool reaches ``port``."""
    pool = client.connection_pool
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if await client.ping() and pool.master_address[1] == port:  # type: ignore[attr-defined]
                return
        except redis.RedisError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"no PING through the Sentinel pool to {port} after {seconds} s")


async def test_a_master_lookup_waits_out_a_promotion_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No master named for a moment: the lookup waits for one. Named none for the whole grace:
    it fails, and lookups in the same outage fail at once until a master is named again."""
    answers: list[tuple[str, int] | None] = [None, None, None, ("127.0.0.1", 7001)]

    async def discover(_self: Sentinel, service_name: str) -> tuple[str, int]:
        answer = answers.pop(0) if answers else None
        if answer is None:
            raise MasterNotFoundError(f"No master found for {service_name!r}")
        return answer

    monkeypatch.setattr(Sentinel, "discover_master", discover)
    sentinel = PatientSentinel([("127.0.0.1", 1)], grace=0.5)
    assert await sentinel.discover_master(SERVICE) == ("127.0.0.1", 7001)
    assert sentinel.lookups_waited == 1
    started = time.monotonic()
    with pytest.raises(MasterNotFoundError):
        await sentinel.discover_master(SERVICE)  # nothing left to answer: waits the grace
    assert 0.5 <= time.monotonic() - started < 2
    started = time.monotonic()
    with pytest.raises(MasterNotFoundError):
        await sentinel.discover_master(SERVICE)
    assert time.monotonic() - started < 0.2  # the same outage: no second wait
    answers.append(("127.0.0.1", 7002))
    assert await sentinel.discover_master(SERVICE) == ("127.0.0.1", 7002)


def _remaining(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    return int(response.headers["ratelimit-remaining"])


async def test_broker_limiter_and_cache_survive_a_failover(
    app: FastAPI, sentinelled: Sentinelled
) -> None:
    """Kill the master: after the promotion the limiter counts on from where it was, the
    cache keeps its value, and the feed has every notification once, in order."""
    services: Services = app.state.services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        owner = await register(http, "owner")
        editor = await register(http, "editor")
        event_id = await create_event_row(services.db, owner.id)
        async with feed(app, owner) as ws:
            await produce(app, recipients=[owner], actor=editor, event_id=event_id)
            received = [(await next_message(ws))["id"]]
            before = [
                _remaining(await http.get("/api/auth/me", headers=owner.headers)) for _ in range(3)
            ]
            assert before == [LIMIT - 1, LIMIT - 2, LIMIT - 3]
            await services.cache.set("probe", b"before", ttl=60)
            # Replicated before the master goes: an acknowledged write the replica has.
            assert services.redis is not None
            assert await services.redis.execute_command("WAIT", 1, 5000) == 1

            sentinelled.master.kill()
            await asyncio.to_thread(
                _wait,
                lambda: sentinelled.current_master_port() == sentinelled.replica_port,
                "the promotion",
            )
            # The sentinel names the replica before its client-facing state settles: for a
            # few hundred ms after that it may report no healthy master (core/redis_client.py).
            # Done when a command through the app's own Sentinel-managed pool succeeds.
            await _reachable_through_sentinel(services.redis, sentinelled.replica_port)
            # Written while the pub/sub connection is gone or coming back.
            await produce(app, recipients=[owner], actor=editor, event_id=event_id)
            received.append((await next_message(ws, within=15))["id"])
            await produce(app, recipients=[owner], actor=editor, event_id=event_id)
            received.append((await next_message(ws, within=15))["id"])

            after = [
                _remaining(await http.get("/api/auth/me", headers=owner.headers)) for _ in range(3)
            ]
            assert after == [LIMIT - 4, LIMIT - 5, LIMIT - 6]
            assert await services.cache.get("probe") == b"before"
            await services.cache.set("probe", b"after", ttl=60)
            assert await services.cache.get("probe") == b"after"
    async with UnitOfWork.read(services.db) as session:
        stored = [n.id for n in await replay_since(session, user_id=owner.id, since_id=0)]
    assert received == stored
    promoted = redis.Redis(port=sentinelled.replica_port)
    try:
        assert promoted.info("replication")["role"] == "master"
        assert promoted.dbsize() > 0  # the limiter's windows live on the new master
    finally:
        promoted.close()
