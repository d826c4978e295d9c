"""Create, migrate and seed a SQLite database file for one scale, fast.

The schema comes from the real migrations (``calendo.__main__.migrate``); the rows are
inserted with SQLAlchemy Core ``insert()`` executemany on the models' tables, through one
synchronous connection with ``synchronous=OFF`` (the seed is disposable: a crash just means
seeding again). Argon2 runs once: every account shares one hash of the benchmark password.
No ``ANALYZE`` is run, like a database that grew through the application.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert
from sqlalchemy.engine import Connection, Engine

import calendo.models
from bench import config
from bench.dataset import Dataset, SeedFacts
from bench.seed_rows import TABLE_ORDER, TableRows
from calendo.__main__ import migrate
from calendo.core.config import Settings
from calendo.core.security import PasswordHasher

INSERT_BATCH = 10_000


def database_urls(path: Path) -> tuple[str, str]:
    """(async URL for the server and migrations, sync URL for seeding)."""
    return f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}"


def _seed_engine(url: str) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    return engine


def _insert(conn: Connection, rows: TableRows) -> int:
    count = 0
    for name in TABLE_ORDER:
        table = calendo.models.Base.metadata.tables[name]
        batch = rows.get(name, [])
        for start in range(0, len(batch), INSERT_BATCH):
            conn.execute(insert(table), batch[start : start + INSERT_BATCH])
        count += len(batch)
    return count


def seed_database(path: Path, scale: str, settings: Settings) -> tuple[SeedFacts, dict[str, float]]:
    """Migrate and fill a new database at ``path``; returns the facts and timings."""
    async_url, sync_url = database_urls(path)
    started = time.perf_counter()
    migrate(async_url)
    migrated = time.perf_counter()
    password_hash = PasswordHasher(settings).hash(config.BENCH_PASSWORD)
    dataset = Dataset(scale, config.SCALES[scale], password_hash)
    engine = _seed_engine(sync_url)
    rows = 0
    with engine.begin() as conn:
        for chunk in dataset.chunks():
            rows += _insert(conn, chunk)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    timings = {
        "migrate_s": migrated - started,
        "seed_s": time.perf_counter() - migrated,
        "rows": float(rows),
        "db_mb": path.stat().st_size / 1e6,
    }
    return dataset.facts, timings
