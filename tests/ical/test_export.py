"""text/calendar on the event reads: one event, and the calendar window."""

from __future__ import annotations

import httpx
import icalendar
import pytest
from asgi_lifespan import LifespanManager

from calendo.app import create_app
from calendo.core.formats import CALENDAR, JSON, MSGPACK, choose_format
from calendo.events.snapshots import CONTENT_FIELDS
from calendo.ical import export, inbound
from tests.conftest import make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem, register
from tests.ical.support import share_with_viewer
from tests.ical.test_import import _ok, calendar

ICS = {"Accept": "text/calendar"}
WINDOW = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-04-01T00:00:00Z"}


def _vevents(response: httpx.Response) -> list[icalendar.Event]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return list(icalendar.Calendar.from_ical(response.content).events)


async def test_one_event_as_a_calendar(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(
        owner,
        start_time="2026-03-02T08:00:00Z",
        end_time="2026-03-02T09:00:00Z",
        timezone="Europe/Berlin",
        recurrence_pattern="FREQ=WEEKLY;BYDAY=MO",
        location="Room 2",
    )
    url = f"/api/events/{event['id']}"
    response = await client.get(url, headers={**owner.headers, **ICS})
    [vevent] = _vevents(response)
    assert vevent["UID"] == f"{event['id']}@calendo"
    assert vevent["SEQUENCE"] == 0
    assert vevent["LOCATION"] == "Room 2"
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    calendar = icalendar.Calendar.from_ical(response.content)
    assert [tz["TZID"] for tz in calendar.timezones] == ["Europe/Berlin"]
    tag = response.headers["etag"]
    assert tag == f'"{event["id"]}-1@ics{export.RENDERING}"'
    assert response.headers["vary"] == "Accept"
    again = await client.get(url, headers={**owner.headers, **ICS, "If-None-Match": tag})
    assert again.status_code == 304
    as_json = await client.get(url, headers={**owner.headers, "If-None-Match": tag})
    assert as_json.status_code == 200  # a calendar copy never confirms the JSON one
    assert as_json.headers["content-type"] == "application/json"


async def test_negotiation_prefers_what_the_client_prefers(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner)
    url = f"/api/events/{event['id']}"
    both = {"Accept": "text/calendar, application/json;q=0.5"}
    assert _vevents(await client.get(url, headers={**owner.headers, **both}))
    anything = await client.get(url, headers={**owner.headers, "Accept": "*/*"})
    assert anything.headers["content-type"] == "application/json"
    refused = await client.get(url, headers={**owner.headers, "Accept": "application/xml"})
    assert "text/calendar" in assert_problem(refused, 406)["detail"]
    elsewhere = await client.get("/api/notifications", headers={**owner.headers, **ICS})
    assert "text/calendar" not in assert_problem(elsewhere, 406)["detail"]
    write = await client.put(url, json={"title": "x"}, headers={**owner.headers, **ICS})
    assert_problem(write, 406)


async def test_no_access_and_no_token_are_problems(
    client: httpx.AsyncClient, owner: Actor, stranger: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner)
    url = f"/api/events/{event['id']}"
    assert_problem(await client.get(url, headers={**stranger.headers, **ICS}), 404)
    assert_problem(await client.get(url, headers=ICS), 401)
    assert_problem(await client.get("/api/events", params=WINDOW, headers=ICS), 401)


async def test_as_of_applies_to_the_calendar(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="Before")
    url = f"/api/events/{event['id']}"
    renamed = await client.put(url, json={"title": "After"}, headers=owner.headers)
    assert renamed.status_code == 200
    [now] = _vevents(await client.get(url, headers={**owner.headers, **ICS}))
    assert (now["SUMMARY"], now["SEQUENCE"]) == ("After", 1)
    past = {"as_of": event["updated_at"]}
    [then] = _vevents(await client.get(url, params=past, headers={**owner.headers, **ICS}))
    assert (then["SUMMARY"], then["SEQUENCE"]) == ("Before", 0)


async def test_the_window_holds_every_event_of_the_caller_in_it(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: EventFactory
) -> None:
    mine = await make_event(owner, title="Mine")
    await make_event(
        owner, title="Later", start_time="2026-05-01T10:00:00Z", end_time="2026-05-01T11:00:00Z"
    )
    # A series whose only occurrence in the window is an extra date, and one with none there.
    series = await make_event(
        owner,
        title="Extra",
        start_time="2026-01-05T10:00:00Z",
        end_time="2026-01-05T11:00:00Z",
        recurrence_pattern="FREQ=DAILY;COUNT=2",
        recurrence_dates=["2026-03-10T10:00:00Z"],
    )
    await make_event(
        owner,
        title="Over",
        start_time="2026-01-05T12:00:00Z",
        end_time="2026-01-05T13:00:00Z",
        recurrence_pattern="FREQ=DAILY;COUNT=2",
    )
    theirs = await make_event(editor, title="Shared with me")
    await share_with_viewer(client, theirs, editor, owner)
    response = await client.get("/api/events", params=WINDOW, headers={**owner.headers, **ICS})
    uids = {str(vevent["UID"]) for vevent in _vevents(response)}
    assert uids == {f"{e['id']}@calendo" for e in (mine, series, theirs)}
    only_mine = {**WINDOW, "role": "owner", "q": "mine"}
    mine_only = await client.get("/api/events", params=only_mine, headers={**owner.headers, **ICS})
    assert [str(v["UID"]) for v in _vevents(mine_only)] == [f"{mine['id']}@calendo"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({}, "start_time"),
        ({"start_time": WINDOW["start_time"]}, "end_time"),
        ({**WINDOW, "limit": "10"}, "limit"),
        ({**WINDOW, "expand": "true"}, "expand"),
        ({**WINDOW, "tz": "Europe/Berlin"}, "tz"),
        ({"start_time": WINDOW["end_time"], "end_time": WINDOW["start_time"]}, "end_time"),
        ({**WINDOW, "start": "x"}, "start"),
    ],
)
async def test_the_window_is_required_and_paging_does_not_apply(
    client: httpx.AsyncClient, owner: Actor, params: dict[str, str], loc: str
) -> None:
    response = await client.get("/api/events", params=params, headers={**owner.headers, **ICS})
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"] == ["query", loc]


async def test_a_window_over_the_cap_is_a_422(database_url: str, redis_url: str | None) -> None:
    app = create_app(make_settings(database_url, redis_url, ical_max_events=2))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            owner = await register(client, "capped")
            for day in (2, 3, 4):
                created = await client.post(
                    "/api/events",
                    json={
                        "title": f"Day {day}",
                        "start_time": f"2026-03-0{day}T10:00:00Z",
                        "end_time": f"2026-03-0{day}T11:00:00Z",
                    },
                    headers=owner.headers,
                )
                assert created.status_code == 201, created.text
            headers = {**owner.headers, **ICS}
            response = await client.get("/api/events", params=WINDOW, headers=headers)
            body = assert_problem(response, 422, "validation-error")
            assert "more than 2 events" in body["detail"]
            shorter = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-03-04T00:00:00Z"}
            assert (
                len(_vevents(await client.get("/api/events", params=shorter, headers=headers))) == 2
            )


def test_choose_format_offers_the_calendar_only_when_asked() -> None:
    def choose(accept: str | None) -> str | None:
        return choose_format(accept, allow_html=False, allow_calendar=True)

    assert choose("text/calendar") == CALENDAR
    assert choose("text/*") == CALENDAR
    assert choose("text/calendar;q=0.4, application/json") == JSON
    assert choose("application/msgpack, text/calendar;q=0.5") == MSGPACK
    assert choose("*/*") == JSON
    assert choose(None) == JSON
    assert choose("text/html") is None
    assert choose_format("text/calendar", allow_html=False) is None


async def test_an_exported_event_comes_back_whole_through_the_api(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """Export → VEVENT → EventCreate fields → POST: the new event has the same content."""
    event = await make_event(
        owner,
        title="Rehearsal; act 2, scene 1",
        description="Bring the score.\nAnd water.",
        location="Hall \\ stage",
        start_time="2026-03-12T17:00:00Z",
        end_time="2026-03-12T18:30:00Z",
        timezone="America/New_York",
        recurrence_pattern="FREQ=WEEKLY;UNTIL=20260430T235959Z;BYDAY=TH",
        recurrence_exceptions=["2026-03-19T16:00:00Z"],
        recurrence_dates=["2026-04-04T16:00:00Z"],
        transparency="transparent",
    )
    calendar = await client.get(f"/api/events/{event['id']}", headers={**owner.headers, **ICS})
    [vevent] = _vevents(calendar)
    fields = inbound.from_vevent(vevent).fields
    sent = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in fields.items()
    }
    for name in ("recurrence_exceptions", "recurrence_dates"):
        sent[name] = [value.isoformat() for value in fields[name]]
    copy = await client.post(
        "/api/events", json=sent, headers=owner.headers, params={"conflict_strategy": "allow"}
    )
    assert copy.status_code == 201, copy.text
    assert {name: copy.json()[name] for name in CONTENT_FIELDS} == {
        name: event[name] for name in CONTENT_FIELDS
    }


async def test_the_one_event_tag_changes_with_the_lines_an_import_kept(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """A re-import that changes only kept lines writes no version, but another calendar:
    the tag names when the lines were written, so the old copy is not confirmed (304)."""
    event = "UID:k@example.com\r\nDTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nSUMMARY:Kept"
    done = await _ok(client, owner, calendar(event + "\r\nX-ROOM:Before"))
    url = f"/api/events/{done['created'][0]['event_id']}"
    first = await client.get(url, headers={**owner.headers, **ICS})
    [vevent] = _vevents(first)
    assert vevent["X-ROOM"] == "Before"
    tag = first.headers["etag"]
    prefix = f'"{done["created"][0]["event_id"]}-1@ics{export.RENDERING}.'
    assert tag.startswith(prefix) and tag.removeprefix(prefix).removesuffix('"').isdigit()
    # The same file again changes nothing: the copy is still current.
    same = await _ok(client, owner, calendar(event + "\r\nX-ROOM:Before"))
    assert [u["uid"] for u in same["unchanged"]] == ["k@example.com"]
    still = await client.get(url, headers={**owner.headers, **ICS, "If-None-Match": tag})
    assert (still.status_code, still.headers["etag"], still.content) == (304, tag, b"")
    # Another X- value, the event's content unchanged: a new tag, and the old one is stale.
    changed = await _ok(client, owner, calendar(event + "\r\nX-ROOM:After"))
    assert [u["uid"] for u in changed["updated"]] == ["k@example.com"]
    second = await client.get(url, headers={**owner.headers, **ICS, "If-None-Match": tag})
    [vevent] = _vevents(second)
    assert vevent["X-ROOM"] == "After" and vevent["SEQUENCE"] == 0  # still version 1
    new_tag = second.headers["etag"]
    assert new_tag != tag and new_tag.startswith(prefix)
    confirmed = await client.get(url, headers={**owner.headers, **ICS, "If-None-Match": new_tag})
    assert confirmed.status_code == 304
    # If-Match reads the version the tag names (the part before "@").
    renamed = await client.patch(
        url, json={"title": "Renamed"}, headers={**owner.headers, "If-Match": new_tag}
    )
    assert renamed.status_code == 200, renamed.text
    stale = await client.get(url, headers={**owner.headers, **ICS, "If-None-Match": new_tag})
    assert stale.status_code == 200
    assert stale.headers["etag"].startswith(f'"{renamed.json()["id"]}-2@ics{export.RENDERING}.')
