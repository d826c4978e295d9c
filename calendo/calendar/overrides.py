"""Single-occurrence overrides (RFC 5545 ``RECURRENCE-ID``): one occurrence of a series given
other times (or other free/busy transparency) than the rule gives it.

An override is keyed by its *recurrence id*, the start the series' rule (or an RDATE) gives
the occurrence, in UTC. It applies only while the series still produces that start: an
override whose occurrence the series no longer has (its rule changed, or an EXDATE cancelled
it) is *orphaned*, kept with the event but inert, and ``orphaned`` names it.

This module is pure and knows nothing of the rule itself: ``apply`` takes the plain expansion
of the series (overrides aside) as a function, which ``recurrence.expand`` passes in.

Expansion with overrides, for a window [start, end):

* the plain occurrences in the window, minus those whose override moves them elsewhere;
* plus every override whose occurrence the series has (whatever window that occurrence was
  in) and whose own times overlap the window, carrying its ``recurrence_id``.

An override's title, description and location are the event layer's business: the engine
only places the occurrence and says whether it keeps its time busy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_OVERRIDES = 500
"""Overrides one series may hold (each a possible lookup of its occurrence on expansion)."""

_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Override:
    """One occurrence's own times (None: the series' own) and transparency (None: the
    series')."""

    recurrence_id: datetime
    start: datetime | None = None
    end: datetime | None = None
    transparent: bool | None = None

    def placed(self, duration: timedelta) -> tuple[datetime, datetime]:
        """The occurrence's start and end with this override applied."""
        start = self.start if self.start is not None else self.recurrence_id
        end = self.end if self.end is not None else start + duration
        return start, end


@dataclass(frozen=True, slots=True)
class Placed:
    """An overridden occurrence: where it is, which occurrence it was, whether it is free."""

    start: datetime
    end: datetime
    recurrence_id: datetime
    transparent: bool | None


# The plain expansion of a series: (window start, window end, limit) -> occurrence starts and
# ends, sorted by start, and whether the limit cut them short.
PlainExpansion = Callable[[datetime, datetime, int], tuple[list[tuple[datetime, datetime]], bool]]


def produces(plain: PlainExpansion, recurrence_id: datetime) -> bool:
    """Whether the series (overrides aside) has an occurrence starting at ``recurrence_id``.

    Asks for the occurrences overlapping the instant itself: the one starting there is among
    them, with at most those still running from before (bounded by the limit)."""
    found, _ = plain(recurrence_id, recurrence_id + _INSTANT, MAX_OVERRIDES + 1000)
    return any(start == recurrence_id for start, _end in found)


def apply(
    plain: PlainExpansion,
    overrides: Sequence[Override],
    duration: timedelta,
    window_start: datetime,
    window_end: datetime,
    limit: int,
) -> tuple[list[tuple[datetime, datetime]], list[Placed], bool]:
    """The occurrences of [window_start, window_end) with ``overrides`` applied: the plain
    ones left in place, the overridden ones placed, and whether ``limit`` cut the plain
    expansion short. Sorting and the final cut to ``limit`` are the caller's."""
    by_id = {o.recurrence_id: o for o in overrides}
    # The overridden occurrences of the window no longer count toward the limit: ask for as
    # many more as there are overrides, so the cut falls where it would without them.
    base, truncated = plain(window_start, window_end, limit + len(by_id))
    kept = [occ for occ in base if occ[0] not in by_id]
    in_window = {occ[0] for occ in base}
    placed: list[Placed] = []
    for override in by_id.values():
        start, end = override.placed(duration)
        if not (end > window_start and start < window_end):
            continue
        if override.recurrence_id not in in_window and not produces(plain, override.recurrence_id):
            continue  # orphaned: the series no longer has that occurrence
        placed.append(Placed(start, end, override.recurrence_id, override.transparent))
    return kept, placed, truncated


def orphaned(plain: PlainExpansion, overrides: Sequence[Override]) -> list[datetime]:
    """The recurrence ids of the overrides whose occurrence the series does not have."""
    return [o.recurrence_id for o in overrides if not produces(plain, o.recurrence_id)]
