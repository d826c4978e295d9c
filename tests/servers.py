"""Real server processes for the tests: ``python -m calendo serve`` on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

import calendo
from tests.conftest import SECRET

# The checkout whose code the tests import: the server runs the same code, wherever the venv's
# editable install points (a second worktree shares the venv).
_SOURCE_ROOT = str(Path(calendo.__file__).resolve().parents[1])


@dataclass
class Server:
    """One running server and its log."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/api/notifications/ws"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, redis_url: str | None, port: int, **extra: str) -> dict[str, str]:
    """The environment of a test server: this database and Redis, cheap hashing, no limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALENDO_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, (_SOURCE_ROOT, env.get("PYTHONPATH")))),
        CALENDO_DATABASE_URL=database_url,
        CALENDO_SECRET_KEY=SECRET,
        CALENDO_ENV="test",
        CALENDO_HOST="127.0.0.1",
        CALENDO_PORT=str(port),
        CALENDO_WORKERS="1",
        CALENDO_RATE_LIMIT_ENABLED="false",
        CALENDO_ARGON2_TIME_COST="1",
        CALENDO_ARGON2_MEMORY_COST="64",
    )
    if redis_url:
        env["CALENDO_REDIS_URL"] = redis_url
    env.update(extra)
    return env


def start_server(name: str, workdir: Path, env: dict[str, str]) -> Server:
    """Spawn a server (no migration: the test database is migrated already)."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "calendo", "serve", "--no-migrate"],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(name, f"http://127.0.0.1:{env['CALENDO_PORT']}", process, log)


def wait_healthy(server: Server, timeout: float = 60.0) -> None:
    """Poll ``/health`` until it answers 200; fail with the server's log otherwise."""
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False) as client:
        while time.monotonic() < deadline and server.process.poll() is None:
            try:
                if client.get(server.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"{server.name} did not become healthy:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """SIGTERM, then SIGKILL if it does not go."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextmanager
def running_cluster(
    database_url: str, redis_url: str | None, workdir: Path, **extra: str
) -> Iterator[tuple[Server, Server]]:
    """Servers A and B on one database (and Redis), healthy; always stopped afterwards."""
    servers: list[Server] = []
    try:
        for name in ("a", "b"):
            env = server_env(database_url, redis_url, free_port(), **extra)
            servers.append(start_server(name, workdir, env))
        for server in servers:
            wait_healthy(server)
        yield servers[0], servers[1]
    finally:
        for server in servers:
            stop_server(server)
