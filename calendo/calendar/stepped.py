"""An expansion in steps: ``recurrence.expand`` computed ``STEP`` occurrences at a time.

A generator that yields between steps and returns the ``Expansion``, so that a caller on the
event loop can hand it back between them (``core.cooperative.Pacer.drive``): a 1,000-occurrence
expansion is ~5-10 ms of Python, which would otherwise be one step. Pure, like the rest of the
calendar engine: it knows nothing of the loop.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime

from calendo.calendar import recurrence

STEP = 200  # occurrences per step


def expansion(
    series: recurrence.Series, start: datetime, end: datetime, *, limit: int
) -> Generator[None, None, recurrence.Expansion]:
    """The steps of ``recurrence.expand(series, start, end, limit=limit)``; returns the same.

    Each step expands from the start of the last occurrence found; the occurrences it returns
    that start no later than that (those still running at that instant) are already known.
    """
    found: list[recurrence.Occurrence] = []
    since = start
    while True:
        still_running = sum(1 for o in found if o.end > since)
        want = min(STEP, limit - len(found))
        part = recurrence.expand(series, since, end, limit=still_running + want)
        fresh = [o for o in part.occurrences if not found or o.start > since]
        found += fresh
        if len(found) > limit:
            return recurrence.Expansion(found[:limit], True)
        if not part.truncated or len(found) == limit:
            return recurrence.Expansion(found, part.truncated)
        if not fresh:  # no progress (cannot happen for a sane series): do it in one go
            return recurrence.expand(series, start, end, limit=limit)
        since = found[-1].start
        yield
