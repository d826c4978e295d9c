"""Server subprocesses: the real Calendo server and the bare ceiling app, with their RSS.

Both run as ``uvicorn`` with uvloop and httptools and one worker (the machine has two cores:
one for the server, one for the load generator). Output goes to a log file per server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.config import ROOT

STARTUP_TIMEOUT = 60.0


@dataclass(slots=True)
class Server:
    """A running server process."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL on the loopback interface."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (uvicorn with one worker serves in-process)."""
        return self.process.pid

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MB, from /proc/<pid>/status."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
        return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)

    def cpu_seconds(self) -> float:
        """User + system CPU time the process (all its threads) has used so far."""
        return _stat_cpu(Path(f"/proc/{self.pid}/stat"))

    def thread_cpu(self) -> tuple[float, float]:
        """CPU seconds so far of (the main thread, all other threads)."""
        main = other = 0.0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                seconds = _stat_cpu(task / "stat")
            except OSError:  # the thread ended meanwhile
                continue
            if task.name == str(self.pid):
                main += seconds
            else:
                other += seconds
        return main, other

    def wait_idle(self, timeout: float = 120.0, window: float = 0.25) -> None:
        """Block until the server has drained its backlog (under 5 % CPU over ``window``).

        A load run ends with requests still queued in the server (logins waiting for Argon2,
        writers waiting for SQLite's lock); without this they would slow the next scenario.
        """
        deadline = time.monotonic() + timeout
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(window)
            after = self.cpu_seconds()
            if after - before < 0.05 * window:
                return
            before = after

    def stop(self) -> None:
        """Ask uvicorn to shut down, then insist."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _stat_cpu(stat: Path) -> float:
    """utime + stime of a /proc stat file, in seconds."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port that is free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(name: str, argv: list[str], env: dict[str, str], port: int, log: Path) -> Server:
    # The working directory holds the log only: no stray .env is read from it.
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, process, port, log)
    _wait_healthy(server)
    return server


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} did not become healthy within {STARTUP_TIMEOUT:.0f} s")


def _clean_env() -> dict[str, str]:
    """The current environment without any CALENDO_* variable (the run sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CALENDO_")}


def start_calendo(database_url: str, secret: str, log_path: Path) -> Server:
    """``python -m calendo serve --no-migrate`` on a free port, production settings."""
    port = free_port()
    env = _clean_env() | {
        "CALENDO_DATABASE_URL": database_url,
        "CALENDO_PORT": str(port),
        "CALENDO_ENV": "production",
        "CALENDO_SECRET_KEY": secret,
        "CALENDO_RATE_LIMIT_ENABLED": "false",
        "CALENDO_LOG_JSON": "true",
        # Tokens are minted once per scale; a long run must not see them expire midway.
        "CALENDO_ACCESS_TOKEN_MINUTES": "240",
    }
    argv = [sys.executable, "-m", "calendo", "serve", "--no-migrate"]
    return _spawn("calendo", argv, env, port, log_path)


def start_bare(log_path: Path) -> Server:
    """The ceiling app, served the same way as Calendo."""
    port = free_port()
    env = _clean_env() | {"PYTHONPATH": str(ROOT)}
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--workers",
        "1",
        # The same logging as ``calendo serve`` (info, with access lines): a like-for-like floor.
        "--log-level",
        "info",
        "--no-proxy-headers",
    ]
    return _spawn("bare", argv, env, port, log_path)
