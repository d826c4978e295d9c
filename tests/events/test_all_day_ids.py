"""How a body names an all-day series' occurrence: ``POST …/split``'s ``recurrence_id`` and
each ``recurrence_overrides`` item's take a date, or a time that is 00:00 on its own offset's
clock, as ``…/occurrences/{recurrence_id}`` does, and use its UTC midnight; any other time
(and a date on a timed series) is a 422 naming the field, with nothing written. An all-day
override's start on its own date is no start of its own, as an iCalendar import reads it
back, so export → re-import is the identity."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.events.conftest import CAMP, EventFactory, read_event
from tests.events.support import Event, count_rows
from tests.helpers import Actor, assert_problem

# The old series ends before the split point, 26 March.
HEAD_RULE = "FREQ=WEEKLY;UNTIL=20260325T235959Z"
TIMED = {
    "start_time": "2026-03-12T09:00:00Z",
    "end_time": "2026-03-12T10:00:00Z",
    "recurrence_pattern": "FREQ=WEEKLY;COUNT=4",
}


def _mid(day: str) -> str:
    """The UTC midnight of a March date (or "04-02" for 2 April)."""
    month_day = day if "-" in day else f"03-{day}"
    return f"2026-{month_day}T00:00:00Z"


async def _refused_at(
    app: FastAPI,
    client: httpx.AsyncClient,
    actor: Actor,
    response: httpx.Response,
    loc: list[Any],
    words: str,
    unchanged: dict[str, Any],
) -> None:
    """A 422 at ``loc`` saying ``words``; the event ``unchanged`` (as read before) and no
    event made."""
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["loc"] == loc, problem
    assert words in problem["detail"], problem["detail"]
    assert await read_event(client, actor, unchanged["id"]) == unchanged
    assert await count_rows(app, Event) == 1


# --------------------------------------------------------------------------- split


async def test_an_all_day_series_splits_at_its_date_or_a_midnight_on_any_clock(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(
        owner, **CAMP, recurrence_overrides=[{"recurrence_id": _mid("04-02"), "title": "Last"}]
    )
    url = f"/api/events/{camp['id']}/split"
    forms = ("2026-03-26", _mid("26"), "2026-03-26T00:00:00+01:00", "2026-03-26T00:00:00-05:00")
    for rid in forms:
        preview = await client.post(
            url, json={"recurrence_id": rid, "dry_run": True}, headers=owner.headers
        )
        assert preview.status_code == 200, (rid, preview.text)
        body = preview.json()
        assert body["new_series"]["start_date"] == "2026-03-26", rid
        assert body["series"]["recurrence_pattern"] == HEAD_RULE, rid
        assert body["overrides"] == {"kept": [], "moved": [_mid("04-02")], "orphaned": []}
    split = await client.post(url, json={"recurrence_id": "2026-03-26"}, headers=owner.headers)
    assert split.status_code == 201, split.text
    new = split.json()["new_series"]
    assert (new["start_date"], new["end_date"]) == ("2026-03-26", "2026-03-27")
    assert new["recurrence_overrides"] == [{"recurrence_id": _mid("04-02"), "title": "Last"}]
    old = await read_event(client, owner, camp["id"])
    assert (old["recurrence_pattern"], old["recurrence_overrides"]) == (HEAD_RULE, [])
    # In iCalendar the head's UNTIL is a date, DTSTART's value type (RFC 5545, 3.3.10).
    ics = await client.get(
        f"/api/events/{camp['id']}", headers={**owner.headers, "Accept": "text/calendar"}
    )
    assert ics.status_code == 200, ics.text
    assert "RRULE:FREQ=WEEKLY;UNTIL=20260325\r\n" in ics.text, ics.text
    history = await client.get(f"/api/events/{camp['id']}/history", headers=owner.headers)
    assert history.status_code == 200, history.text
    assert f"Split at {_mid('26')}" in history.text


async def test_a_split_point_that_names_no_occurrence_by_its_form_is_refused(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(owner, **CAMP)
    before = await read_event(client, owner, camp["id"])
    url = f"/api/events/{camp['id']}/split"
    for rid in ("2026-03-26T10:00:00Z", "2026-03-25T23:00:00Z", "2026-03-26T00:30:00+01:00"):
        response = await client.post(url, json={"recurrence_id": rid}, headers=owner.headers)
        words = "names no occurrence of an all-day series: name one by its date"
        await _refused_at(app, client, owner, response, ["body", "recurrence_id"], words, before)
    # A date the series does not have is refused as any other non-occurrence is.
    response = await client.post(url, json={"recurrence_id": "2026-03-27"}, headers=owner.headers)
    words = "occurrence of the series' rule"
    problem = assert_problem(response, 422, "validation-error")
    assert words in problem["detail"], problem
    assert problem["errors"][0]["loc"] == ["body", "recurrence_id"]


async def test_a_date_is_no_split_point_of_a_timed_series(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await make_event(owner, **TIMED)
    before = await read_event(client, owner, series["id"])
    response = await client.post(
        f"/api/events/{series['id']}/split",
        json={"recurrence_id": "2026-03-26"},
        headers=owner.headers,
    )
    words = "a date names an occurrence of an all-day series"
    await _refused_at(app, client, owner, response, ["body", "recurrence_id"], words, before)


# ------------------------------------------------------------- recurrence_overrides


async def test_an_override_is_named_by_its_date_or_a_midnight_on_any_clock(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(
        owner,
        **CAMP,
        recurrence_overrides=[
            {"recurrence_id": "2026-03-26T00:00:00+01:00", "start_date": "2026-03-27"},
            {"recurrence_id": "2026-03-19", "title": "Rain day"},
        ],
    )
    stored = [
        {"recurrence_id": _mid("19"), "title": "Rain day"},
        {"recurrence_id": _mid("26"), "start_time": _mid("27")},
    ]
    assert camp["recurrence_overrides"] == stored
    assert (await read_event(client, owner, camp["id"]))["recurrence_overrides"] == stored
    # An update by dates stores the same midnights.
    url = f"/api/events/{camp['id']}"
    again = [{"recurrence_id": "2026-04-02", "location": "Hall"}]
    updated = await client.put(url, json={"recurrence_overrides": again}, headers=owner.headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["recurrence_overrides"] == [
        {"recurrence_id": _mid("04-02"), "location": "Hall"}
    ]
    exported = await client.get(url, headers={**owner.headers, "Accept": "text/calendar"})
    assert b"RECURRENCE-ID;VALUE=DATE:20260402" in exported.content


async def test_an_override_id_that_names_no_occurrence_by_its_form_is_refused(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(owner, **CAMP)
    before = await read_event(client, owner, camp["id"])
    url = f"/api/events/{camp['id']}"
    loc = ["body", "recurrence_overrides", 1, "recurrence_id"]
    for rid in ("2026-03-26T10:00:00Z", "2026-03-25T23:00:00Z"):
        sent = [{"recurrence_id": "2026-03-19", "title": "x"}, {"recurrence_id": rid, "title": "y"}]
        response = await client.put(url, json={"recurrence_overrides": sent}, headers=owner.headers)
        words = f"recurrence_id {rid.replace('Z', '+00:00')} names no occurrence of an all-day"
        await _refused_at(app, client, owner, response, loc, words, before)
        created = await client.post(
            "/api/events",
            json={"title": "Camp", **CAMP, "recurrence_overrides": sent},
            headers=owner.headers,
            params={"conflict_strategy": "allow"},
        )
        await _refused_at(app, client, owner, created, loc, words, before)
    # Two names of one occurrence are two overrides of it.
    twice = [{"recurrence_id": "2026-03-19", "title": "x"}, {"recurrence_id": _mid("19")}]
    response = await client.put(url, json={"recurrence_overrides": twice}, headers=owner.headers)
    words = f"two overrides for the occurrence {_mid('19')}"
    await _refused_at(app, client, owner, response, ["body", "recurrence_overrides"], words, before)


async def test_a_date_is_no_override_id_of_a_timed_series(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await make_event(owner, **TIMED)
    before = await read_event(client, owner, series["id"])
    sent = [{"recurrence_id": "2026-03-19", "title": "x"}]
    response = await client.put(
        f"/api/events/{series['id']}", json={"recurrence_overrides": sent}, headers=owner.headers
    )
    loc = ["body", "recurrence_overrides", 0, "recurrence_id"]
    words = "a date names an occurrence of an all-day series"
    await _refused_at(app, client, owner, response, loc, words, before)


# ------------------------------------------------------- a start on the occurrence's own date


async def test_a_start_on_the_occurrences_own_date_is_no_start_of_its_own(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    camp = await make_event(
        owner,
        **CAMP,
        recurrence_overrides=[
            {"recurrence_id": "2026-03-19", "start_date": "2026-03-19", "end_date": "2026-03-21"},
            {"recurrence_id": _mid("26"), "start_time": _mid("26"), "title": "Same day"},
        ],
    )
    stored = [
        {"recurrence_id": _mid("19"), "end_time": _mid("21")},
        {"recurrence_id": _mid("26"), "title": "Same day"},
    ]
    assert (await read_event(client, owner, camp["id"]))["recurrence_overrides"] == stored
    # A PATCH moving an occurrence back to its own date gives its start back to the series.
    occurrence = f"/api/events/{camp['id']}/occurrences/2026-04-02"
    moved = await client.patch(occurrence, json={"start_date": "2026-04-03"}, headers=owner.headers)
    assert moved.status_code == 200, moved.text
    back = await client.patch(occurrence, json={"start_date": "2026-04-02"}, headers=owner.headers)
    assert back.status_code == 200, back.text
    assert back.json()["recurrence_overrides"] == stored
    kept = await client.patch(
        occurrence,
        json={"start_date": "2026-04-02", "end_date": "2026-04-04"},
        headers=owner.headers,
    )
    assert kept.status_code == 200, kept.text
    stored.append({"recurrence_id": _mid("04-02"), "end_time": _mid("04-04")})
    assert kept.json()["recurrence_overrides"] == stored
    # Export, then re-import (by UID, an update): the same overrides, no new version.
    url = f"/api/events/{camp['id']}"
    exported = await client.get(url, headers={**owner.headers, "Accept": "text/calendar"})
    assert exported.status_code == 200, exported.text
    version = kept.json()["version"]
    imported = await client.post(
        "/api/events/import",
        content=exported.content,
        headers={**owner.headers, "Content-Type": "text/calendar"},
    )
    assert imported.status_code == 200, imported.text
    after = await read_event(client, owner, camp["id"])
    assert (after["recurrence_overrides"], after["version"]) == (stored, version)
