"""Create, migrate and seed a database (a SQLite file or a PostgreSQL database) for one scale.

The schema comes from the real migrations (``calendo.__main__.migrate``); the rows are
inserted with SQLAlchemy Core ``insert()`` executemany on the models' tables. SQLite is
filled through one synchronous connection with ``synchronous=OFF`` (the seed is disposable:
a crash just means seeding again); PostgreSQL through one asyncpg connection, with the same
inserts run in ``run_sync``, then each ``id`` sequence is moved past the seeded ids. Argon2
runs once: every account shares one hash of the benchmark password. No ``ANALYZE`` is run,
like a database that grew through the application.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import create_engine, event, insert, make_url, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.ext.asyncio import create_async_engine

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


def _seed_sqlite(path: Path, chunks: Iterable[TableRows]) -> tuple[int, float]:
    """Insert every chunk into the SQLite file; (rows, file size in MB)."""
    engine = _seed_engine(database_urls(path)[1])
    rows = 0
    with engine.begin() as conn:
        for chunk in chunks:
            rows += _insert(conn, chunk)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return rows, path.stat().st_size / 1e6


def _reset_sequences(conn: Connection) -> None:
    """Move each ``id`` sequence past the explicit ids the seed inserted (PostgreSQL)."""
    for name in TABLE_ORDER:
        table = calendo.models.Base.metadata.tables[name]
        if "id" not in table.c:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f'COALESCE(MAX(id), 0) + 1, false) FROM "{name}"'
            )
        )


async def _seed_postgres(url: str, chunks: Iterable[TableRows]) -> tuple[int, float]:
    """Insert every chunk through one asyncpg connection; (rows, database size in MB)."""
    engine = create_async_engine(url)
    rows = 0
    try:
        async with engine.begin() as conn:
            for chunk in chunks:
                rows += await conn.run_sync(_insert, chunk)
            await conn.run_sync(_reset_sequences)
        async with engine.connect() as conn:
            size = await conn.scalar(text("SELECT pg_database_size(current_database())"))
    finally:
        await engine.dispose()
    return rows, int(size or 0) / 1e6


def seed_database(
    target: Path | str, scale: str, settings: Settings
) -> tuple[SeedFacts, dict[str, float]]:
    """Migrate and fill a new database; returns the facts and timings.

    ``target`` is a SQLite file path, or the async URL of an empty PostgreSQL database.
    """
    async_url = database_urls(target)[0] if isinstance(target, Path) else target
    started = time.perf_counter()
    migrate(async_url)
    migrated = time.perf_counter()
    password_hash = PasswordHasher(settings).hash(config.BENCH_PASSWORD)
    dataset = Dataset(scale, config.SCALES[scale], password_hash)
    if isinstance(target, Path):
        rows, db_mb = _seed_sqlite(target, dataset.chunks())
    else:
        rows, db_mb = asyncio.run(_seed_postgres(target, dataset.chunks()))
    timings = {
        "migrate_s": migrated - started,
        "seed_s": time.perf_counter() - migrated,
        "rows": float(rows),
        "db_mb": db_mb,
    }
    return dataset.facts, timings


def _server_url(base_url: str) -> URL:
    return make_url(base_url)


async def _admin(base_url: str, statement: str) -> None:
    """Run one statement on the server's ``postgres`` database (outside a transaction)."""
    url = _server_url(base_url)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database="postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_postgres_database(base_url: str, name: str) -> str:
    """Create an empty database ``name`` (dropping a leftover one); its async URL."""
    drop_postgres_database(base_url, name)
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))
    url = _server_url(base_url).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


def drop_postgres_database(base_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, closing any connection still open to it."""
    asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
