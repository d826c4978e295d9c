"""Whether a rule can ever fire: the checks run before any walk, so that a rule that never
produces an occurrence is refused (or expands to nothing) without walking to the horizon.

``satisfiable`` asks whether the rule's day filters can match at all, for some start;
``never_fires_from`` catches, cheaply, rules that can match in general but never from a given
start (an INTERVAL locked onto other weekdays, hours or months).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from math import gcd
from typing import Final

from dateutil import rrule as du

from calendo.calendar.rrule import FREQS, RecurrenceError, Rule, day_fits
from calendo.calendar.walks import UNIT_SECONDS, has_day_filter, safe_iter, steps_can_hit

# A 400-year Gregorian cycle ending at dateutil's MAXYEAR: probing there bounds the search.
_PROBE_START: Final = datetime(datetime.max.year - 399, 1, 1)


@lru_cache(maxsize=1024)
def satisfiable(rule: Rule) -> bool:
    """Whether the rule's day filters can match at all, for some start.

    Checked over one whole 400-year Gregorian cycle, after which calendars repeat. dateutil
    only stops at year 9999 when nothing matches, so the probe starts 400 years before that:
    a bounded search. Finer-grained rules are probed as YEARLY over the same day filters.
    """
    fine = rule.freq not in ("YEARLY", "MONTHLY")
    if fine and not has_day_filter(rule):
        return True
    try:
        probe = du.rrule(
            du.YEARLY if fine else FREQS[rule.freq],
            dtstart=_PROBE_START,
            wkst=rule.wkst,
            bymonth=rule.by_month or None,
            bymonthday=rule.by_month_day or None,
            byyearday=rule.by_year_day or None,
            byweekno=rule.by_week_no or None,
            # Fine-grained rules have no ordinals; BYSETPOS there was checked in _check_set_pos.
            byweekday=[du.weekday(wd, None if fine else n) for n, wd in rule.by_day] or None,
            bysetpos=None if fine else rule.by_set_pos or None,
            byhour=None if fine else rule.by_hour or None,
            byminute=None if fine else rule.by_minute or None,
            bysecond=None if fine else rule.by_second or None,
        )
        return next(safe_iter(probe), None) is not None
    except ValueError as exc:
        raise RecurrenceError(f"invalid rule: {exc}") from exc


def never_fires_from(rule: Rule, anchor: datetime) -> bool:
    """Cheap checks for rules that can match in general but never from this start.

    An INTERVAL can lock a rule onto a subset of weekdays, hours or months; dateutil would only
    find out by walking to year 9999, which takes seconds.
    """
    if rule.freq == "DAILY" and rule.by_day and rule.interval % 7 == 0:
        # Stepping whole weeks never reaches a BYDAY weekday other than the start's.
        return all(wd != anchor.weekday() for _, wd in rule.by_day)
    if rule.freq == "HOURLY" and (rule.by_day or rule.by_hour):
        return not any(_hour_slot_matches(rule, slot) for slot in _hour_slots(rule, anchor))
    if rule.freq == "MONTHLY" and rule.by_month:
        step = gcd(rule.interval, 12)
        if all((month - anchor.month) % step for month in rule.by_month):
            return True
    if rule.freq in ("MONTHLY", "YEARLY") and rule.by_month and not has_day_filter(rule):
        # Without day filters the start's day of month is used; BYMONTH may not have it.
        return not any(day_fits(anchor.day, month) for month in rule.by_month)
    if rule.freq in UNIT_SECONDS:
        return not steps_can_hit(rule, anchor.replace(tzinfo=None))
    return False


def _hour_slots(rule: Rule, anchor: datetime) -> set[int]:
    """Hours of the week (0 = Monday 00:00) an HOURLY rule can land on from ``anchor``."""
    week = 7 * 24
    step = gcd(rule.interval, week)
    first = anchor.weekday() * 24 + anchor.hour
    return {(first + k * step) % week for k in range(week // step)}


def _hour_slot_matches(rule: Rule, slot: int) -> bool:
    """Whether an hour of the week passes BYDAY and BYHOUR."""
    weekday, hour = divmod(slot, 24)
    day_ok = not rule.by_day or any(wd == weekday for _, wd in rule.by_day)
    return day_ok and (not rule.by_hour or hour in rule.by_hour)
