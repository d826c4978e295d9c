"""Server subprocesses: the real Calendo server and the bare ceiling app, with their RSS.

Both run as ``uvicorn`` with uvloop and httptools and, by default, one worker (the machine
has two cores: one for the server, one for the load generator). With several workers the
uvicorn supervisor forks them; CPU time and memory are then summed over the process tree.
Output goes to a log file per server.
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
    workers: int = 1

    @property
    def url(self) -> str:
        """Base URL on the loopback interface."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process to profile: the server itself with one worker, else its first worker."""
        if self.workers == 1:
            return self.process.pid  # uvicorn with one worker serves in-process
        children = _children(self.process.pid)
        return children[0] if children else self.process.pid

    def pids(self) -> list[int]:
        """The server process and all its descendants (the workers)."""
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            queue += _children(pid)
        return found

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MB, from /proc/<pid>/status, summed over the tree."""
        rss = peak = 0.0
        for pid in self.pids():
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                key, _, value = line.partition(":")
                if key == "VmRSS":
                    rss += int(value.split()[0]) / 1024
                elif key == "VmHWM":
                    peak += int(value.split()[0]) / 1024
        return rss, peak

    def cpu_seconds(self) -> float:
        """User + system CPU time the processes (all their threads) have used so far."""
        total = 0.0
        for pid in self.pids():
            try:
                total += _stat_cpu(Path(f"/proc/{pid}/stat"))
            except OSError:  # the process ended meanwhile
                continue
        return total

    def thread_cpu(self) -> tuple[float, float]:
        """CPU seconds so far of (the main threads, all other threads), over the tree."""
        main = other = 0.0
        for pid in self.pids():
            try:
                tasks = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue
            for task in tasks:
                try:
                    seconds = _stat_cpu(task / "stat")
                except OSError:  # the thread ended meanwhile
                    continue
                if task.name == str(pid):
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


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``, oldest first (from each process's /proc stat)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return sorted(int(p) for p in path.read_text().split())
    except OSError:
        pass
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _stat_cpu(stat: Path) -> float:
    """utime + stime of a /proc stat file, in seconds."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port that is free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(
    name: str, argv: list[str], env: dict[str, str], port: int, log: Path, workers: int = 1
) -> Server:
    # The working directory holds the log only: no stray .env is read from it.
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, process, port, log, workers)
    _wait_healthy(server)
    if workers > 1:
        _wait_workers(server)
    return server


def _wait_workers(server: Server) -> None:
    """With several workers, the first may answer before the others have started up."""
    ready = b"Application startup complete"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.log_path.read_bytes().count(ready) >= server.workers:
            return
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name}: fewer than {server.workers} workers started")


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


def flush_redis(url: str) -> None:
    """Empty the Redis database the server will use (stale pub/sub or cache state)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def start_calendo(
    database_url: str,
    secret: str,
    log_path: Path,
    *,
    workers: int = 1,
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """``python -m calendo serve --no-migrate`` on a free port, production settings.

    With ``redis_url`` that Redis database is flushed first and shared by the workers (their
    WebSocket fan-out goes through its pub/sub). ``extra_env`` adds or overrides variables
    (the fairness benchmark's loop-lag probe and short heartbeat).
    """
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
        "CALENDO_WORKERS": str(workers),
    }
    if redis_url is not None:
        flush_redis(redis_url)
        env["CALENDO_REDIS_URL"] = redis_url
    env |= extra_env or {}
    argv = [sys.executable, "-m", "calendo", "serve", "--no-migrate"]
    return _spawn("calendo", argv, env, port, log_path, workers)


def start_bare(log_path: Path, workers: int = 1) -> Server:
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
        str(workers),
        # The same logging as ``calendo serve`` (info, no access lines): a like-for-like floor.
        "--log-level",
        "info",
        "--no-access-log",
        "--no-proxy-headers",
    ]
    return _spawn("bare", argv, env, port, log_path, workers)
