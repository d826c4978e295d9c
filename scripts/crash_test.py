"""Crash safety: SIGKILL a real Calendo server under write load; no acknowledged write may be lost.

    python scripts/crash_test.py                                  # temporary SQLite database
    python scripts/crash_test.py --database-url postgresql+asyncpg://postgres@127.0.0.1/calendo_crash
    python scripts/crash_test.py --cycles 3 --clients 8 --kill-after 4

Each cycle starts ``python -m calendo serve`` (which migrates first), lets several async clients
create events and update them, records every write answered 2xx as ``(event id, version,
description)``, kills the server with SIGKILL while requests are in flight, and restarts it.
After the last cycle it checks, in the database and through the API, that every acknowledged
write is there: the event at that version or later, its ``event_version`` row with the content
that was sent, and its ``audit_entry`` row; that every event's versions are contiguous; and on
SQLite that ``PRAGMA integrity_check`` says ``ok`` and no foreign key dangles. Exit status 0
when all of that holds, 1 when anything is lost, 2 when the server cannot be run.

Only 127.0.0.1 is contacted; every loop is bounded in time and in requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SECRET = "crash-test-secret-key-0123456789-abcdefghijklmnop"
ROOT = Path(__file__).resolve().parent.parent
MAX_REQUESTS_PER_CLIENT = 2000
UPDATES_PER_EVENT = 3


@dataclass(frozen=True)
class Ack:
    """A write the server answered 2xx: it must survive anything."""

    event_id: int
    version: int
    description: str
    action: str
    token: str


@dataclass
class Report:
    """What one run saw and what it found missing."""

    acks: list[Ack] = field(default_factory=list)
    refused: int = 0
    interrupted: int = 0
    lost: list[str] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One ``python -m calendo serve`` process on a database, restartable on a new port."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    def _env(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALENDO_")}
        env.update(
            CALENDO_DATABASE_URL=self.database_url,
            CALENDO_SECRET_KEY=SECRET,
            CALENDO_ENV="test",
            CALENDO_HOST="127.0.0.1",
            CALENDO_PORT=str(port),
            CALENDO_WORKERS="1",
            CALENDO_RATE_LIMIT_ENABLED="false",
            CALENDO_ARGON2_TIME_COST="1",
            CALENDO_ARGON2_MEMORY_COST="64",
            PYTHONPATH=str(ROOT),
        )
        return env

    def start(self, timeout: float = 60.0) -> None:
        """Start (migrating first) and wait for ``/health``."""
        port = free_port()
        self.starts += 1
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "calendo", "serve"],
            env=self._env(port),
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    break
                try:
                    if client.get(self.url + "/health", timeout=1).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"server did not become healthy:\n{self.log_tail()}")

    def log_tail(self) -> str:
        """The end of the latest server log."""
        path = self.workdir / f"server-{self.starts}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """A clean stop (SIGTERM, then SIGKILL if it hangs)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


async def register(http: httpx.AsyncClient, name: str) -> str:
    """A new account's access token."""
    body = {"username": name, "email": f"{name}@example.com", "password": "crash-test-pw"}
    response = await http.post("/api/auth/register", json=body)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def write_load(base_url: str, name: str, report: Report, stop: asyncio.Event) -> None:
    """Create events and update each a few times until the server dies or ``stop`` is set."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10, trust_env=False) as http:
        token = await register(http, name)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            for n in range(MAX_REQUESTS_PER_CLIENT):
                if stop.is_set():
                    return
                await _one_series(http, headers, token, f"{name}-{n}", report)
        except httpx.TransportError:
            report.interrupted += 1  # killed mid-request: that write is unacknowledged
            return


async def _one_series(
    http: httpx.AsyncClient, headers: dict[str, str], token: str, tag: str, report: Report
) -> None:
    day = 1 + hash(tag) % 27
    body = {
        "title": tag,
        "description": f"{tag} v1",
        "start_time": f"2027-02-{day:02d}T09:00:00Z",
        "end_time": f"2027-02-{day:02d}T10:00:00Z",
    }
    created = await http.post(
        "/api/events", json=body, params={"conflict_strategy": "allow"}, headers=headers
    )
    if created.status_code != 201:
        report.refused += 1
        return
    event_id = created.json()["id"]
    report.acks.append(Ack(event_id, 1, body["description"], "created", token))
    for update in range(2, UPDATES_PER_EVENT + 2):
        description = f"{tag} v{update}"
        response = await http.put(
            f"/api/events/{event_id}", json={"description": description}, headers=headers
        )
        if response.status_code != 200:
            report.refused += 1
            return
        version = response.json()["version"]
        report.acks.append(Ack(event_id, version, description, "updated", token))


async def run_cycle(
    server: Server, cycle: int, clients: int, kill_after: float, report: Report
) -> None:
    """Start the server, load it, SIGKILL it mid-load, wait for the clients to notice."""
    server.start()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(write_load(server.url, f"c{cycle}x{n}", report, stop))
        for n in range(clients)
    ]
    await asyncio.sleep(kill_after)
    server.kill()
    report.kills.append(time.time())
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)


async def _rows(database_url: str) -> dict[str, Any]:
    """Events, versions and audit rows as stored."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT id, version FROM event"))
            events: dict[int, int] = {event_id: version for event_id, version in result}
            versions = {
                (event_id, version): _json(snapshot)
                for event_id, version, snapshot in await conn.execute(
                    text("SELECT event_id, version, snapshot FROM event_version")
                )
            }
            audits = {
                (event_id, action, _json(details).get("version"))
                for event_id, action, details in await conn.execute(
                    text(
                        "SELECT event_id, action, details FROM audit_entry "
                        "WHERE action IN ('event_created', 'event_updated')"
                    )
                )
            }
    finally:
        await engine.dispose()
    return {"events": events, "versions": versions, "audits": audits}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def check_rows(rows: dict[str, Any], report: Report) -> None:
    """Every ack has its event, version row (with the content sent) and audit row."""
    events, versions, audits = rows["events"], rows["versions"], rows["audits"]
    for ack in report.acks:
        where = f"event {ack.event_id} v{ack.version}"
        if events.get(ack.event_id, 0) < ack.version:
            report.lost.append(f"{where}: event row at {events.get(ack.event_id)}")
        snapshot = versions.get((ack.event_id, ack.version))
        if snapshot is None or snapshot.get("description") != ack.description:
            report.lost.append(f"{where}: version row {snapshot!r}")
        if (ack.event_id, f"event_{ack.action}", ack.version) not in audits:
            report.lost.append(f"{where}: no audit row")
    for event_id, version in events.items():
        missing = [n for n in range(1, version + 1) if (event_id, n) not in versions]
        if missing:
            report.lost.append(f"event {event_id} at v{version} lacks versions {missing}")


async def check_api(server: Server, report: Report) -> None:
    """The restarted server serves every acknowledged write (at that version or later)."""
    latest: dict[int, Ack] = {}
    for ack in report.acks:
        if ack.version >= latest.get(ack.event_id, ack).version:
            latest[ack.event_id] = ack
    async with httpx.AsyncClient(base_url=server.url, timeout=10, trust_env=False) as http:
        for ack in latest.values():
            response = await http.get(
                f"/api/events/{ack.event_id}", headers={"Authorization": f"Bearer {ack.token}"}
            )
            if response.status_code != 200 or response.json()["version"] < ack.version:
                report.lost.append(f"API: event {ack.event_id} -> {response.status_code}")


def check_sqlite_file(database_url: str, report: Report) -> None:
    """``PRAGMA integrity_check`` is ``ok`` and no foreign key dangles."""
    path = database_url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
    if integrity != [("ok",)]:
        report.lost.append(f"integrity_check: {integrity}")
    if dangling:
        report.lost.append(f"foreign_key_check: {dangling[:10]}")


async def crash_test(database_url: str, workdir: Path, args: argparse.Namespace) -> Report:
    """The whole procedure; returns what it saw."""
    report = Report()
    server = Server(database_url, workdir)
    try:
        for cycle in range(args.cycles):
            await run_cycle(server, cycle, args.clients, args.kill_after, report)
        server.start()
        await check_api(server, report)
    finally:
        server.stop()
    check_rows(await _rows(database_url), report)
    if database_url.startswith("sqlite"):
        check_sqlite_file(database_url, report)
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp directory")
    parser.add_argument("--clients", type=int, default=6, help="concurrent writers (6)")
    parser.add_argument("--kill-after", type=float, default=3.0, help="seconds of load (3)")
    parser.add_argument("--cycles", type=int, default=2, help="kill/restart cycles (2)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="calendo-crash-") as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'crash.db'}"
        try:
            report = asyncio.run(crash_test(database_url, workdir, args))
        except RuntimeError as exc:
            print(f"crash test could not run: {exc}", file=sys.stderr)
            return 2
    writes = len(report.acks)
    print(
        f"crash test: {writes} acknowledged writes over {len(report.kills)} SIGKILLs, "
        f"{report.interrupted} requests cut off in flight, {report.refused} refused, "
        f"{len(report.lost)} problems"
    )
    for problem in report.lost[:50]:
        print(f"  LOST {problem}")
    if writes == 0:
        print("  no write was acknowledged: the load never ran", file=sys.stderr)
        return 1
    return 1 if report.lost else 0


if __name__ == "__main__":
    sys.exit(main())
