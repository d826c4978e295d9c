"""What PgBouncer in transaction mode costs: requests/s of get and update, direct and through it.

``python -m bench.pgbouncer [--requests N] [--concurrency C] [--postgres URL]``

Seeds the benchmark's 1k database on the PostgreSQL server (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/``; the database is dropped at the end),
starts Debian's ``pgbouncer`` in transaction mode on a free loopback port in front of it
(``pool_size`` = the app's pool), and drives the ASGI app in process with ``C`` requests in
flight, three ways:

- ``direct``: straight to PostgreSQL with asyncpg's statement caches (the default);
- ``direct, no caches``: straight to PostgreSQL with ``CALENDO_DATABASE_POOLER=pgbouncer``,
  which isolates what turning the named prepared statements off costs;
- ``pgbouncer``: through PgBouncer with that setting (the supported way).

Wall-clock requests/s on one event loop, so the database round trips count; the app, the
pooler and PostgreSQL share the machine, as they would not in production.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from sqlalchemy.engine import make_url

from bench import config
from bench.dataset import SeedFacts
from bench.inprocess import Client
from bench.seed import create_postgres_database, drop_postgres_database, seed_database
from calendo.app import create_app
from calendo.core.config import Settings

DATABASE = "calendo_pgbouncer_bench"
POOL_SIZE = 10
WARMUP = 100
Request = tuple[str, str, bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_pgbouncer(server: str) -> Iterator[int]:
    """PgBouncer (transaction mode) in front of ``server`` on a free port; the port."""
    binary = shutil.which("pgbouncer", path=os.environ.get("PATH", "") + ":/usr/sbin")
    if binary is None:
        raise SystemExit("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    target = make_url(server)
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="calendo-pgbouncer-"))
    workdir.chmod(0o755)
    users = workdir / "users.txt"
    users.write_text(f'"{target.username}" ""\n')
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        f"[databases]\n{DATABASE} = host={target.host} port={target.port or 5432} "
        f"dbname={DATABASE} pool_size={POOL_SIZE}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {users}\npool_mode = transaction\n"
        "max_client_conn = 1000\n"
    )
    # PgBouncer refuses to run as root.
    user = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else None
    process = subprocess.Popen([binary, "-q", str(ini)], user=user)
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.01)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


def _settings(url: str, pooler: str) -> Settings:
    return Settings(
        env="production",
        secret_key="pgbouncer-benchmark-secret-key-0123456789",
        database_url=url,
        database_pooler=pooler,
        db_pool_size=POOL_SIZE,
        rate_limit_enabled=False,
        log_json=True,
        access_token_minutes=240,
    )


def _builder(kind: str, facts: SeedFacts) -> Callable[[int], Request]:
    visible, owned = facts.visible_ids, facts.owned_ids

    def get(i: int) -> Request:
        return "GET", f"/api/events/{visible[i % len(visible)]}", b""

    def update(i: int) -> Request:
        body = orjson.dumps({"title": f"Through the pooler {i} {time.time_ns()}"})
        return "PUT", f"/api/events/{owned[i % len(owned)]}?conflict_strategy=allow", body

    return {"get": get, "update": update}[kind]


async def _drive(
    client: Client, build: Callable[[int], Request], indices: range, concurrency: int
) -> None:
    """Send the requests of ``indices``, ``concurrency`` at a time."""
    pending = iter(indices)

    async def worker() -> None:
        for i in pending:
            status, body = await client.call(*build(i))
            if status >= 300:
                raise SystemExit(f"{build(i)[1]} failed: {status} {body[:200]!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _rate(
    settings: Settings, facts: SeedFacts, requests: int, concurrency: int
) -> dict[str, float]:
    """Requests/s of each kind, ``concurrency`` in flight."""
    app = create_app(settings)
    client = Client(app)
    rates: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        login = {"username": config.BENCH_USERNAME, "password": config.BENCH_PASSWORD}
        status, body = await client.call("POST", "/api/auth/login", orjson.dumps(login))
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:200]!r}")
        client.headers.append(
            (b"authorization", f"Bearer {orjson.loads(body)['access_token']}".encode())
        )
        for kind in ("get", "update"):
            build = _builder(kind, facts)
            await _drive(client, build, range(WARMUP), concurrency)
            started = time.perf_counter()
            await _drive(client, build, range(requests), concurrency)
            rates[kind] = requests / (time.perf_counter() - started)
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pgbouncer", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/")
    args = parser.parse_args(argv)
    url = create_postgres_database(args.postgres, DATABASE)
    try:
        facts, _ = seed_database(url, "1k", _settings(url, "none"))
        with running_pgbouncer(args.postgres) as port:
            bounced = make_url(url).set(host="127.0.0.1", port=port)
            runs = {
                "direct": _settings(url, "none"),
                "direct, no caches": _settings(url, "pgbouncer"),
                "pgbouncer": _settings(bounced.render_as_string(hide_password=False), "pgbouncer"),
            }
            results = {
                name: asyncio.run(_rate(settings, facts, args.requests, args.concurrency))
                for name, settings in runs.items()
            }
    finally:
        drop_postgres_database(args.postgres, DATABASE)
    base = results["direct"]
    print(f"{args.requests} requests per kind, {args.concurrency} in flight, pool {POOL_SIZE}")
    print(f"{'':20} {'get req/s':>10} {'ratio':>6} {'update req/s':>13} {'ratio':>6}")
    for name, rates in results.items():
        print(
            f"{name:20} {rates['get']:10.0f} {rates['get'] / base['get']:6.2f} "
            f"{rates['update']:13.0f} {rates['update'] / base['update']:6.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
