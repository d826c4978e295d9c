"""``python -m bench.wal_commits [--commits N] [--rows N]``: what a commit costs on SQLite with
its own checkpoints, against Calendo's (``core/checkpoints.py``).

SQLite, with the settings Calendo gives its connections (WAL, ``synchronous=NORMAL``), in a
temporary file: ``--commits`` write transactions of ``--rows`` rows of about 1 KB each (about
what a batch of 100 events appends), each commit timed. Two ways, alternated:

* ``sqlite default``: ``wal_autocheckpoint`` at SQLite's 1,000 pages, so the commit that takes
  the log past them copies it into the database file and syncs it, inside the commit;
* ``calendo``: ``wal_autocheckpoint=0`` on the writer, and a ``core.checkpoints.Checkpointer``
  checkpointing from its thread every ``INTERVAL`` (the commits are paced 10 ms apart, as a
  busy server's would come).

A commit on Calendo's SQLite runs on the event loop (``core/sqlite_inline.py``), so its p99 and
maximum are how long every other request of the worker waits behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from calendo.core.checkpoints import Checkpointer

PACE = 0.010


def _connect(path: Path, *, autocheckpoint: bool) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    if not autocheckpoint:
        connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, k TEXT, v TEXT)")
    connection.execute("CREATE INDEX IF NOT EXISTS ix_item_k ON item (k)")
    return connection


async def _commits(workdir: Path, *, calendo: bool, commits: int, rows: int) -> list[float]:
    path = workdir / ("calendo.db" if calendo else "default.db")
    connection = _connect(path, autocheckpoint=not calendo)
    checkpointer = Checkpointer(str(path)) if calendo else None
    if checkpointer is not None:
        checkpointer.start()
    timings = []
    try:
        for n in range(commits):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT INTO item (k, v) VALUES (?, ?)",
                [(f"{n}-{k}", "x" * 1000) for k in range(rows)],
            )
            started = time.perf_counter()
            connection.execute("COMMIT")
            timings.append(time.perf_counter() - started)
            await asyncio.sleep(PACE)
    finally:
        if checkpointer is not None:
            await checkpointer.close()
        connection.close()
    return sorted(timings)


def _summary(name: str, timings: list[float]) -> str:
    p50 = timings[len(timings) // 2] * 1e3
    p99 = timings[int(len(timings) * 0.99) - 1] * 1e3
    slow = sum(t > 0.005 for t in timings)
    return (
        f"{name:15} commit p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {timings[-1] * 1e3:6.2f} ms"
        f"  over 5 ms: {slow} of {len(timings)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wal_commits", description=__doc__)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two ways")
    args = parser.parse_args(argv)
    for _ in range(args.rounds):
        for calendo in (False, True):
            with tempfile.TemporaryDirectory(prefix="calendo-wal-") as workdir:
                timings = asyncio.run(
                    _commits(Path(workdir), calendo=calendo, commits=args.commits, rows=args.rows)
                )
            print(_summary("calendo" if calendo else "sqlite default", timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
