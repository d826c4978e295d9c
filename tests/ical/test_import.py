"""``POST /api/events/import``: dry run, atomicity, re-import by UID, kept properties, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
from icalendar.parser import Contentline

from calendo.ical.extras import MODELLED, property_name, raw_value
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem
from tests.ical.support import share_with_viewer

URL = "/api/events/import"
ICS = {"Content-Type": "text/calendar"}

# What Calendo does not model, which a round trip must give back unchanged.
KEPT = [
    'X-GOOGLE-CONFERENCE;X-LABEL="Meet: room":https://meet.example.com/abc',
    "CATEGORIES:Work,Planning\\, Q3",
    "URL:https://example.com/events/1?a=b;c",
    "ATTACH;FMTTYPE=application/pdf:https://example.com/agenda.pdf",
    'ATTENDEE;CN="Ann, B.";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:ann@example.com',
    "ORGANIZER;CN=Bob:mailto:bob@example.com",
    "STATUS:CONFIRMED",
    "CLASS:PRIVATE",
]
ALARM = ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Soon", "TRIGGER:-PT15M", "END:VALARM"]


def calendar(*vevents: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{v.strip()}\r\nEND:VEVENT\r\n" for v in vevents)
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"
    return text.encode()


def vevent(uid: str, title: str = "Planning", day: int = 2, *extra: str) -> str:
    lines = [
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:202603{day:02d}T090000",
        f"DTEND;TZID=Europe/Berlin:202603{day:02d}T100000",
        f"SUMMARY:{title}",
        *extra,
    ]
    return "\r\n".join(lines)


async def _import(
    client: httpx.AsyncClient, actor: Actor, data: bytes, **params: Any
) -> httpx.Response:
    return await client.post(URL, content=data, headers={**actor.headers, **ICS}, params=params)


async def _ok(client: httpx.AsyncClient, actor: Actor, data: bytes, **params: Any) -> Any:
    response = await _import(client, actor, data, **params)
    assert response.status_code == 200, response.text
    return response.json()


async def _count(client: httpx.AsyncClient, actor: Actor) -> int:
    listed = await client.get("/api/events", params={"limit": 200}, headers=actor.headers)
    assert listed.status_code == 200, listed.text
    return len(listed.json()["items"])


async def test_a_dry_run_lists_and_writes_nothing_then_the_import_writes(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    data = calendar(vevent("a@example.com"), vevent("b@example.com", "Review", 3))
    dry = await _ok(client, owner, data, dry_run="true")
    assert dry["dry_run"] is True
    assert [(c["index"], c["uid"], c["title"]) for c in dry["created"]] == [
        (0, "a@example.com", "Planning"),
        (1, "b@example.com", "Review"),
    ]
    assert dry["updated"] == dry["refused"] == []
    assert await _count(client, owner) == 0
    done = await _ok(client, owner, data)
    assert done["dry_run"] is False and len(done["created"]) == 2
    assert await _count(client, owner) == 2
    event_id = done["created"][0]["event_id"]
    history = await client.get(f"/api/events/{event_id}/history", headers=owner.headers)
    assert history.json()["items"][0]["tags"] == ["import"]
    audit = (await client.get("/api/audit", headers=owner.headers)).json()["items"]
    mine = [e for e in audit if e.get("event_id") == event_id]
    assert mine and all(e["details"]["source"] == "import" for e in mine), mine


async def test_re_import_updates_by_uid_and_another_user_gets_their_own(
    client: httpx.AsyncClient, owner: Actor, stranger: Actor
) -> None:
    first = await _ok(client, owner, calendar(vevent("a@example.com")))
    event_id = first["created"][0]["event_id"]
    again = await _ok(client, owner, calendar(vevent("a@example.com")))
    assert again["created"] == [] and again["updated"] == []
    assert [u["event_id"] for u in again["unchanged"]] == [event_id]
    moved = await _ok(client, owner, calendar(vevent("a@example.com", "Planning v2", 4)))
    assert [u["event_id"] for u in moved["updated"]] == [event_id]
    event = (await client.get(f"/api/events/{event_id}", headers=owner.headers)).json()
    assert (event["title"], event["version"]) == ("Planning v2", 2)
    assert event["start_time"] == "2026-03-04T08:00:00Z"
    assert await _count(client, owner) == 1
    theirs = await _ok(client, stranger, calendar(vevent("a@example.com")))
    assert theirs["created"][0]["event_id"] != event_id
    # A Calendo-shaped UID past the id range names no event: a foreign UID like any other.
    huge = await _ok(client, owner, calendar(vevent("9999999999@calendo", day=9)))
    assert [c["uid"] for c in huge["created"]] == ["9999999999@calendo"]


async def test_calendo_uids_update_what_the_caller_may_edit_and_refuse_what_they_view(
    client: httpx.AsyncClient,
    owner: Actor,
    viewer: Actor,
    stranger: Actor,
    make_event: EventFactory,
) -> None:
    event = await make_event(owner, title="Original")
    uid = f"{event['id']}@calendo"
    exported = await client.get(
        f"/api/events/{event['id']}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    text = exported.content.replace(b"SUMMARY:Original", b"SUMMARY:Edited elsewhere")
    updated = await _ok(client, owner, text)
    assert [u["event_id"] for u in updated["updated"]] == [event["id"]]
    await share_with_viewer(client, event, owner, viewer)
    refused = await _import(client, viewer, text.replace(b"elsewhere", b"by a viewer"))
    problem = assert_problem(refused, 422, "import-refused")
    [refusal] = problem["refused"]
    assert refusal["uid"] == uid and "can only view" in refusal["reason"]
    # Someone who cannot see it at all gets a copy of their own, and keeps updating it.
    copy = await _ok(client, stranger, text)
    copy_id = copy["created"][0]["event_id"]
    assert copy_id != event["id"]
    again = await _ok(client, stranger, text.replace(b"elsewhere", b"again"))
    assert [u["event_id"] for u in again["updated"]] == [copy_id]
    original = (await client.get(f"/api/events/{event['id']}", headers=owner.headers)).json()
    assert original["title"] == "Edited elsewhere"


async def test_a_validation_refusal_is_worded_as_the_api_words_it(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """The field, then the sentence a 422 of the API gives (no pydantic prefix); a refusal
    found while writing starts with the status that write would have answered."""
    data = calendar(
        "UID:rule@x\r\nDTSTART:20260302T090000Z\r\nRRULE:FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z\r\nSUMMARY:x",
        "UID:long@x\r\nDTSTART:20260303T090000Z\r\nSUMMARY:" + "t" * 300,
        "UID:back@x\r\nDTSTART:20260304T090000Z\r\nDTEND:20260304T080000Z\r\nSUMMARY:x",
        "UID:often@x\r\nDTSTART:20260305T090000Z\r\nRRULE:FREQ=FORTNIGHTLY\r\nSUMMARY:x",
    )
    problem = assert_problem(await _import(client, owner, data), 422, "import-refused")
    assert [r["reason"] for r in sorted(problem["refused"], key=lambda r: r["index"])] == [
        "recurrence_pattern: COUNT and UNTIL cannot both be set",
        "title may have at most 200 characters",
        "422 end_time must be after start_time",
        "RRULE is not readable: Expected frequency, got: FORTNIGHTLY",  # the parser's reason
    ]
    assert await _count(client, owner) == 0


async def test_an_import_is_atomic_and_refusals_name_the_component(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    data = calendar(
        vevent("good@example.com"),
        "UID:bad@example.com\r\nDTSTART;TZID=Mars/Olympus_Mons:20260302T090000\r\nSUMMARY:x",
        vevent("c@example.com", "Clash", 2),  # overlaps the first under reject
    )
    response = await _import(client, owner, data)
    problem = assert_problem(response, 422, "import-refused")
    reasons = {r["index"]: r for r in problem["refused"]}
    assert reasons[1]["uid"] == "bad@example.com" and "not a time zone" in reasons[1]["reason"]
    assert reasons[2]["reason"].startswith("409") and reasons[2]["conflicts"]
    assert await _count(client, owner) == 0  # nothing written
    skipped = await _ok(client, owner, data, on_refusal="skip")
    assert [c["uid"] for c in skipped["created"]] == ["good@example.com"]
    assert len(skipped["refused"]) == 2
    allowed = await _ok(client, owner, data, on_refusal="skip", conflict_strategy="allow")
    assert [c["uid"] for c in allowed["created"]] == ["c@example.com"]
    assert allowed["created"][0]["conflicts"]


async def test_overrides_import_and_what_calendo_does_not_model_comes_back_unchanged(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    series = vevent("s@example.com", "Weekly", 2, "RRULE:FREQ=WEEKLY;COUNT=4", *KEPT, *ALARM)
    moved = "\r\n".join(
        [
            "UID:s@example.com",
            "RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000",
            "DTSTART;TZID=Europe/Berlin:20260309T140000",
            "DTEND;TZID=Europe/Berlin:20260309T150000",
            "SUMMARY:Weekly (moved)",
            "X-MOVED-BY:Ann",
        ]
    )
    done = await _ok(client, owner, calendar(series, moved))
    event_id = done["created"][0]["event_id"]
    event = (await client.get(f"/api/events/{event_id}", headers=owner.headers)).json()
    assert event["recurrence_overrides"] == [
        {
            "recurrence_id": "2026-03-09T08:00:00Z",
            "start_time": "2026-03-09T13:00:00Z",
            "title": "Weekly (moved)",
        }
    ]
    exported = await client.get(
        f"/api/events/{event_id}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    master, instance = icalendar.Calendar.from_ical(exported.content).walk("VEVENT")
    assert _unmodelled(master) == _lines(KEPT)
    assert [c.name for c in master.subcomponents] == ["VALARM"]
    assert master.subcomponents[0]["TRIGGER"].to_ical() == b"-PT15M"
    assert _unmodelled(instance) == _lines(["X-MOVED-BY:Ann"])
    # And back: re-importing Calendo's own export changes nothing and keeps them all.
    again = await _ok(client, owner, exported.content)
    assert [u["event_id"] for u in again["unchanged"]] == [event_id]
    second = await client.get(
        f"/api/events/{event_id}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    master, _ = icalendar.Calendar.from_ical(second.content).walk("VEVENT")
    assert _unmodelled(master) == _lines(KEPT)


def _lines(lines: list[str]) -> list[tuple[str, dict[str, str], str]]:
    """Content lines as (name, parameters, value text): what they mean, whatever order
    their parameters are written in (RFC 5545 gives it no meaning)."""
    parsed = []
    for line in lines:
        name, params, _ = Contentline(line).parts()
        parsed.append((name, dict(params), raw_value(line)))
    return sorted(parsed)


def _unmodelled(component: icalendar.Component) -> list[tuple[str, dict[str, str], str]]:
    """The component's own content lines Calendo does not model, unfolded."""
    text = component.to_ical().decode().replace("\r\n ", "").split("\r\n")
    lines, depth = [], 0
    for line in text[1:-2]:
        name = property_name(line)
        depth += name == "BEGIN"
        if not depth and name not in MODELLED:
            lines.append(line)
        depth -= name == "END"
    return _lines(lines)


async def test_a_multipart_upload_is_read_as_the_body(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    files = {"file": ("calendar.ics", calendar(vevent("u@example.com")), "text/calendar")}
    response = await client.post(URL, files=files, headers=owner.headers, params={"dry_run": 1})
    assert response.status_code == 200, response.text
    assert [c["uid"] for c in response.json()["created"]] == ["u@example.com"]
    wrong = await client.post(URL, files={"other": ("x", b"y")}, headers=owner.headers)
    assert_problem(wrong, 422)


async def test_a_split_series_exports_its_links_and_a_re_import_keeps_them_once(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    from tests.events.test_split import SPLIT_AT, _series

    event_id = await _series(client, owner, make_event)
    split = await client.post(
        f"/api/events/{event_id}/split",
        json={"recurrence_id": SPLIT_AT, "changes": {"location": "Room 9"}},
        headers=owner.headers,
    )
    assert split.status_code in (200, 201), split.text
    window = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-04-01T00:00:00Z"}
    exported = await client.get(
        "/api/events", params=window, headers={**owner.headers, "Accept": "text/calendar"}
    )
    masters = [
        v
        for v in icalendar.Calendar.from_ical(exported.content).walk("VEVENT")
        if "RECURRENCE-ID" not in v
    ]
    assert len(masters) == 2
    first, second = masters
    assert str(first["RELATED-TO"]) == str(second["UID"])
    assert str(second["RELATED-TO"]) == str(first["UID"])
    assert first["RELATED-TO"].params["RELTYPE"] == "SIBLING"
    again = await _ok(client, owner, exported.content)
    assert again["created"] == [] and again["refused"] == []
    after = await client.get(
        "/api/events", params=window, headers={**owner.headers, "Accept": "text/calendar"}
    )
    assert after.content.count(b"RELATED-TO") == 2


async def test_all_day_events_export_as_dates_and_re_import_unchanged(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    created = await client.post(
        "/api/events",
        json={
            "title": "Offsite",
            "all_day": True,
            "start_date": "2026-03-12",
            "end_date": "2026-03-14",
            "timezone": "Europe/Berlin",
            "recurrence_pattern": "FREQ=WEEKLY;COUNT=4",
            "recurrence_exceptions": ["2026-03-19"],
            "recurrence_dates": ["2026-04-30"],
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    exported = await client.get(
        f"/api/events/{event_id}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    assert b"DTSTART;VALUE=DATE:20260312" in exported.content
    assert b"DTEND;VALUE=DATE:20260314" in exported.content
    assert b"EXDATE;VALUE=DATE:20260319" in exported.content
    again = await _ok(client, owner, exported.content)
    assert [u["event_id"] for u in again["unchanged"]] == [event_id]
    holiday = "UID:xmas@example.com\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas Day"
    done = await _ok(client, owner, calendar(holiday))
    new = (
        await client.get(f"/api/events/{done['created'][0]['event_id']}", headers=owner.headers)
    ).json()
    assert (new["all_day"], new["start_date"], new["end_date"]) == (
        True,
        "2026-12-25",
        "2026-12-26",
    )


async def test_a_re_import_that_changes_only_kept_lines_changes_the_feed(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    stamp = f"{soon:%Y%m%dT%H0000Z}"
    event = f"UID:k@example.com\r\nDTSTART:{stamp}\r\nDURATION:PT1H\r\nSUMMARY:Kept"
    await _ok(client, owner, calendar(event + "\r\nCATEGORIES:Before"))
    feed = await client.post("/api/feeds", json={"name": "Kept"}, headers=owner.headers)
    path = f"/api/feeds/{feed.json()['token']}.ics"
    first = await client.get(path)
    assert b"CATEGORIES:Before" in first.content
    again = await _ok(client, owner, calendar(event + "\r\nCATEGORIES:After"))
    assert [u["uid"] for u in again["updated"]] == ["k@example.com"]  # no new version, though
    second = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and b"CATEGORIES:After" in second.content
