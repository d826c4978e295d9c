"""Tests for calendo.history.summary: edit summaries in plain English."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from calendo.history.summary import describe_rule, format_duration, summarize

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


def test_timezone() -> None:
    assert updated(timezone="Europe/Berlin") == "time zone changed to Europe/Berlin"


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
