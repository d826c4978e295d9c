"""The conversion between events and VEVENTs: each field's form, and the round trip."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from calendo.calendar import days, recurrence
from calendo.events.schemas import EventCreate
from calendo.events.snapshots import CONTENT_FIELDS
from calendo.ical import convert, inbound
from calendo.ical import series as ical_series

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
]
RULES = [
    "FREQ=DAILY;COUNT=5",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1",
    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "FREQ=WEEKLY;UNTIL=21001231T235959Z;WKST=SU;BYDAY=TU,TH",
    "FREQ=HOURLY;BYHOUR=9,17;BYMINUTE=0,30",
    "FREQ=MINUTELY;INTERVAL=15;COUNT=4",
    "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=YEARLY;BYYEARDAY=1,-1",
    "FREQ=SECONDLY;INTERVAL=30;COUNT=3",
]
CONTENT = CONTENT_FIELDS  # every field Calendo models of an event

# What iCalendar TEXT can carry: no control characters but tab and newline, no surrogates.
_TEXT = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\r\x7f\x00", min_codepoint=1
).filter(lambda c: c in "\t\n" or ord(c) >= 0x20)
instants = st.datetimes(
    min_value=datetime(1901, 1, 1), max_value=datetime(2199, 1, 1), timezones=st.just(UTC)
).map(lambda value: value.replace(microsecond=0))


def _ambiguous(value: datetime, zone: str) -> bool:
    """A wall-clock reading that happens twice (RFC 5545 reads it as the first)."""
    local = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    zoned = ZoneInfo(zone)
    first = local.replace(tzinfo=zoned, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zoned, fold=1).astimezone(UTC)
    return first != second


@st.composite
def _texts(draw: st.DrawFn) -> dict[str, Any]:
    """An event's text fields and transparency, as a create may send them."""
    return {
        "title": draw(st.text(_TEXT, min_size=1, max_size=200).filter(str.strip)),
        "description": draw(st.none() | st.text(_TEXT, max_size=300)),
        "location": draw(st.none() | st.text(_TEXT, max_size=100)),
        "transparency": draw(st.sampled_from(["opaque", "transparent"])),
    }


@st.composite
def _extra_dates(draw: st.DrawFn, later: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A series' exceptions and extra dates, from ``later`` (none before its start)."""
    return {
        "recurrence_exceptions": draw(st.lists(later, max_size=4)),
        "recurrence_dates": draw(st.lists(later, max_size=4)),
    }


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """An event body (as ``EventRead``) whose content ``EventCreate`` accepts."""
    start = draw(instants)
    end = start + timedelta(seconds=draw(st.integers(1, 40 * 86_400)))
    rule = draw(st.none() | st.sampled_from(RULES))
    content: dict[str, Any] = {
        **draw(_texts()),
        "start_time": start,
        "end_time": end,
        "timezone": draw(st.sampled_from(ZONES)),
        "recurrence_pattern": rule,
    }
    if rule is not None:
        content |= draw(_extra_dates(instants.filter(lambda value: value >= start)))
    fields = _normalised(content)
    if rule is not None:
        fields["recurrence_overrides"] = draw(_overrides(fields))
    created = draw(instants)
    return {
        **fields,
        "id": draw(st.integers(1, 2_147_483_647)),
        "version": draw(st.integers(1, 10_000)),
        "created_at": created,
        "updated_at": created + timedelta(seconds=draw(st.integers(0, 10**8))),
    }


@st.composite
def _overrides(
    draw: st.DrawFn,
    series: dict[str, Any],
    step: timedelta = timedelta(seconds=1),
    most: int = 86_400,
) -> list[dict[str, Any]]:
    """Overrides (``EventRead`` form) of some of the series' first occurrences, each holding
    what differs from its occurrence (what its VEVENT can say it changes). Its times move by
    whole ``step``s, up to ``most`` of them: seconds for a timed series, days for an all-day
    one (whose overrides are floating instants, UTC midnights, as Calendo stores them)."""
    plain = ical_series.series_of(series)
    try:
        found = recurrence.expand(
            plain, series["start_time"], datetime(2200, 1, 1, tzinfo=UTC), limit=6
        )
    except recurrence.RecurrenceError:
        return []
    starts = [occurrence.start for occurrence in found.occurrences]
    chosen = draw(st.lists(st.sampled_from(starts), unique=True, max_size=3)) if starts else []
    duration = series["end_time"] - series["start_time"]
    result = []
    for rid in sorted(chosen):
        value: dict[str, Any] = {"recurrence_id": rid}
        start = rid + step * draw(st.integers(0, most))
        end = start + step * draw(st.integers(1, most))
        if start != rid:
            value["start_time"] = start
        if end != start + duration:
            value["end_time"] = end
        for field in ("title", "description", "location"):
            text = draw(st.none() | st.text(_TEXT, min_size=1, max_size=50).filter(str.strip))
            if text is not None and text != series[field]:
                value[field] = text
        transparency = draw(st.sampled_from([None, "opaque", "transparent"]))
        if transparency is not None and transparency != series["transparency"]:
            value["transparency"] = transparency
        result.append(value)
    return result


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    """The content as ``EventRead`` would show it after a create with these fields."""
    sent = {name: value for name, value in body.items() if name in CONTENT}
    fields = EventCreate.model_validate(sent).model_dump(include=set(CONTENT))
    fields["recurrence_exceptions"] = fields["recurrence_exceptions"] or []
    fields["recurrence_dates"] = fields["recurrence_dates"] or []
    fields["recurrence_overrides"] = [
        {k: v for k, v in value.items() if v is not None}
        for value in fields["recurrence_overrides"] or []
    ]
    fields["is_recurring"] = fields["recurrence_pattern"] is not None
    return fields


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_round_trip_is_the_identity_on_every_field(event: dict[str, Any]) -> None:
    times = [event["start_time"], event["end_time"]]
    times += event["recurrence_exceptions"] + event["recurrence_dates"]
    for value in event.get("recurrence_overrides") or []:
        times += [value[k] for k in ("recurrence_id", "start_time", "end_time") if k in value]
    assume(not any(_ambiguous(value, event["timezone"]) for value in times))
    [master, *instances] = inbound.parse_calendar(convert.to_calendar([event]))
    assert len(instances) == len(event.get("recurrence_overrides") or [])
    imported = inbound.from_series(master, instances)
    assert _normalised(imported.fields) == _normalised(event)
    assert imported.identity == convert.Identity(
        uid=f"{event['id']}@calendo",
        event_id=event["id"],
        version=event["version"],
        created_at=event["created_at"],
        updated_at=event["updated_at"],
    )


BERLIN_EVENT: dict[str, Any] = {
    "id": 7,
    "title": "Standup\r\nroom 2\x01",
    "description": "Daily; short, sharp",
    "start_time": datetime(2026, 3, 2, 8, 0, 0, 250_000, tzinfo=UTC),
    "end_time": datetime(2026, 3, 2, 8, 15, tzinfo=UTC),
    "timezone": "Europe/Berlin",
    "location": "Room 2",
    "is_recurring": True,
    "recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO,WE",
    "recurrence_exceptions": [datetime(2026, 3, 4, 8, tzinfo=UTC)],
    "recurrence_dates": [datetime(2026, 3, 6, 8, tzinfo=UTC)],
    "transparency": "transparent",
    "owner_id": 1,
    "my_role": "owner",
    "version": 3,
    "created_at": datetime(2026, 3, 1, 12, tzinfo=UTC),
    "updated_at": datetime(2026, 3, 1, 13, 30, 5, 999_999, tzinfo=UTC),
}


def test_each_field_has_its_rfc5545_form() -> None:
    text = convert.to_calendar([BERLIN_EVENT]).decode()
    calendar = icalendar.Calendar.from_ical(text)
    assert calendar["PRODID"] == convert.PRODID
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    [vevent] = calendar.walk("VEVENT")
    assert vevent["UID"] == "7@calendo"
    assert vevent["SEQUENCE"] == 2
    assert "DTSTAMP:20260301T133005Z" in text
    assert "LAST-MODIFIED:20260301T133005Z" in text
    assert "CREATED:20260301T120000Z" in text
    assert "DTSTART;TZID=Europe/Berlin:20260302T090000" in text  # whole seconds, wall clock
    assert "DTEND;TZID=Europe/Berlin:20260302T091500" in text
    assert "RRULE:FREQ=WEEKLY;BYDAY=MO,WE" in text
    assert "EXDATE;TZID=Europe/Berlin:20260304T090000" in text
    assert "RDATE;TZID=Europe/Berlin:20260306T090000" in text
    assert "TRANSP:TRANSPARENT" in text
    assert "LOCATION:Room 2" in text
    assert "DESCRIPTION:Daily\\; short\\, sharp" in text
    assert vevent["SUMMARY"] == "Standup\nroom 2"  # CRLF as a newline, controls left out


def test_utc_events_are_written_in_utc_without_a_vtimezone() -> None:
    event = {**BERLIN_EVENT, "timezone": "UTC", "transparency": "opaque"}
    text = convert.to_calendar([event]).decode()
    assert "DTSTART:20260302T080000Z" in text
    assert "EXDATE:20260304T080000Z" in text
    assert "TRANSP:OPAQUE" in text
    assert "VTIMEZONE" not in text


def test_busy_only_keeps_nothing_but_times() -> None:
    opaque = {**BERLIN_EVENT, "transparency": "opaque"}
    text = convert.to_calendar([opaque, {**BERLIN_EVENT, "id": 8}], busy_only=True)
    [vevent] = icalendar.Calendar.from_ical(text).walk("VEVENT")  # the transparent one is free
    assert set(vevent.keys()) == convert.BUSY_PROPERTIES
    assert vevent["SUMMARY"] == "Busy"
    assert b"Standup" not in text and b"Room 2" not in text and b"Daily" not in text


@pytest.mark.parametrize(
    ("vevent", "reason"),
    [
        ("DTSTART;VALUE=DATE:20260302\r\nDTEND:20260303T000000Z\r\nSUMMARY:x", "DTEND"),
        ("DTSTART;VALUE=DATE:20260302\r\nSUMMARY:x\r\nEXDATE:20260303T000000Z", "EXDATE"),
        ("DTSTART:20260302T090000\r\nSUMMARY:x", "floating"),
        ("SUMMARY:x", "DTSTART is missing"),
        ("DTSTART:20260302T090000Z", "SUMMARY is missing"),
        ("DTSTART:20260302T090000Z\r\nSUMMARY:x\r\nRRULE:FREQ=DAILY\r\nRRULE:FREQ=WEEKLY", "RRULE"),
        ("DTSTART:20260302T090000Z\r\nSUMMARY:x\r\nEXDATE;VALUE=DATE:20260303", "EXDATE"),
    ],
)
def test_what_calendo_does_not_model_is_refused_by_name(vevent: str, reason: str) -> None:
    text = (
        f"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\n{vevent}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [component] = inbound.parse_calendar(text.encode())
    with pytest.raises(convert.ICalError, match=reason):
        inbound.from_vevent(component)


def test_a_duration_gives_the_end_and_foreign_uids_name_no_event() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:abc@example.com\r\nSUMMARY:x\r\n"
        "DTSTART:20260302T090000Z\r\nDURATION:PT45M\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [component] = inbound.parse_calendar(text.encode())
    imported = inbound.from_vevent(component)
    assert imported.fields["end_time"] == datetime(2026, 3, 2, 9, 45, tzinfo=UTC)
    assert imported.identity.event_id is None
    assert convert.event_id_of("12@calendo") == 12
    with pytest.raises(convert.ICalError):
        inbound.parse_calendar(b"not a calendar")


MOVED = {
    "recurrence_id": datetime(2026, 3, 9, 8, tzinfo=UTC),
    "start_time": datetime(2026, 3, 9, 13, tzinfo=UTC),
    "title": "Standup, moved",
}
FREED = {"recurrence_id": datetime(2026, 3, 11, 8, tzinfo=UTC), "transparency": "transparent"}
ORPHAN = {"recurrence_id": datetime(2026, 3, 10, 8, tzinfo=UTC), "title": "no such occurrence"}
SERIES = {
    **BERLIN_EVENT,
    "start_time": datetime(2026, 3, 2, 8, tzinfo=UTC),
    "transparency": "opaque",
    "recurrence_overrides": [MOVED, ORPHAN, FREED],
}


def test_an_override_is_a_vevent_with_the_uid_and_a_recurrence_id() -> None:
    text = convert.to_calendar([SERIES]).decode()
    master, moved, freed = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert "RECURRENCE-ID" not in master
    assert moved["UID"] == freed["UID"] == "7@calendo"
    assert "RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000" in text  # as DTSTART is
    assert "DTSTART;TZID=Europe/Berlin:20260309T140000" in text
    assert "DTEND;TZID=Europe/Berlin:20260309T141500" in text  # the series' duration
    assert moved["SUMMARY"] == "Standup, moved" and moved["LOCATION"] == "Room 2"
    assert moved["SEQUENCE"] == 2 and moved["TRANSP"] == "OPAQUE"
    assert freed["SUMMARY"] == "Standup\nroom 2" and freed["TRANSP"] == "TRANSPARENT"
    assert "no such occurrence" not in text  # an orphaned override is inert, not shown
    imported = inbound.from_series(master, [moved, freed])
    assert imported.fields["recurrence_overrides"] == [MOVED, FREED]


def test_busy_only_overrides_are_times_and_a_freed_occurrence_an_exdate() -> None:
    text = convert.to_calendar([SERIES], busy_only=True)
    master, moved = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert set(master.keys()) == convert.BUSY_PROPERTIES
    assert set(moved.keys()) == convert.BUSY_OVERRIDE_PROPERTIES
    assert b"EXDATE;TZID=Europe/Berlin:20260304T090000,20260311T090000" in text
    assert b"Standup" not in text and b"Room 2" not in text


def test_busy_only_keeps_the_busy_overrides_of_a_free_series() -> None:
    busy = {"recurrence_id": datetime(2026, 3, 9, 8, tzinfo=UTC), "transparency": "opaque"}
    series = {**SERIES, "transparency": "transparent", "recurrence_overrides": [busy, FREED]}
    text = convert.to_calendar([series], busy_only=True)
    [only] = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert set(only.keys()) == convert.BUSY_OVERRIDE_PROPERTIES


@pytest.mark.parametrize(
    ("instance", "reason"),
    [
        ("RECURRENCE-ID;RANGE=THISANDFUTURE:20260309T080000Z", "THISANDFUTURE"),
        ("RECURRENCE-ID;VALUE=DATE:20260309", "date-time"),
    ],
)
def test_overrides_calendo_does_not_model_are_refused(instance: str, reason: str) -> None:
    master = convert.to_vevent({**BERLIN_EVENT, "recurrence_overrides": []})
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:7@calendo\r\nSUMMARY:x\r\n"
        f"DTSTART:20260309T090000Z\r\n{instance}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [component] = inbound.parse_calendar(text.encode())
    with pytest.raises(convert.ICalError, match=reason):
        inbound.from_series(master, [component])


def test_a_split_series_names_its_other_half_as_a_sibling() -> None:
    links = [{"event_id": 12, "relation": "split_into", "version": 1}]
    text = convert.to_calendar([{**SERIES, "related_events": links}]).decode()
    assert "RELATED-TO;RELTYPE=SIBLING:12@calendo" in text
    busy = convert.to_calendar([{**SERIES, "related_events": links}], busy_only=True)
    assert b"RELATED-TO" not in busy


def test_a_start_the_rule_does_not_give_is_an_exdate_out_and_an_rdate_in() -> None:
    """RFC 5545 counts DTSTART as the first occurrence; Calendo's engine does not when the rule
    skips it (a Monday rule from a Sunday), so the export says so with an EXDATE, and a
    foreign file's unsynchronised DTSTART is imported as an extra date."""
    sunday = {
        **SERIES,
        "start_time": datetime(2026, 3, 1, 8, tzinfo=UTC),
        "end_time": datetime(2026, 3, 1, 9, tzinfo=UTC),
        "recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO",
        "recurrence_exceptions": [],
        "recurrence_dates": [],
        "recurrence_overrides": [],
    }
    text = convert.to_calendar([sunday]).decode()
    assert "EXDATE;TZID=Europe/Berlin;X-CALENDO-EXCLUDES=DTSTART:20260301T090000" in text
    [vevent] = inbound.parse_calendar(text.encode())
    fields = inbound.from_vevent(vevent).fields
    assert fields["recurrence_exceptions"] == fields["recurrence_dates"] == []
    del vevent["EXDATE"]  # as another program would write it
    fields = inbound.from_vevent(vevent).fields
    assert fields["recurrence_dates"] == [sunday["start_time"]]


HOLIDAY: dict[str, Any] = {
    **SERIES,
    "title": "Holiday",
    "all_day": True,
    "start_date": date(2026, 3, 12),
    "end_date": date(2026, 3, 14),
    "start_time": datetime(2026, 3, 12, tzinfo=UTC),
    "end_time": datetime(2026, 3, 14, tzinfo=UTC),
    "recurrence_pattern": "FREQ=WEEKLY;COUNT=5",
    "recurrence_exceptions": [date(2026, 3, 19)],
    "recurrence_dates": [date(2026, 4, 30)],
    "recurrence_overrides": [],
    "transparency": "transparent",
}


def test_an_all_day_start_the_rule_does_not_give_is_a_date_exdate_out_and_an_rdate_in() -> None:
    """The same for an all-day series, in dates: a Monday rule from Sunday 1 March writes
    ``EXDATE;VALUE=DATE`` of that Sunday with the marker, which reads back as no exception;
    without it (another program's file) the Sunday is an extra date, as RFC 5545 counts it."""
    first, after = date(2026, 3, 1), date(2026, 3, 2)
    sunday = {**HOLIDAY, "recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO", "recurrence_dates": []}
    sunday |= {"start_date": first, "end_date": after, "recurrence_exceptions": [date(2026, 3, 9)]}
    sunday |= {"start_time": days.floating(first), "end_time": days.floating(after)}
    sunday["transparency"] = "opaque"  # so that a busy-only feed writes it too
    text = convert.to_calendar([sunday]).decode()
    assert "EXDATE;VALUE=DATE;X-CALENDO-EXCLUDES=DTSTART:20260301" in text
    assert "EXDATE;VALUE=DATE:20260309" in text  # the series' own exception, unmarked
    busy = convert.to_calendar([sunday], busy_only=True).decode()
    assert "EXDATE;VALUE=DATE;X-CALENDO-EXCLUDES=DTSTART:20260301" in busy
    [vevent] = inbound.parse_calendar(text.encode())
    fields = inbound.from_vevent(vevent).fields
    assert fields["recurrence_exceptions"] == [date(2026, 3, 9)]
    assert fields["recurrence_dates"] == []
    vevent.pop("EXDATE")
    vevent.add("exdate", [date(2026, 3, 9)])  # as another program would write it
    fields = inbound.from_vevent(vevent).fields
    assert fields["recurrence_dates"] == [date(2026, 3, 1)]
    assert fields["recurrence_exceptions"] == [date(2026, 3, 9)]
    # A start its own exception removes needs no marker, and a start the rule gives none.
    excluded = {**sunday, "recurrence_exceptions": [date(2026, 3, 1)]}
    assert "X-CALENDO-EXCLUDES" not in convert.to_calendar([excluded]).decode()
    monday = {**sunday, "start_date": date(2026, 3, 2), "end_date": date(2026, 3, 3)}
    assert "X-CALENDO-EXCLUDES" not in convert.to_calendar([monday]).decode()


def test_an_all_day_event_is_value_date_both_ways() -> None:
    text = convert.to_calendar([HOLIDAY]).decode()
    assert "DTSTART;VALUE=DATE:20260312" in text
    assert "DTEND;VALUE=DATE:20260314" in text  # exclusive, as end_date
    assert "EXDATE;VALUE=DATE:20260319" in text and "RDATE;VALUE=DATE:20260430" in text
    assert "VTIMEZONE" not in text and "TZID" not in text
    [vevent] = inbound.parse_calendar(text.encode())
    fields = inbound.from_vevent(vevent).fields
    assert {k: fields[k] for k in ("all_day", "start_date", "end_date")} == {
        "all_day": True,
        "start_date": date(2026, 3, 12),
        "end_date": date(2026, 3, 14),
    }
    assert fields["recurrence_exceptions"] == HOLIDAY["recurrence_exceptions"]
    assert fields["recurrence_dates"] == HOLIDAY["recurrence_dates"]
    assert fields["transparency"] == "transparent"
    EventCreate.model_validate(fields)  # an event Calendo accepts


def test_an_all_day_rule_ends_on_a_date() -> None:
    """RFC 5545 (3.3.10): UNTIL takes DTSTART's value type, a date for an all-day series.
    Whatever instant the canonical rule holds on that date, the date keeps the same
    occurrences, and reads back as the date's last second, the canonical form of a date."""
    for until in ("20260402T235959Z", "20260402T000000Z"):
        event = {**HOLIDAY, "recurrence_pattern": f"FREQ=WEEKLY;UNTIL={until}"}
        text = convert.to_calendar([event]).decode()
        assert "RRULE:FREQ=WEEKLY;UNTIL=20260402\r\n" in text, text
        [vevent] = inbound.parse_calendar(text.encode())
        back = EventCreate.model_validate(inbound.from_vevent(vevent).fields)
        assert back.recurrence_pattern == "FREQ=WEEKLY;UNTIL=20260402T235959Z"
    timed = convert.to_calendar(
        [{**SERIES, "recurrence_pattern": "FREQ=DAILY;UNTIL=20260402T235959Z"}]
    )
    assert "UNTIL=20260402T235959Z" in timed.decode()  # a timed rule keeps its UTC instant


def test_an_all_day_event_without_an_end_lasts_one_day() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:h@x\r\nDTSTART;VALUE=DATE:20261225\r\n"
        "SUMMARY:Christmas Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [vevent] = inbound.parse_calendar(text.encode())
    assert inbound.from_vevent(vevent).fields["end_date"] == date(2026, 12, 26)


DATE_RULES = [
    "FREQ=DAILY;COUNT=5",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1",
    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "FREQ=WEEKLY;UNTIL=21001231;WKST=SU;BYDAY=TU,TH",
]
days_ = st.dates(min_value=date(1901, 1, 1), max_value=date(2190, 1, 1))


@st.composite
def all_day_events(draw: st.DrawFn) -> dict[str, Any]:
    """An all-day event body (as ``EventRead``) whose content ``EventCreate`` accepts."""
    start = draw(days_)
    rule = draw(st.none() | st.sampled_from(DATE_RULES))
    content: dict[str, Any] = {
        **draw(_texts()),
        "all_day": True,
        "start_date": start,
        "end_date": start + timedelta(days=draw(st.integers(1, 30))),
        "recurrence_pattern": rule,
    }
    if rule is not None:
        content |= draw(_extra_dates(days_.filter(lambda value: value >= start)))
    fields = EventCreate.model_validate(content).model_dump(include=set(CONTENT), warnings=False)
    event = {
        **fields,
        "recurrence_exceptions": fields["recurrence_exceptions"] or [],
        "recurrence_dates": fields["recurrence_dates"] or [],
        "recurrence_overrides": [],
        "is_recurring": rule is not None,
        "start_time": days.floating(start),
        "end_time": days.floating(fields["end_date"]),
        "id": draw(st.integers(1, 2_147_483_647)),
        "version": 1,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    if rule is not None:  # moved by whole days, lengthened or shortened, retitled, freed
        event["recurrence_overrides"] = draw(_overrides(event, timedelta(days=1), 3))
    return event


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(all_day_events())
def test_an_all_day_round_trip_is_the_identity_on_every_field(event: dict[str, Any]) -> None:
    """Every field but the zone, which an all-day VEVENT does not carry (an import keeps the
    event's own: ``importing.replacement``); overrides included, each a ``RECURRENCE-ID``
    component of dates."""
    [master, *instances] = inbound.parse_calendar(convert.to_calendar([event]))
    assert len(instances) == len(event["recurrence_overrides"])
    assert all(type(i["RECURRENCE-ID"].dt) is date for i in instances)
    fields = EventCreate.model_validate(inbound.from_series(master, instances).fields)
    kept = set(CONTENT) - {"timezone", "start_time", "end_time"}
    back = fields.model_dump(include=kept, warnings=False)
    back["recurrence_exceptions"] = back["recurrence_exceptions"] or []
    back["recurrence_dates"] = back["recurrence_dates"] or []
    back["recurrence_overrides"] = [
        {k: v for k, v in value.items() if v is not None}
        for value in back["recurrence_overrides"] or []
    ]
    back["is_recurring"] = bool(back["is_recurring"])
    assert back == {name: event[name] for name in kept}
