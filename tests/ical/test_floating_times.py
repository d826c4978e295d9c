"""Floating times (RFC 5545 3.3.5 form #1: no ``TZID``, no ``Z``) imported on the wall clock of
a zone: the calendar's ``X-WR-TIMEZONE`` when Calendo knows it, else the importing account's.

Parts of 2 events here (``CALENDO_IMPORT_PART_EVENTS``), so a file of three is read once and
written in two parts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest

from calendo.calendar import recurrence
from calendo.core.config import Settings
from calendo.core.cooperative import Pacer
from calendo.ical import convert, inbound, reading
from tests.conftest import make_settings
from tests.helpers import Actor
from tests.ical.test_import import _import, _ok

PART = 2


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    return make_settings(database_url, redis_url, import_part_events=PART)


def _file(*vevents: str, zone: str | None = None) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    if zone is not None:
        head += f"X-WR-TIMEZONE:{zone}\r\n"
    body = "".join(f"BEGIN:VEVENT\r\n{v.strip()}\r\nEND:VEVENT\r\n" for v in vevents)
    return f"{head}{body}END:VCALENDAR\r\n".encode()


def _once(uid: str, start: str, end: str, title: str = "Run") -> str:
    return f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:{title}\r\nDTSTART:{start}\r\nDTEND:{end}"


async def _in_zone(client: httpx.AsyncClient, actor: Actor, zone: str) -> None:
    """The account's default zone (``PATCH /api/auth/me``), the one the caller carries."""
    changed = await client.patch("/api/auth/me", json={"timezone": zone}, headers=actor.headers)
    assert changed.status_code == 200, changed.text


async def _event(client: httpx.AsyncClient, actor: Actor, event_id: int) -> Any:
    # Rendered in UTC (``tz``), whatever the account's zone.
    got = await client.get(f"/api/events/{event_id}", params={"tz": "UTC"}, headers=actor.headers)
    assert got.status_code == 200, got.text
    return got.json()


def _times(event: dict[str, Any]) -> tuple[str, str, str]:
    return event["start_time"], event["end_time"], event["timezone"]


# ------------------------------------------------------------------------ through the API


@pytest.mark.parametrize(
    ("calendar_zone", "expected"),
    [
        # X-WR-TIMEZONE, read as a TZID is: 08:00 CET is 07:00Z.
        ("Europe/Berlin", ("2026-03-14T07:00:00Z", "2026-03-14T07:30:00Z", "Europe/Berlin")),
        # A Windows zone ID, through the same table as a TZID's.
        (
            "W. Europe Standard Time",
            ("2026-03-14T07:00:00Z", "2026-03-14T07:30:00Z", "Europe/Berlin"),
        ),
        # None: the account's zone (08:00 EDT is 12:00Z).
        (None, ("2026-03-14T12:00:00Z", "2026-03-14T12:30:00Z", "America/New_York")),
        # One Calendo does not know (a display name, a made-up one): the account's too.
        ("Mars/Olympus_Mons", ("2026-03-14T12:00:00Z", "2026-03-14T12:30:00Z", "America/New_York")),
        (
            "(UTC+01:00) Amsterdam\\, Berlin\\, Bern\\, Rome\\, Stockholm\\, Vienna",
            ("2026-03-14T12:00:00Z", "2026-03-14T12:30:00Z", "America/New_York"),
        ),
    ],
)
async def test_a_floating_event_imports_in_the_calendar_zone_else_the_account_zone(
    client: httpx.AsyncClient, owner: Actor, calendar_zone: str | None, expected: tuple[str, ...]
) -> None:
    await _in_zone(client, owner, "America/New_York")
    data = _file(_once("run@x", "20260314T080000", "20260314T083000"), zone=calendar_zone)
    done = await _ok(client, owner, data)
    assert done["refused"] == []
    event = await _event(client, owner, done["created"][0]["event_id"])
    assert _times(event) == expected


async def test_without_a_zone_of_its_own_an_account_in_utc_reads_floating_times_as_utc(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    done = await _ok(client, owner, _file(_once("run@x", "20260314T080000", "20260314T083000")))
    event = await _event(client, owner, done["created"][0]["event_id"])
    assert _times(event) == ("2026-03-14T08:00:00Z", "2026-03-14T08:30:00Z", "UTC")


SERIES = (
    # Mondays 09:00-10:00 New York, across the change to daylight time (8 March 2026); UNTIL
    # is 09:00 New York on the 23rd (13:00Z): read as UTC it would lose that occurrence.
    "UID:weekly@x\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Standup\r\n"
    "DTSTART:20260302T090000\r\nDTEND:20260302T100000\r\n"
    "RRULE:FREQ=WEEKLY;UNTIL=20260323T090000\r\nEXDATE:20260309T090000",
    # Its occurrence of the 16th moved to 11:00 (floating too, as a floating series' are).
    "UID:weekly@x\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Standup (moved)\r\n"
    "RECURRENCE-ID:20260316T090000\r\nDTSTART:20260316T110000\r\nDTEND:20260316T120000\r\n"
    "X-KEPT:yes",
)


async def _occurrences(client: httpx.AsyncClient, actor: Actor, event_id: int) -> list[list[str]]:
    window = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-05-01T00:00:00Z", "tz": "UTC"}
    response = await client.get(
        f"/api/events/{event_id}/occurrences", params=window, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return [[i["occurrence_start"], i["occurrence_end"]] for i in response.json()["items"]]


async def test_a_floating_series_its_until_and_its_override_read_in_one_zone_and_round_trip(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    await _in_zone(client, owner, "America/New_York")
    done = await _ok(client, owner, _file(*SERIES))
    assert done["refused"] == []
    event_id = done["created"][0]["event_id"]
    event = await _event(client, owner, event_id)
    assert _times(event) == ("2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z", "America/New_York")
    assert event["recurrence_pattern"] == "FREQ=WEEKLY;UNTIL=20260323T130000Z"
    assert event["recurrence_exceptions"] == ["2026-03-09T13:00:00Z"]
    assert event["recurrence_overrides"] == [  # moved by two hours, as long as the others
        {
            "recurrence_id": "2026-03-16T13:00:00Z",
            "start_time": "2026-03-16T15:00:00Z",
            "title": "Standup (moved)",
        }
    ]
    assert await _occurrences(client, owner, event_id) == [
        ["2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z"],
        ["2026-03-16T15:00:00Z", "2026-03-16T16:00:00Z"],
        ["2026-03-23T13:00:00Z", "2026-03-23T14:00:00Z"],
    ]
    # Exported, every time names the zone (the floating-ness is not kept) ...
    exported = await client.get(
        f"/api/events/{event_id}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    assert exported.status_code == 200, exported.text
    text = exported.content.decode()
    assert "DTSTART;TZID=America/New_York:20260302T090000" in text
    assert "RECURRENCE-ID;TZID=America/New_York:20260316T090000" in text
    assert "X-KEPT:yes" in text
    # ... and a re-import of the export, or of the file, is the identity: no new version.
    for again in (exported.content, _file(*SERIES)):
        same = await _ok(client, owner, again)
        assert [u["event_id"] for u in same["unchanged"]] == [event_id], same
    assert (await _event(client, owner, event_id))["version"] == 1


async def test_a_dry_run_and_the_parts_of_a_file_read_floating_times_alike(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    await _in_zone(client, owner, "Asia/Tokyo")
    # Three events, two parts: the third (part 2) clashes with the first (part 1) only when
    # both are read in the file's zone.
    data = _file(
        _once("a@x", "20260314T080000", "20260314T090000", "A"),
        _once("b@x", "20260315T080000", "20260315T090000", "B"),
        "UID:c@x\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:C\r\n"
        "DTSTART:20260314T083000\r\nDTEND;TZID=Europe/Berlin:20260314T093000",
        zone="Europe/Berlin",
    )
    dry = await _ok(client, owner, data, dry_run="true", on_refusal="skip")
    assert [c["index"] for c in dry["created"]] == [0, 1]
    [clash] = dry["refused"]
    assert clash["index"] == 2 and [c["index"] for c in clash["conflicts"]] == [0]
    done = await _ok(client, owner, data, on_refusal="skip")
    assert [(c["index"], c["uid"]) for c in done["created"]] == [(0, "a@x"), (1, "b@x")]
    assert [(r["index"], r["reason"][:3]) for r in done["refused"]] == [(2, "409")]
    allowed = await _ok(client, owner, data, conflict_strategy="allow")
    [created] = allowed["created"]
    event = await _event(client, owner, created["event_id"])
    assert _times(event) == ("2026-03-14T07:30:00Z", "2026-03-14T08:30:00Z", "Europe/Berlin")


async def test_a_floating_time_in_a_dst_gap_reads_as_calendo_reads_wall_times(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    # 02:30 on 29 March 2026 does not exist in Berlin: read with the offset before the gap
    # (+01:00), it is 01:30Z, 03:30 CEST, as a series' occurrence at 02:30 that day is.
    data = _file(_once("gap@x", "20260329T023000", "20260329T043000"), zone="Europe/Berlin")
    done = await _ok(client, owner, data)
    event = await _event(client, owner, done["created"][0]["event_id"])
    assert _times(event) == ("2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z", "Europe/Berlin")


async def test_a_zoned_series_with_a_floating_until_is_still_refused(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    # RFC 5545 3.3.10: with a TZID DTSTART, UNTIL is UTC; which zone a floating one meant is
    # a guess, so it stays refused (only a floating series' UNTIL is floating).
    series = (
        "UID:z@x\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:x\r\n"
        "DTSTART;TZID=Europe/Berlin:20260302T090000\r\nRRULE:FREQ=DAILY;UNTIL=20260305T090000"
    )
    response = await _import(client, owner, _file(series, zone="Europe/Berlin"))
    assert response.status_code == 422, response.text
    [refused] = response.json()["refused"]
    assert "UNTIL must be in UTC" in refused["reason"]


# ------------------------------------------------------------------------ the pure reading


def _vevents(*vevents: str) -> list[icalendar.Component]:
    return inbound.parse_calendar(_file(*vevents))


def test_floating_zone_takes_a_known_calendar_zone_else_the_default_else_utc() -> None:
    assert inbound.floating_zone("Europe/Berlin", "Asia/Tokyo") == "Europe/Berlin"
    assert inbound.floating_zone("Pacific Standard Time", "UTC") == "America/Los_Angeles"
    assert inbound.floating_zone("/mozilla.org/20070129_1/Europe/Paris", "UTC") == "Europe/Paris"
    for unknown in (None, "", "Mars/Olympus_Mons", "localtime", "../../etc/passwd", "x" * 70_000):
        assert inbound.floating_zone(unknown, "Asia/Tokyo") == "Asia/Tokyo"
    assert inbound.floating_zone(None, "Not/A_Zone") == "UTC"


def test_mixed_forms_read_each_time_in_its_own_zone() -> None:
    [floating_start] = _vevents(
        "UID:m@x\r\nSUMMARY:x\r\nDTSTART:20260302T090000\r\n"
        "DTEND;TZID=America/New_York:20260302T090000\r\nRDATE:20260304T090000"
    )
    fields = inbound.from_vevent(floating_start, floating="Europe/Berlin").fields
    assert fields["timezone"] == "Europe/Berlin"
    assert fields["start_time"] == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert fields["end_time"] == datetime(2026, 3, 2, 14, tzinfo=UTC)
    assert fields["recurrence_dates"] == [datetime(2026, 3, 4, 8, tzinfo=UTC)]
    [zoned_start] = _vevents(
        "UID:m@x\r\nSUMMARY:x\r\nDTSTART;TZID=America/New_York:20260302T090000\r\n"
        "DTEND:20260302T160000"
    )
    fields = inbound.from_vevent(zoned_start, floating="Europe/Berlin").fields
    assert fields["timezone"] == "America/New_York"
    assert (fields["start_time"], fields["end_time"]) == (
        datetime(2026, 3, 2, 14, tzinfo=UTC),
        datetime(2026, 3, 2, 15, tzinfo=UTC),
    )


def test_without_a_zone_floating_times_are_refused_and_an_unknown_tzid_is_never_floating() -> None:
    [vevent] = _vevents("UID:f@x\r\nSUMMARY:x\r\nDTSTART:20260302T090000")
    with pytest.raises(convert.ICalError, match="DTSTART is a floating time"):
        inbound.from_vevent(vevent)
    # A TZID the parser could not resolve leaves the time naive: refused, not read as floating.
    [vevent] = _vevents(
        "UID:f@x\r\nSUMMARY:x\r\nDTSTART:20260302T090000\r\nDTEND;TZID=Nowhere:20260302T100000"
    )
    with pytest.raises(convert.ICalError, match="DTEND's TZID 'Nowhere' is not a time zone"):
        inbound.from_vevent(vevent, floating="Europe/Berlin")


@pytest.mark.parametrize(
    ("first", "wall", "instant"),
    [
        # New York skips 02:00-03:00 on 8 March 2026: 02:30 reads as 07:30Z (03:30 EDT).
        (datetime(2026, 3, 1, 7, 30, tzinfo=UTC), "20260308T023000", datetime(2026, 3, 8, 7, 30)),
        # It repeats 01:00-02:00 on 1 November 2026: 01:30 is the first of the two (EDT).
        (
            datetime(2026, 10, 25, 5, 30, tzinfo=UTC),
            "20261101T013000",
            datetime(2026, 11, 1, 5, 30),
        ),
    ],
)
def test_gaps_and_folds_resolve_as_the_recurrence_engine_resolves_them(
    first: datetime, wall: str, instant: datetime
) -> None:
    """A floating time lands where a weekly series at that wall time has its occurrence."""
    [vevent] = _vevents(f"UID:g@x\r\nSUMMARY:x\r\nDTSTART:{wall}\r\nDURATION:PT1H")
    start = inbound.from_vevent(vevent, floating="America/New_York").fields["start_time"]
    assert start == instant.replace(tzinfo=UTC)
    series = recurrence.Series(
        start=first, end=first + timedelta(hours=1), timezone="America/New_York", rule="FREQ=WEEKLY"
    )
    expanded = recurrence.expand(series, first, first + timedelta(days=8))
    assert [o.start for o in expanded.occurrences][1] == start


def test_reading_keys_a_floating_instance_s_kept_lines_by_its_instant() -> None:
    data = _file(*SERIES, zone="America/New_York")
    [item] = asyncio.run(Pacer().drive(reading.steps(data, max_events=10, default_zone="UTC")))
    assert item.refusal is None and item.data is not None
    assert item.data.timezone == "America/New_York"
    assert item.kept == {"2026-03-16T13:00:00Z": ["X-KEPT:yes"]}
