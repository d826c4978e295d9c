"""The bounded walks of a recurrence rule: every start it yields, up to the horizon, by
construction never further.

DAILY, HOURLY, MINUTELY and SECONDLY rules are walked here, month by month, looking only at the
days their BYMONTH, BYMONTHDAY, BYYEARDAY and BYDAY parts leave in and, on those, only at the
times the rule yields (never at each second stepped over); WEEKLY, MONTHLY and YEARLY rules (a
few thousand periods up to the horizon, BYYEARDAY and BYWEEKNO included) are walked by dateutil
on a calendar shifted 7,600 years later, so that its own year-9999 limit stops a rule that no
longer fires at most 199 years after the horizon.
``walk_stats.candidates`` counts the steps of every walk. Pure: no I/O; ``recurrence`` builds
series expansion on top of it.
"""

import calendar
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from math import gcd
from typing import Final

from dateutil import rrule as du

from calendo.calendar.rrule import FREQS, HORIZON_YEAR, RecurrenceError, Rule

# Occurrences start before this wall-clock instant (naive: compared in the series' zone).
HORIZON: Final = datetime(HORIZON_YEAR + 1, 1, 1)
# 19 whole 400-year Gregorian cycles: the same leap years and weekdays, and the horizon lands
# in year 9800, 199 years before dateutil stops walking (datetime's last year).
SHIFT_YEARS: Final = 7600


@dataclass(slots=True)
class WalkStats:
    """Cumulative work of the rule walks: one candidate per month, day or instant looked at
    (DAILY, HOURLY) or per period stepped over (WEEKLY, MONTHLY, YEARLY)."""

    candidates: int = 0


walk_stats: Final = WalkStats()


# --------------------------------------------------------------------------- dateutil bridge


def dateutil_rule(
    rule: Rule, dtstart: datetime, anchor: datetime, until: datetime | None
) -> du.rrule:
    """Build a dateutil rrule; DTSTART-derived defaults come from ``anchor`` (the real start).

    Making those defaults explicit lets ``dtstart`` be moved forward by whole periods without
    changing which days match (a monthly rule started on the 31st keeps BYMONTHDAY=31). COUNT
    and the rule's UNTIL are applied by ``_walk``; ``until`` here only bounds the walk.
    """
    by_month, by_month_day, by_day = rule.by_month, rule.by_month_day, rule.by_day
    if rule.freq == "YEARLY" and not has_day_filter(rule):
        by_month, by_month_day = by_month or (anchor.month,), (anchor.day,)
    elif rule.freq == "MONTHLY" and not has_day_filter(rule):
        by_month_day = (anchor.day,)
    elif rule.freq == "WEEKLY" and not by_day:
        by_day = ((None, anchor.weekday()),)
    try:
        built = du.rrule(
            FREQS[rule.freq],
            dtstart=dtstart,
            interval=rule.interval,
            # Explicit WKST: dateutil otherwise reads the process-wide calendar.firstweekday().
            wkst=rule.wkst,
            until=until,
            bysetpos=rule.by_set_pos or None,
            bymonth=by_month or None,
            bymonthday=by_month_day or None,
            byyearday=rule.by_year_day or None,
            byweekno=rule.by_week_no or None,
            byweekday=[du.weekday(wd, n) for n, wd in by_day] or None,
            byhour=rule.by_hour or None,
            byminute=rule.by_minute or None,
            bysecond=rule.by_second or None,
        )
    except ValueError as exc:
        # Start-dependent refusals (FREQ=HOURLY;INTERVAL=2;BYHOUR=3 from an even hour);
        # feasibility.never_fires_from catches the known ones first, this is the safety net.
        raise RecurrenceError(f"the rule cannot be used with this start: {exc}") from exc
    return built


def has_day_filter(rule: Rule) -> bool:
    """Whether the rule picks days itself (otherwise dateutil derives them from DTSTART)."""
    return bool(rule.by_month_day or rule.by_day or rule.by_year_day or rule.by_week_no)


def safe_iter(occurrences: Iterable[datetime]) -> Iterator[datetime]:
    """Iterate dateutil results, treating the end of the representable calendar as exhaustion."""
    iterator = iter(occurrences)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except (ValueError, OverflowError):
            # dateutil runs off datetime's range near year 9999 instead of stopping cleanly.
            return


# Seconds in one step of INTERVAL=1, for the rules walked day by day here.
UNIT_SECONDS: Final = {"DAILY": 86_400, "HOURLY": 3_600, "MINUTELY": 60, "SECONDLY": 1}
_DAY: Final = 86_400


def fine_walk(rule: Rule, wall: datetime, stop: datetime) -> Iterator[datetime]:
    """Naive wall-clock starts of a DAILY, HOURLY, MINUTELY or SECONDLY rule from ``wall`` (its
    DTSTART) to before ``stop``, as dateutil generates them, without dateutil's walk over every
    day (or second).

    The rule steps ``INTERVAL`` units from DTSTART on the wall clock. Walked month by month: a
    month BYMONTH leaves out is one step; in the others only the days BYMONTHDAY and BYYEARDAY
    leave in (or, for sparse INTERVALs, the days the rule steps on) are looked at, and on each
    only the times it yields (``_Clock``): the work is one step per month and per day looked
    at plus one per occurrence, never one per second stepped over.
    """
    clock = _clock(rule, wall)
    base = wall.date().toordinal()
    first_second = wall.hour * 3_600 + wall.minute * 60 + wall.second
    weekdays = frozenset(wd for _, wd in rule.by_day)
    year, month = wall.year, wall.month
    while date(year, month, 1) <= stop.date():
        walk_stats.candidates += 1
        if not rule.by_month or month in rule.by_month:
            first_weekday, length = calendar.monthrange(year, month)
            start = date(year, month, 1).toordinal()
            for day in _walked_days(rule, start, length, base, clock.step, first_second):
                walk_stats.candidates += 1
                if weekdays and (first_weekday + day - 1) % 7 not in weekdays:
                    continue
                ordinal = start + day - 1
                day_start = datetime.combine(date.fromordinal(ordinal), time())
                # On DTSTART's own day nothing before DTSTART is looked at.
                earliest = first_second if ordinal == base else 0
                for second in clock.seconds(ordinal - base, earliest):
                    walk_stats.candidates += 1
                    found = day_start + timedelta(seconds=second)
                    if found >= stop:
                        return
                    yield found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _walked_days(
    rule: Rule, start: int, length: int, base: int, step: int, first_second: int
) -> Iterable[int]:
    """Days of the month (1-based) worth looking at: those BYMONTHDAY and BYYEARDAY allow, or
    those the rule steps on."""
    if rule.by_month_day or rule.by_year_day:
        days = set(range(1, length + 1))
        if rule.by_month_day:
            days &= {d if d > 0 else length + 1 + d for d in rule.by_month_day if abs(d) <= length}
        if rule.by_year_day:
            days &= _year_days_in_month(rule.by_year_day, start, length)
        return sorted(days)
    if step < 2 * _DAY:
        return range(1, length + 1)
    # At most one step every two days: visit only the days a step lands on.
    offset = (start - base) * _DAY - first_second  # seconds from DTSTART to the month's start
    first = offset + (-offset) % step
    last = offset + _DAY * length
    return sorted({(s - offset) // _DAY + 1 for s in range(max(first, 0), last, step)})


def _year_days_in_month(year_days: tuple[int, ...], start: int, length: int) -> set[int]:
    """The days of the month starting on ordinal ``start`` that are among ``year_days``."""
    first = date.fromordinal(start)
    year_length = 366 if calendar.isleap(first.year) else 365
    offset = start - date(first.year, 1, 1).toordinal()  # year day of the 1st, minus one
    days = set()
    for year_day in year_days:
        day = (year_day if year_day > 0 else year_length + 1 + year_day) - offset
        if 1 <= day <= length:
            days.add(day)
    return days


@dataclass(frozen=True, slots=True)
class _Clock:
    """The seconds of the day a fine rule yields, by the phase of its steps on that day.

    The steps fall on the seconds congruent to ``(DTSTART's second - day offset * 86400)``
    modulo ``step``; ``hits`` maps each such residue to the seconds the rule yields on a day
    with that phase (the steps BYHOUR/BYMINUTE/BYSECOND keep, expanded by the finer BY parts
    and narrowed by BYSETPOS). ``hits`` is None when every step is an occurrence (SECONDLY
    with no time filter): the seconds are then the steps themselves.
    """

    step: int
    start: int
    hits: Mapping[int, tuple[int, ...]] | None

    def seconds(self, day_offset: int, earliest: int) -> Sequence[int]:
        """The seconds yielded on the day ``day_offset`` days after DTSTART's, from ``earliest``."""
        if day_offset < 0:
            return ()
        residue = (self.start - day_offset * _DAY) % self.step
        if self.hits is None:
            steps_before = max(0, -((residue - earliest) // self.step))  # ceil, at least 0
            return range(residue + steps_before * self.step, _DAY, self.step)
        found = self.hits.get(residue, ())
        return found[bisect_left(found, earliest) :] if earliest else found

    def reachable(self) -> bool:
        """Whether any day's phase has a hit (an INTERVAL may lock the steps out of BYxxx)."""
        if self.hits is None:
            return True
        # Day offsets shift the phase by multiples of gcd(86400, step).
        period = gcd(_DAY, self.step)
        return any((residue - self.start) % period == 0 for residue in self.hits)


def steps_can_hit(rule: Rule, wall: datetime) -> bool:
    """Whether a fine rule's steps from ``wall`` ever land on a time its BY parts keep
    (FREQ=MINUTELY;INTERVAL=60;BYMINUTE=30 from 09:00 never does)."""
    return _clock(rule, wall).reachable()


def _clock(rule: Rule, wall: datetime) -> _Clock:
    """The clock of a fine rule started at ``wall`` (DTSTART or a whole number of steps on)."""
    step = UNIT_SECONDS[rule.freq] * rule.interval
    start = wall.hour * 3_600 + wall.minute * 60 + wall.second
    if rule.freq == "SECONDLY" and not (
        rule.by_hour or rule.by_minute or rule.by_second or rule.by_set_pos
    ):
        return _Clock(step, start, None)
    # Only the parts of DTSTART a frequency takes its defaults from key the cache.
    defaults = {
        "DAILY": (wall.hour, wall.minute, wall.second),
        "HOURLY": (0, wall.minute, wall.second),
        "MINUTELY": (0, 0, wall.second),
    }.get(rule.freq, (0, 0, 0))
    return _Clock(step, start, _clock_hits(rule, *defaults))


@lru_cache(maxsize=256)
def _clock_hits(rule: Rule, hour: int, minute: int, second: int) -> dict[int, tuple[int, ...]]:
    """Residue of a step modulo the step length -> the seconds of the day it yields (see
    ``_Clock``). Built once per rule and start time: one candidate per step a time filter
    keeps, at most one per second of the day."""
    step = UNIT_SECONDS[rule.freq] * rule.interval
    every = {"hours": range(24), "minutes": range(60), "seconds": range(60)}
    # A step is one unit; the BY parts coarser than or equal to the unit limit which steps
    # count, the finer ones expand each step (RFC 5545's table in 3.3.10).
    if rule.freq == "DAILY":
        slots: Iterable[tuple[int, int, int]] = [(hour, minute, second)]
    elif rule.freq == "HOURLY":
        slots = ((h, minute, second) for h in rule.by_hour or every["hours"])
    elif rule.freq == "MINUTELY":
        slots = (
            (h, m, second)
            for h in rule.by_hour or every["hours"]
            for m in rule.by_minute or every["minutes"]
        )
    else:
        slots = (
            (h, m, s)
            for h in rule.by_hour or every["hours"]
            for m in rule.by_minute or every["minutes"]
            for s in rule.by_second or every["seconds"]
        )
    hits: dict[int, list[int]] = {}
    for slot in slots:
        walk_stats.candidates += 1
        expanded = _expand_step(rule, *slot)
        if expanded:
            at = slot[0] * 3_600 + slot[1] * 60 + slot[2]
            hits.setdefault(at % step, []).extend(expanded)
    return {residue: tuple(sorted(seconds)) for residue, seconds in hits.items()}


def _expand_step(rule: Rule, hour: int, minute: int, second: int) -> list[int]:
    """The seconds of the day one step yields: its time expanded by the BY parts finer than
    the frequency, narrowed by BYSETPOS (which counts within the step)."""
    hours = (rule.by_hour or (hour,)) if rule.freq == "DAILY" else (hour,)
    minutes = (rule.by_minute or (minute,)) if rule.freq in ("DAILY", "HOURLY") else (minute,)
    seconds = (rule.by_second or (second,)) if rule.freq != "SECONDLY" else (second,)
    times = sorted({h * 3_600 + m * 60 + s for h in hours for m in minutes for s in seconds})
    if rule.by_set_pos:
        n = len(times)
        times = sorted({times[p - 1 if p > 0 else p] for p in rule.by_set_pos if -n <= p <= n})
    return times


def coarse_walk(rule: Rule, wall: datetime, anchor: datetime, stop: datetime) -> Iterator[datetime]:
    """Naive wall-clock starts of a WEEKLY, MONTHLY or YEARLY rule from ``wall`` to before
    ``stop``, by dateutil on the calendar ``SHIFT_YEARS`` later.

    dateutil looks for the next match however far away it is, stopping only at year 9999;
    shifted, ``stop`` (at most the horizon) lies at most 199 years before that. Each result
    counts the periods stepped since the previous one.
    """
    if wall >= stop:
        return
    later = timedelta(microseconds=1)
    built = dateutil_rule(
        rule, _years_on(wall, SHIFT_YEARS), anchor, _years_on(stop, SHIFT_YEARS) - later
    )
    previous = _period(rule, wall)
    for shifted in safe_iter(built):
        found = _years_on(shifted, -SHIFT_YEARS)
        period = _period(rule, found)
        walk_stats.candidates += max(1, (period - previous) // rule.interval)
        previous = period
        if found >= stop:
            return
        yield found


def _years_on(value: datetime, years: int) -> datetime:
    """The same wall-clock time ``years`` later; for multiples of 400 even 29 February exists."""
    return value.replace(year=value.year + years)


def _period(rule: Rule, value: datetime) -> int:
    """Index of the week, month or year ``value`` falls in (weeks start on WKST)."""
    if rule.freq == "YEARLY":
        return value.year
    if rule.freq == "MONTHLY":
        return value.year * 12 + value.month
    return (value.toordinal() - 1 - rule.wkst) // 7


# --------------------------------------------------------------------------- starting points


def shifted_start(rule: Rule, local_start: datetime, low: datetime) -> datetime:
    """Move DTSTART forward by whole periods to just before ``low`` (a naive wall time).

    Only possible without COUNT (counting needs every earlier occurrence). Stepping whole
    periods keeps the rule's phase (which weeks/months/hours an INTERVAL selects), so the
    occurrences after the new DTSTART are exactly the original ones.
    """
    wall = local_start.replace(tzinfo=None, fold=0)
    if rule.count is not None or low <= wall:
        return local_start
    step = rule.interval
    if rule.freq in ("YEARLY", "MONTHLY"):
        months = (low.year - wall.year) * 12 + low.month - wall.month
        unit = 12 if rule.freq == "YEARLY" else 1
        periods = months // (unit * step) - 1
        shifted = _add_months(wall, periods * unit * step) if periods > 0 else wall
    else:
        unit_delta = (
            timedelta(weeks=1)
            if rule.freq == "WEEKLY"
            else timedelta(seconds=UNIT_SECONDS[rule.freq])
        )
        periods = (low - wall) // (unit_delta * step) - 1
        shifted = wall + unit_delta * step * periods if periods > 0 else wall
    return shifted.replace(tzinfo=local_start.tzinfo) if shifted != wall else local_start


def _add_months(value: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day (only the year and month matter to the caller)."""
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)
