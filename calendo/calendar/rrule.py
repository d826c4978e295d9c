"""RRULE text: parsing, validation and the canonical form of ``recurrence_pattern``.

Pure and I/O-free. ``recurrence`` builds on it: it adds the checks that need the calendar
(whether a rule can ever fire) and the expansion of a series in its time zone.
"""

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any, Final, Literal

from dateutil import rrule as du

from calendo.core.error_texts import show as show  # re-exported: recurrence quotes values with it

MAX_COUNT: Final = 5000


MAX_INTERVAL: Final = 1000


# The last year expansion reaches: the last year an event's times may fall in
# (``schemas.MAX_YEAR``). No occurrence starts after its 31 December (wall clock, in the
# series' zone), and no walk over a rule's candidates goes past it.
HORIZON_YEAR: Final = 2200


# Canonical rules must fit the ``recurrence_pattern`` column (String(500)); raw input may be
# longer (prefix, spacing, duplicates) but is refused unparsed beyond _MAX_INPUT_LENGTH.
MAX_RULE_LENGTH: Final = 500


_MAX_INPUT_LENGTH: Final = 1000


WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


_Freq = Literal[0, 1, 2, 3, 4, 5, 6]


FREQS: Final[dict[str, _Freq]] = {
    "YEARLY": du.YEARLY,
    "MONTHLY": du.MONTHLY,
    "WEEKLY": du.WEEKLY,
    "DAILY": du.DAILY,
    "HOURLY": du.HOURLY,
    "MINUTELY": du.MINUTELY,
    "SECONDLY": du.SECONDLY,
}


# Canonical output order; also the set of accepted rule parts: the whole RFC 5545 grammar.
# How often a rule fires is no reason to refuse it: expansion is bounded by the occurrences in
# the window asked (the cap) and by the work walked (``walks``), not by the frequency.
_KEY_ORDER: Final = (
    "FREQ",
    "INTERVAL",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
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
    "by_year_day": "BYYEARDAY",
    "by_week_no": "BYWEEKNO",
    "by_hour": "BYHOUR",
    "by_minute": "BYMINUTE",
    "by_second": "BYSECOND",
    "week_start": "WKST",
    "count": "COUNT",
    "until": "UNTIL",
}


# Bounded digit count: int() on megabyte-long digit strings is slow (and limited since 3.11).
_INT_RE: Final = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)


_BYDAY_RE: Final = re.compile(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)", re.ASCII)


_UNTIL_DATE_RE: Final = re.compile(r"[0-9]{8}", re.ASCII)


_UNTIL_UTC_RE: Final = re.compile(r"[0-9]{8}T[0-9]{6}Z", re.ASCII)


_UNTIL_FLOATING_RE: Final = re.compile(r"[0-9]{8}T[0-9]{6}", re.ASCII)


class RecurrenceError(ValueError):
    """Invalid rule, zone or expansion request; str(exc) is a user-facing message."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed, validated RRULE; weekdays are 0=MO..6=SU, ``by_day`` holds (ordinal, weekday)."""

    freq: str
    interval: int = 1
    by_day: tuple[tuple[int | None, int], ...] = ()
    by_month_day: tuple[int, ...] = ()
    by_year_day: tuple[int, ...] = ()
    by_week_no: tuple[int, ...] = ()
    by_month: tuple[int, ...] = ()
    by_set_pos: tuple[int, ...] = ()
    by_hour: tuple[int, ...] = ()
    by_minute: tuple[int, ...] = ()
    by_second: tuple[int, ...] = ()
    count: int | None = None
    until: datetime | None = None
    wkst: int = 0


@lru_cache(maxsize=1024)
def parse_text(text: str) -> Rule:
    """Parse an RRULE string (cached: stored rules are parsed on every expansion)."""
    return parse_parts(split_text(text))


def split_text(text: str) -> dict[str, str]:
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
            raise RecurrenceError(f"malformed rule part {show(chunk.strip())}, expected KEY=VALUE")
        if key in parts:
            raise RecurrenceError(f"duplicate rule part {show(key)}")
        parts[key] = value.strip()
    if not parts:
        raise RecurrenceError("the rule is empty")
    return parts


def structured_parts(pattern: Mapping[Any, Any]) -> dict[str, str]:
    """Turn the structured form into the same KEY -> text parts an RRULE string gives."""
    parts: dict[str, str] = {}
    for key, value in pattern.items():
        if not isinstance(key, str) or key not in _STRUCTURED_KEYS:
            raise RecurrenceError(f"unknown rule field {show(key)}")
        # None and [] mean "not set", which is what serialised optional fields look like.
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        parts[_STRUCTURED_KEYS[key]] = _structured_value(key, value)
    if "FREQ" not in parts:
        raise RecurrenceError("the rule needs a frequency")
    return parts


def _structured_value(key: str, value: object) -> str:
    """Render one structured field as RRULE text, checking its type."""
    if key in ("frequency", "week_start"):
        if not isinstance(value, str) or "," in value or ";" in value:
            raise RecurrenceError(f"{key} must be a single code, not {show(value)}")
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
        raise RecurrenceError(f"by_weekday entries must be weekday codes, not {show(value)}")
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
        raise RecurrenceError(f"until {show(value)} is not an RFC 3339 date-time") from exc
    return _until_text(parsed)


def _aware_until(value: datetime) -> datetime:
    """Convert an aware UNTIL to UTC; naive ones are ambiguous and refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecurrenceError("until must include a UTC offset")
    try:
        return value.astimezone(UTC).replace(microsecond=0)
    except OverflowError as exc:
        raise RecurrenceError("until is out of range") from exc


def parse_parts(parts: Mapping[str, str]) -> Rule:
    """Validate KEY -> text parts and build a rule."""
    unknown = sorted(set(parts) - set(_KEY_ORDER))
    if unknown:
        raise RecurrenceError(f"unknown rule part {show(unknown[0])}")
    freq = _parse_freq(parts.get("FREQ"))
    rule = Rule(
        freq=freq,
        interval=_parse_bounded(parts, "INTERVAL", 1, MAX_INTERVAL) or 1,
        by_day=_parse_by_day(parts.get("BYDAY"), freq),
        by_month_day=_parse_int_list(parts, "BYMONTHDAY", 31, signed=True),
        by_year_day=_parse_int_list(parts, "BYYEARDAY", 366, signed=True),
        by_week_no=_parse_int_list(parts, "BYWEEKNO", 53, signed=True),
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
    """Check FREQ: required and known."""
    if not value:
        raise RecurrenceError("the rule needs a FREQ")
    freq = value.upper()
    if freq not in FREQS:
        raise RecurrenceError(f"unknown FREQ {show(value)}; expected one of: {', '.join(FREQS)}")
    return freq


def _parse_int(key: str, text: str) -> int:
    """Parse one ASCII integer (bounded length, so huge inputs never reach int())."""
    if not _INT_RE.fullmatch(text.strip()):
        raise RecurrenceError(f"{key} must be a whole number, not {show(text)}")
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
            raise RecurrenceError(f"invalid BYDAY value {show(item)}")
        ordinal = int(match.group(1)) if match.group(1) else None
        _check_ordinal(ordinal, item, freq)
        days.add((ordinal, WEEKDAYS.index(match.group(2))))
    return tuple(sorted(days, key=lambda d: (d[1], d[0] or 0)))


def _check_ordinal(ordinal: int | None, item: str, freq: str) -> None:
    """Ordinal weekdays (1MO, -1FR) only make sense within a month or a year."""
    if ordinal is None:
        return
    if freq not in ("MONTHLY", "YEARLY"):
        raise RecurrenceError(
            f"BYDAY value {show(item)}: numbered weekdays need FREQ=MONTHLY or YEARLY"
        )
    # A month has at most five of any weekday, a year at most 53.
    limit = 5 if freq == "MONTHLY" else 53
    if ordinal == 0 or abs(ordinal) > limit:
        raise RecurrenceError(f"BYDAY value {show(item)} is out of range (1..{limit})")


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
        raise RecurrenceError(f"UNTIL {show(text)} is not a valid date") from exc
    if _UNTIL_FLOATING_RE.fullmatch(value):
        raise RecurrenceError("UNTIL must be in UTC (end it with 'Z')")
    raise RecurrenceError(f"UNTIL {show(text)} must look like 20250131T235959Z or 20250131")


def _parse_wkst(text: str | None) -> int:
    """Parse WKST (defaults to Monday, as in RFC 5545)."""
    if text is None:
        return 0
    value = text.upper()
    if value not in WEEKDAYS:
        raise RecurrenceError(f"invalid WKST value {show(text)}")
    return WEEKDAYS.index(value)


def _check_combination(rule: Rule) -> None:
    """Cross-part checks: exclusive parts, RFC 5545 applicability, BYSETPOS reach."""
    if rule.count is not None and rule.until is not None:
        raise RecurrenceError("COUNT and UNTIL cannot both be set")
    if rule.freq == "WEEKLY" and rule.by_month_day:
        raise RecurrenceError("BYMONTHDAY cannot be used with FREQ=WEEKLY")
    if rule.by_year_day and rule.freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise RecurrenceError(f"BYYEARDAY cannot be used with FREQ={rule.freq}")
    if rule.by_week_no and rule.freq != "YEARLY":
        raise RecurrenceError("BYWEEKNO can only be used with FREQ=YEARLY")
    if rule.by_week_no and any(n is not None for n, _ in rule.by_day):
        raise RecurrenceError("numbered BYDAY values cannot be used with BYWEEKNO")
    if rule.by_month_day:
        _check_month_days(rule)
    if rule.by_set_pos:
        _check_set_pos(rule)


def _check_month_days(rule: Rule) -> None:
    """Refuse month days no listed month has (BYMONTH=2;BYMONTHDAY=30), a rule that never fires."""
    months = rule.by_month or tuple(range(1, 13))
    if not any(day_fits(day, month) for day in rule.by_month_day for month in months):
        raise RecurrenceError("BYMONTHDAY never matches: no listed month has that day")


def _check_set_pos(rule: Rule) -> None:
    """BYSETPOS needs another BYxxx part, and must be reachable in the shorter periods."""
    if not (
        rule.by_day
        or rule.by_month_day
        or rule.by_year_day
        or rule.by_week_no
        or rule.by_month
        or rule.by_hour
        or rule.by_minute
        or rule.by_second
    ):
        raise RecurrenceError("BYSETPOS needs another BYxxx rule part")
    # Seconds, minutes, hours, days and weeks hold a fixed maximum number of candidates (the
    # finer BY parts expand each period); monthly and yearly rules are covered by the probe in
    # feasibility.satisfiable.
    seconds = len(rule.by_second) or 1
    minutes = (len(rule.by_minute) or 1) * seconds
    times = (len(rule.by_hour) or 1) * minutes
    period, size = {
        "SECONDLY": ("second", 1),
        "MINUTELY": ("minute", seconds),
        "HOURLY": ("hour", minutes),
        "DAILY": ("day", times),
        "WEEKLY": ("week", (len(rule.by_day) or 1) * times),
    }.get(rule.freq, ("", 0))
    if size and all(abs(pos) > size for pos in rule.by_set_pos):
        raise RecurrenceError(f"BYSETPOS never matches: each {period} has only {size} candidate(s)")


def format_rule(rule: Rule) -> str:
    """Render a rule canonically (parts in _KEY_ORDER, defaults omitted)."""
    values: dict[str, str] = {"FREQ": rule.freq}
    if rule.interval != 1:
        values["INTERVAL"] = str(rule.interval)
    if rule.by_day:
        values["BYDAY"] = ",".join(f"{n or ''}{WEEKDAYS[wd]}" for n, wd in rule.by_day)
    for key, ints in (
        ("BYMONTHDAY", rule.by_month_day),
        ("BYYEARDAY", rule.by_year_day),
        ("BYWEEKNO", rule.by_week_no),
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
        values["WKST"] = WEEKDAYS[rule.wkst]
    return ";".join(f"{key}={values[key]}" for key in _KEY_ORDER if key in values)


def _format_until(value: datetime) -> str:
    """Render a UTC datetime as YYYYMMDDTHHMMSSZ (zero-padded even before year 1000)."""
    v = value.astimezone(UTC)
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}Z"


def day_fits(day: int, month: int) -> bool:
    """Whether some year's ``month`` has day ``day`` (negative days count from the end)."""
    return abs(day) <= (29 if month == 2 else calendar.monthrange(2001, month)[1])
