"""Sharing the event loop: long pure-Python work hands the loop back every few milliseconds.

One worker serves every request on one thread, and SQLite runs inline on it
(``core.sqlite_inline``), so a request that computes for 50 ms delays every other request by
50 ms. Heavy reads (long expansions, 300-version histories, 200-item pages) therefore build
their result in steps and call ``await pacer.tick()`` between items: once ``budget`` seconds
have passed since the last hand-back, the tick yields (``asyncio.sleep(0)``, ``HAND_BACKS``
times in a row), letting waiting requests run. A tick that does not yield costs one clock read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

BUDGET = 0.001  # seconds a step may hold the loop
# Loop turns a tick hands back in a row. A cheap request needs a few turns (its bytes read,
# its task started, its answer written); with one turn per tick it got one of them per
# budget of the heavy request beside it, so it waited several budgets. Three let it finish
# within one hand-back (``bench.fairness``: the cheap read's p50 beside a heavy one about
# halves; docs/benchmarks.md). A turn with nothing else ready costs the loop a few µs.
HAND_BACKS = 3
# How long a thread computing in Python may keep the GIL while the loop waits for it.
SWITCH_INTERVAL = 0.0005

# Pure CPU work with no step boundary (a diff and its HTML page) runs here, one job at a time:
# the loop then shares the GIL with one computing thread, never with as many as there are
# concurrent heavy requests (each of which is bounded in work by construction besides).
_CPU_LANE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calendo-cpu")


def share_the_gil() -> None:
    """Let the loop take the GIL back from a computing thread within 0.5 ms (Python's default
    is 5 ms, which a cheap request waited several times over beside one diff)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


async def stop(task: asyncio.Task[object]) -> None:
    """Cancel a task that runs beside the requests (a reader, a probe, checkpoint rounds) and
    wait until it has ended."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def off_loop(fn: Callable[..., R], /, *args: object) -> R:
    """``fn(*args)`` on the process's one CPU lane, awaited from the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_CPU_LANE, functools.partial(fn, *args))


class Pacer:
    """Counts work between hand-backs of the loop; ``yields`` says how often it handed back."""

    def __init__(self, budget: float = BUDGET) -> None:
        self.budget = budget
        self.yields = 0
        self._since = time.perf_counter()

    async def tick(self) -> None:
        """Hand the loop back if this step has used its budget."""
        now = time.perf_counter()
        if now - self._since >= self.budget:
            for _ in range(HAND_BACKS):
                await asyncio.sleep(0)
            self.yields += 1
            self._since = time.perf_counter()

    async def drive(self, steps: Generator[None, None, R]) -> R:
        """Run a generator of steps to its end, ticking after each; what it returns."""
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return cast(R, done.value)
            await self.tick()

    async def map(self, build: Callable[[T], R], items: Iterable[T], every: int = 16) -> list[R]:
        """``[build(item) for item in items]``, ticking after each ``every`` items."""
        out: list[R] = []
        for index, item in enumerate(items, start=1):
            out.append(build(item))
            if index % every == 0:
                await self.tick()
        return out
