"""Conflict detection and free-slot search for a candidate event against a user's calendar.

This module owns the overlap arithmetic behind "this collides with ..." and "move it by ...":
pure functions over already-expanded occurrences (see ``calendo.calendar.recurrence.expand``).
Intervals are half-open, ``[start, end)``: an event ending at 10:00 does not collide with one
starting at 10:00. All datetimes must be timezone-aware. Callers moving an existing event
should leave that event's own occurrences out of ``busy``.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from calendo.calendar.recurrence import Occurrence

_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Busy:
    """One occurrence of an existing event in the user's calendar."""

    event_id: int
    title: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Conflict:
    """An existing occurrence that a candidate overlaps."""

    event_id: int
    title: str
    occurrence_start: datetime
    occurrence_end: datetime


class _CandidateIndex:
    """Candidate occurrences sorted by start, answering "what overlaps this interval?" in O(log n).

    ``_reach[k]`` is the occurrence with the latest end among the first k+1 by start. Every
    candidate starting before a busy interval ends overlaps it iff the latest-ending of them
    ends after the busy interval starts; that works for zero-length intervals too.
    """

    __slots__ = ("_reach", "starts")

    def __init__(self, candidate: Sequence[Occurrence]) -> None:
        """Sort the candidate and precompute the running latest end."""
        ordered = sorted(candidate, key=lambda occ: (occ.start, occ.end))
        self.starts = [occ.start for occ in ordered]
        self._reach: list[Occurrence] = []
        for occ in ordered:
            if not self._reach or occ.end > self._reach[-1].end:
                self._reach.append(occ)
            else:
                self._reach.append(self._reach[-1])

    def overlapping(self, busy: Busy, delta: timedelta) -> Occurrence | None:
        """A candidate occurrence that, shifted by ``delta``, overlaps ``busy``; else None."""
        # Candidates [0, k) start (after shifting) strictly before the busy interval ends.
        k = bisect_left(self.starts, busy.end - delta)
        if k == 0:
            return None
        latest = self._reach[k - 1]
        return latest if latest.end + delta > busy.start else None


def find_conflicts(candidate: Sequence[Occurrence], busy: Sequence[Busy]) -> list[Conflict]:
    """Busy occurrences overlapping any candidate occurrence, sorted and deduplicated."""
    index = _CandidateIndex(candidate)
    found = {
        Conflict(item.event_id, item.title, item.start, item.end)
        for item in busy
        if index.overlapping(item, _ZERO) is not None
    }
    return sorted(
        found,
        key=lambda c: (c.occurrence_start, c.event_id, c.occurrence_end, c.title),
    )


def find_shift(
    candidate: Sequence[Occurrence], busy: Sequence[Busy], *, latest_start: datetime
) -> timedelta | None:
    """Smallest delta >= 0 moving every candidate occurrence clear of ``busy``; None if none.

    The first candidate occurrence may not start after ``latest_start`` once shifted.
    """
    return next(_free_deltas(candidate, busy, latest_start), None)


def _free_deltas(
    candidate: Sequence[Occurrence], busy: Sequence[Busy], latest_start: datetime
) -> Iterator[timedelta]:
    """Yield conflict-free shifts in increasing order, up to ``latest_start``.

    A free placement can only begin at 0 or where some candidate occurrence starts exactly as
    some busy one ends (delta = busy.end - occurrence.start), so only those deltas are tried.
    After a conflict the search jumps straight past it: the overlapping pair keeps overlapping
    for every smaller shift, so no valid delta is skipped.
    """
    if not candidate:
        # Nothing to place, so nothing can collide.
        yield _ZERO
        return
    index = _CandidateIndex(candidate)
    ends = sorted(item.end for item in busy)
    first = index.starts[0]
    delta: timedelta | None = _ZERO
    while delta is not None and first + delta <= latest_start:
        blocked_until = _blocked_until(index, busy, delta)
        if blocked_until is None:
            yield delta
            delta = _next_delta(index, ends, delta)
        else:
            delta = blocked_until


def _blocked_until(
    index: _CandidateIndex, busy: Sequence[Busy], delta: timedelta
) -> timedelta | None:
    """None when the shift is conflict-free, else the smallest shift clearing every found pair."""
    jump: timedelta | None = None
    for item in busy:
        occ = index.overlapping(item, delta)
        if occ is not None:
            # This pair overlaps until the occurrence starts where the busy one ends.
            clear = item.end - occ.start
            jump = clear if jump is None else max(jump, clear)
    return jump


def _next_delta(index: _CandidateIndex, ends: list[datetime], delta: timedelta) -> timedelta | None:
    """The smallest busy.end - occurrence.start strictly greater than ``delta``, if any."""
    best: timedelta | None = None
    for start in index.starts:
        position = bisect_right(ends, start + delta)
        if position < len(ends):
            step = ends[position] - start
            best = step if best is None else min(best, step)
    return best
