"""CPU per request of one hot route, with the app called in process (no uvicorn, no wrk).

``python -m bench.inprocess get|list|window|update [--requests N] [--profile FILE]
[--postgres URL]``

For iterating on the code, not for quoting: it seeds the benchmark's 1k database in a
temporary directory (the benchmark user's calendar, as in ``make bench``), logs in once, and
drives the ASGI app with hand-built requests, so the figure is the application's CPU time
per request (middleware, FastAPI, our code, SQLite) without the HTTP server's share. Runs of
one code base agree to a few percent on a quiet machine; compare two versions by alternating
runs. ``--profile`` writes a cProfile of the measured requests (``python -m pstats FILE``).
``--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/`` seeds a fresh PostgreSQL database
on that server instead (dropped at the end); the figure then leaves out PostgreSQL's own CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import config
from bench.dataset import SeedFacts
from bench.seed import (
    create_postgres_database,
    database_urls,
    drop_postgres_database,
    seed_database,
)
from calendo.app import create_app
from calendo.core.config import Settings

WARMUP = 200
POSTGRES_DATABASE = "calendo_inprocess"
WEEK = "start_time=2026-10-12T00:00:00Z&end_time=2026-10-19T00:00:00Z"
Request = tuple[str, str, bytes]


class Client:
    """Calls the ASGI app directly; returns (status, body)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = [(b"host", b"bench")]

    async def call(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [*self.headers, (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        delivered = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect while the request runs
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


def _requests(kind: str, owned: list[int], visible: list[int]) -> Callable[[int], Request]:
    def get(i: int) -> Request:
        return "GET", f"/api/events/{visible[i % len(visible)]}", b""

    def page(_: int) -> Request:
        return "GET", "/api/events?limit=20", b""

    def window(_: int) -> Request:
        return "GET", f"/api/events?{WEEK}&limit=20", b""

    def update(i: int) -> Request:
        body = orjson.dumps({"title": f"Edited in process {time.time_ns()}"})
        return "PUT", f"/api/events/{owned[i % len(owned)]}?conflict_strategy=allow", body

    return {"get": get, "list": page, "window": window, "update": update}[kind]


def seeded(workdir: Path, postgres: str | None = None) -> tuple[Settings, SeedFacts]:
    """Production settings on a freshly seeded 1k database (run outside the event loop: the
    migrations start their own): a SQLite file in ``workdir``, or a new database on the
    ``postgres`` server."""
    target: Path | str = workdir / "calendo-1k.db"
    if postgres is not None:
        target = create_postgres_database(postgres, POSTGRES_DATABASE)
    settings = Settings(
        env="production",
        secret_key="in-process-benchmark-secret-key-0123456789",
        database_url=database_urls(target)[0] if isinstance(target, Path) else target,
        rate_limit_enabled=False,
        log_json=True,
        access_token_minutes=240,
    )
    facts, _ = seed_database(target, "1k", settings)
    return settings, facts


async def measure(
    kind: str, requests: int, profile: Path | None, settings: Settings, facts: SeedFacts
) -> float:
    """Start the app's lifespan, log in, warm up, then return CPU seconds per request."""
    app = create_app(settings)
    client = Client(app)
    async with app.router.lifespan_context(app):
        login = {"username": config.BENCH_USERNAME, "password": config.BENCH_PASSWORD}
        status, body = await client.call("POST", "/api/auth/login", orjson.dumps(login))
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:200]!r}")
        token = orjson.loads(body)["access_token"]
        client.headers.append((b"authorization", f"Bearer {token}".encode()))
        build = _requests(kind, facts.owned_ids, facts.visible_ids)
        for i in range(WARMUP):
            status, body = await client.call(*build(i))
            if status >= 300:
                raise SystemExit(f"{kind} failed: {status} {body[:200]!r}")
        profiler = cProfile.Profile() if profile else None
        started = time.process_time()
        if profiler:
            profiler.enable()
        for i in range(requests):
            await client.call(*build(WARMUP + i))
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        return (time.process_time() - started) / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("kind", choices=("get", "list", "window", "update"))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    parser.add_argument("--postgres", default=None, help="server URL, no database name")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="calendo-inprocess-") as workdir:
        settings, facts = seeded(Path(workdir), args.postgres)
        try:
            seconds = asyncio.run(measure(args.kind, args.requests, args.profile, settings, facts))
        finally:
            if args.postgres is not None:
                drop_postgres_database(args.postgres, POSTGRES_DATABASE)
    print(f"{args.kind}: {seconds * 1e6:.0f} µs CPU per request ({args.requests} requests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
