"""Plausible event content: titles, text, places, daytime times in a few zones, RRULEs.

Times stay in working hours (start 07:00–15:45 local, at most two hours long) in UTC or
European zones, so every seeded occurrence ends by 18:00 UTC and the evenings are free for
the write scenarios (see ``config.FREE_SLOT_HOUR``).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from bench.config import OVERRIDDEN_FRACTION, RANGE_START, RANGE_WEEKS
from calendo.calendar import recurrence
from calendo.events.snapshots import format_instant

TITLES = (
    "Team sync",
    "Sprint planning",
    "Design review",
    "1:1",
    "Customer call",
    "Lunch with Sam",
    "Dentist",
    "Interview: backend engineer",
    "Quarterly business review",
    "Yoga",
    "Retrospective",
    "Budget workshop",
    "Architecture guild",
    "Parent-teacher meeting",
    "Release go/no-go",
)
SENTENCES = (
    "Agenda in the shared doc; please add your items beforehand.",
    "Bring the latest numbers and the open questions from last week.",
    "We will walk through the proposal and decide on next steps.",
    "Dial-in details are in the invitation.",
    "Short one: status, blockers, and who needs help.",
    "Notes will be posted to the team channel afterwards.",
)
LOCATIONS = ("Room 4.12", "Main office, Atlas", "Video call", "Cafe Central", "HQ lobby")
ZONES = ("UTC", "UTC", "UTC", "Europe/Berlin", "Europe/London", "Europe/Paris")
DURATIONS = (30, 45, 60, 60, 90, 120)
COUNTS = (5, 10, 20, 52)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WORKDAYS_RULE = "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"


@cache
def canonical_rule(pattern: str) -> str:
    """The rule as Calendo stores it (its own canonical form)."""
    return recurrence.normalize_rule(pattern)


def _text(rng: random.Random) -> tuple[str, str | None, str | None]:
    title = rng.choice(TITLES)
    description = None
    if rng.random() < 0.5:
        description = " ".join(rng.sample(SENTENCES, rng.randint(1, 3)))
    location = rng.choice(LOCATIONS) if rng.random() < 0.6 else None
    return title, description, location


def _local_start(rng: random.Random, zone: str, day: int) -> datetime:
    date = (RANGE_START + timedelta(days=day)).date()
    clock = time(rng.randint(7, 15), rng.choice((0, 15, 30, 45)))
    return datetime.combine(date, clock, tzinfo=ZoneInfo(zone))


def _rule(rng: random.Random, start: datetime) -> tuple[str, datetime]:
    """A weekly or daily rule that the start matches; COUNT-bounded or open-ended."""
    kind = rng.choice(("weekly", "weekly", "daily", "workdays"))
    if kind == "workdays" and start.weekday() >= 5:
        start += timedelta(days=7 - start.weekday())
    if kind == "weekly":
        days = {start.weekday(), rng.randrange(7)}
        pattern = "FREQ=WEEKLY;BYDAY=" + ",".join(WEEKDAYS[d] for d in sorted(days))
    else:
        pattern = WORKDAYS_RULE if kind == "workdays" else "FREQ=DAILY"
    if rng.random() < 0.65:
        pattern += f";COUNT={rng.choice(COUNTS)}"
    return canonical_rule(pattern), start


def event_content(rng: random.Random, *, recurring: bool, day: int | None = None) -> dict[str, Any]:
    """Content of one event as model attributes (aware UTC datetimes), with ``series_end``."""
    title, description, location = _text(rng)
    zone = rng.choice(ZONES)
    start = _local_start(rng, zone, rng.randrange(RANGE_WEEKS * 7) if day is None else day)
    rule = None
    if recurring:
        rule, start = _rule(rng, start)
    end = start + timedelta(minutes=rng.choice(DURATIONS))
    series = recurrence.Series(start=start, end=end, timezone=zone, rule=rule)
    # Its own generator, so the events drawn with ``rng`` are those of a calendar without them.
    overrides = _overrides(series, random.Random(f"{title}{start}")) if rule else []
    if overrides:
        series = recurrence.Series(
            start=start,
            end=end,
            timezone=zone,
            rule=rule,
            overrides=tuple(
                recurrence.Override(
                    datetime.fromisoformat(o["recurrence_id"]),
                    datetime.fromisoformat(o["start_time"]),
                    datetime.fromisoformat(o["end_time"]),
                )
                for o in overrides
            ),
        )
    return {
        "title": title,
        "description": description,
        "start_time": series.start.astimezone(UTC),
        "end_time": series.end.astimezone(UTC),
        "timezone": zone,
        "location": location,
        "is_recurring": rule is not None,
        "recurrence_pattern": rule,
        "recurrence_exceptions": [],
        "recurrence_dates": [],
        "transparency": "opaque",
        "recurrence_overrides": overrides,
        "all_day": False,
        "start_date": None,
        "end_date": None,
        "series_end": recurrence.series_last_end(series),
    }


def _overrides(series: recurrence.Series, picker: random.Random) -> list[dict[str, Any]]:
    """Single-occurrence edits of ``OVERRIDDEN_FRACTION`` of the series: three of its
    occurrences in the seeded range moved an hour later and renamed."""
    if picker.random() >= OVERRIDDEN_FRACTION:
        return []
    window_end = RANGE_START + timedelta(weeks=RANGE_WEEKS)
    found = recurrence.expand(series, series.start, window_end, limit=60).occurrences
    chosen = sorted(picker.sample(found, min(3, len(found))), key=lambda o: o.start)
    hour = timedelta(hours=1)
    return [
        {
            "recurrence_id": format_instant(o.start),
            "start_time": format_instant(o.start + hour),
            "end_time": format_instant(o.end + hour),
            "title": "Moved this week",
        }
        for o in chosen
    ]


def revise(content: dict[str, Any], version: int) -> dict[str, Any]:
    """The next revision of a long-history event: each step changes one thing."""
    revised = dict(content)
    step = version % 4
    if step == 0:
        revised["title"] = f"{content['title'].split(' (rev')[0]} (rev {version})"
    elif step == 1:
        revised["description"] = f"{SENTENCES[version % len(SENTENCES)]} Revision {version}."
    elif step == 2:
        shift = timedelta(hours=1 if version % 8 == 2 else -1)
        revised["start_time"] = content["start_time"] + shift
        revised["end_time"] = content["end_time"] + shift
        revised["series_end"] = revised["end_time"]
    else:
        revised["location"] = LOCATIONS[version % len(LOCATIONS)]
    return revised
