"""Run in the interop venv (not Calendo's): expand a calendar file with recurring-ical-events.

    python expand.py FILE START END  →  {"<uid>": [[start, end], ...]} as JSON on stdout

START and END are RFC 3339 instants; times are printed in UTC, sorted, per UID (an override
counts under its series' UID; an all-day occurrence's dates as their UTC midnights). Imports nothing of Calendo.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime

import icalendar
import recurring_ical_events


def _utc(value: date | datetime) -> str:
    """An instant in UTC (RFC 3339, ``Z``); a date (all-day) as its UTC midnight."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def main(path: str, start: str, end: str) -> None:
    with open(path, "rb") as handle:
        calendar = icalendar.Calendar.from_ical(handle.read())
    window = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    found: dict[str, list[list[str]]] = {}
    for component in recurring_ical_events.of(calendar).between(*window):
        times = [_utc(component["DTSTART"].dt), _utc(component["DTEND"].dt)]
        found.setdefault(str(component["UID"]), []).append(times)
    json.dump({uid: sorted(times) for uid, times in found.items()}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
