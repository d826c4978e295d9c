"""Overrides of an all-day series in iCalendar: ``RECURRENCE-ID;VALUE=DATE`` components out
and in, the floating instants Calendo keys them by, and the refusals of what does not fit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import icalendar
import pytest

from calendo.ical import convert, inbound
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem
from tests.ical.test_convert import HOLIDAY
from tests.ical.test_import import _import, _ok, calendar

# Overrides as an all-day series stores them (``EventRead`` form): floating instants, the
# UTC midnights of their dates (``calendar.days``).
MOVED = {
    "recurrence_id": datetime(2026, 3, 26, tzinfo=UTC),
    "start_time": datetime(2026, 3, 27, tzinfo=UTC),
    "end_time": datetime(2026, 3, 30, tzinfo=UTC),
    "title": "Camp, moved",
}
FREED = {"recurrence_id": datetime(2026, 4, 2, tzinfo=UTC), "transparency": "transparent"}
ORPHAN = {"recurrence_id": datetime(2026, 4, 3, tzinfo=UTC), "title": "no such occurrence"}
CAMP: dict[str, Any] = {
    **HOLIDAY,  # 12–13 March, weekly five times but the 19th, version 3
    "title": "Camp",
    "description": None,
    "location": "Alps",
    "recurrence_dates": [],
    "transparency": "opaque",
    "recurrence_overrides": [MOVED, FREED, ORPHAN],
}


def test_an_all_day_override_is_a_vevent_of_dates() -> None:
    text = convert.to_calendar([CAMP]).decode()
    master, moved, freed = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert "RECURRENCE-ID" not in master
    assert "RECURRENCE-ID;VALUE=DATE:20260326" in text
    assert "DTSTART;VALUE=DATE:20260327" in text and "DTEND;VALUE=DATE:20260330" in text
    # Without times of its own, an occurrence keeps its date and the series' two days.
    assert "RECURRENCE-ID;VALUE=DATE:20260402" in text
    assert "DTSTART;VALUE=DATE:20260402" in text and "DTEND;VALUE=DATE:20260404" in text
    assert "TZID" not in text and "VTIMEZONE" not in text
    assert moved["UID"] == freed["UID"] == "7@calendo"
    assert (moved["SUMMARY"], moved["LOCATION"], moved["TRANSP"]) == (
        "Camp, moved",
        "Alps",
        "OPAQUE",
    )
    assert (freed["SUMMARY"], freed["TRANSP"]) == ("Camp", "TRANSPARENT")
    assert moved["SEQUENCE"] == 2
    assert "no such occurrence" not in text  # an orphaned override is inert, not shown
    assert inbound.from_series(master, [moved, freed]).fields["recurrence_overrides"] == [
        MOVED,
        FREED,
    ]


def test_busy_only_an_all_day_occurrence_freed_is_a_date_exdate() -> None:
    text = convert.to_calendar([CAMP], busy_only=True)
    master, moved = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert set(master.keys()) == convert.BUSY_PROPERTIES - {"RDATE"}  # CAMP has none
    assert set(moved.keys()) == convert.BUSY_OVERRIDE_PROPERTIES
    assert b"EXDATE;VALUE=DATE:20260319,20260402" in text
    assert b"RECURRENCE-ID;VALUE=DATE:20260326" in text
    assert b"Camp" not in text and b"Alps" not in text


SERIES = (
    "UID:camp@example.com\r\nDTSTART;VALUE=DATE:20260312\r\nDTEND;VALUE=DATE:20260314\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;VALUE=DATE:20260402\r\nSUMMARY:Camp"
)


def _instance(*lines: str) -> str:
    return "\r\n".join(["UID:camp@example.com", "SUMMARY:Camp, moved", *lines])


MOVED_IN = _instance(
    "RECURRENCE-ID;VALUE=DATE:20260319",
    "DTSTART;VALUE=DATE:20260320",
    "DTEND;VALUE=DATE:20260323",
    "X-NOTE:kept with the occurrence",
)


@pytest.mark.parametrize(
    ("instance", "reason"),
    [
        (
            _instance("RECURRENCE-ID:20260319T000000Z"),
            "RECURRENCE-ID of an all-day series must be a date",
        ),
        (
            _instance("RECURRENCE-ID;VALUE=DATE:20260320"),
            "RECURRENCE-ID 2026-03-20 is not an occurrence of the series",
        ),
        (
            _instance("RECURRENCE-ID;VALUE=DATE:20260402"),  # its EXDATE cancelled it
            "RECURRENCE-ID 2026-04-02 is not an occurrence of the series",
        ),
        (
            _instance("RECURRENCE-ID;VALUE=DATE:20260319", "DTSTART:20260319T090000Z"),
            "DTSTART of an all-day occurrence .* must be a date",
        ),
        (
            _instance("RECURRENCE-ID;VALUE=DATE:20260319", "DTEND:20260320T090000Z"),
            "DTEND must be a date",
        ),
        (
            _instance("RECURRENCE-ID;VALUE=DATE;RANGE=THISANDFUTURE:20260319"),
            "THISANDFUTURE",
        ),
    ],
)
def test_what_an_all_day_series_cannot_hold_is_refused_by_name(instance: str, reason: str) -> None:
    master, component = inbound.parse_calendar(calendar(SERIES, instance))
    with pytest.raises(convert.ICalError, match=reason):
        inbound.from_series(master, [component])


def test_a_timed_series_refuses_a_recurrence_id_it_does_not_have() -> None:
    series = (
        "UID:t@x\r\nDTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:x"
    )
    instance = "UID:t@x\r\nRECURRENCE-ID:20260303T090000Z\r\nSUMMARY:y"
    master, component = inbound.parse_calendar(calendar(series, instance))
    with pytest.raises(convert.ICalError, match="2026-03-03T09:00:00Z is not an occurrence"):
        inbound.from_series(master, [component])


async def _occurrences(client: httpx.AsyncClient, actor: Actor, event_id: int) -> list[list[str]]:
    window = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-05-01T00:00:00Z"}
    response = await client.get(
        f"/api/events/{event_id}/occurrences", params=window, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return [[i["occurrence_start"], i["occurrence_end"]] for i in response.json()["items"]]


async def _ics(client: httpx.AsyncClient, actor: Actor, event_id: int) -> httpx.Response:
    response = await client.get(
        f"/api/events/{event_id}", headers={**actor.headers, "Accept": "text/calendar"}
    )
    assert response.status_code == 200, response.text
    return response


async def test_an_imported_all_day_override_is_the_series_own_and_round_trips(
    client: httpx.AsyncClient, owner: Actor, stranger: Actor
) -> None:
    done = await _ok(client, owner, calendar(SERIES, MOVED_IN))
    assert done["refused"] == []
    event_id = done["created"][0]["event_id"]
    event = (await client.get(f"/api/events/{event_id}", headers=owner.headers)).json()
    assert event["recurrence_overrides"] == [
        {
            "recurrence_id": "2026-03-19T00:00:00Z",
            "start_time": "2026-03-20T00:00:00Z",
            "end_time": "2026-03-23T00:00:00Z",
            "title": "Camp, moved",
        }
    ]
    # The account zone is UTC: the moved occurrence spans 20–22 March there, the 19th is free.
    assert await _occurrences(client, owner, event_id) == [
        ["2026-03-12T00:00:00Z", "2026-03-14T00:00:00Z"],
        ["2026-03-20T00:00:00Z", "2026-03-23T00:00:00Z"],
        ["2026-03-26T00:00:00Z", "2026-03-28T00:00:00Z"],
    ]
    exported = await _ics(client, owner, event_id)
    _, instance = icalendar.Calendar.from_ical(exported.content).walk("VEVENT")
    assert instance["RECURRENCE-ID"].to_ical() == b"20260319"
    assert b"RECURRENCE-ID;VALUE=DATE:20260319" in exported.content
    assert b"DTSTART;VALUE=DATE:20260320" in exported.content
    assert b"DTEND;VALUE=DATE:20260323" in exported.content
    assert instance["X-NOTE"] == "kept with the occurrence"
    # Re-imported, Calendo's own export changes nothing, and exports the same again.
    again = await _ok(client, owner, exported.content)
    assert [u["event_id"] for u in again["unchanged"]] == [event_id]
    assert (await _ics(client, owner, event_id)).content == exported.content
    # Another account importing the export gets an event of its own with the same override.
    theirs = await _ok(client, stranger, exported.content)
    copy_id = theirs["created"][0]["event_id"]
    copy = (await client.get(f"/api/events/{copy_id}", headers=stranger.headers)).json()
    assert copy["recurrence_overrides"] == event["recurrence_overrides"]
    assert await _occurrences(client, stranger, copy_id) == await _occurrences(
        client, owner, event_id
    )


async def test_an_override_edited_through_the_api_exports_and_re_imports(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    created = await make_event(
        owner,
        all_day=True,
        start_time=None,
        end_time=None,
        start_date="2026-03-12",
        recurrence_pattern="FREQ=WEEKLY;COUNT=4",
    )
    event_id = created["id"]
    edited = await client.patch(
        f"/api/events/{event_id}/occurrences/2026-03-26T00:00:00Z",
        json={"title": "Camp, longer", "end_time": "2026-03-29T00:00:00Z"},
        headers=owner.headers,
    )
    assert edited.status_code == 200, edited.text
    exported = await _ics(client, owner, event_id)
    assert b"RECURRENCE-ID;VALUE=DATE:20260326" in exported.content
    assert b"DTSTART;VALUE=DATE:20260326" in exported.content
    assert b"DTEND;VALUE=DATE:20260329" in exported.content
    again = await _ok(client, owner, exported.content)
    assert [u["event_id"] for u in again["unchanged"]] == [event_id]
    event = (await client.get(f"/api/events/{event_id}", headers=owner.headers)).json()
    assert event["version"] == 2  # the create and the edit: the re-import wrote nothing


async def test_a_malformed_all_day_override_is_a_refusal_not_an_error(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    timed_rid = _instance("RECURRENCE-ID:20260319T000000Z")
    no_such_day = _instance("RECURRENCE-ID;VALUE=DATE:20260320")
    other = "UID:other@example.com\r\nDTSTART;VALUE=DATE:20260601\r\nSUMMARY:Other"
    for instance, reason in (
        (timed_rid, "RECURRENCE-ID of an all-day series must be a date (VALUE=DATE)"),
        (no_such_day, "RECURRENCE-ID 2026-03-20 is not an occurrence of the series"),
    ):
        data = calendar(SERIES, instance, other)
        problem = assert_problem(await _import(client, owner, data), 422, "import-refused")
        assert [(r["index"], r["uid"]) for r in problem["refused"]] == [(0, "camp@example.com")]
        assert reason in problem["refused"][0]["reason"]
        listed = await client.get("/api/events", headers=owner.headers)
        assert listed.json()["items"] == []  # nothing written
        skipped = await _ok(client, owner, data, on_refusal="skip", dry_run="true")
        assert [c["uid"] for c in skipped["created"]] == ["other@example.com"]
        assert reason in skipped["refused"][0]["reason"]
