"""Multi-host rehearsal on one machine: 3 processes behind nginx, one killed, one stopped.

    python scripts/rehearsal.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1/calendo_rehearsal \\
        --redis-url redis://127.0.0.1:6379/8
    make rehearsal ARGS="--database-url ... --redis-url ..."

Three ``python -m calendo serve`` processes on one PostgreSQL database and one Redis, behind
Debian's nginx (run in the foreground, with a configuration generated into a temporary
directory). Writer clients create events and update shared ones with ``If-Match``, and
WebSocket subscribers follow their users' feeds, all through the load balancer. Mid-load one
process gets SIGKILL and is restarted, then another gets SIGTERM (graceful: requests finish,
feeds get 1001) and is restarted; then every Redis pub/sub connection of the brokers is cut
(``CLIENT KILL``), so that what is published until they resubscribe reaches no socket live.
Subscribers reconnect with ``?since=<last id>`` after every drop. Then it checks:

* every write answered 2xx is in the database (event row, version row with the content sent,
  audit row) and served by the API; every event's versions are contiguous
  (``scripts/crash_test.py``'s checks);
* every subscriber received every notification row addressed to its user, once after dedup by
  id, and nothing addressed to anyone else;
* no 5xx came from the application (nginx's 502 for a write in flight on the killed process is
  counted as unacknowledged: nginx never resends a POST it has sent, and the client re-reads
  instead of retrying blindly);
* revocation holds across processes: after a logout through the load balancer, each process,
  asked directly, refuses the access token, the refresh token and the feed;
* rate limits hold across processes: restarted with a low per-user limit, the processes
  together allow exactly that many requests to one client through the load balancer.

Prints the figures, writes them as JSON with ``--json``. Exit status 0 when every check holds,
1 when one fails, 2 when the rehearsal cannot run (no nginx, a server that does not start).
Use a database and a Redis database of its own: the database is migrated, never dropped;
Redis is not flushed (a rerun within a minute on a fresh database may meet old counters).
Only 127.0.0.1 is contacted; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import crash_test  # noqa: E402  (scripts/: the write checks)

from calendo.__main__ import migrate  # noqa: E402
from tests.helpers import Actor, register  # noqa: E402
from tests.servers import (  # noqa: E402
    Server,
    free_port,
    server_env,
    start_server,
    stop_server,
    wait_healthy,
)

PASSWORD = "rehearsal-pw-0123"
# Seconds a process may take to answer /health: a server imports for about a second alone,
# far longer on a machine busy with other work.
START_TIMEOUT = 180.0
LOAD_AFTER_LAST_DISRUPTION = 3.0
# Limits that the load never reaches (the limiter still counts every request in Redis); the
# per-user one is lowered for the rate-limit phase only.
LOAD_LIMITS = {
    "CALENDO_RATE_LIMIT_ENABLED": "true",
    "CALENDO_RATE_LIMIT_DEFAULT": "1000000/minute",
    "CALENDO_RATE_LIMIT_AUTH": "10000/minute",
    "CALENDO_RATE_LIMIT_AUTH_SUCCESS": "10000/minute",
    "CALENDO_RATE_LIMIT_REFRESH": "10000/minute",
    "CALENDO_TRUSTED_PROXIES": "127.0.0.1",
}
# The load balancer is deploy/nginx.conf itself, so the rehearsal tests what is shipped; only
# what must differ on one machine is rewritten (see LoadBalancer.config).
NGINX_SOURCE = ROOT / "deploy" / "nginx.conf"
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass
class Figures:
    """What the rehearsal saw: the figures it prints and the problems it found."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    write_latencies: list[float] = field(default_factory=list)
    writes: crash_test.Report = field(default_factory=crash_test.Report)
    unacknowledged: list[str] = field(default_factory=list)
    conflicts: int = 0
    events: dict[str, float] = field(default_factory=dict)
    subscribers: list[Subscriber] = field(default_factory=list)
    notifications_stored: int = 0
    pubsub_dropped: int = 0
    rate_limit: dict[str, Any] = field(default_factory=dict)
    revocation: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Cluster:
    """The three processes, each on a fixed port (the upstreams nginx knows), restartable."""

    def __init__(self, database_url: str, redis_url: str, workdir: Path) -> None:
        self.database_url, self.redis_url, self.workdir = database_url, redis_url, workdir
        self.ports: list[int] = []
        while len(self.ports) < 3:  # free_port() may hand out a port twice
            if (port := free_port()) not in self.ports:
                self.ports.append(port)
        self.servers: list[Server] = []
        self.starts = 0

    def _start(self, slot: int, limits: dict[str, str]) -> Server:
        self.starts += 1
        env = server_env(self.database_url, self.redis_url, self.ports[slot], **limits)
        # Bytecode cached in the temporary directory, even where PYTHONDONTWRITEBYTECODE is
        # set: only the first start compiles the app and its libraries (seconds of CPU).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.workdir / "pycache")
        return start_server(f"{'abc'[slot]}-{self.starts}", self.workdir, env)

    async def start_all(self, limits: dict[str, str]) -> None:
        """One process first (it fills the bytecode cache), then the other two together."""
        self.servers = [self._start(0, limits)]
        await asyncio.to_thread(wait_healthy, self.servers[0], START_TIMEOUT)
        self.servers += [self._start(slot, limits) for slot in (1, 2)]
        for server in self.servers[1:]:
            await asyncio.to_thread(wait_healthy, server, START_TIMEOUT)

    async def restart(self, slot: int, limits: dict[str, str]) -> None:
        self.servers[slot] = self._start(slot, limits)
        await asyncio.to_thread(wait_healthy, self.servers[slot], START_TIMEOUT)

    async def stop_all(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(stop_server, s) for s in self.servers))


class LoadBalancer:
    """nginx in the foreground, on deploy/nginx.conf rewritten for loopback."""

    def __init__(self, nginx: str, ports: list[int], workdir: Path) -> None:
        self.tmp = workdir / "nginx"
        for sub in ("", *TEMP_PATHS):
            (self.tmp / sub).mkdir(exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.tmp / "nginx.conf").write_text(self.config(NGINX_SOURCE.read_text(), ports))
        command = [nginx, "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf")]
        command += ["-e", str(self.tmp / "error.log")]
        self.process = subprocess.Popen(  # noqa: S603 (the nginx the caller named)
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def config(self, source: str, ports: list[int]) -> str:
        """deploy/nginx.conf with the upstream on our ports, a loopback listener, files in the
        temporary directory, one worker (so that round robin spreads feeds opened one after
        another over every process) and a header naming the process that answered."""
        tmp = self.tmp
        servers = "".join(f"\\1server 127.0.0.1:{port}\\2\n" for port in ports)
        rewrites = [
            (r"(?m)^( *)server calendo:8000(.*)\n", servers),
            (r"(?m)^( *)listen 8080;", rf"\1listen 127.0.0.1:{self.port};"),
            (r"(?m)^worker_processes .*;", "worker_processes 1;"),
            (r"access_log /dev/stdout", f"access_log {tmp}/access.log"),
            (r"error_log /dev/stderr", f"error_log {tmp}/error.log"),
            (
                r"(?m)^( *)proxy_pass http://calendo;",
                r"\g<0>\n\1add_header X-Calendo-Upstream $upstream_addr always;",
            ),
            (
                r"(?m)^http \{",
                "http {\n"
                + "".join(f"    {name}_temp_path {tmp}/{name};\n" for name in TEMP_PATHS),
            ),
        ]
        config = source
        for pattern, replacement in rewrites:
            config, count = re.subn(pattern, replacement, config, count=1)
            if count != 1:
                raise RuntimeError(f"deploy/nginx.conf: no line matches {pattern!r}")
        # As root, nginx hands its workers to "nobody", who cannot write the temporary files.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return f"daemon off;\npid {tmp}/nginx.pid;\n{user}{config}"

    async def wait_upstreams(self, ports: list[int], within: float = 30.0) -> None:
        """Until ``/health`` through nginx has been answered 200 by every process."""
        wanted = {f"127.0.0.1:{port}" for port in ports}
        seen: set[str] = set()
        deadline = time.monotonic() + within
        async with _client(self.url) as http:
            while seen != wanted and time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.error_log()}")
                try:
                    response = await http.get("/health")
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
                    continue
                if response.status_code == 200:
                    seen.add(response.headers.get("x-calendo-upstream", ""))
        if seen != wanted:
            raise RuntimeError(f"nginx reached {sorted(seen)} of {sorted(wanted)}")

    def error_log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=15, trust_env=False)


async def call(
    http: httpx.AsyncClient, figures: Figures, method: str, url: str, **kwargs: Any
) -> httpx.Response | None:
    """One request through the load balancer, counted; None when the connection failed."""
    started = time.perf_counter()
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        figures.statuses[type(exc).__name__] += 1
        return None
    elapsed = time.perf_counter() - started
    figures.latencies.append(elapsed)
    if method in ("POST", "PUT"):
        figures.write_latencies.append(elapsed)
    figures.statuses[str(response.status_code)] += 1
    problem = response.headers.get("content-type", "").startswith("application/problem+json")
    if response.status_code >= 500 and problem:
        figures.problems.append(f"app {response.status_code}: {method} {url} {response.text[:200]}")
    return response


async def set_up(
    http: httpx.AsyncClient, tag: str, users: int, per_user: int
) -> tuple[list[Actor], list[int]]:
    """Users, and events each one owns and shares with all the others as editors."""
    people = [await register(http, f"r{tag}u{n}", PASSWORD) for n in range(users)]
    shared: list[int] = []
    for n, owner in enumerate(people):
        for k in range(per_user):
            day = 1 + (n * per_user + k) % 27
            body = {
                "title": f"shared {n}.{k}",
                "start_time": f"2031-03-{day:02d}T09:00:00Z",
                "end_time": f"2031-03-{day:02d}T10:00:00Z",
            }
            created = await http.post(
                "/api/events",
                json=body,
                params={"conflict_strategy": "allow"},
                headers=owner.headers,
            )
            created.raise_for_status()
            event_id = created.json()["id"]
            grants = [{"user_id": u.id, "role": "editor"} for u in people if u is not owner]
            shared_response = await http.post(
                f"/api/events/{event_id}/share", json={"users": grants}, headers=owner.headers
            )
            shared_response.raise_for_status()
            shared.append(event_id)
    return people, shared


async def writer(
    base_url: str, name: str, user: Actor, shared: list[int], figures: Figures, stop: asyncio.Event
) -> None:
    """Create events and update shared and own ones with If-Match until ``stop``."""
    rng = random.Random(name)  # noqa: S311 (the shape of the load, no secret)
    known: dict[int, int] = {}
    targets = list(shared)
    async with _client(base_url) as http:
        for n in range(crash_test.MAX_REQUESTS_PER_CLIENT):
            if stop.is_set():
                return
            description = f"{name} w{n}"
            if rng.random() < 0.3:
                await _create(http, user, description, figures, known, targets)
            else:
                await _update(http, user, rng.choice(targets), description, figures, known)


async def _create(
    http: httpx.AsyncClient,
    user: Actor,
    description: str,
    figures: Figures,
    known: dict[int, int],
    targets: list[int],
) -> None:
    day = 1 + hash(description) % 27
    body = {
        "title": description,
        "description": description,
        "start_time": f"2031-04-{day:02d}T09:00:00Z",
        "end_time": f"2031-04-{day:02d}T10:00:00Z",
    }
    params = {"conflict_strategy": "allow"}
    response = await call(
        http, figures, "POST", "/api/events", json=body, params=params, headers=user.headers
    )
    if response is None or response.status_code in (502, 503, 504):
        # Sent, outcome unknown: unacknowledged. Not resent blindly (a second event).
        figures.unacknowledged.append(f"POST create ({_status(response)})")
    elif response.status_code == 201:
        event_id = response.json()["id"]
        figures.writes.acks.append(
            crash_test.Ack(event_id, 1, description, "created", user.access_token)
        )
        known[event_id] = 1
        targets.append(event_id)
    else:
        figures.writes.refused += 1


async def _update(
    http: httpx.AsyncClient,
    user: Actor,
    event_id: int,
    description: str,
    figures: Figures,
    known: dict[int, int],
) -> None:
    if event_id not in known and not await _refresh(http, user, event_id, figures, known):
        return
    headers = {**user.headers, "If-Match": f'"{event_id}-{known[event_id]}"'}
    response = await call(
        http,
        figures,
        "PUT",
        f"/api/events/{event_id}",
        json={"description": description},
        headers=headers,
        params={"conflict_strategy": "allow"},
    )
    if response is not None and response.status_code == 200:
        version = response.json()["version"]
        figures.writes.acks.append(
            crash_test.Ack(event_id, version, description, "updated", user.access_token)
        )
        known[event_id] = version
        return
    if response is None or response.status_code in (502, 503, 504):
        figures.unacknowledged.append(f"PUT update ({_status(response)})")
    elif response.status_code == 412:
        figures.conflicts += 1  # another writer was first: re-read, as a client would
    else:
        figures.writes.refused += 1
    await _refresh(http, user, event_id, figures, known)


async def _refresh(
    http: httpx.AsyncClient, user: Actor, event_id: int, figures: Figures, known: dict[int, int]
) -> bool:
    response = await call(http, figures, "GET", f"/api/events/{event_id}", headers=user.headers)
    if response is None or response.status_code != 200:
        known.pop(event_id, None)
        return False
    known[event_id] = response.json()["version"]
    return True


def _status(response: httpx.Response | None) -> str:
    return "connection failed" if response is None else str(response.status_code)


@dataclass(eq=False)
class Subscriber:
    """A feed through the load balancer that reconnects with ``since`` after every drop."""

    user: Actor
    received: list[int] = field(default_factory=list)
    close_codes: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    expected: set[int] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, ws_url: str) -> None:
        last = 0
        while True:
            url = f"{ws_url}?token={self.user.access_token}&since={last}"
            code = "connect failed"
            try:
                async with connect(url, proxy=None, open_timeout=5, ping_interval=None) as ws:
                    self.connected.set()
                    async for raw in ws:
                        message = json.loads(raw)
                        if message.get("type") == "ping":
                            continue
                        self.received.append(message["id"])
                        last = max(last, message["id"])
                        self.check()
                    code = str(ws.close_code)
            except ConnectionClosed as closed:
                code = str(closed.rcvd.code) if closed.rcvd else "1006 (no close frame)"
            except (OSError, InvalidHandshake, TimeoutError):
                pass
            self.close_codes[code] += 1
            self.reconnects += 1
            await asyncio.sleep(0.1)

    def check(self) -> None:
        if self.expected is not None and self.expected <= set(self.received):
            self.complete.set()


async def stored_notifications(database_url: str) -> dict[int, set[int]]:
    """Notification ids per recipient, as committed."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT id, user_id FROM notification"))
            stored: dict[int, set[int]] = {}
            for notification_id, user_id in rows:
                stored.setdefault(user_id, set()).add(notification_id)
            return stored
    finally:
        await engine.dispose()


async def load_phase(
    args: argparse.Namespace, cluster: Cluster, lb: LoadBalancer, figures: Figures
) -> list[Actor]:
    """Setup, subscribers, writers; SIGKILL + restart, SIGTERM + restart; the feeds drained."""
    tag = f"{int(time.time()) % 100000}"
    async with _client(lb.url) as http:
        people, shared = await set_up(http, tag, args.users, 2)
    ws_url = lb.url.replace("http://", "ws://", 1) + "/api/notifications/ws"
    tasks: list[asyncio.Task[None]] = []
    for user in people:
        for _ in range(args.subscribers):
            subscriber = Subscriber(user)
            figures.subscribers.append(subscriber)
            tasks.append(asyncio.create_task(subscriber.run(ws_url)))
            # One at a time: nginx's round robin then puts feeds on every process.
            await asyncio.wait_for(subscriber.connected.wait(), timeout=10)
    stop = asyncio.Event()
    started = time.monotonic()
    writers = [
        asyncio.create_task(writer(lb.url, f"w{n}", people[n % len(people)], shared, figures, stop))
        for n in range(args.writers)
    ]
    await _disrupt(args, cluster, figures, started)
    # The load outlasts the last disruption, however long the restarts took.
    elapsed = time.monotonic() - started
    await asyncio.sleep(max(args.duration - elapsed, LOAD_AFTER_LAST_DISRUPTION))
    stop.set()
    await asyncio.wait_for(asyncio.gather(*writers), timeout=60)
    figures.events["load_seconds"] = round(time.monotonic() - started, 1)
    await _drain(args, figures, tasks)
    return people


async def _disrupt(
    args: argparse.Namespace, cluster: Cluster, figures: Figures, started: float
) -> None:
    await asyncio.sleep(args.kill_at)
    victim = cluster.servers[0]
    victim.process.kill()  # SIGKILL: no shutdown at all
    await asyncio.to_thread(victim.process.wait)
    figures.events["sigkill_at_s"] = round(time.monotonic() - started, 1)
    await cluster.restart(0, LOAD_LIMITS)
    figures.events["sigkill_back_after_s"] = round(
        time.monotonic() - started - figures.events["sigkill_at_s"], 1
    )
    await asyncio.sleep(max(0.0, args.term_at - (time.monotonic() - started)))
    leaving = cluster.servers[1]
    figures.events["sigterm_at_s"] = round(time.monotonic() - started, 1)
    leaving.process.terminate()  # graceful: in-flight requests finish, feeds get 1001
    await asyncio.to_thread(leaving.process.wait, 30)
    figures.events["sigterm_exit_after_s"] = round(
        time.monotonic() - started - figures.events["sigterm_at_s"], 1
    )
    # uvicorn re-raises the SIGTERM it handled once it has shut down: -15 is a clean exit.
    if leaving.process.returncode not in (0, -15):
        figures.problems.append(f"SIGTERM: exit status {leaving.process.returncode}")
    await cluster.restart(1, LOAD_LIMITS)
    if args.drop_pubsub_at >= 0:
        await asyncio.sleep(max(0.0, args.drop_pubsub_at - (time.monotonic() - started)))
        figures.events["pubsub_dropped_at_s"] = round(time.monotonic() - started, 1)
        figures.pubsub_dropped = await drop_pubsub(args.redis_url)


async def drop_pubsub(redis_url: str) -> int:
    """Cut every pub/sub connection to this Redis database, as a Redis restart or a network
    cut would: the brokers reconnect, and what was published meanwhile reaches no socket
    live. The feeds must read it from the database. Other databases' clients are left alone."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        database = int(client.connection_pool.connection_kwargs.get("db", 0))
        killed = 0
        for entry in await client.client_list(_type="pubsub"):
            if int(entry.get("db", -1)) == database:
                killed += await client.client_kill_filter(_id=entry["id"])
        return killed
    finally:
        await client.aclose()


async def _drain(
    args: argparse.Namespace, figures: Figures, tasks: list[asyncio.Task[None]]
) -> None:
    """Give every feed until ``--settle`` seconds to hold every stored notification."""
    stored = await stored_notifications(args.database_url)
    # This run's users only: the database may hold earlier runs.
    users = {subscriber.user.id for subscriber in figures.subscribers}
    figures.notifications_stored = sum(len(stored.get(user, ())) for user in users)
    for subscriber in figures.subscribers:
        subscriber.expected = stored.get(subscriber.user.id, set())
        subscriber.check()
    waits = [s.complete.wait() for s in figures.subscribers]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*waits), timeout=args.settle)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for n, subscriber in enumerate(figures.subscribers):
        got = set(subscriber.received)
        expected = subscriber.expected or set()
        if missing := sorted(expected - got):
            figures.problems.append(
                f"subscriber {n} ({subscriber.user.username}) missed {missing[:20]}"
            )
        if foreign := sorted(got - expected):
            figures.problems.append(f"subscriber {n} got others' notifications {foreign[:20]}")


async def check_revocation(
    cluster: Cluster, lb: LoadBalancer, user: Actor, figures: Figures
) -> None:
    """Log out through the load balancer; each process, asked directly, refuses the tokens."""
    async with _client(lb.url) as http:
        before = [
            (await http.get(s.url + "/api/auth/me", headers=user.headers)).status_code
            for s in cluster.servers
        ]
        logout = await http.post("/api/auth/logout", headers=user.headers)
        after = [
            (await http.get(s.url + "/api/auth/me", headers=user.headers)).status_code
            for s in cluster.servers
        ]
        refresh = [
            (
                await http.post(
                    s.url + "/api/auth/refresh", json={"refresh_token": user.refresh_token}
                )
            ).status_code
            for s in cluster.servers
        ]
    feeds = [await _feed_close_code(s.ws_url, user.access_token) for s in cluster.servers]
    figures.revocation = {
        "me_before": before,
        "logout": logout.status_code,
        "me_after": after,
        "refresh_after": refresh,
        "feed_after": feeds,
    }
    held = before == [200] * 3 and logout.status_code == 204 and after == [401] * 3
    if not held or refresh != [401] * 3 or any(code not in (4401, 1008) for code in feeds):
        figures.problems.append(f"revocation: {figures.revocation}")


async def _feed_close_code(ws_url: str, token: str) -> int | None:
    try:
        async with connect(f"{ws_url}?token={token}", proxy=None, open_timeout=5) as ws:
            await asyncio.wait_for(ws.recv(), timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


async def check_rate_limit(
    args: argparse.Namespace, cluster: Cluster, lb: LoadBalancer, tag: str, figures: Figures
) -> None:
    """All three restarted with a low per-user limit: together they allow exactly that many."""
    limit = args.rate_limit
    await cluster.stop_all()
    await cluster.start_all({**LOAD_LIMITS, "CALENDO_RATE_LIMIT_DEFAULT": f"{limit}/minute"})
    await lb.wait_upstreams(cluster.ports)
    allowed: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    other: list[int] = []
    async with _client(lb.url) as http:
        user = await register(http, f"r{tag}limited", PASSWORD)
        for _ in range(3 * limit):
            response = await http.get("/api/events", headers=user.headers)
            upstream = response.headers.get("x-calendo-upstream", "?")
            if response.status_code == 200:
                allowed[upstream] += 1
            elif response.status_code == 429:
                refused[upstream] += 1
            else:
                other.append(response.status_code)
    figures.rate_limit = {
        "limit_per_minute": limit,
        "sent": 3 * limit,
        "allowed": sum(allowed.values()),
        "refused_429": sum(refused.values()),
        "other": other,
        "allowed_by_process": dict(allowed),
        "refused_by_process": dict(refused),
    }
    served_by = set(allowed) | set(refused)
    if sum(allowed.values()) != limit or other or len(served_by) != 3:
        figures.problems.append(f"rate limit: {figures.rate_limit}")


async def rehearse(args: argparse.Namespace, workdir: Path) -> Figures:
    figures = Figures()
    cluster = Cluster(args.database_url, args.redis_url, workdir)
    lb: LoadBalancer | None = None
    try:
        await cluster.start_all(LOAD_LIMITS)
        lb = LoadBalancer(args.nginx, cluster.ports, workdir)
        await lb.wait_upstreams(cluster.ports)
        people = await load_phase(args, cluster, lb, figures)
        await lb.wait_upstreams(cluster.ports)
        crash_test.check_rows(await crash_test._rows(args.database_url), figures.writes)
        await crash_test.check_api(SimpleNamespace(url=lb.url), figures.writes)  # type: ignore[arg-type]
        await check_revocation(cluster, lb, people[0], figures)
        await check_rate_limit(args, cluster, lb, people[0].username, figures)
    finally:
        if lb is not None:
            lb.stop()
        await cluster.stop_all()
    figures.problems.extend(f"lost: {problem}" for problem in figures.writes.lost)
    return figures


async def create_database(database_url: str) -> None:
    """Create the database when it is missing (as ``scripts/run-cluster.sh`` does)."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    base, _, name = dsn.rpartition("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise RuntimeError(f"database name {name!r}: letters, digits and _ only")
    conn = await asyncpg.connect(base + "/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            # An identifier cannot be a parameter; the name was checked above.
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summary(args: argparse.Namespace, figures: Figures) -> dict[str, Any]:
    """The figures as one JSON-ready dictionary."""
    subscribers = figures.subscribers
    codes: Counter[str] = Counter()
    for subscriber in subscribers:
        codes.update(subscriber.close_codes)
    acks = figures.writes.acks
    return {
        "processes": 3,
        "writers": args.writers,
        "users": args.users,
        "subscribers": len(subscribers),
        "timeline": figures.events,
        "requests": sum(figures.statuses.values()),
        "statuses": dict(figures.statuses),
        "writes_acknowledged": len(acks),
        "creates_acknowledged": sum(1 for ack in acks if ack.action == "created"),
        "updates_acknowledged": sum(1 for ack in acks if ack.action == "updated"),
        "if_match_conflicts_412": figures.conflicts,
        "writes_refused_other": figures.writes.refused,
        "writes_unacknowledged": len(figures.unacknowledged),
        "unacknowledged": dict(Counter(figures.unacknowledged)),
        "writes_lost": len(figures.writes.lost),
        "notifications_stored": figures.notifications_stored,
        "notifications_delivered": sum(len(set(s.received)) for s in subscribers),
        "notifications_duplicates": sum(
            len(s.received) - len(set(s.received)) for s in subscribers
        ),
        "reconnects": sum(s.reconnects for s in subscribers),
        "pubsub_connections_cut": figures.pubsub_dropped,
        "feed_close_codes": dict(codes),
        "latency_ms": {
            "p50": _percentile(figures.latencies, 0.5),
            "p99": _percentile(figures.latencies, 0.99),
            "max": _percentile(figures.latencies, 1.0),
        },
        "write_latency_ms": {
            "p50": _percentile(figures.write_latencies, 0.5),
            "p99": _percentile(figures.write_latencies, 0.99),
        },
        "rate_limit": figures.rate_limit,
        "revocation": figures.revocation,
        "problems": figures.problems,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL (postgresql+asyncpg://)")
    parser.add_argument("--redis-url", required=True, help="a Redis database of its own")
    parser.add_argument("--writers", type=int, default=6, help="concurrent writer clients (6)")
    parser.add_argument("--users", type=int, default=3, help="users sharing the events (3)")
    parser.add_argument("--subscribers", type=int, default=2, help="feeds per user (2)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (30)")
    parser.add_argument("--kill-at", type=float, default=8.0, help="SIGKILL after (8 s)")
    parser.add_argument("--term-at", type=float, default=18.0, help="SIGTERM after (18 s)")
    parser.add_argument(
        "--drop-pubsub-at",
        type=float,
        default=24.0,
        help="cut Redis pub/sub after (24 s; -1: never)",
    )
    parser.add_argument("--settle", type=float, default=20.0, help="feeds' catch-up bound (20 s)")
    parser.add_argument("--rate-limit", type=int, default=12, help="per-user limit per minute")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        print("the rehearsal needs PostgreSQL: SQLite is one host's file", file=sys.stderr)
        return 2
    if not Path(args.nginx).exists():
        print(f"nginx not found ({args.nginx}): apt-get install nginx", file=sys.stderr)
        return 2
    try:
        asyncio.run(create_database(args.database_url))
    except (OSError, RuntimeError, asyncpg.PostgresError) as exc:
        print(f"rehearsal could not run: {exc}", file=sys.stderr)
        return 2
    migrate(args.database_url)
    with tempfile.TemporaryDirectory(prefix="calendo-rehearsal-") as tmp:
        try:
            figures = asyncio.run(rehearse(args, Path(tmp)))
        except (RuntimeError, AssertionError, httpx.HTTPError) as exc:
            print(f"rehearsal could not run: {exc}", file=sys.stderr)
            return 2
    result = summary(args, figures)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if not figures.writes.acks:
        print("no write was acknowledged: the load never ran", file=sys.stderr)
        return 1
    return 1 if figures.problems else 0


if __name__ == "__main__":
    sys.exit(main())
