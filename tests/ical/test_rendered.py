"""Each event's components are serialised once and remembered by a digest of its whole body
(``convert._rendered_event``): a calendar rendered again renders only the events that changed,
and the bytes are those a rendering from scratch gives, for full and busy-only calendars."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from calendo.ical import convert
from tests.ical.test_convert import BERLIN_EVENT, HOLIDAY, SERIES

UTC_EVENT = {
    **BERLIN_EVENT,
    "id": 9,
    "timezone": "UTC",
    "recurrence_pattern": None,
    "is_recurring": False,
    "recurrence_exceptions": [],
    "recurrence_dates": [],
    "transparency": "opaque",
    "ical_extra": {"": ["X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC"]},
}
EVENTS = [BERLIN_EVENT, SERIES, {**HOLIDAY, "id": 8}, UTC_EVENT]


@pytest.fixture(autouse=True)
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The ids of the events rendered from scratch (``vevents_of`` called), from an empty
    memory of renderings."""
    convert.forget_renderings()
    rendered: list[int] = []
    real = convert.vevents_of

    def counting(event: Any, *, busy_only: bool = False) -> list[icalendar.Event]:
        rendered.append(event["id"])
        return real(event, busy_only=busy_only)

    monkeypatch.setattr(convert, "vevents_of", counting)
    yield rendered
    convert.forget_renderings()


def _from_scratch(events: list[dict[str, Any]], *, busy_only: bool = False) -> bytes:
    """The calendar as one ``icalendar`` component tree serialises it."""
    text = convert.to_calendar(events, busy_only=busy_only, name="Team")
    parsed = icalendar.Calendar.from_ical(text)
    return bytes(parsed.to_ical())


@pytest.mark.parametrize("busy_only", [False, True], ids=["full", "busy"])
def test_a_calendar_rendered_again_renders_no_event_and_is_the_same(
    counted: list[int], busy_only: bool
) -> None:
    first = convert.to_calendar(EVENTS, busy_only=busy_only, name="Team")
    assert sorted(counted) == sorted(event["id"] for event in EVENTS)
    counted.clear()
    again = convert.to_calendar(EVENTS, busy_only=busy_only, name="Team")
    assert (again, counted) == (first, [])
    # The spliced calendar is the one icalendar writes for the tree it parses back: the
    # header, the VTIMEZONEs, each event's components in order, and one END line.
    assert first == _from_scratch(EVENTS, busy_only=busy_only)
    assert first.count(b"END:VCALENDAR") == 1 and first.endswith(b"END:VCALENDAR\r\n")
    kinds = [c.name for c in icalendar.Calendar.from_ical(first).subcomponents]
    assert kinds[0] == "VTIMEZONE" and "VTIMEZONE" not in kinds[kinds.index("VEVENT") :]


def test_a_full_and_a_busy_rendering_of_one_event_are_kept_apart(counted: list[int]) -> None:
    full = convert.to_calendar([UTC_EVENT])
    busy = convert.to_calendar([UTC_EVENT], busy_only=True)
    assert counted == [9, 9]
    assert b"SUMMARY:Busy" in busy and b"SUMMARY:Busy" not in full
    assert b"X-APPLE-TRAVEL-ADVISORY-BEHAVIOR" in full and b"X-APPLE" not in busy


def test_any_change_to_an_event_renders_it_anew(counted: list[int]) -> None:
    convert.to_calendar(EVENTS)
    counted.clear()
    # A new version, and a change no version records (lines an import kept): each re-rendered.
    edited = {**UTC_EVENT, "title": "Moved", "version": 4, "updated_at": datetime.now(UTC)}
    kept = {**UTC_EVENT, "ical_extra": {"": ["X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:OFF"]}}
    later = {**SERIES, "end_time": SERIES["end_time"] + timedelta(minutes=5)}
    text = convert.to_calendar([BERLIN_EVENT, later, edited]).decode()
    assert counted == [SERIES["id"], 9]
    assert "SUMMARY:Moved" in text
    assert b"ADVISORY-BEHAVIOR:OFF" in convert.to_calendar([kept])
    assert counted == [SERIES["id"], 9, 9]
