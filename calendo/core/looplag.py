"""An event-loop lag probe: how long the loop was held by one step, seen from inside.

Off by default; ``CALENDO_LOOP_LAG_PROBE=1`` starts it from the lifespan (the fairness
benchmark does). A background task sleeps ``INTERVAL`` and records by how much each wake-up
came late: a request that holds the loop for 200 ms shows as a 200 ms overshoot. The longest
overshoot since the previous scrape is the ``calendo_event_loop_lag_max_seconds`` gauge of
``/metrics`` (reading it starts a new window), so a scraper sees the worst stall of each of
its intervals.

It is a diagnostic switch, not a tunable, so it is read from the environment here rather
than from ``Settings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable

from calendo.core.cooperative import stop

INTERVAL = 0.010
ENV_SWITCH = "CALENDO_LOOP_LAG_PROBE"


def enabled() -> bool:
    """Whether the environment asks for the probe."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("1", "true", "yes")


class LoopLagProbe:
    """The worst wake-up delay of the loop since the last ``take_max``."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self.worst = 0.0
        self.wakeups = 0

    def take_max(self) -> float:
        """The longest lag since the previous call (seconds), and start a new window."""
        worst, self.worst = self.worst, 0.0
        return worst

    async def run(self) -> None:
        """Sleep, measure the overshoot, forever (until cancelled)."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            lag = loop.time() - before - self.interval
            self.wakeups += 1
            if lag > self.worst:
                self.worst = lag


@contextlib.asynccontextmanager
async def probing(report: Callable[[Callable[[], float]], None]) -> AsyncIterator[None]:
    """When ``enabled()``, run a probe for the duration of the block and hand its
    ``take_max`` to ``report`` (the metrics gauge); otherwise do nothing."""
    if not enabled():
        yield
        return
    probe = LoopLagProbe()
    report(probe.take_max)
    task = asyncio.create_task(probe.run(), name="loop-lag-probe")
    try:
        yield
    finally:
        await stop(task)
