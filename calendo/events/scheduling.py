"""Conflict checks against the acting user's calendar, and the three strategies.

Only events whose stored series bounds overlap the window are loaded and expanded (an index
on ``start_time, series_end`` picks them), so a write never scans a whole calendar. The
acting user's row is locked first, so two concurrent writes of one user cannot both pass the
check (check-then-insert race); on SQLite the write transaction is exclusive anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.calendar import conflicts as pure
from calendo.calendar import days, recurrence, stepped
from calendo.calendar.recurrence import Occurrence, Override, Series
from calendo.core.config import Settings
from calendo.core.cooperative import Pacer
from calendo.core.errors import Conflict, ValidationFailed
from calendo.events import repository
from calendo.events.all_day import stored_instant
from calendo.events.snapshots import floating_times, format_instant, parse_instant
from calendo.events.state import EventFields

_MAX_PLACEMENT_TRIES = 12


class ScheduleConflict(Conflict):
    slug = "schedule-conflict"
    title = "Scheduling conflict"


def conflict_dicts(found: list[pure.Conflict]) -> list[dict[str, Any]]:
    """Conflicts as JSON-ready dicts."""
    return [
        {
            "event_id": c.event_id,
            "title": c.title,
            "occurrence_start": format_instant(c.occurrence_start),
            "occurrence_end": format_instant(c.occurrence_end),
        }
        for c in found
    ]


def series_of_content(content: Mapping[str, Any], *, zone: str = "UTC") -> Series:
    """The series of a content snapshot, unchecked (``series_from_content`` checks it); an
    all-day series placed in ``zone``."""
    return Series(
        start=parse_instant(content["start_time"]),
        end=parse_instant(content["end_time"]),
        timezone=content["timezone"],
        rule=content["recurrence_pattern"] if content["is_recurring"] else None,
        exdates=_exdates(content["is_recurring"], content["recurrence_exceptions"]),
        rdates=_exdates(content["is_recurring"], content.get("recurrence_dates")),
        transparent=content.get("transparency") == "transparent",
        overrides=_overrides(content["is_recurring"], content.get("recurrence_overrides")),
        days_in=zone if content.get("all_day") else None,
    )


def series_from_content(content: dict[str, Any], *, zone: str = "UTC") -> Series:
    """Build and validate the series of a content snapshot; 422 when the rule cannot work.
    An all-day series is placed in ``zone`` (the acting user's, for its conflict check)."""
    series = series_of_content(content, zone=zone)
    if series.end <= series.start:
        raise ValidationFailed("end_time must be after start_time", loc=("body", "end_time"))
    if series.rdates and min(series.rdates) < series.start:
        # The event's start bounds its series in the calendar index: an extra date before it
        # would never be found by a window query.
        first, start = format_instant(min(series.rdates)), content["start_time"]
        if series.days_in is not None:  # an all-day series: speak its dates
            first, start, bound = first[:10], start[:10], "start_date"
        else:
            bound = "start_time"
        raise ValidationFailed(
            f"recurrence_dates must not be before {bound}: {first} is before {start}",
            loc=("body", "recurrence_dates"),
        )
    try:
        recurrence.validate_series(series)
    except recurrence.RecurrenceError as exc:
        raise ValidationFailed(str(exc), loc=("body", "recurrence_pattern")) from exc
    return series


def series_of(event: EventFields | Row[Any], *, zone: str = "UTC") -> Series:
    """The stored series of an event; an all-day one's dates placed in ``zone`` (the
    caller's), its times read from its dates (its columns hold index bounds)."""
    if getattr(event, "all_day", False):
        start, end = floating_times(event.start_date, event.end_date)
        timezone = "UTC"  # a rule on dates walks the floating midnights
    else:
        start, end, timezone = event.start_time, event.end_time, event.timezone
    return Series(
        start=start,
        end=end,
        timezone=timezone,
        rule=event.recurrence_pattern if event.is_recurring else None,
        exdates=_exdates(event.is_recurring, event.recurrence_exceptions),
        rdates=_exdates(event.is_recurring, event.recurrence_dates),
        transparent=event.transparency == "transparent",
        overrides=_overrides(event.is_recurring, event.recurrence_overrides),
        days_in=zone if getattr(event, "all_day", False) else None,
    )


def _overrides(is_recurring: bool, values: list[dict[str, Any]] | None) -> tuple[Override, ...]:
    """Stored overrides (``events.overrides``) as the calendar engine's values; a single
    event has none."""
    if not is_recurring or not values:
        return ()
    return tuple(
        Override(
            parse_instant(v["recurrence_id"]),
            _instant(v.get("start_time")),
            _instant(v.get("end_time")),
            None if "transparency" not in v else v["transparency"] == "transparent",
        )
        for v in values
    )


def _instant(value: str | None) -> datetime | None:
    return None if value is None else parse_instant(value)


def _exdates(is_recurring: bool, values: list[str] | None) -> tuple[datetime, ...]:
    """Exceptions (EXDATE) remove occurrences of a series and extra dates (RDATE) add some; a
    single event has neither, and always keeps its one occurrence."""
    return tuple(stored_instant(x) for x in values or ()) if is_recurring else ()


def last_end(series: Series) -> datetime | None:
    """End of the series' last occurrence; None when open-ended.

    A series ending past the last representable instant (``UNTIL=99991231T235959Z``, a common
    way of writing "forever") is open-ended too, rather than an overflow.
    """
    try:
        return recurrence.series_last_end(series)
    except OverflowError:
        return None


def check_window(series: Series, settings: Settings) -> tuple[datetime, datetime]:
    """The span a conflict check covers: the whole series, or a horizon when open-ended."""
    final = last_end(series)
    start = first_start(series)
    horizon_end = start + timedelta(days=settings.conflict_horizon_days)
    return start, min(final, horizon_end) if final else horizon_end


def first_start(series: Series) -> datetime:
    """The series' start: an all-day one's first date placed in its zone."""
    if series.days_in is None:
        return series.start
    return days.place(series.start, series.start, recurrence.load_zone(series.days_in))[0]


async def busy_between(
    session: AsyncSession,
    *,
    user_id: int,
    start: datetime,
    end: datetime,
    exclude_ids: list[int],
    settings: Settings,
    zone: str = "UTC",
) -> list[pure.Busy]:
    """Occurrences of the user's events in the window (all-day ones placed in ``zone``)."""
    busy: list[pure.Busy] = []
    for event in await repository.calendar_candidates(
        session, user_id=user_id, start=start, end=end, exclude_ids=exclude_ids
    ):
        series = series_of(event, zone=zone)
        expansion = recurrence.expand(series, start, end, limit=settings.max_occurrences)
        busy.extend(
            pure.Busy(event.id, event.title, o.start, o.end)
            for o in expansion.occurrences
            if keeps_busy(series, o)
        )
    return busy


def keeps_busy(series: Series, occurrence: Occurrence) -> bool:
    """Whether an occurrence keeps its time busy: its override's transparency, else the
    series' (RFC 5545 TRANSP on the RECURRENCE-ID component, else on the master)."""
    if occurrence.transparent is not None:
        return not occurrence.transparent
    return not series.transparent


def ever_busy(series: Series) -> bool:
    """Whether any occurrence of the series can keep time busy."""
    return not series.transparent or any(o.transparent is False for o in series.overrides)


@dataclass
class BusyCache:
    """The user's busy occurrences over a window, loaded once for several new events.

    A batch, or a run of creates in a transaction, checks every new event against the
    calendar plus the new events before it; without this, event *k* would query and expand
    the *k − 1* events already added. ``between`` answers exactly what ``busy_between``
    would for a window it ``covers``: at most ``limit`` occurrences per event, the first
    ones. Where an event's expansion over the whole window was cut at ``limit``, the cache
    is complete only up to the last occurrence it kept (``complete_until``), and a check
    reaching further queries instead.
    """

    start: datetime
    end: datetime
    limit: int
    busy: list[pure.Busy] = field(default_factory=list)
    complete_until: datetime | None = None

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether the cache holds every busy occurrence of this window."""
        bound = self.end if self.complete_until is None else min(self.end, self.complete_until)
        return self.start <= start and end <= bound

    def between(self, start: datetime, end: datetime) -> list[pure.Busy]:
        """The cached occurrences overlapping the window, the first ``limit`` of each event."""
        taken: Counter[int] = Counter()
        found = []
        for item in self.busy:
            if item.end > start and item.start < end and taken[item.event_id] < self.limit:
                taken[item.event_id] += 1
                found.append(item)
        return found

    async def add(self, event_id: int, title: str, series: Series, pacer: Pacer) -> None:
        """Record the occurrences of an event in the calendar (loaded, or just placed), expanded
        in steps (``calendar.stepped``) with a ``pacer`` tick between them; a transparent one
        keeps no time busy."""
        if not ever_busy(series):
            return
        steps = stepped.expansion(series, self.start, self.end, limit=self.limit)
        expansion = await pacer.drive(steps)
        self.busy.extend(
            pure.Busy(event_id, title, o.start, o.end)
            for o in expansion.occurrences
            if keeps_busy(series, o)
        )
        if expansion.truncated:
            cut = expansion.occurrences[-1].start
            known = self.complete_until
            self.complete_until = cut if known is None else min(known, cut)


def needed_window(series: Series, strategy: str, settings: Settings) -> tuple[datetime, datetime]:
    """The busy window a check of this series under this strategy reads."""
    start, end = check_window(series, settings)
    if strategy == "shift":
        end += timedelta(days=settings.shift_horizon_days)
    return start, end


async def load_cache(
    session: AsyncSession,
    *,
    user_id: int,
    series: list[Series],
    strategy: str,
    settings: Settings,
    pacer: Pacer,
    zone: str = "UTC",
) -> BusyCache:
    """Load the busy occurrences covering every series' check (one query), expanding the
    events found one at a time (``BusyCache.add``) with a ``pacer`` tick after each."""
    windows = [needed_window(s, strategy, settings) for s in series]
    start, end = min(w[0] for w in windows), max(w[1] for w in windows)
    cache = BusyCache(start, end, settings.max_occurrences)
    await repository.lock_user(session, user_id)
    for event in await repository.calendar_candidates(
        session, user_id=user_id, start=cache.start, end=cache.end
    ):
        await cache.add(event.id, event.title, series_of(event, zone=zone), pacer)
        await pacer.tick()
    return cache


def _shifted(series: Series, delta: timedelta) -> Series:
    return replace(
        series,
        start=series.start + delta,
        end=series.end + delta,
        exdates=tuple(x + delta for x in series.exdates),
        rdates=tuple(x + delta for x in series.rdates),
        overrides=tuple(
            Override(
                o.recurrence_id + delta,
                None if o.start is None else o.start + delta,
                None if o.end is None else o.end + delta,
                o.transparent,
            )
            for o in series.overrides
        ),
    )


async def resolve(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: int,
    series: Series,
    strategy: str,
    exclude_ids: list[int],
    cache: BusyCache | None = None,
    zone: str = "UTC",
) -> tuple[Series, list[pure.Conflict]]:
    """Apply a strategy: raise (reject), report (allow) or move the series (shift). A
    transparent series never conflicts: it is written where it was asked, whatever overlaps.
    All-day events (the series' and the calendar's) are placed in ``zone``, the actor's; an
    all-day series shifts by whole days."""
    await repository.lock_user(session, user_id)
    if not ever_busy(series):
        return series, []
    start, end = check_window(series, settings)
    shift_horizon = timedelta(days=settings.shift_horizon_days)
    busy_end = end + shift_horizon if strategy == "shift" else end
    candidate = candidate_occurrences(series, start, end, settings)
    if cache is not None and not exclude_ids and cache.covers(start, busy_end):
        busy = cache.between(start, busy_end)
    else:
        busy = await busy_between(
            session,
            user_id=user_id,
            start=start,
            end=busy_end,
            exclude_ids=exclude_ids,
            settings=settings,
            zone=zone,
        )
    found = pure.find_conflicts(candidate, busy)
    if not found or strategy == "allow":
        return series, found
    if strategy == "shift" and series.days_in is not None:
        moves = day_shifts(series, busy, settings, count=1)
        if moves:
            return _shifted(series, moves[0]), []
        raise ScheduleConflict(
            f"No free day within {settings.shift_horizon_days} days of the requested date",
            extra={"conflicts": conflict_dicts(found)},
        )
    if strategy == "shift":
        delta = pure.find_shift(candidate, busy, latest_start=series.start + shift_horizon)
        if delta is not None and _moves_whole(series, delta, candidate, settings):
            return _shifted(series, delta), []
        reason = (
            f"No free slot within {settings.shift_horizon_days} days of the requested start"
            if delta is None
            else "The series cannot be shifted: its rule pins the days or times of its "
            "occurrences, so moving its start would not move them"
        )
        raise ScheduleConflict(reason, extra={"conflicts": conflict_dicts(found)})
    raise ScheduleConflict(
        f"The event overlaps {len(found)} occurrence(s) in your calendar",
        extra={"conflicts": conflict_dicts(found)},
    )


def _moves_whole(
    series: Series, delta: timedelta, candidate: list[Occurrence], settings: Settings
) -> bool:
    """Whether the series started ``delta`` later really has the shifted occurrences.

    A plain rule follows its start; BYDAY, BYHOUR, UNTIL and friends do not, and the free
    slot computed for the shifted occurrences would then not be where the series lands.
    """
    if series.rule is None or delta == timedelta(0):
        return True
    moved = _shifted(series, delta)
    start, end = check_window(series, settings)
    real = candidate_occurrences(moved, start + delta, end + delta, settings)
    return real == [_moved(o, delta) for o in candidate]


def _moved(occurrence: Occurrence, delta: timedelta) -> Occurrence:
    rid = occurrence.recurrence_id
    return replace(
        occurrence,
        start=occurrence.start + delta,
        end=occurrence.end + delta,
        recurrence_id=None if rid is None else rid + delta,
    )


def candidate_occurrences(
    series: Series, start: datetime, end: datetime, settings: Settings
) -> list[Occurrence]:
    """The series' own busy occurrences in the check window (bounded)."""
    expansion = recurrence.expand(series, start, end, limit=settings.max_occurrences)
    return [o for o in expansion.occurrences if keeps_busy(series, o)]


async def preview(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: int,
    series: Series,
    exclude_ids: list[int],
    zone: str = "UTC",
) -> tuple[list[pure.Conflict], list[tuple[datetime, datetime]]]:
    """Conflicts and up to three free slots of the same duration, without writing. A
    transparent series has no conflict, and any placement is free: its own is suggested.
    All-day events are placed in ``zone``; an all-day series' slots are whole days later."""
    if not ever_busy(series):
        return [], [_placed_span(series)]
    start, end = check_window(series, settings)
    shift_horizon = timedelta(days=settings.shift_horizon_days)
    candidate = candidate_occurrences(series, start, end, settings)
    busy = await busy_between(
        session,
        user_id=user_id,
        start=start,
        end=end + shift_horizon,
        exclude_ids=exclude_ids,
        settings=settings,
        zone=zone,
    )
    found = pure.find_conflicts(candidate, busy)
    if series.days_in is not None:
        moved = [_shifted(series, d) for d in day_shifts(series, busy, settings, count=3)]
        return found, [_placed_span(m) for m in moved]
    deltas = free_placements(
        candidate,
        busy,
        latest_start=series.start + shift_horizon,
        fits=lambda delta: _moves_whole(series, delta, candidate, settings),
    )
    slots = [(series.start + d, series.end + d) for d in deltas]
    return found, slots


def _placed_span(series: Series) -> tuple[datetime, datetime]:
    """The first span of a series as written: an all-day one's dates placed in its zone."""
    if series.days_in is None:
        return series.start, series.end
    return days.place(series.start, series.end, recurrence.load_zone(series.days_in))


def day_shifts(
    series: Series, busy: list[pure.Busy], settings: Settings, *, count: int
) -> list[timedelta]:
    """The first ``count`` whole-day moves (0 included) within the shift horizon after which
    the all-day series' occurrences, expanded again, overlap nothing ``busy``."""
    found: list[timedelta] = []
    for day in range(settings.shift_horizon_days + 1):
        moved = _shifted(series, timedelta(days=day))
        start, end = check_window(moved, settings)
        if not pure.find_conflicts(candidate_occurrences(moved, start, end, settings), busy):
            found.append(timedelta(days=day))
            if len(found) == count:
                break
    return found


def free_placements(
    candidate: list[Occurrence],
    busy: list[pure.Busy],
    *,
    latest_start: datetime,
    fits: Callable[[timedelta], bool],
    count: int = 3,
) -> list[timedelta]:
    """The earliest ``count`` shifts that are free, ``fit``, and do not overlap one another.

    ``conflicts.find_shift`` only tries shifts that end where a busy occurrence ends, so with few
    events it runs out of answers while the calendar is still mostly free. Each placement
    found here is booked as busy before the next search, so the next one is the earliest slot
    after it, back to back when the time is free. The search is bounded.
    """
    booked = list(busy)
    deltas: list[timedelta] = []
    for _ in range(_MAX_PLACEMENT_TRIES):
        delta = pure.find_shift(candidate, booked, latest_start=latest_start)
        if delta is None or not candidate:
            return deltas if delta is None else [delta]
        if fits(delta):
            deltas.append(delta)
            if len(deltas) == count:
                break
        booked += [pure.Busy(0, "", o.start + delta, o.end + delta) for o in candidate]
    return deltas
