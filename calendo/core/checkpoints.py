"""SQLite's WAL checkpoints, off the event loop.

In WAL mode a commit appends the pages it changed to the write-ahead log; a *checkpoint*
copies them back into the database file and syncs it. By default SQLite checkpoints inside
the commit that takes the log past 1,000 pages (``wal_autocheckpoint``), and that commit runs
on the event loop (``core/sqlite_inline.py``): about one 100-row write transaction in thirty
paid 10-45 ms of copying and ``fsync`` there, with every other request of the worker waiting
(``bench.wal_commits``, docs/benchmarks.md). So the application's connections turn that off
(``core.db``: ``PRAGMA wal_autocheckpoint=0``), and a ``Checkpointer`` runs the checkpoints
instead, on a connection of its own in a thread of its own (the ``sqlite3`` module lets go of
the GIL while SQLite works), at most once per ``INTERVAL`` and only after a write: each round
reads ``PRAGMA data_version``, which moves when another connection (of any process) has
committed, so nothing on the write path calls into this module.

Each checkpoint is ``PASSIVE``: it never waits for a reader or a writer, copies the pages no
open read still needs, and leaves the rest to the next round; a writer starts the log over
once a checkpoint has copied all of it. Another process checkpointing the same file at that
moment only makes this round copy nothing. What is left when the process stops, SQLite
checkpoints itself as the last connection closes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import structlog

from calendo.core.cooperative import stop

# Seconds between rounds. Short enough that the log stays small and each commit writes over
# space it already has: with a second between checkpoints, 100-row commits 10 ms apart grew
# the log to megabytes and each cost 0.25-0.33 ms instead of 0.17 (``bench.wal_commits``).
INTERVAL = 0.1
THREAD_NAME = "calendo-wal"  # the thread's name prefix (thread dumps, the tests)

log = structlog.get_logger("calendo.checkpoints")


class Progress(NamedTuple):
    """One checkpoint's outcome: ``PRAGMA wal_checkpoint``'s row."""

    blocked: bool  # another checkpoint held the file
    logged: int  # pages in the log
    copied: int  # of those, in the database file now

    @property
    def complete(self) -> bool:
        return not self.blocked and self.copied >= self.logged


class Checkpointer:
    """Checkpoints one SQLite file's log from a thread, in rounds, after writes."""

    def __init__(self, path: str, *, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.rounds = 0  # checkpoints run
        # Used in the thread only: its connection, and the data version it last checkpointed.
        self._connection: sqlite3.Connection | None = None
        self._seen: int | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the rounds on the running loop until ``close``."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._rounds())

    async def checkpoint(self) -> Progress:
        """One checkpoint now, in the thread."""
        progress = await self._in_thread(force=True)
        assert progress is not None  # forced: always run
        return progress

    async def close(self) -> None:
        """Stop the rounds and close the thread's connection."""
        if self._task is not None:
            await stop(self._task)
            self._task = None
        await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown(wait=True)

    async def _rounds(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._in_thread(force=False)
            except sqlite3.Error as exc:  # the next round tries again; commits never wait on it
                log.warning("wal_checkpoint_failed", path=self.path, error=str(exc))

    async def _in_thread(self, *, force: bool) -> Progress | None:
        loop = asyncio.get_running_loop()
        progress = await loop.run_in_executor(self._thread, self._round, force)
        if progress is not None:
            self.rounds += 1
        return progress

    def _round(self, force: bool) -> Progress | None:
        """A checkpoint if a commit came since the last complete one (or ``force``), else
        None."""
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=0)
        version = self._connection.execute("PRAGMA data_version").fetchone()[0]
        if not force and version == self._seen:
            return None
        row = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        progress = Progress(blocked=bool(row[0]), logged=row[1], copied=row[2])
        # Held back by a reader (or another checkpoint): the next round tries again.
        self._seen = version if progress.complete else None
        return progress

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
