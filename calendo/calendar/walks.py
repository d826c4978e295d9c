"""The bounded walks of a recurrence rule: every start it yields, up to the horizon, by
construction never further.

DAILY and HOURLY rules are walked here, month by month, looking only at the days their BYMONTH,
BYMONTHDAY and BYDAY parts leave in; WEEKLY, MONTHLY and YEARLY rules (a few thousand periods up
to the horizon) are walked by dateutil on a calendar shifted 7,600 years later, so that its own
year-9999 limit stops a rule that no longer fires at most 199 years after the horizon.
``walk_stats.candidates`` counts the steps of every walk. Pure: no I/O; ``recurrence`` builds
series expansion on top of it.
"""

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
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
            byweekday=[du.weekday(wd, n) for n, wd in by_day] or None,
            byhour=rule.by_hour or None,
            byminute=rule.by_minute or None,
            bysecond=rule.by_second or None,
        )
    except ValueError as exc:
        # Start-dependent refusals (FREQ=HOURLY;INTERVAL=2;BYHOUR=3 from an even hour);
        # _never_fires_from catches the known ones first, this is the safety net.
        raise RecurrenceError(f"the rule cannot be used with this start: {exc}") from exc
    return built


def has_day_filter(rule: Rule) -> bool:
    """Whether the rule picks days itself (otherwise dateutil derives them from DTSTART)."""
    return bool(rule.by_month_day or rule.by_day)


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


def fine_walk(rule: Rule, wall: datetime, stop: datetime) -> Iterator[datetime]:
    """Naive wall-clock starts of a DAILY or HOURLY rule from ``wall`` (its DTSTART) to before
    ``stop``, as dateutil generates them, without dateutil's walk over every day.

    The rule steps ``INTERVAL`` days (hours) from DTSTART on the wall clock. Walked month by
    month: a month BYMONTH leaves out is one step; in the others only the days BYMONTHDAY and
    BYDAY leave in are looked at (or, for sparse INTERVALs, only the days the rule steps on).
    """
    hourly = rule.freq == "HOURLY"
    step_hours = rule.interval if hourly else 24 * rule.interval
    base = wall.date().toordinal()
    times: tuple[time | None, ...] = _hour_times(rule, wall) if hourly else _day_times(rule, wall)
    weekdays = frozenset(wd for _, wd in rule.by_day)
    year, month = wall.year, wall.month
    while date(year, month, 1) <= stop.date():
        walk_stats.candidates += 1
        if not rule.by_month or month in rule.by_month:
            first_weekday, length = calendar.monthrange(year, month)
            start = date(year, month, 1).toordinal()
            for day in _walked_days(rule, start, length, base, step_hours, wall.hour):
                walk_stats.candidates += 1
                if weekdays and (first_weekday + day - 1) % 7 not in weekdays:
                    continue
                ordinal = start + day - 1
                for clock in _day_hits(ordinal - base, wall.hour, step_hours, rule, times):
                    walk_stats.candidates += 1
                    found = datetime.combine(date.fromordinal(ordinal), clock)
                    if found >= stop:
                        return
                    if found >= wall:
                        yield found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _walked_days(
    rule: Rule, start: int, length: int, base: int, step_hours: int, hour: int
) -> Iterable[int]:
    """Days of the month (1-based) worth looking at: BYMONTHDAY's, or those the rule steps on."""
    if rule.by_month_day:
        return sorted(
            {d if d > 0 else length + 1 + d for d in rule.by_month_day if abs(d) <= length}
        )
    if step_hours < 48:
        return range(1, length + 1)
    # At most one step every two days: visit only the days a step lands on.
    offset = (start - base) * 24 - hour  # hours from DTSTART to the month's first midnight
    first = offset + (-offset) % step_hours
    last = offset + 24 * length
    return sorted({(h - offset) // 24 + 1 for h in range(max(first, 0), last, step_hours)})


def _day_hits(
    day_offset: int, hour: int, step_hours: int, rule: Rule, times: tuple[time | None, ...]
) -> Iterator[time]:
    """The times of day the rule yields on the day ``day_offset`` days after DTSTART's."""
    if day_offset < 0:
        return
    if rule.freq == "DAILY":
        hits: Iterable[time | None] = times if (day_offset * 24) % step_hours == 0 else ()
    else:
        # HOURLY: the hours of this day the steps land on; ``times`` has one entry per hour.
        first = (hour - day_offset * 24) % step_hours
        hits = (times[clock_hour] for clock_hour in range(first, 24, step_hours))
    for clock in hits:
        if clock is not None:
            yield clock


def _day_times(rule: Rule, wall: datetime) -> tuple[time, ...]:
    """A DAILY rule's times of day (BYHOUR x BYMINUTE x BYSECOND, defaults from DTSTART),
    narrowed by BYSETPOS, which for DAILY counts within each day."""
    times = sorted(
        {
            time(h, m, s)
            for h in rule.by_hour or (wall.hour,)
            for m in rule.by_minute or (wall.minute,)
            for s in rule.by_second or (wall.second,)
        }
    )
    if rule.by_set_pos:
        n = len(times)
        times = sorted({times[p - 1 if p > 0 else p] for p in rule.by_set_pos if -n <= p <= n})
    return tuple(times)


def _hour_times(rule: Rule, wall: datetime) -> tuple[time | None, ...]:
    """For each hour of the day, the time an HOURLY rule yields in it (None: BYHOUR leaves it
    out). Each hour holds one candidate, so BYSETPOS keeps it only with 1 or -1."""
    minute = rule.by_minute[0] if rule.by_minute else wall.minute
    second = rule.by_second[0] if rule.by_second else wall.second
    kept = not rule.by_set_pos or bool({1, -1} & set(rule.by_set_pos))
    return tuple(
        time(h, minute, second) if kept and (not rule.by_hour or h in rule.by_hour) else None
        for h in range(24)
    )


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
        unit_delta = {
            "WEEKLY": timedelta(weeks=1),
            "DAILY": timedelta(days=1),
            "HOURLY": timedelta(hours=1),
        }[rule.freq]
        periods = (low - wall) // (unit_delta * step) - 1
        shifted = wall + unit_delta * step * periods if periods > 0 else wall
    return shifted.replace(tzinfo=local_start.tzinfo) if shifted != wall else local_start


def _add_months(value: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day (only the year and month matter to the caller)."""
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)
