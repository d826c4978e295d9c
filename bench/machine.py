"""What the numbers were measured on: cores, memory, CPU, Python, load, commit."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.config import ROOT, RunOptions


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _commit() -> str:
    """The commit measured, marked when tracked files had uncommitted changes."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} + uncommitted changes" if dirty else commit


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f} (1 / 5 min)"


def describe(mode: str) -> list[str]:
    """Bullet lines: the run (mode, time, commit) and the machine."""
    return [
        f"- run: {mode}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_commit()}",
        f"- machine: {os.cpu_count()} cores ({_cpu_model()}), {_memory_gib():.1f} GiB RAM, "
        f"Python {platform.python_version()}, load average at start {_load()}",
    ]


def header(options: RunOptions, generator: str) -> list[str]:
    """Bullet lines describing the machine and the run's settings."""
    return [
        *describe("quick" if options.quick else "full"),
        f"- load generator: {generator}; {options.concurrency} connections "
        f"(batch: 2); {options.duration:g} s per scenario after a {options.warmup:g} s warm-up",
        _servers(options),
    ]


def _servers(options: RunOptions) -> str:
    workers = "one uvicorn worker" if options.workers == 1 else f"{options.workers} uvicorn workers"
    if options.backend == "postgres":
        redis = f", Redis {options.redis_url} (pub/sub, cache)" if options.redis_url else ""
        return f"- servers: {workers} each (uvloop, httptools), PostgreSQL (asyncpg){redis}"
    return f"- servers: {workers} each (uvloop, httptools), SQLite in WAL mode"


def footer(elapsed: float) -> str:
    """The closing bullet: wall time and load at the end."""
    return f"- finished in {elapsed / 60:.1f} min; load average at the end {_load()}"
