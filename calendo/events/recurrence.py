"""RFC 5545 recurrence: rule validation/canonicalisation, zone lookup and series expansion.

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
"""

import calendar
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from math import gcd
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, available_timezones

from dateutil import rrule as du

MAX_COUNT: Final = 5000
MAX_INTERVAL: Final = 1000
# Canonical rules must fit the ``recurrence_pattern`` column (String(500)); raw input may be
# longer (prefix, spacing, duplicates) but is refused unparsed beyond _MAX_INPUT_LENGTH.
MAX_RULE_LENGTH: Final = 500
_MAX_INPUT_LENGTH: Final = 1000

_WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_Freq = Literal[0, 1, 2, 3, 4, 5, 6]
_FREQS: Final[dict[str, _Freq]] = {
    "YEARLY": du.YEARLY,
    "MONTHLY": du.MONTHLY,
    "WEEKLY": du.WEEKLY,
    "DAILY": du.DAILY,
    "HOURLY": du.HOURLY,
}
_TOO_DENSE_FREQS: Final = frozenset({"MINUTELY", "SECONDLY"})
# Canonical output order; also the set of accepted rule parts. BYYEARDAY/BYWEEKNO are not
# supported: nothing in Calendo produces them and they multiply the ways a rule can be empty.
_KEY_ORDER: Final = (
    "FREQ",
    "INTERVAL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "COUNT",
    "UNTIL",
    "WKST",
)
_STRUCTURED_KEYS: Final[dict[str, str]] = {
    "frequency": "FREQ",
    "interval": "INTERVAL",
    "by_weekday": "BYDAY",
    "by_month_day": "BYMONTHDAY",
    "by_month": "BYMONTH",
    "by_set_pos": "BYSETPOS",
    "count": "COUNT",
    "until": "UNTIL",
}

# Bounded digit count: int() on megabyte-long digit strings is slow (and limited since 3.11).
_INT_RE: Final = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_BYDAY_RE: Final = re.compile(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)", re.ASCII)
_UNTIL_DATE_RE: Final = re.compile(r"[0-9]{8}", re.ASCII)
_UNTIL_UTC_RE: Final = re.compile(r"[0-9]{8}T[0-9]{6}Z", re.ASCII)
_UNTIL_FLOATING_RE: Final = re.compile(r"[0-9]{8}T[0-9]{6}", re.ASCII)

# Wall-clock time and UTC never differ by more than ~16 hours; two days of slack around a window
# keeps every relevant occurrence inside the iterated range whatever the zone.
_MARGIN: Final = timedelta(days=2)
# A 400-year Gregorian cycle ending at dateutil's MAXYEAR: probing there bounds the search.
_PROBE_START: Final = datetime(datetime.max.year - 399, 1, 1)


class RecurrenceError(ValueError):
    """Invalid rule, zone or expansion request; str(exc) is a user-facing message."""


@dataclass(frozen=True, slots=True)
class Series:
    """A single event or a recurring series, as stored."""

    start: datetime
    end: datetime
    timezone: str
    rule: str | None
    exdates: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence, in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Expansion:
    """Occurrences in a window, and whether ``limit`` cut the list short."""

    occurrences: list[Occurrence]
    truncated: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    """A parsed, validated RRULE; weekdays are 0=MO..6=SU, ``by_day`` holds (ordinal, weekday)."""

    freq: str
    interval: int = 1
    by_day: tuple[tuple[int | None, int], ...] = ()
    by_month_day: tuple[int, ...] = ()
    by_month: tuple[int, ...] = ()
    by_set_pos: tuple[int, ...] = ()
    by_hour: tuple[int, ...] = ()
    by_minute: tuple[int, ...] = ()
    by_second: tuple[int, ...] = ()
    count: int | None = None
    until: datetime | None = None
    wkst: int = 0


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A checked series: UTC bounds, its zone, and the parsed rule."""

    zone: ZoneInfo
    start: datetime
    end: datetime
    local_start: datetime
    rule: _Rule | None
    exdates: frozenset[datetime]

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
        raise RecurrenceError(f"unknown time zone {_show(name)}")
    try:
        return ZoneInfo(name)
    except (LookupError, ValueError, OSError) as exc:
        raise RecurrenceError(f"unknown time zone {_show(name)}") from exc


# --------------------------------------------------------------------------- rules


def normalize_rule(pattern: str | Mapping[str, Any]) -> str:
    """Validate an RRULE string or structured rule and return its canonical RRULE string."""
    if isinstance(pattern, str):
        rule = _parse_text(pattern)
    elif isinstance(pattern, Mapping):
        rule = _parse_parts(_structured_parts(pattern))
    else:
        raise RecurrenceError("a rule must be an RRULE string or an object")
    if not _satisfiable(rule):
        raise RecurrenceError(
            "the rule never produces an occurrence: its BY parts never match together"
        )
    text = _format(rule)
    if len(text) > MAX_RULE_LENGTH:
        raise RecurrenceError(f"the rule is too long (more than {MAX_RULE_LENGTH} characters)")
    return text


def _show(value: object) -> str:
    """Quote a user-supplied value for an error message, shortened."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> _Rule:
    """Parse an RRULE string (cached: stored rules are parsed on every expansion)."""
    return _parse_parts(_split_text(text))


def _split_text(text: str) -> dict[str, str]:
    """Split 'RRULE:KEY=VALUE;...' into upper-cased keys and stripped values."""
    if len(text) > _MAX_INPUT_LENGTH:
        raise RecurrenceError(f"the rule is too long (more than {_MAX_INPUT_LENGTH} characters)")
    body = text.strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:].strip()
    parts: dict[str, str] = {}
    for chunk in body.split(";"):
        # Empty chunks (a trailing ';') are tolerated, as most producers emit them.
        if not chunk.strip():
            continue
        key, sep, value = chunk.partition("=")
        key = key.strip().upper()
        if not sep or not key:
            raise RecurrenceError(f"malformed rule part {_show(chunk.strip())}, expected KEY=VALUE")
        if key in parts:
            raise RecurrenceError(f"duplicate rule part {_show(key)}")
        parts[key] = value.strip()
    if not parts:
        raise RecurrenceError("the rule is empty")
    return parts


def _structured_parts(pattern: Mapping[Any, Any]) -> dict[str, str]:
    """Turn the structured form into the same KEY -> text parts an RRULE string gives."""
    parts: dict[str, str] = {}
    for key, value in pattern.items():
        if not isinstance(key, str) or key not in _STRUCTURED_KEYS:
            raise RecurrenceError(f"unknown rule field {_show(key)}")
        # None and [] mean "not set", which is what serialised optional fields look like.
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        parts[_STRUCTURED_KEYS[key]] = _structured_value(key, value)
    if "FREQ" not in parts:
        raise RecurrenceError("the rule needs a frequency")
    return parts


def _structured_value(key: str, value: object) -> str:
    """Render one structured field as RRULE text, checking its type."""
    if key == "frequency":
        if not isinstance(value, str):
            raise RecurrenceError("frequency must be a string")
        return value
    if key in ("interval", "count"):
        return str(_plain_int(key, value))
    if key == "until":
        return _until_text(value)
    if not isinstance(value, list | tuple):
        raise RecurrenceError(f"{key} must be a list")
    if key == "by_weekday":
        return ",".join(_weekday_item(item) for item in value)
    return ",".join(str(_plain_int(key, item)) for item in value)


def _plain_int(key: str, value: object) -> int:
    """Accept a real int (bool is an int subclass, but not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecurrenceError(f"{key} must contain whole numbers")
    return value


def _weekday_item(value: object) -> str:
    """Accept one weekday token for the structured form, without list separators in it."""
    if not isinstance(value, str) or "," in value or ";" in value:
        raise RecurrenceError(f"by_weekday entries must be weekday codes, not {_show(value)}")
    return value


def _until_text(value: object) -> str:
    """Render a structured UNTIL (aware datetime, date or RFC 3339 string) as RRULE text."""
    if isinstance(value, datetime):
        return _format_until(_aware_until(value))
    if isinstance(value, date):
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if not isinstance(value, str):
        raise RecurrenceError("until must be an RFC 3339 date-time with an offset")
    text = value.strip()
    try:
        # A bare date means the end of that day, as in the RRULE form.
        parsed: date = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError as exc:
        raise RecurrenceError(f"until {_show(value)} is not an RFC 3339 date-time") from exc
    return _until_text(parsed)


def _aware_until(value: datetime) -> datetime:
    """Convert an aware UNTIL to UTC; naive ones are ambiguous and refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecurrenceError("until must include a UTC offset")
    try:
        return value.astimezone(UTC).replace(microsecond=0)
    except OverflowError as exc:
        raise RecurrenceError("until is out of range") from exc


def _parse_parts(parts: Mapping[str, str]) -> _Rule:
    """Validate KEY -> text parts and build a rule."""
    unknown = sorted(set(parts) - set(_KEY_ORDER))
    if unknown:
        raise RecurrenceError(f"unknown rule part {_show(unknown[0])}")
    freq = _parse_freq(parts.get("FREQ"))
    rule = _Rule(
        freq=freq,
        interval=_parse_bounded(parts, "INTERVAL", 1, MAX_INTERVAL) or 1,
        by_day=_parse_by_day(parts.get("BYDAY"), freq),
        by_month_day=_parse_int_list(parts, "BYMONTHDAY", 31, signed=True),
        by_month=_parse_int_list(parts, "BYMONTH", 12),
        by_set_pos=_parse_int_list(parts, "BYSETPOS", 366, signed=True),
        by_hour=_parse_int_list(parts, "BYHOUR", 23, low=0),
        by_minute=_parse_int_list(parts, "BYMINUTE", 59, low=0),
        by_second=_parse_int_list(parts, "BYSECOND", 59, low=0),
        count=_parse_bounded(parts, "COUNT", 1, MAX_COUNT),
        until=_parse_until(parts.get("UNTIL")),
        wkst=_parse_wkst(parts.get("WKST")),
    )
    _check_combination(rule)
    return rule


def _parse_freq(value: str | None) -> str:
    """Check FREQ: required, known, and at most hourly."""
    if not value:
        raise RecurrenceError("the rule needs a FREQ")
    freq = value.upper()
    if freq in _TOO_DENSE_FREQS:
        raise RecurrenceError(f"too dense: FREQ={freq} repeats more often than hourly")
    if freq not in _FREQS:
        raise RecurrenceError(f"unknown FREQ {_show(value)}")
    return freq


def _parse_int(key: str, text: str) -> int:
    """Parse one ASCII integer (bounded length, so huge inputs never reach int())."""
    if not _INT_RE.fullmatch(text.strip()):
        raise RecurrenceError(f"{key} must be a whole number, not {_show(text)}")
    return int(text)


def _parse_bounded(parts: Mapping[str, str], key: str, low: int, high: int) -> int | None:
    """Parse an optional single integer and check its range."""
    if key not in parts:
        return None
    value = _parse_int(key, parts[key])
    if not low <= value <= high:
        raise RecurrenceError(f"{key} must be between {low} and {high}")
    return value


def _parse_int_list(
    parts: Mapping[str, str], key: str, high: int, *, low: int = 1, signed: bool = False
) -> tuple[int, ...]:
    """Parse a comma list of integers in low..high (or -high..-low when signed), deduplicated."""
    if key not in parts:
        return ()
    values = {_parse_int(key, item) for item in _split_list(key, parts[key])}
    for value in values:
        if not (low <= value <= high or (signed and -high <= value <= -low)):
            allowed = f"{low}..{high}" + (f" or -{high}..-{low}" if signed else "")
            raise RecurrenceError(f"{key} value {value} is out of range ({allowed})")
    # Positive values first, then negative ones: a stable canonical order.
    return tuple(sorted(values, key=lambda v: (v < 0, abs(v))))


def _split_list(key: str, text: str) -> list[str]:
    """Split a comma list, refusing empty items."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise RecurrenceError(f"{key} needs a comma-separated list of values")
    return items


def _parse_by_day(text: str | None, freq: str) -> tuple[tuple[int | None, int], ...]:
    """Parse BYDAY tokens such as MO, 1MO, -1FR."""
    if text is None:
        return ()
    days: set[tuple[int | None, int]] = set()
    for item in _split_list("BYDAY", text):
        match = _BYDAY_RE.fullmatch(item.upper())
        if match is None:
            raise RecurrenceError(f"invalid BYDAY value {_show(item)}")
        ordinal = int(match.group(1)) if match.group(1) else None
        _check_ordinal(ordinal, item, freq)
        days.add((ordinal, _WEEKDAYS.index(match.group(2))))
    return tuple(sorted(days, key=lambda d: (d[1], d[0] or 0)))


def _check_ordinal(ordinal: int | None, item: str, freq: str) -> None:
    """Ordinal weekdays (1MO, -1FR) only make sense within a month or a year."""
    if ordinal is None:
        return
    if freq not in ("MONTHLY", "YEARLY"):
        raise RecurrenceError(
            f"BYDAY value {_show(item)}: numbered weekdays need FREQ=MONTHLY or YEARLY"
        )
    # A month has at most five of any weekday, a year at most 53.
    limit = 5 if freq == "MONTHLY" else 53
    if ordinal == 0 or abs(ordinal) > limit:
        raise RecurrenceError(f"BYDAY value {_show(item)} is out of range (1..{limit})")


def _parse_until(text: str | None) -> datetime | None:
    """Parse UNTIL: a UTC date-time, or a date meaning the end of that day in UTC."""
    if text is None:
        return None
    value = text.upper()
    try:
        if _UNTIL_DATE_RE.fullmatch(value):
            day = datetime.strptime(value, "%Y%m%d").date()
            return datetime.combine(day, time(23, 59, 59), UTC)
        if _UNTIL_UTC_RE.fullmatch(value):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise RecurrenceError(f"UNTIL {_show(text)} is not a valid date") from exc
    if _UNTIL_FLOATING_RE.fullmatch(value):
        raise RecurrenceError("UNTIL must be in UTC (end it with 'Z')")
    raise RecurrenceError(f"UNTIL {_show(text)} must look like 20250131T235959Z or 20250131")


def _parse_wkst(text: str | None) -> int:
    """Parse WKST (defaults to Monday, as in RFC 5545)."""
    if text is None:
        return 0
    value = text.upper()
    if value not in _WEEKDAYS:
        raise RecurrenceError(f"invalid WKST value {_show(text)}")
    return _WEEKDAYS.index(value)


def _check_combination(rule: _Rule) -> None:
    """Cross-part checks: exclusive parts, density, RFC 5545 applicability, BYSETPOS reach."""
    if rule.count is not None and rule.until is not None:
        raise RecurrenceError("COUNT and UNTIL cannot both be set")
    for key, values in (("BYMINUTE", rule.by_minute), ("BYSECOND", rule.by_second)):
        # Two minutes (or seconds) would put occurrences less than an hour apart.
        if len(values) > 1:
            raise RecurrenceError(f"too dense: {key} may list only one value")
    if rule.freq == "WEEKLY" and rule.by_month_day:
        raise RecurrenceError("BYMONTHDAY cannot be used with FREQ=WEEKLY")
    if rule.by_month_day:
        _check_month_days(rule)
    if rule.by_set_pos:
        _check_set_pos(rule)


def _check_month_days(rule: _Rule) -> None:
    """Refuse month days no listed month has (BYMONTH=2;BYMONTHDAY=30), a rule that never fires."""
    months = rule.by_month or tuple(range(1, 13))
    if not any(_day_fits(day, month) for day in rule.by_month_day for month in months):
        raise RecurrenceError("BYMONTHDAY never matches: no listed month has that day")


def _check_set_pos(rule: _Rule) -> None:
    """BYSETPOS needs another BYxxx part, and must be reachable in the shorter periods."""
    if not (
        rule.by_day
        or rule.by_month_day
        or rule.by_month
        or rule.by_hour
        or rule.by_minute
        or rule.by_second
    ):
        raise RecurrenceError("BYSETPOS needs another BYxxx rule part")
    # Hours, days and weeks hold a fixed maximum number of candidates (BYMINUTE/BYSECOND have
    # one value at most); monthly and yearly rules are covered by the probe in _satisfiable.
    times = len(rule.by_hour) or 1
    period, size = {
        "HOURLY": ("hour", 1),
        "DAILY": ("day", times),
        "WEEKLY": ("week", (len(rule.by_day) or 1) * times),
    }.get(rule.freq, ("", 0))
    if size and all(abs(pos) > size for pos in rule.by_set_pos):
        raise RecurrenceError(f"BYSETPOS never matches: each {period} has only {size} candidate(s)")


def _format(rule: _Rule) -> str:
    """Render a rule canonically (parts in _KEY_ORDER, defaults omitted)."""
    values: dict[str, str] = {"FREQ": rule.freq}
    if rule.interval != 1:
        values["INTERVAL"] = str(rule.interval)
    if rule.by_day:
        values["BYDAY"] = ",".join(f"{n or ''}{_WEEKDAYS[wd]}" for n, wd in rule.by_day)
    for key, ints in (
        ("BYMONTHDAY", rule.by_month_day),
        ("BYMONTH", rule.by_month),
        ("BYSETPOS", rule.by_set_pos),
        ("BYHOUR", rule.by_hour),
        ("BYMINUTE", rule.by_minute),
        ("BYSECOND", rule.by_second),
    ):
        if ints:
            values[key] = ",".join(map(str, ints))
    if rule.count is not None:
        values["COUNT"] = str(rule.count)
    if rule.until is not None:
        values["UNTIL"] = _format_until(rule.until)
    if rule.wkst != 0:
        values["WKST"] = _WEEKDAYS[rule.wkst]
    return ";".join(f"{key}={values[key]}" for key in _KEY_ORDER if key in values)


def _format_until(value: datetime) -> str:
    """Render a UTC datetime as YYYYMMDDTHHMMSSZ (zero-padded even before year 1000)."""
    v = value.astimezone(UTC)
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}Z"


# --------------------------------------------------------------------------- dateutil bridge


def _dateutil_rule(rule: _Rule, dtstart: datetime, anchor: datetime) -> du.rrule:
    """Build a dateutil rrule; DTSTART-derived defaults come from ``anchor`` (the real start).

    Making those defaults explicit lets ``dtstart`` be moved forward by whole periods without
    changing which days match (a monthly rule started on the 31st keeps BYMONTHDAY=31).
    """
    by_month, by_month_day, by_day = rule.by_month, rule.by_month_day, rule.by_day
    if rule.freq == "YEARLY" and not _has_day_filter(rule):
        by_month, by_month_day = by_month or (anchor.month,), (anchor.day,)
    elif rule.freq == "MONTHLY" and not _has_day_filter(rule):
        by_month_day = (anchor.day,)
    elif rule.freq == "WEEKLY" and not by_day:
        by_day = ((None, anchor.weekday()),)
    try:
        built = du.rrule(
            _FREQS[rule.freq],
            dtstart=dtstart,
            interval=rule.interval,
            # Explicit WKST: dateutil otherwise reads the process-wide calendar.firstweekday().
            wkst=rule.wkst,
            count=rule.count,
            until=rule.until,
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


def _has_day_filter(rule: _Rule) -> bool:
    """Whether the rule picks days itself (otherwise dateutil derives them from DTSTART)."""
    return bool(rule.by_month_day or rule.by_day)


def _safe_iter(occurrences: Iterable[datetime]) -> Iterator[datetime]:
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


@lru_cache(maxsize=1024)
def _satisfiable(rule: _Rule) -> bool:
    """Whether the rule's day filters can match at all, for some start.

    Checked over one whole 400-year Gregorian cycle, after which calendars repeat. dateutil
    only stops at year 9999 when nothing matches, so the probe starts 400 years before that:
    a bounded search. Finer-grained rules are probed as YEARLY over the same day filters.
    """
    fine = rule.freq not in ("YEARLY", "MONTHLY")
    if fine and not _has_day_filter(rule):
        return True
    try:
        probe = du.rrule(
            du.YEARLY if fine else _FREQS[rule.freq],
            dtstart=_PROBE_START,
            wkst=rule.wkst,
            bymonth=rule.by_month or None,
            bymonthday=rule.by_month_day or None,
            # Fine-grained rules have no ordinals; BYSETPOS there was checked in _check_set_pos.
            byweekday=[du.weekday(wd, None if fine else n) for n, wd in rule.by_day] or None,
            bysetpos=None if fine else rule.by_set_pos or None,
            byhour=None if fine else rule.by_hour or None,
            byminute=None if fine else rule.by_minute or None,
            bysecond=None if fine else rule.by_second or None,
        )
        return next(_safe_iter(probe), None) is not None
    except ValueError as exc:
        raise RecurrenceError(f"invalid rule: {exc}") from exc


def _never_fires_from(rule: _Rule, anchor: datetime) -> bool:
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
    if rule.freq in ("MONTHLY", "YEARLY") and rule.by_month and not _has_day_filter(rule):
        # Without day filters the start's day of month is used; BYMONTH may not have it.
        return not any(_day_fits(anchor.day, month) for month in rule.by_month)
    return False


def _hour_slots(rule: _Rule, anchor: datetime) -> set[int]:
    """Hours of the week (0 = Monday 00:00) an HOURLY rule can land on from ``anchor``."""
    week = 7 * 24
    step = gcd(rule.interval, week)
    first = anchor.weekday() * 24 + anchor.hour
    return {(first + k * step) % week for k in range(week // step)}


def _hour_slot_matches(rule: _Rule, slot: int) -> bool:
    """Whether an hour of the week passes BYDAY and BYHOUR."""
    weekday, hour = divmod(slot, 24)
    day_ok = not rule.by_day or any(wd == weekday for _, wd in rule.by_day)
    return day_ok and (not rule.by_hour or hour in rule.by_hour)


def _day_fits(day: int, month: int) -> bool:
    """Whether some year's ``month`` has day ``day`` (negative days count from the end)."""
    return abs(day) <= (29 if month == 2 else calendar.monthrange(2001, month)[1])


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
    return _Prepared(zone, start, end, local_start, rule, exdates)


def _parse_rule(text: object) -> _Rule:
    """Parse a stored rule string."""
    if not isinstance(text, str):
        raise RecurrenceError("a stored rule must be an RRULE string")
    return _parse_text(text)


def _has_occurrences(prep: _Prepared, rule: _Rule) -> bool:
    """Cheap emptiness checks first, then look for a first occurrence."""
    if not _satisfiable(rule) or _never_fires_from(rule, prep.local_start):
        return False
    first = _dateutil_rule(rule, prep.local_start, prep.local_start)
    return next(_safe_iter(first), None) is not None


def validate_series(series: Series) -> None:
    """Raise RecurrenceError if the series is malformed or its rule never produces an occurrence."""
    prep = _prepare(series)
    rule = prep.rule
    if rule is None:
        return
    if rule.until is not None and rule.until < prep.start:
        raise RecurrenceError("UNTIL is before the start of the series")
    if not _has_occurrences(prep, rule):
        raise RecurrenceError("the rule produces no occurrence from this start")


def series_last_end(series: Series) -> datetime | None:
    """UTC end of the last occurrence; None for an open-ended series.

    For UNTIL this is an upper bound (UNTIL + duration) found without iterating. A series with
    no occurrence at all reports its own end, which keeps index bounds well-formed.
    """
    prep = _prepare(series)
    rule = prep.rule
    if rule is None:
        return prep.end
    if rule.until is not None:
        return max(rule.until + prep.sub_second, prep.start) + prep.duration
    if rule.count is None:
        return None
    if not _has_occurrences(prep, rule):
        return prep.end
    starts = [occ.start for occ in _occurrences(prep, rule, prep.local_start)]
    kept = [start for start in starts if start not in prep.exdates]
    return max(kept) + prep.duration if kept else prep.end


def _occurrences(prep: _Prepared, rule: _Rule, dtstart: datetime) -> Iterator[Occurrence]:
    """Occurrences from dateutil, lazily, in generation order (not necessarily UTC order)."""
    first_wall = prep.local_start.replace(tzinfo=None, microsecond=0)
    for local in _safe_iter(_dateutil_rule(rule, dtstart, prep.local_start)):
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
    """Occurrences overlapping [window_start, window_end), sorted, at most ``limit`` of them."""
    prep = _prepare(series)
    start = _aware(window_start, "the window start")
    end = _aware(window_end, "the window end")
    if end < start:
        raise RecurrenceError("the window end must not be before the window start")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RecurrenceError("limit must be a positive whole number")
    if prep.rule is None:
        single = Occurrence(prep.start, prep.end)
        keep = _overlaps(single, start, end) and single.start not in prep.exdates
        return Expansion([single] if keep else [], False)
    if not _satisfiable(prep.rule) or _never_fires_from(prep.rule, prep.local_start):
        return Expansion([], False)
    return _expand_rule(prep, prep.rule, start, end, limit)


def _overlaps(occ: Occurrence, start: datetime, end: datetime) -> bool:
    """Half-open overlap: touching intervals do not overlap."""
    return occ.end > start and occ.start < end


def _expand_rule(
    prep: _Prepared, rule: _Rule, start: datetime, end: datetime, limit: int
) -> Expansion:
    """Walk the rule from just before the window until past it (or past ``limit``)."""
    dtstart = _shifted_start(rule, prep.local_start, _naive_utc(start - prep.duration, -_MARGIN))
    # Generation follows wall-clock order, which stays within hours of UTC order, so stopping
    # a margin after the window end cannot miss an overlapping occurrence.
    stop = _add_clamped(end, _MARGIN)
    found: dict[datetime, Occurrence] = {}
    capped = False
    for occ in _occurrences(prep, rule, dtstart):
        if occ.start >= stop:
            break
        if _overlaps(occ, start, end) and occ.start not in prep.exdates:
            found.setdefault(occ.start, occ)
        if len(found) > limit and not capped:
            # Keep going a little: gap/fold resolution can reorder instants slightly.
            capped, stop = True, min(stop, _add_clamped(occ.start, _MARGIN))
    ordered = sorted(found.values(), key=lambda occ: occ.start)
    return Expansion(ordered[:limit], len(ordered) > limit)


def _add_clamped(value: datetime, delta: timedelta) -> datetime:
    """value + delta, saturating at datetime's range (keeping value's tzinfo)."""
    try:
        return value + delta
    except OverflowError:
        bound = datetime.max if delta > timedelta(0) else datetime.min
        return bound.replace(tzinfo=value.tzinfo)


def _naive_utc(instant: datetime, delta: timedelta) -> datetime:
    """The naive UTC reading of ``instant + delta``, comparable with wall-clock times."""
    return _add_clamped(instant.astimezone(UTC).replace(tzinfo=None), delta)


def _shifted_start(rule: _Rule, local_start: datetime, low: datetime) -> datetime:
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
