"""Tests for calendo.history.summary: edit summaries in plain English."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from calendo.history.rule_prose import describe_rule
from calendo.history.summary import format_duration, summarize

STANDUP: dict[str, Any] = {
    "title": "Standup",
    "description": None,
    "start_time": "2026-03-20T10:00:00Z",
    "end_time": "2026-03-20T10:30:00Z",
    "timezone": "UTC",
    "location": None,
    "is_recurring": False,
    "recurrence_pattern": None,
    "recurrence_exceptions": [],
}


def with_(**fields: Any) -> dict[str, Any]:
    """Return a copy of STANDUP with some fields replaced."""
    return {**copy.deepcopy(STANDUP), **fields}


def updated(**fields: Any) -> str:
    """Summarize an update of STANDUP to STANDUP with some fields replaced."""
    return summarize(STANDUP, with_(**fields), action="updated")


WEEKLY = {"is_recurring": True, "recurrence_pattern": "FREQ=WEEKLY;BYDAY=TU,TH"}

# --- creation, deletion, restore, rollback -----------------------------------------


def test_created() -> None:
    assert (
        summarize(None, STANDUP, action="created")
        == "created “Standup” on Fri 20 Mar 2026, 10:00–10:30 UTC"
    )


def test_created_recurring() -> None:
    assert (
        summarize(None, with_(**WEEKLY), action="created")
        == "created “Standup” on Fri 20 Mar 2026, 10:00–10:30 UTC, repeats weekly on Tue, Thu"
    )


def test_created_across_midnight_names_both_days() -> None:
    event = with_(start_time="2026-03-20T22:00:00Z", end_time="2026-03-21T01:00:00Z")
    assert (
        summarize(None, event, action="created")
        == "created “Standup” on Fri 20 Mar 2026, 22:00 – Sat 21 Mar 2026, 01:00 UTC"
    )


def test_created_shows_times_in_utc() -> None:
    event = with_(start_time="2026-03-20T11:00:00+01:00", end_time="2026-03-20T11:30:00+01:00")
    assert summarize(None, event, action="created").endswith("10:00–10:30 UTC")


def test_created_untitled() -> None:
    assert summarize(None, with_(title=""), action="created").startswith(
        "created an untitled event on "
    )


def test_deleted_and_restored() -> None:
    assert summarize(STANDUP, STANDUP, action="deleted") == "deleted the event"
    assert summarize(STANDUP, STANDUP, action="restored") == "restored the event"


def test_rolled_back_lists_the_changes_after_the_target() -> None:
    current = with_(title="Daily sync", location="Room 4")
    assert (
        summarize(current, STANDUP, action="rolled_back", target_version=3)
        == "rolled back to version 3; renamed from “Daily sync” to “Standup”; removed the location"
    )


def test_rolled_back_without_content_changes() -> None:
    assert (
        summarize(STANDUP, STANDUP, action="rolled_back", target_version=3)
        == "rolled back to version 3"
    )


def test_no_content_changes() -> None:
    assert summarize(STANDUP, copy.deepcopy(STANDUP), action="updated") == "no content changes"


# --- times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-03-20T11:00:00Z", "2026-03-20T11:30:00Z", "moved 1 h later, same length"),
        ("2026-03-20T09:30:00Z", "2026-03-20T10:00:00Z", "moved 30 min earlier, same length"),
        ("2026-03-22T10:00:00Z", "2026-03-22T11:30:00Z", "moved 2 days later, now 1 h 30 min long"),
        ("2026-03-20T10:00:00Z", "2026-03-20T10:45:00Z", "now 45 min long (was 30 min)"),
        ("2026-03-20T09:45:00Z", "2026-03-20T10:30:00Z", "starts 15 min earlier"),
        (
            "2026-03-21T12:15:00Z",
            "2026-03-21T12:45:00Z",
            "moved 1 day 2 h 15 min later, same length",
        ),
    ],
)
def test_time_changes(start: str, end: str, expected: str) -> None:
    assert updated(start_time=start, end_time=end) == expected


def test_times_are_compared_as_instants() -> None:
    moved = updated(start_time="2026-03-20T12:00:00+01:00", end_time="2026-03-20T12:30:00+01:00")
    assert moved == "moved 1 h later, same length"


def test_same_instant_in_another_notation_is_still_reported_as_an_edit() -> None:
    assert updated(start_time="2026-03-20T10:00:00+00:00") == "edited the event"


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=1, minutes=30), "1 h 30 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=2, hours=3), "2 days 3 h"),
        (timedelta(minutes=1, seconds=30), "1 min 30 s"),
        (timedelta(minutes=-30), "-30 min"),
    ],
)
def test_format_duration(delta: timedelta, expected: str) -> None:
    assert format_duration(delta) == expected


# --- text fields and time zone ---------------------------------------------------------


def test_renamed() -> None:
    assert updated(title="Daily sync") == "renamed from “Standup” to “Daily sync”"


def test_long_titles_are_shortened() -> None:
    summary = updated(title="x" * 100)
    assert summary == f"renamed from “Standup” to “{'x' * 59}…”"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, "Agenda", "added a description"),
        ("", "Agenda", "added a description"),
        ("Agenda", "New agenda", "edited the description"),
        ("Agenda", None, "removed the description"),
        ("Agenda", "", "removed the description"),
    ],
)
def test_description(before: str | None, after: str | None, expected: str) -> None:
    assert summarize(with_(description=before), with_(description=after), action="updated") == (
        expected
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("Room 2", "Room 4", "moved to Room 4 (was Room 2)"),
        (None, "Room 4", "set location to Room 4"),
        ("Room 2", None, "removed the location"),
    ],
)
def test_location(before: str | None, after: str | None, expected: str) -> None:
    assert summarize(with_(location=before), with_(location=after), action="updated") == expected


def test_timezone_change_names_both_zones_and_the_new_wall_clock() -> None:
    assert updated(timezone="Europe/Berlin") == (
        "time zone changed from UTC to Europe/Berlin (now Fri 20 Mar 2026, 11:00–11:30 "
        "Europe/Berlin)"
    )


# --- the event's own zone ------------------------------------------------------------

# An 18:00 Berlin rehearsal in winter (CET, UTC+1): 17:00–18:30 UTC.
REHEARSAL = with_(
    title="Rehearsal",
    start_time="2026-03-12T17:00:00Z",
    end_time="2026-03-12T18:30:00Z",
    timezone="Europe/Berlin",
)


def test_created_speaks_the_events_own_zone() -> None:
    assert (
        summarize(None, REHEARSAL, action="created")
        == "created “Rehearsal” on Thu 12 Mar 2026, 18:00–19:30 Europe/Berlin"
    )


def test_created_in_summer_time_reads_the_same_wall_clock() -> None:
    # CEST (UTC+2): 16:00 UTC is still 18:00 in Berlin.
    summer = {**REHEARSAL, "start_time": "2026-07-09T16:00:00Z", "end_time": "2026-07-09T17:30:00Z"}
    assert summarize(None, summer, action="created").endswith(
        "Thu 9 Jul 2026, 18:00–19:30 Europe/Berlin"
    )


def test_a_span_across_the_clock_change_names_both_offsets() -> None:
    # Berlin springs forward at 02:00 on 29 Mar 2026: 01:30 CET to 03:30 CEST is one hour.
    night = {**REHEARSAL, "start_time": "2026-03-29T00:30:00Z", "end_time": "2026-03-29T01:30:00Z"}
    assert summarize(None, night, action="created").endswith(
        "Sun 29 Mar 2026, 01:30 (UTC+01:00) – 03:30 (UTC+02:00) Europe/Berlin"
    )


def test_a_move_across_dst_is_measured_on_the_events_wall_clock() -> None:
    # Three weeks on, after the change to CEST on 29 Mar: 18:00 Berlin is 16:00 UTC, 20 days
    # 23 h of elapsed time but "21 days later" on the rehearsal's clock.
    later = {**REHEARSAL, "start_time": "2026-04-02T16:00:00Z", "end_time": "2026-04-02T17:30:00Z"}
    assert summarize(REHEARSAL, later, action="updated") == "moved 21 days later, same length"


def test_an_old_version_in_another_zone_speaks_its_own_zone() -> None:
    # Version 1 was planned in New York (EDT from 8 Mar 2026: 13:00 is 17:00 UTC); version 2
    # moved the zone to Berlin without moving the instant.
    new_york = {**REHEARSAL, "timezone": "America/New_York"}
    assert summarize(None, new_york, action="created").endswith(
        "Thu 12 Mar 2026, 13:00–14:30 America/New_York"
    )
    assert summarize(new_york, REHEARSAL, action="updated") == (
        "time zone changed from America/New_York to Europe/Berlin "
        "(now Thu 12 Mar 2026, 18:00–19:30 Europe/Berlin)"
    )


def test_a_zone_change_that_keeps_the_wall_clock_is_a_move_of_the_instant() -> None:
    # 18:00 New York kept as 18:00 Berlin: the instant moved 5 hours earlier.
    new_york = {
        **REHEARSAL,
        "start_time": "2026-03-12T22:00:00Z",
        "end_time": "2026-03-12T23:30:00Z",
        "timezone": "America/New_York",
    }
    assert summarize(new_york, REHEARSAL, action="updated") == (
        "moved 5 h earlier, same length; time zone changed from America/New_York to "
        "Europe/Berlin (now Thu 12 Mar 2026, 18:00–19:30 Europe/Berlin)"
    )


def test_an_unknown_zone_in_a_stored_snapshot_falls_back_to_utc() -> None:
    lost = {**REHEARSAL, "timezone": "Atlantis/Capital"}
    assert summarize(None, lost, action="created").endswith("17:00–18:30 UTC")


# --- recurrence --------------------------------------------------------------------------


def test_now_repeats() -> None:
    assert updated(**WEEKLY) == "now repeats weekly on Tue, Thu"


def test_rule_changed() -> None:
    old = with_(**WEEKLY)
    new = with_(is_recurring=True, recurrence_pattern="FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")
    assert summarize(old, new, action="updated") == "now repeats every 2 weeks on Mon"


def test_no_longer_repeats() -> None:
    assert summarize(with_(**WEEKLY), STANDUP, action="updated") == "no longer repeats"


def test_exceptions_added_and_removed() -> None:
    old = with_(**WEEKLY, recurrence_exceptions=["2026-03-24T10:00:00Z"])
    two_more = with_(
        **WEEKLY,
        recurrence_exceptions=[
            "2026-03-24T10:00:00Z",
            "2026-03-26T10:00:00Z",
            "2026-03-31T10:00:00Z",
        ],
    )
    assert summarize(old, two_more, action="updated") == "added 2 exceptions"
    assert summarize(old, with_(**WEEKLY), action="updated") == "removed 1 exception"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("FREQ=WEEKLY;BYDAY=TU,TH;COUNT=10", "repeats weekly on Tue, Thu, 10 times"),
        ("FREQ=DAILY", "repeats daily"),
        ("RRULE:FREQ=DAILY;INTERVAL=3", "repeats every 3 days"),
        ("FREQ=MONTHLY;BYMONTHDAY=31", "repeats monthly on day 31"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "repeats monthly on days 1, 15"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "repeats monthly on the last day"),
        ("FREQ=MONTHLY;BYDAY=1MO", "repeats monthly on the first Mon"),
        ("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "repeats yearly in Mar on the last Sun"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "repeats weekly on weekdays"),
        ("FREQ=WEEKLY;UNTIL=20260601T000000Z", "repeats weekly, until 1 Jun 2026"),
        ("FREQ=DAILY;COUNT=1", "repeats daily, once"),
        ("freq=weekly;byday=fr", "repeats weekly on Fri"),
        # The whole RFC 5545 grammar reads sensibly: minutes, seconds, year days, week numbers.
        ("FREQ=MINUTELY;INTERVAL=15;COUNT=6", "repeats every 15 minutes, 6 times"),
        ("FREQ=MINUTELY;INTERVAL=90;COUNT=4", "repeats every 90 minutes, 4 times"),
        ("FREQ=SECONDLY", "repeats every second"),
        (
            "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
            "repeats every 3 years on the first, 100th and 200th day of the year, 10 times",
        ),
        ("FREQ=HOURLY;BYYEARDAY=-1", "repeats hourly on the last day of the year"),
        ("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "repeats yearly on Mon in week 20"),
        ("FREQ=YEARLY;BYWEEKNO=1,-1", "repeats yearly in week 1 and the last week"),
        ("FREQ=YEARLY;BYWEEKNO=1,2,-2", "repeats yearly in weeks 1, 2 and the second-to-last week"),
    ],
)
def test_describe_rule(rule: str, expected: str) -> None:
    assert describe_rule(rule) == expected


def test_describe_rule_tolerates_garbage() -> None:
    assert describe_rule("") == "repeats"
    assert describe_rule("FREQ=SOMETIMES;COUNT=x;UNTIL=soon") == "repeats, until SOON"


# --- several changes -------------------------------------------------------------------


def test_several_changes_join_in_field_order() -> None:
    new = with_(
        title="Daily sync",
        description="Agenda",
        start_time="2026-03-20T11:00:00Z",
        end_time="2026-03-20T11:30:00Z",
        location="Room 4",
        **WEEKLY,
    )
    assert summarize(STANDUP, new, action="updated") == (
        "renamed from “Standup” to “Daily sync”; added a description; "
        "moved 1 h later, same length; set location to Room 4; now repeats weekly on Tue, Thu"
    )
