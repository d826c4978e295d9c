"""RFC 5545 recurrence: rule canonicalisation, zone lookup and series expansion.

The rule text itself (parsing, checks, the canonical form) lives in ``rrule``; this module
adds what needs the calendar: whether a rule can ever fire, and the expansion of a series.

This module owns the meaning of ``recurrence_pattern``: ``normalize_rule`` turns user input
into one canonical RRULE string, ``expand`` turns a series into UTC occurrences overlapping a
window, ``series_last_end`` gives the bound stored in the event index, and ``validate_series``
rejects series that can never occur. It does no I/O beyond reading time-zone data.

Expansion semantics:

* The rule expands in the event's own zone on wall-clock time (dateutil ``rrule`` with an aware
  local DTSTART), so a weekly 09:00 Europe/Berlin meeting stays at 09:00 local across DST.
* Each occurrence lasts ``series.end - series.start`` in absolute time.
* Wall times are resolved with zoneinfo's ``fold=0``: an ambiguous time (autumn repeat) is the
  first of the two instants; a nonexistent time (spring gap) uses the offset in force before
  the gap, i.e. 02:30 in a 02:00->03:00 gap lands on 03:30 local. Two wall times that resolve to
  the same instant yield one occurrence. DTSTART itself always keeps its own instant, even when
  it is the second of two ambiguous ones.
* Like dateutil (and unlike a strict reading of RFC 5545), DTSTART is an occurrence only when it
  matches the rule; RFC 5545 leaves unsynchronised DTSTARTs undefined.
* Sub-second precision of ``series.start`` is carried over to every occurrence.
* Extra dates (RFC 5545 RDATE, ``Series.rdates``) are occurrence starts besides the rule's (or
  besides the single start of a series without a rule), each lasting the same duration; an
  RDATE that the rule also produces is one occurrence, and EXDATEs remove RDATEs too. They are
  a finite list, kept sorted, so a window takes its RDATEs by bisection: no walk.
* Nothing is expanded past the horizon, the end of ``HORIZON_YEAR`` (2200, the last year an
  event's times may fall in) on the series' wall clock: a series simply has no occurrence after
  it. A new or changed series whose COUNT cannot be reached by then is refused
  (``validate_series`` raises ``RecurrenceCountUnreachable``, a 422); a stored one ends at its
  last occurrence before the horizon.

The walks themselves, bounded by construction, are in ``walks``.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from calendo.calendar import days
from calendo.calendar import overrides as overriding
from calendo.calendar.feasibility import never_fires_from, satisfiable
from calendo.calendar.margins import MARGIN, add_clamped, naive_utc, reorder, wall_floor
from calendo.calendar.overrides import Override
from calendo.calendar.rrule import (
    HORIZON_YEAR,
    MAX_COUNT,
    MAX_INTERVAL,
    MAX_RULE_LENGTH,
    RecurrenceError,
    Rule,
    format_rule,
    parse_parts,
    parse_text,
    show,
    structured_parts,
)
from calendo.calendar.walks import (
    HORIZON,
    UNIT_SECONDS,
    coarse_walk,
    fine_walk,
    shifted_start,
    walk_stats,
)
from calendo.core.errors import RecurrenceCountUnreachable

__all__ = [
    "HORIZON_YEAR",
    "MAX_COUNT",
    "MAX_INTERVAL",
    "MAX_RULE_LENGTH",
    "Expansion",
    "Occurrence",
    "Override",
    "RecurrenceError",
    "Series",
    "expand",
    "load_zone",
    "normalize_rule",
    "orphaned_overrides",
    "series_last_end",
    "validate_series",
    "walk_stats",
]


@dataclass(frozen=True, slots=True)
class Series:
    """A single event or a recurring series, as stored."""

    start: datetime
    end: datetime
    timezone: str
    rule: str | None
    exdates: tuple[datetime, ...] = ()
    rdates: tuple[datetime, ...] = ()  # extra occurrence starts (RDATE)
    transparent: bool = False  # RFC 5545 TRANSP: never busy, so never in conflict
    # Single-occurrence overrides (RECURRENCE-ID), sorted by recurrence id (``overrides``).
    overrides: tuple[Override, ...] = ()
    # An all-day series (``calendar.days``): its times are the UTC midnights of its dates, and
    # its occurrences are placed on those dates in this zone (a viewer's). None: timed.
    days_in: str | None = None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence, in UTC. An overridden one also carries the start the series gives it
    (``recurrence_id``) and its own transparency when the override sets one."""

    start: datetime
    end: datetime
    recurrence_id: datetime | None = None
    transparent: bool | None = None


@dataclass(frozen=True, slots=True)
class Expansion:
    """Occurrences in a window, and whether ``limit`` cut the list short."""

    occurrences: list[Occurrence]
    truncated: bool


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A checked series: UTC bounds, its zone, and the parsed rule."""

    zone: ZoneInfo
    start: datetime
    end: datetime
    local_start: datetime
    rule: Rule | None
    exdates: frozenset[datetime]
    rdates: tuple[datetime, ...]  # in UTC, sorted, without duplicates

    @property
    def duration(self) -> timedelta:
        """Length of every occurrence."""
        return self.end - self.start

    @property
    def sub_second(self) -> timedelta:
        """The sub-second part of the start, which dateutil drops and we add back."""
        return timedelta(microseconds=self.start.microsecond)


# --------------------------------------------------------------------------- zones


@cache
def _zone_names() -> frozenset[str]:
    """Every IANA zone name known to this installation (computed once)."""
    # "localtime" is a host alias, not an IANA zone; accepting it would make results host-specific.
    return frozenset(available_timezones()) - {"localtime"}


def load_zone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA zone name, or raise RecurrenceError."""
    # Checking membership first rejects '', paths and non-zone files without touching the disk
    # and makes lookups case-sensitive everywhere (macOS file systems are not).
    if not isinstance(name, str) or name not in _zone_names():
        raise RecurrenceError(f"unknown time zone {show(name)}")
    try:
        return ZoneInfo(name)
    except (LookupError, ValueError, OSError) as exc:
        raise RecurrenceError(f"unknown time zone {show(name)}") from exc


# --------------------------------------------------------------------------- rules


def normalize_rule(pattern: str | Mapping[str, Any]) -> str:
    """Validate an RRULE string or structured rule and return its canonical RRULE string."""
    if isinstance(pattern, str):
        rule = parse_text(pattern)
    elif isinstance(pattern, Mapping):
        rule = parse_parts(structured_parts(pattern))
    else:
        raise RecurrenceError("a rule must be an RRULE string or an object")
    if not satisfiable(rule):
        raise RecurrenceError(
            "the rule never produces an occurrence: its BY parts never match together"
        )
    text = format_rule(rule)
    if len(text) > MAX_RULE_LENGTH:
        raise RecurrenceError(f"the rule is too long (more than {MAX_RULE_LENGTH} characters)")
    return text


# --------------------------------------------------------------------------- bounded walks


def _walk(prep: _Prepared, rule: Rule, dtstart: datetime) -> Iterator[datetime]:
    """The rule's starts from ``dtstart`` as aware wall-clock times in the series' zone, in
    dateutil's generation order, ending at COUNT, at UNTIL or at the horizon.

    COUNT counts from ``dtstart``, which is the series' start whenever the rule has one
    (``shifted_start`` never moves it then).
    """
    wall = dtstart.replace(tzinfo=None, microsecond=0, fold=0)
    stop = HORIZON
    if rule.until is not None:
        # No wall-clock time more than two days after UNTIL's UTC reading can be before it.
        stop = min(stop, naive_utc(rule.until, MARGIN))
    if rule.freq in UNIT_SECONDS:
        walker = fine_walk(rule, wall, stop)
    else:
        walker = coarse_walk(rule, wall, prep.local_start, stop)
    for produced, found in enumerate(walker, start=1):
        local = found.replace(tzinfo=prep.zone)
        if rule.until is not None and local > rule.until:
            return
        yield local
        if rule.count is not None and produced >= rule.count:
            return


# --------------------------------------------------------------------------- series


def _aware(value: object, what: str) -> datetime:
    """Return ``value`` in UTC, refusing anything but an aware datetime."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise RecurrenceError(f"{what} must be a timezone-aware date-time")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise RecurrenceError(f"{what} is out of range") from exc


def _prepare(series: Series) -> _Prepared:
    """Check a series' fields and parse its rule."""
    zone = load_zone(series.timezone)
    start = _aware(series.start, "the start")
    end = _aware(series.end, "the end")
    if end < start:
        raise RecurrenceError("the end must not be before the start")
    try:
        local_start = start.astimezone(zone)
    except OverflowError as exc:
        raise RecurrenceError("the start is out of range") from exc
    rule = None if series.rule is None else _parse_rule(series.rule)
    exdates = frozenset(_aware(value, "an excluded date") for value in series.exdates)
    rdates = tuple(sorted({_aware(value, "an extra date") for value in series.rdates}))
    return _Prepared(zone, start, end, local_start, rule, exdates, rdates)


def _parse_rule(text: object) -> Rule:
    """Parse a stored rule string."""
    if not isinstance(text, str):
        raise RecurrenceError("a stored rule must be an RRULE string")
    return parse_text(text)


def _has_occurrences(prep: _Prepared, rule: Rule) -> bool:
    """Cheap emptiness checks first, then look for a first occurrence (before the horizon)."""
    if not satisfiable(rule) or never_fires_from(rule, prep.local_start):
        return False
    return next(_walk(prep, rule, prep.local_start), None) is not None


def validate_series(series: Series) -> None:
    """Raise RecurrenceError if the series is malformed or its rule produces no occurrence
    before the horizon, and RecurrenceCountUnreachable (a 422 problem of its own type) if its
    COUNT cannot be reached before the horizon."""
    prep = _prepare(series)
    rule = prep.rule
    if rule is None:
        return
    if series.days_in is not None:
        days.check_day_rule(rule)
    if rule.until is not None and rule.until < prep.start:
        raise RecurrenceError("UNTIL is before the start of the series")
    if not _has_occurrences(prep, rule):
        raise RecurrenceError(
            f"the rule produces no occurrence from this start before the end of {HORIZON_YEAR}"
        )
    if rule.count is not None:
        reached, _ = _counted(series)
        if reached < rule.count:
            raise RecurrenceCountUnreachable(
                count=rule.count, reachable=reached, horizon_year=HORIZON_YEAR
            )


def series_last_end(series: Series) -> datetime | None:
    """UTC end of the last occurrence; None for an open-ended series.

    For UNTIL this is an upper bound (UNTIL + duration) found without iterating. A series with
    no occurrence at all reports its own end, which keeps index bounds well-formed. An all-day
    series' last end is placed in its zone.
    """
    if series.days_in is not None:
        last = series_last_end(replace(series, days_in=None))
        return None if last is None else days.place(last, last, load_zone(series.days_in))[1]
    prep = _prepare(series)
    last_rule_end = _rule_last_end(series, prep)
    if last_rule_end is None:
        return None
    kept = [start for start in prep.rdates if start not in prep.exdates]
    ends = [last_rule_end, *(o.placed(prep.duration)[1] for o in series.overrides)]
    if kept:
        ends.append(kept[-1] + prep.duration)
    return max(ends)


def _rule_last_end(series: Series, prep: _Prepared) -> datetime | None:
    """``series_last_end`` of the rule alone (RDATEs aside)."""
    rule = prep.rule
    if rule is None:
        return prep.end
    if rule.until is not None:
        return max(rule.until + prep.sub_second, prep.start) + prep.duration
    if rule.count is None:
        return None
    if not _has_occurrences(prep, rule):
        return prep.end
    _, last = _counted(series)
    return last + prep.duration if last is not None else prep.end


@lru_cache(maxsize=256)
def _counted(series: Series) -> tuple[int, datetime | None]:
    """A COUNT series walked to its end (COUNT or the horizon): how many occurrences the rule
    reached, and the start of the last one not excluded. Cached: a write validates the series
    and then stores its bounds."""
    prep = _prepare(series)
    if prep.rule is None:
        return 1, prep.start
    reached, last = 0, None
    for occ in _occurrences(prep, prep.rule, prep.local_start):
        reached += 1
        if occ.start not in prep.exdates and (last is None or occ.start > last):
            last = occ.start
    return reached, last


def _occurrences(prep: _Prepared, rule: Rule, dtstart: datetime) -> Iterator[Occurrence]:
    """Occurrences of the rule walk, lazily, in generation order (not necessarily UTC order)."""
    first_wall = prep.local_start.replace(tzinfo=None, microsecond=0)
    for local in _walk(prep, rule, dtstart):
        try:
            # dateutil rebuilds DTSTART with fold=0; keep the real instant when it had fold=1.
            if local.replace(tzinfo=None) == first_wall:
                start = prep.start
            else:
                start = local.astimezone(UTC) + prep.sub_second
            occ = Occurrence(start, start + prep.duration)
        except OverflowError:
            return
        yield occ


# --------------------------------------------------------------------------- expansion


def expand(
    series: Series, window_start: datetime, window_end: datetime, *, limit: int = 1000
) -> Expansion:
    """Occurrences overlapping [window_start, window_end), sorted, at most ``limit`` of them,
    with the series' overrides applied (``overrides.apply``); an all-day series' are placed on
    their dates (``_expand_days``)."""
    if series.days_in is not None:
        return _expand_days(series, window_start, window_end, limit)
    prep = _prepare(series)
    start = _aware(window_start, "the window start")
    end = _aware(window_end, "the window end")
    if end < start:
        raise RecurrenceError("the window end must not be before the window start")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RecurrenceError("limit must be a positive whole number")
    if not series.overrides:
        return _expand_plain(prep, start, end, limit)
    kept, placed, truncated = overriding.apply(
        _plain_of(prep), series.overrides, prep.duration, start, end, limit
    )
    found = [Occurrence(s, e) for s, e in kept]
    found += [Occurrence(p.start, p.end, p.recurrence_id, p.transparent) for p in placed]
    found.sort(key=lambda occ: (occ.start, occ.recurrence_id or occ.start))
    return Expansion(found[:limit], truncated or len(found) > limit)


def _plain_of(prep: _Prepared) -> overriding.PlainExpansion:
    """The series' expansion without its overrides, as ``overrides.apply`` asks for it."""

    def plain(
        start: datetime, end: datetime, limit: int
    ) -> tuple[list[tuple[datetime, datetime]], bool]:
        expansion = _expand_plain(prep, start, end, limit)
        return [(o.start, o.end) for o in expansion.occurrences], expansion.truncated

    return plain


def _expand_plain(prep: _Prepared, start: datetime, end: datetime, limit: int) -> Expansion:
    """``expand`` of the rule, the single start and the RDATEs, minus the EXDATEs."""
    if prep.rule is None:
        single = Occurrence(prep.start, prep.end)
        keep = _overlaps(single, start, end) and single.start not in prep.exdates
        found = {single.start: single} if keep else {}
    elif not satisfiable(prep.rule) or never_fires_from(prep.rule, prep.local_start):
        found = {}
    else:
        found = _expand_rule(prep, prep.rule, start, end, limit)
    for extra in _rdates_in(prep, start, end):
        found.setdefault(extra.start, extra)
    ordered = sorted(found.values(), key=lambda occ: occ.start)
    return Expansion(ordered[:limit], len(ordered) > limit)


def orphaned_overrides(series: Series) -> list[datetime]:
    """The recurrence ids of the series' overrides whose occurrence it no longer has."""
    return overriding.orphaned(_plain_of(_prepare(series)), series.overrides)


def _expand_days(series: Series, start: datetime, end: datetime, limit: int) -> Expansion:
    """An all-day series expanded on the window's dates, each occurrence placed in its zone."""
    zone = load_zone(series.days_in or "UTC")
    low, high = days.floating_window(_aware(start, "the start"), _aware(end, "the end"), zone)
    found = expand(replace(series, days_in=None), low, high, limit=limit)
    placed = [
        Occurrence(*days.place(o.start, o.end, zone), o.recurrence_id, o.transparent)
        for o in found.occurrences
    ]
    return Expansion(placed, found.truncated)


def _rdates_in(prep: _Prepared, start: datetime, end: datetime) -> Iterator[Occurrence]:
    """The RDATE occurrences overlapping [start, end) and not excluded, found by bisection:
    those starting in (start - duration, end)."""
    duration = prep.duration
    low = bisect_right(prep.rdates, start - duration)
    high = bisect_left(prep.rdates, end)
    for extra in prep.rdates[low:high]:
        occ = Occurrence(extra, extra + duration)
        if _overlaps(occ, start, end) and extra not in prep.exdates:
            yield occ


@lru_cache(maxsize=8192)
def occurs_in(series: Series, window_start: datetime, window_end: datetime) -> bool:
    """Whether the series has an occurrence overlapping [window_start, window_end).

    Memoised on the series' content (not its id), so an edit can never be answered from an
    old entry: calendar pages ask this of the same series for the same weeks again and again,
    and each answer otherwise costs a dateutil rule.
    """
    return bool(expand(series, window_start, window_end, limit=1).occurrences)


def _overlaps(occ: Occurrence, start: datetime, end: datetime) -> bool:
    """Half-open overlap: touching intervals do not overlap."""
    return occ.end > start and occ.start < end


def _expand_rule(
    prep: _Prepared, rule: Rule, start: datetime, end: datetime, limit: int
) -> dict[datetime, Occurrence]:
    """Walk the rule from just before the window until past it (or a little past ``limit``
    occurrences): the rule's occurrences found, by start (at least the first ``limit + 1``
    when there are more)."""
    dtstart = shifted_start(
        rule, prep.local_start, wall_floor(prep.zone, rule, start - prep.duration)
    )
    # Generation follows wall-clock order, which stays within hours of UTC order, so stopping
    # a margin after the window end cannot miss an overlapping occurrence.
    stop = add_clamped(end, reorder(prep.zone, rule, end))
    found: dict[datetime, Occurrence] = {}
    capped = False
    for occ in _occurrences(prep, rule, dtstart):
        if occ.start >= stop:
            break
        if _overlaps(occ, start, end) and occ.start not in prep.exdates:
            found.setdefault(occ.start, occ)
        if len(found) > limit and not capped:
            # Keep going a little: gap/fold resolution can reorder instants slightly.
            capped, stop = (
                True,
                min(stop, add_clamped(occ.start, reorder(prep.zone, rule, occ.start))),
            )
    return found
