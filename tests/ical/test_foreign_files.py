"""Files as other calendar programs write them (tests/ical/foreign/, written here from those
programs' output and RFC 5545): imported through the API, each event read back as stored, and
exported again as valid iCalendar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import icalendar

from tests.helpers import Actor, assert_problem
from tests.ical.test_import import _count, _import, _ok

FOREIGN = Path(__file__).parent / "foreign"
SHOWN = (
    "title",
    "start_time",
    "end_time",
    "timezone",
    "all_day",
    "start_date",
    "end_date",
    "recurrence_pattern",
    "recurrence_exceptions",
    "recurrence_overrides",
    "transparency",
)


def _file(name: str) -> bytes:
    return (FOREIGN / name).read_bytes()


async def _events(client: httpx.AsyncClient, actor: Actor, done: Any) -> dict[str, Any]:
    """The created events as stored (``GET /api/events/{id}``), by title."""
    found = {}
    for listed in done["created"]:
        got = await client.get(f"/api/events/{listed['event_id']}", headers=actor.headers)
        assert got.status_code == 200, got.text
        found[got.json()["title"]] = got.json()
    return found


def _shown(event: dict[str, Any]) -> dict[str, Any]:
    return {key: event[key] for key in SHOWN}


async def _exported(
    client: httpx.AsyncClient, actor: Actor, event: dict[str, Any]
) -> icalendar.Calendar:
    """The event's ``text/calendar`` export, parsed, after checking what RFC 5545 requires
    of it: one VCALENDAR with PRODID and VERSION, each VEVENT with UID, DTSTAMP and DTSTART,
    a VTIMEZONE for every TZID it uses."""
    response = await client.get(
        f"/api/events/{event['id']}", headers={**actor.headers, "Accept": "text/calendar"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    text = response.content.decode()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    parsed = icalendar.Calendar.from_ical(response.content)
    assert str(parsed["VERSION"]) == "2.0" and "PRODID" in parsed
    vevents = parsed.walk("VEVENT")
    assert vevents and all({"UID", "DTSTAMP", "DTSTART"} <= set(v) for v in vevents)
    zones = {str(zone["TZID"]) for zone in parsed.walk("VTIMEZONE")}
    assert parsed.get_used_tzids() <= zones, (parsed.get_used_tzids(), zones)
    return parsed


async def test_an_outlook_file_maps_windows_zones_and_keeps_exchange_properties(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    done = await _ok(client, owner, _file("outlook.ics"))
    assert done["refused"] == [] and len(done["created"]) == 3
    events = await _events(client, owner, done)
    # W. Europe Standard Time is Europe/Berlin: 09:30 on the day after the change to summer time.
    planning = events["Quarterly planning"]
    assert (planning["start_time"], planning["end_time"], planning["timezone"]) == (
        "2026-03-30T07:30:00Z",
        "2026-03-30T08:30:00Z",
        "Europe/Berlin",
    )
    standup = events["West coast stand-up"]
    assert _shown(standup) == {
        "title": "West coast stand-up",
        "start_time": "2026-03-03T18:00:00Z",  # 10:00 PST
        "end_time": "2026-03-03T18:30:00Z",
        "timezone": "America/Los_Angeles",
        "all_day": False,
        "start_date": None,
        "end_date": None,
        "recurrence_pattern": "FREQ=WEEKLY;BYDAY=TU;COUNT=6;WKST=SU",
        "recurrence_exceptions": ["2026-03-17T17:00:00Z"],  # 10:00 PDT
        "recurrence_overrides": [
            {"recurrence_id": "2026-03-24T17:00:00Z", "start_time": "2026-03-24T19:00:00Z"}
        ],
        "transparency": "opaque",
    }
    occurrences = await client.get(
        f"/api/events/{standup['id']}/occurrences",
        params={"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-04-30T00:00:00Z"},
        headers=owner.headers,
    )
    starts = [o["occurrence_start"] for o in occurrences.json()["items"]]
    assert starts == [
        "2026-03-03T18:00:00Z",
        "2026-03-10T17:00:00Z",  # the US changed to summer time on 8 March
        "2026-03-24T19:00:00Z",
        "2026-03-31T17:00:00Z",
        "2026-04-07T17:00:00Z",
    ]
    holiday = events["Easter Monday"]
    assert (holiday["all_day"], holiday["start_date"], holiday["end_date"]) == (
        True,
        "2026-04-06",
        "2026-04-07",
    )
    assert holiday["transparency"] == "transparent"
    parsed = await _exported(client, owner, standup)
    series, moved = parsed.walk("VEVENT")
    assert series["DTSTART"].params["TZID"] == "America/Los_Angeles"
    assert str(series["X-MICROSOFT-CDO-BUSYSTATUS"]) == "TENTATIVE"
    assert str(moved["X-MICROSOFT-CDO-INSTTYPE"]) == "3"
    exported = await _exported(client, owner, events["Quarterly planning"])
    [vevent] = exported.walk("VEVENT")
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert len(vevent.walk("VALARM")) == 1 and "X-ALT-DESC" in vevent
    again = await _ok(client, owner, _file("outlook.ics"))
    assert len(again["unchanged"]) == 3 and again["created"] == again["updated"] == []


async def test_outlook_display_name_zones_are_refused_by_name(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await _import(client, owner, _file("outlook_display_names.ics"))
    problem = assert_problem(response, 422, "import-refused")
    reasons = [(r["index"], r["reason"]) for r in problem["refused"]]
    assert [index for index, _ in reasons] == [0, 1]
    assert "'(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna'" in reasons[0][1]
    assert "'(UTC-08:00) Pacific Time (US & Canada)'" in reasons[1][1]
    assert all("is not a time zone Calendo knows" in reason for _, reason in reasons)
    assert await _count(client, owner) == 0


async def test_a_google_file_attaches_overrides_and_makes_cancelled_instances_exceptions(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    done = await _ok(client, owner, _file("google.ics"))
    assert done["refused"] == [] and len(done["created"]) == 4
    events = await _events(client, owner, done)
    sync = events["Team sync"]
    assert _shown(sync) == {
        "title": "Team sync",
        "start_time": "2026-03-03T09:00:00Z",
        "end_time": "2026-03-03T09:30:00Z",
        "timezone": "Europe/Berlin",
        "all_day": False,
        "start_date": None,
        "end_date": None,
        "recurrence_pattern": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260428T215959Z",
        # the EXDATE, and the instance marked STATUS:CANCELLED
        "recurrence_exceptions": ["2026-03-24T09:00:00Z", "2026-04-07T08:00:00Z"],
        "recurrence_overrides": [
            {
                "recurrence_id": "2026-03-17T09:00:00Z",
                "start_time": "2026-03-17T10:30:00Z",
                "title": "Team sync (moved)",
            }
        ],
        "transparency": "opaque",
    }
    occurrences = await client.get(
        f"/api/events/{sync['id']}/occurrences",
        params={"start_time": "2026-03-20T00:00:00Z", "end_time": "2026-04-30T00:00:00Z"},
        headers=owner.headers,
    )
    starts = [o["occurrence_start"] for o in occurrences.json()["items"]]
    assert starts == ["2026-03-31T08:00:00Z", "2026-04-14T08:00:00Z", "2026-04-21T08:00:00Z",
                      "2026-04-28T08:00:00Z"]  # fmt: skip
    lunch = events["Lunch with Kim"]
    assert (lunch["start_time"], lunch["timezone"]) == ("2026-03-05T13:00:00Z", "UTC")
    birthday = events["Kim's birthday"]
    assert (birthday["all_day"], birthday["start_date"], birthday["recurrence_pattern"]) == (
        True,
        "2026-03-16",
        "FREQ=YEARLY",
    )
    assert events["Easter Monday"]["end_date"] == "2026-04-07"
    parsed = await _exported(client, owner, sync)
    series, moved = parsed.walk("VEVENT")
    assert [str(a) for a in series["ATTENDEE"]] == [
        "mailto:ann@example.com",
        "mailto:bob@example.org",
    ]
    assert str(series["ORGANIZER"]) == "mailto:ann@example.com"
    assert len(series.walk("VALARM")) == 1
    assert moved["RECURRENCE-ID"].dt.isoformat() == "2026-03-17T10:00:00+01:00"
    assert "CANCELLED" not in parsed.to_ical().decode()
    again = await _ok(client, owner, _file("google.ics"))
    assert len(again["unchanged"]) == 4 and again["created"] == again["updated"] == []


async def test_a_cancelled_event_is_refused_and_a_cancelled_instance_must_be_an_occurrence(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    text = _file("google.ics").decode()
    cancelled = text.replace(
        "STATUS:CONFIRMED\r\nSUMMARY:Lunch", "STATUS:CANCELLED\r\nSUMMARY:Lunch"
    )
    done = await _ok(client, owner, cancelled.encode(), on_refusal="skip", dry_run="true")
    [refused] = done["refused"]
    assert refused["uid"] == "0q8w7e6r5t4y3u2i1o9p8a7s6d@google.com"
    assert refused["reason"].startswith("STATUS:CANCELLED: the event is cancelled")
    stray = text.replace("RECURRENCE-ID;TZID=Europe/Berlin:20260324T100000", "RECURRENCE-ID;TZI"
                         "D=Europe/Berlin:20260325T100000")  # fmt: skip
    done = await _ok(client, owner, stray.encode(), on_refusal="skip", dry_run="true")
    [refused] = done["refused"]
    assert "RECURRENCE-ID 2026-03-25T09:00:00Z is not an occurrence" in refused["reason"]


async def test_an_apple_file_keeps_its_properties_and_reads_its_floating_time_in_its_zone(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    # The account's zone is UTC: the file's X-WR-TIMEZONE (Europe/Berlin) is the one.
    done = await _ok(client, owner, _file("apple.ics"))
    assert len(done["created"]) == 3 and done["refused"] == []
    events = await _events(client, owner, done)
    run = events["Morning run"]  # DTSTART:20260314T080000, floating: 08:00 in Berlin (CET)
    assert (run["start_time"], run["end_time"], run["timezone"]) == (
        "2026-03-14T07:00:00Z",
        "2026-03-14T07:30:00Z",
        "Europe/Berlin",
    )
    [floating] = (await _exported(client, owner, run)).walk("VEVENT")
    assert floating["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert floating["DTSTART"].dt.replace(tzinfo=None).isoformat() == "2026-03-14T08:00:00"
    concert = events["Concert"]
    assert (concert["start_time"], concert["end_time"], concert["timezone"]) == (
        "2026-03-11T17:00:00Z",
        "2026-03-11T19:00:00Z",
        "Europe/Berlin",
    )
    assert concert["location"].startswith("Philharmonie\nHerbert-von-Karajan-Straße 1, 10785")
    weekend = events["Weekend at the lake"]
    assert (weekend["all_day"], weekend["start_date"], weekend["end_date"]) == (
        True,
        "2026-03-20",
        "2026-03-23",
    )
    [vevent] = (await _exported(client, owner, concert)).walk("VEVENT")
    place = vevent["X-APPLE-STRUCTURED-LOCATION"]
    assert place.params["X-TITLE"] == "Philharmonie" and str(place).endswith("13.369847")
    assert place.params["X-ADDRESS"] == "Herbert-von-Karajan-Straße 1, 10785 Berlin, Germany"
    [alarm] = vevent.walk("VALARM")
    assert str(alarm["X-APPLE-DEFAULT-ALARM"]) == "TRUE"


async def test_thunderbird_and_nextcloud_files_refuse_their_tasks_by_name_and_read_durations(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await _import(client, owner, _file("thunderbird.ics"))
    problem = assert_problem(response, 422, "import-refused")
    assert problem["refused"] == [
        {
            "index": 2,
            "uid": "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170",
            "reason": "VTODO: Calendo imports events (VEVENT); with on_refusal=skip the file's "
            "events are imported without it",
        }
    ]
    done = await _ok(client, owner, _file("thunderbird.ics"), on_refusal="skip")
    events = await _events(client, owner, done)
    choir = events["Choir rehearsal"]  # DURATION:PT2H
    assert (choir["start_time"], choir["end_time"], choir["timezone"]) == (
        "2026-03-19T18:30:00Z",
        "2026-03-19T20:30:00Z",
        "Europe/Berlin",
    )
    [vevent] = (await _exported(client, owner, events["Dentist"])).walk("VEVENT")
    assert str(vevent["X-MOZ-GENERATION"]) == "3"
    assert str(vevent["X-MOZ-LASTACK"]) == "20260317T080500Z"
    [vevent] = (await _exported(client, owner, choir)).walk("VEVENT")
    assert "X-MOZ-SNOOZE-TIME-1774549800000000" in vevent

    done = await _ok(client, owner, _file("nextcloud.ics"), on_refusal="skip")
    assert [(r["index"], r["uid"]) for r in done["refused"]] == [
        (1, "a7b6c5d4-e3f2-4a1b-9c8d-7e6f5a4b3c2d")
    ]
    events = await _events(client, owner, done)
    workshop = events["Workshop"]  # DURATION:PT1H30M
    assert (workshop["start_time"], workshop["end_time"]) == (
        "2026-03-25T13:30:00Z",
        "2026-03-25T15:00:00Z",
    )
    conference = events["Conference"]  # all-day, DURATION:P2D
    assert (conference["start_date"], conference["end_date"]) == ("2026-04-01", "2026-04-03")
    await _exported(client, owner, workshop)
    await _exported(client, owner, conference)


async def test_an_old_thunderbird_globally_unique_tzid_reads_as_its_zone(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    data = _file("thunderbird.ics").replace(
        b"TZID=Europe/Berlin:", b"TZID=/mozilla.org/20070129_1/Europe/Berlin:"
    )
    done = await _ok(client, owner, data, on_refusal="skip")
    events = await _events(client, owner, done)
    dentist = events["Dentist"]
    assert (dentist["start_time"], dentist["timezone"]) == ("2026-03-18T07:30:00Z", "Europe/Berlin")


async def test_a_cancelled_all_day_instance_is_an_exception_date(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    cancelled = "\r\n".join(
        [
            "BEGIN:VEVENT",
            "DTSTART;VALUE=DATE:20270316",
            "DTEND;VALUE=DATE:20270317",
            "DTSTAMP:20260301T120000Z",
            "UID:1a2b3c4d5e6f7g8h9i0j1k2l3m@google.com",
            "RECURRENCE-ID;VALUE=DATE:20270316",
            "STATUS:CANCELLED",
            "SUMMARY:Kim's birthday",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
    )
    data = _file("google.ics").decode().replace("END:VCALENDAR", cancelled, 1).encode()
    done = await _ok(client, owner, data)
    birthday = (await _events(client, owner, done))["Kim's birthday"]
    assert birthday["recurrence_exceptions"] == ["2027-03-16"]
    assert birthday["recurrence_overrides"] == []
    [vevent] = (await _exported(client, owner, birthday)).walk("VEVENT")
    assert vevent["EXDATE"].to_ical() == b"20270316"
