"""Crash safety through ``scripts/crash_test.py``: a real server, SIGKILLed under write load.

SQLite in the SQLite run (a temporary file per run); PostgreSQL in the PostgreSQL run, in a
database of its own (``calendo_crash_<pid>``) created and dropped here, so the shared test
database is never killed mid-transaction.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import BACKEND

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crash_test.py"


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def crash_database() -> Iterator[str | None]:
    """None on SQLite (the script makes its own file); a fresh PostgreSQL database otherwise."""
    if BACKEND != "postgres":
        yield None
        return
    url = os.environ["CALENDO_TEST_POSTGRES_URL"]
    base = url.rsplit("/", 1)[0]
    admin = base.replace("postgresql+asyncpg://", "postgresql://", 1) + "/postgres"
    name = f"calendo_crash_{os.getpid()}"
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_acknowledged_writes_survive_sigkill(crash_database: str | None) -> None:
    command = [sys.executable, str(SCRIPT), "--cycles", "2", "--kill-after", "2", "--clients", "4"]
    if crash_database is not None:
        command += ["--database-url", crash_database]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " 0 problems" in result.stdout, output
    assert "2 SIGKILLs" in result.stdout, output
