"""All-day events in words: "made it an all-day event on 12 March 2026", "moved to 14–16
March 2026".

An all-day snapshot (``all_day`` true) carries ``start_date`` and ``end_date`` (ISO dates, the
end exclusive); its ``start_time`` / ``end_time`` are only the UTC midnights of those dates, so
its prose speaks the dates, never times or a zone. A snapshot older than the field is timed.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

__all__ = ["date_span", "is_all_day", "phrases"]

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def is_all_day(snapshot: Mapping[str, Any]) -> bool:
    """Whether a snapshot is of an all-day event."""
    return bool(snapshot.get("all_day"))


def _dates(snapshot: Mapping[str, Any]) -> tuple[date, date] | None:
    """The first and the last date of an all-day snapshot (its end is exclusive), or None."""
    try:
        first = date.fromisoformat(snapshot["start_date"])
        last = date.fromisoformat(snapshot["end_date"]) - timedelta(days=1)
    except (KeyError, TypeError, ValueError):
        return None
    return first, max(first, last)


def _day(day: date, *, month: bool = True, year: bool = True) -> str:
    text = str(day.day)
    if month:
        text += f" {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def date_span(snapshot: Mapping[str, Any]) -> str | None:
    """An all-day snapshot's dates, like "12 March 2026", "14–16 March 2026" or
    "30 March – 2 April 2026"; None if its dates are not valid."""
    found = _dates(snapshot)
    if found is None:
        return None
    first, last = found
    if first == last:
        return _day(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{_day(first, month=False, year=False)}–{_day(last)}"
    if first.year == last.year:
        return f"{_day(first, year=False)} – {_day(last)}"
    return f"{_day(first)} – {_day(last)}"


def phrases(
    old: Mapping[str, Any], new: Mapping[str, Any], timed_span: Callable[[], str | None]
) -> list[str]:
    """How the dates or the kind of the event changed, when either version is all-day
    (``timed_span`` gives the new version's times when it is timed)."""
    span = date_span(new)
    if is_all_day(new) and not is_all_day(old):
        return [f"made it an all-day event on {span}" if span else "made it an all-day event"]
    if not is_all_day(new):
        times = timed_span()
        return [f"made it a timed event on {times}" if times else "made it a timed event"]
    if (old.get("start_date"), old.get("end_date")) == (new.get("start_date"), new.get("end_date")):
        return []
    if old.get("start_date") == new.get("start_date"):
        return [f"now {span}" if span else "changed the dates"]
    return [f"moved to {span}" if span else "changed the dates"]
