"""Recurrence rules in words, for history's summaries: "repeats weekly on Tue, Thu, 10
times". A rule is split as ``calendar.rrule`` splits every rule; parts without a plain-words
rendering (BYSETPOS, BYHOUR, WKST, ...) are left out: the words are a hint for people, not a
full RRULE renderer. Names of days and months are fixed English abbreviations."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date

from calendo.calendar.rrule import RecurrenceError, split_text

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_RRULE_DAYS = dict(zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"), WEEKDAYS, strict=True))
_WORKWEEK = ("MO", "TU", "WE", "TH", "FR")
# FREQ -> (word when INTERVAL is 1, plural unit for "every N ...").
_FREQUENCIES = {
    "SECONDLY": ("every second", "seconds"),
    "MINUTELY": ("every minute", "minutes"),
    "HOURLY": ("hourly", "hours"),
    "DAILY": ("daily", "days"),
    "WEEKLY": ("weekly", "weeks"),
    "MONTHLY": ("monthly", "months"),
    "YEARLY": ("yearly", "years"),
}
_ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_BYDAY_RE = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _parse_rule(rule: str) -> dict[str, str]:
    """The rule's parts ("FREQ=WEEKLY;BYDAY=TU"), upper-cased, split as ``calendar.rrule``
    splits every rule; empty for text that is no rule (a stored rule always is one)."""
    try:
        return {key: value.upper() for key, value in split_text(rule).items()}
    except RecurrenceError:
        return {}


def _to_int(value: str | None) -> int | None:
    """Parse a signed integer, returning None for anything else."""
    if value is None or not re.fullmatch(r"[+-]?\d+", value):
        return None
    return int(value)


def _nth(number: int) -> str:
    """Return an ordinal such as "first", "2nd-to-last" or "20th"."""
    if number in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[number]
    if number < 0:
        return f"{_nth(-number)}-to-last"
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _frequency(parts: Mapping[str, str]) -> str:
    """Describe FREQ and INTERVAL, e.g. "weekly" or "every 2 weeks"."""
    freq = _FREQUENCIES.get(parts.get("FREQ", ""))
    if freq is None:
        return ""
    interval = _to_int(parts.get("INTERVAL")) or 1
    return freq[0] if interval == 1 else f"every {interval} {freq[1]}"


def _by_month(value: str) -> str:
    """Describe BYMONTH, e.g. "in Mar, Sep"."""
    numbers = [_to_int(item) for item in value.split(",")]
    names = [MONTHS[n - 1] if n is not None and 1 <= n <= 12 else "?" for n in numbers]
    return "in " + ", ".join(names)


def _weekday(token: str) -> str:
    """Describe one BYDAY entry, e.g. "Tue" or "the last Fri"."""
    match = _BYDAY_RE.fullmatch(token.strip())
    if match is None:
        return token.strip()
    ordinal, day = match.groups()
    name = _RRULE_DAYS[day]
    return f"the {_nth(int(ordinal))} {name}" if ordinal else name


def _by_day(value: str) -> str:
    """Describe BYDAY, e.g. "on Tue, Thu" or "on weekdays"."""
    tokens = [token.strip() for token in value.split(",") if token.strip()]
    if tuple(tokens) == _WORKWEEK:
        return "on weekdays"
    return "on " + ", ".join(_weekday(token) for token in tokens)


def _by_month_day(value: str) -> str:
    """Describe BYMONTHDAY, e.g. "on day 31", "on days 1, 15 and the last day"."""
    days = _numbered(value, "day")
    return f"on {days}" if days else ""


def _numbered(value: str, unit: str) -> str:
    """Numbers of days or weeks, e.g. "day 31", "weeks 1, 15 and the second-to-last week"."""
    numbers = [n for n in (_to_int(item) for item in value.split(",")) if n]
    positive = [str(n) for n in numbers if n > 0]
    items = [f"{unit}{'' if len(positive) == 1 else 's'} {', '.join(positive)}"] if positive else []
    items.extend(f"the {_nth(n)} {unit}" for n in numbers if n < 0)
    return _listed(items)


def _listed(items: list[str]) -> str:
    """Join phrases as "a", "a and b", "a, b and c"."""
    return f"{', '.join(items[:-1])} and {items[-1]}" if len(items) > 1 else "".join(items)


def _by_year_day(value: str) -> str:
    """Describe BYYEARDAY, e.g. "on the first, 100th and 200th day of the year"."""
    numbers = [n for n in (_to_int(item) for item in value.split(",")) if n]
    return f"on the {_listed([_nth(n) for n in numbers])} day of the year" if numbers else ""


def _by_week_no(value: str) -> str:
    """Describe BYWEEKNO, e.g. "in week 20", "in weeks 1, 20 and the last week"."""
    weeks = _numbered(value, "week")
    return f"in {weeks}" if weeks else ""


def _until(value: str) -> str:
    """Describe UNTIL, e.g. "until 1 Jun 2026"."""
    match = _UNTIL_RE.match(value)
    try:
        day = date(*(int(group) for group in match.groups())) if match else None
    except ValueError:
        day = None
    if day is None:
        return f"until {value}"
    return f"until {day.day} {MONTHS[day.month - 1]} {day.year}"


def _count(value: str) -> str:
    """Describe COUNT, e.g. "10 times" or "once"."""
    count = _to_int(value)
    if count is None:
        return ""
    return "once" if count == 1 else f"{count} times"


def describe_rule(rule: str) -> str:
    """Describe an RRULE in words, e.g. "repeats weekly on Tue, Thu, 10 times"."""
    # Parts without a plain-words rendering (BYSETPOS, BYHOUR, WKST, ...) are
    # left out; the summary is a hint for people, not a full RRULE renderer.
    parts = _parse_rule(rule)
    words = ["repeats", _frequency(parts)]
    describers: tuple[tuple[str, Callable[[str], str]], ...] = (
        ("BYMONTH", _by_month),
        ("BYDAY", _by_day),
        ("BYMONTHDAY", _by_month_day),
        ("BYYEARDAY", _by_year_day),
        ("BYWEEKNO", _by_week_no),
    )
    words.extend(describe(parts[key]) for key, describe in describers if key in parts)
    clauses = [" ".join(word for word in words if word)]
    if "COUNT" in parts:
        clauses.append(_count(parts["COUNT"]))
    if "UNTIL" in parts:
        clauses.append(_until(parts["UNTIL"]))
    return ", ".join(clause for clause in clauses if clause)
