"""What a benchmark run measures: scales, durations, concurrency and the seeded data's shape."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from calendo.__main__ import migrate
from calendo.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

SCALES: dict[str, int] = {"1k": 1_000, "10k": 10_000, "100k": 100_000}

# The calendar: about 200 people over two years. The benchmark user's own calendar is seeded
# identically at every scale (same events, same shares), so growth between scales measures
# the cost of a bigger database, not of a busier user.
USERS = 200
BENCH_USERNAME = "bench_user"
BENCH_PASSWORD = "bench-password-1"  # a throwaway account in a temporary database
BENCH_OWNED = 300
BENCH_SHARED_IN = 100
SHARED_FRACTION = 0.20
RECURRING_FRACTION = 0.10
# Of the recurring series, the share with single-occurrence overrides (three each).
OVERRIDDEN_FRACTION = 0.10
LONG_HISTORY_EVENTS = 3
LONG_HISTORY_VERSIONS = 200
FANOUT_SIZES = (100, 1000)

BACKENDS = ("sqlite", "postgres")
# The PostgreSQL server (a fresh database per scale is created there and dropped after) and
# the Redis database that several workers share (flushed before each server starts).
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379/7"
POSTGRES_WORKERS = 2

RANGE_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
RANGE_WEEKS = 104
RANGE_END = RANGE_START + timedelta(weeks=RANGE_WEEKS)
# List scenarios cycle over these weeks in the middle of the range.
WINDOW_FIRST_WEEK = 40
WINDOW_WEEKS = 26
# Seeded events end by 18:00 local in UTC or European zones (by 18:00 UTC), so evenings
# after the seeded range are free: creates and batches are placed there, 30-minute slots
# from 20:00 UTC, and pass the ``reject`` conflict check.
FREE_SLOT_HOUR = 20
FREE_SLOTS_PER_DAY = 8
FREE_SLOT_MINUTES = 25


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Command-line choices for one run."""

    scales: tuple[str, ...]
    duration: float
    warmup: float
    concurrency: int
    generator: str  # "auto", "wrk" or "python"
    fanout_sizes: tuple[int, ...]
    fanout_rounds: int
    profile: bool
    profile_seconds: float
    py_spy: str | None
    workdir: Path | None
    output: Path
    backend: str = "sqlite"  # "sqlite" or "postgres"
    workers: int = 1  # uvicorn workers of both servers
    postgres_url: str = POSTGRES_URL
    redis_url: str | None = None  # set for postgres: workers share pub/sub through it

    @property
    def quick(self) -> bool:
        """Whether this is the short run (1k only)."""
        return self.scales == ("1k",) and self.duration <= 2


def quick_options(base: RunOptions) -> RunOptions:
    """The ``--quick`` variant: 1k only, 2 s per scenario."""
    return RunOptions(
        scales=("1k",),
        duration=2.0,
        warmup=0.5,
        concurrency=base.concurrency,
        generator=base.generator,
        fanout_sizes=(100,),
        fanout_rounds=2,
        profile=base.profile,
        profile_seconds=min(base.profile_seconds, 5.0),
        py_spy=base.py_spy,
        workdir=base.workdir,
        output=base.output,
        backend=base.backend,
        workers=base.workers,
        postgres_url=base.postgres_url,
        redis_url=base.redis_url,
    )


def in_process_settings(url: str, **overrides: Any) -> Settings:
    """Settings of an app a benchmark drives in process (httpx + ASGITransport) on its own
    throw-away database: test environment, rate limits off, a fixed secret."""
    values: dict[str, Any] = {
        "env": "test",
        "database_url": url,
        "secret_key": "bench-secret-key-that-is-long-enough-0123456789",
        "rate_limit_enabled": False,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@contextmanager
def throwaway_sqlite(prefix: str) -> Iterator[str]:
    """The URL of a migrated SQLite database in a temporary directory, removed afterwards.
    Enter it before ``asyncio.run``: the migrations run their own event loop."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        yield url
