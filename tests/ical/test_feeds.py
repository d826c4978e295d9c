"""Subscription feeds: the token lifecycle, the busy-only variant, 304s, limits, refusals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from calendo.app import create_app
from calendo.core.config import Settings
from calendo.core.observability import RedactTokens
from calendo.ical import convert
from tests.conftest import make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem, register
from tests.ical.support import share_with_viewer

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


def _at(days: int, hours: int = 1) -> dict[str, str]:
    start = SOON + timedelta(days=days)
    return {
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=hours)).isoformat(),
    }


async def _create(
    client: httpx.AsyncClient, actor: Actor, name: str = "Phone", **extra: Any
) -> dict[str, Any]:
    response = await client.post("/api/feeds", json={"name": name, **extra}, headers=actor.headers)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def _path(feed: dict[str, Any]) -> str:
    return f"/api/feeds/{feed['token']}.ics"


def _vevents(response: httpx.Response) -> list[icalendar.Event]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return list(icalendar.Calendar.from_ical(response.content).events)


async def test_feed_lifecycle(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: EventFactory
) -> None:
    mine = await make_event(owner, title="Mine", location="Room 2", **_at(0))
    await make_event(owner, title="Far away", **_at(800))  # past the window's two years
    theirs = await make_event(editor, title="Theirs", **_at(1))
    await share_with_viewer(client, theirs, editor, owner)
    feed = await _create(client, owner)
    assert feed["url"] == f"http://testserver/api/feeds/{feed['token']}.ics"
    assert feed["webcal_url"] == f"webcal://testserver/api/feeds/{feed['token']}.ics"
    assert (feed["name"], feed["busy_only"]) == ("Phone", False)
    served = await client.get(_path(feed))  # no other credential
    assert {str(v["UID"]): str(v["SUMMARY"]) for v in _vevents(served)} == {
        f"{mine['id']}@calendo": "Mine",
        f"{theirs['id']}@calendo": "Theirs",
    }
    assert icalendar.Calendar.from_ical(served.content)["X-WR-CALNAME"] == "Phone"
    listed = await client.get("/api/feeds", headers=owner.headers)
    assert listed.json()["items"] == [
        {key: feed[key] for key in ("id", "name", "busy_only", "created_at")}
    ]
    assert feed["token"] not in listed.text
    revoked = await client.delete(f"/api/feeds/{feed['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert_problem(await client.get(_path(feed)), 404, "not-found")
    assert (await client.get("/api/feeds", headers=owner.headers)).json() == {"items": []}
    assert_problem(await client.delete(f"/api/feeds/{feed['id']}", headers=owner.headers), 404)


async def test_a_feed_name_of_several_lines_is_served_escaped(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    await make_event(owner, title="Standup", **_at(0))
    feed = await _create(client, owner, name="Team\nroom,\r\nweekly;")
    served = await client.get(_path(feed))
    assert served.status_code == 200, served.text
    # RFC 5545 TEXT escaping (3.3.11): the line breaks as \n, commas and semicolons escaped.
    assert b"X-WR-CALNAME:Team\\nroom\\,\\nweekly\\;\r\n" in served.content
    calendar = icalendar.Calendar.from_ical(served.content)
    assert [str(v["SUMMARY"]) for v in calendar.events] == ["Standup"]


@pytest.fixture
async def second_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another server process on the same database (and Redis, on the PostgreSQL run)."""
    application: FastAPI = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as other:
            yield other


async def test_a_revoked_feed_is_refused_at_once_by_every_process(
    client: httpx.AsyncClient, second_app: httpx.AsyncClient, owner: Actor
) -> None:
    feed = await _create(client, owner)
    assert (await second_app.get(_path(feed))).status_code == 200
    assert (await client.get(_path(feed))).status_code == 200
    revoked = await client.delete(f"/api/feeds/{feed['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert_problem(await second_app.get(_path(feed)), 404)
    assert_problem(await client.get(_path(feed)), 404)


async def test_busy_only_shows_nothing_but_times(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    busy = await make_event(
        owner,
        title="Doctor",
        description="Private",
        location="Clinic",
        timezone="Europe/Berlin",
        recurrence_pattern="FREQ=WEEKLY;COUNT=4",
        recurrence_exceptions=[_at(7)["start_time"]],
        **_at(0),
    )
    await make_event(owner, title="Holiday banner", transparency="transparent", **_at(1, 24))
    feed = await _create(client, owner, name="Availability", busy_only=True)
    assert feed["busy_only"] is True
    response = await client.get(_path(feed))
    [vevent] = _vevents(response)
    assert set(vevent.keys()) == convert.BUSY_PROPERTIES - {"RDATE"}
    assert vevent["UID"] == f"{busy['id']}@calendo"
    assert vevent["SUMMARY"] == "Busy"
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    for secret in (b"Doctor", b"Private", b"Clinic", b"Holiday"):
        assert secret not in response.content


async def test_an_unchanged_feed_is_a_304(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, **_at(0))
    feed = await _create(client, owner)
    first = await client.get(_path(feed))
    tag = first.headers["etag"]
    same = await client.get(_path(feed), headers={"If-None-Match": tag})
    assert same.status_code == 304
    assert same.headers["etag"] == tag
    assert same.content == b""
    renamed = await client.put(
        f"/api/events/{event['id']}", json={"title": "Moved"}, headers=owner.headers
    )
    assert renamed.status_code == 200
    changed = await client.get(_path(feed), headers={"If-None-Match": tag})
    assert changed.headers["etag"] != tag
    assert [str(v["SUMMARY"]) for v in _vevents(changed)] == ["Moved"]
    deleted = await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    gone = await client.get(_path(feed), headers={"If-None-Match": changed.headers["etag"]})
    assert _vevents(gone) == []


async def test_a_stranger_cannot_revoke_or_list_a_feed(
    client: httpx.AsyncClient, owner: Actor, stranger: Actor
) -> None:
    feed = await _create(client, owner)
    refused = await client.delete(f"/api/feeds/{feed['id']}", headers=stranger.headers)
    assert_problem(refused, 404, "not-found")
    assert (await client.get("/api/feeds", headers=stranger.headers)).json() == {"items": []}
    assert (await client.get(_path(feed))).status_code == 200
    assert_problem(await client.delete(f"/api/feeds/{feed['id']}"), 401)
    assert_problem(await client.post("/api/feeds", json={"name": "x"}), 401)


async def test_a_deleted_account_takes_its_feeds_with_it(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    feed = await _create(client, owner)
    deleted = await client.request(
        "DELETE", "/api/auth/me", json={"password": owner.password}, headers=owner.headers
    )
    assert deleted.status_code == 204, deleted.text
    assert_problem(await client.get(_path(feed)), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"name": " "},
        {"name": ""},
        {"name": "x" * 101},
        {},
        {"name": "x", "busy_only": "sometimes"},
        {"name": "x", "token": "mine"},
        {"name": None},
    ],
)
async def test_bad_feed_bodies_are_422(
    client: httpx.AsyncClient, owner: Actor, body: dict[str, Any]
) -> None:
    response = await client.post("/api/feeds", json=body, headers=owner.headers)
    assert_problem(response, 422, "validation-error")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/feeds/not-a-token.ics", 404),
        ("/api/feeds/" + "A" * 43 + ".ics", 404),
        ("/api/feeds/" + "A" * 101 + ".ics", 422),
        ("/api/feeds/%00.ics", 404),
        ("/api/feeds/abc", 405),
        ("/api/feeds/abc.ics?x=1", 422),
    ],
)
async def test_bad_feed_urls_are_problems(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    assert_problem(await client.get(path), status)


async def test_a_feed_answers_only_text_calendar(client: httpx.AsyncClient, owner: Actor) -> None:
    feed = await _create(client, owner)
    refused = await client.get(_path(feed), headers={"Accept": "application/json"})
    assert "text/calendar" in assert_problem(refused, 406)["detail"]
    for accept in ("text/calendar", "*/*", "text/*", "text/html,*/*;q=0.8"):
        assert (await client.get(_path(feed), headers={"Accept": accept})).status_code == 200
    assert_problem(await client.delete("/api/feeds/abc", headers=owner.headers), 422)


async def test_an_account_holds_at_most_twenty_feeds(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    for number in range(20):
        await _create(client, owner, name=f"Feed {number}")
    refused = await client.post("/api/feeds", json={"name": "one more"}, headers=owner.headers)
    assert_problem(refused, 409)


async def test_feeds_are_rate_limited_per_client(database_url: str, redis_url: str | None) -> None:
    settings = make_settings(
        database_url, redis_url, rate_limit_enabled=True, rate_limit_default="3/minute"
    )
    app = create_app(settings)
    async with LifespanManager(app):
        await app.state.limiter.reset()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            owner = await register(client, "limited")
            feed = await _create(client, owner)  # counted for the user, not the feed's IP
            statuses = [(await client.get(_path(feed))).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            assert_problem(await client.get(_path(feed)), 429, "rate-limited")


def test_log_lines_never_carry_a_feed_secret() -> None:
    secret = "A" * 43
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        'Exception in ASGI application on "GET %s HTTP/1.1"',
        (f"/api/feeds/{secret}.ics",),
        None,
    )
    assert RedactTokens().filter(record)
    assert record.getMessage().endswith('"GET /api/feeds/[redacted].ics HTTP/1.1"')
    nginx = (Path(__file__).parents[2] / "deploy" / "nginx.conf").read_text()
    assert '"$request_method $logged_uri"' in nginx
    assert '"~^/api/feeds/[^/]+\\.ics$" "/api/feeds/[redacted].ics";' in nginx


async def test_a_feed_polled_without_a_tag_is_served_from_its_rendering(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, app: FastAPI
) -> None:
    event = await make_event(owner, title="Cached", **_at(0))
    feed = await _create(client, owner)
    first = await client.get(_path(feed))
    tag = first.headers["etag"]
    cache = app.state.services.cache
    assert await cache.get(f"ics:{tag}") == first.content
    again = await client.get(_path(feed))
    assert (again.headers["etag"], again.content) == (tag, first.content)
    # Another feed's rendering is another entry, even of the same calendar.
    busy = await _create(client, owner, name="Busy", busy_only=True)
    assert b"Cached" not in (await client.get(_path(busy))).content
    # A share changes what the owner sees: a new tag, a new rendering.
    other = await register(client, "other")
    theirs = await make_event(other, title="Theirs", **_at(2))
    await share_with_viewer(client, theirs, other, owner)
    after = await client.get(_path(feed))
    assert after.headers["etag"] != tag
    assert {str(v["SUMMARY"]) for v in _vevents(after)} == {"Cached", "Theirs"}
    unshared = await client.delete(
        f"/api/events/{theirs['id']}/permissions/{owner.id}", headers=other.headers
    )
    assert unshared.status_code == 204
    assert [str(v["UID"]) for v in _vevents(await client.get(_path(feed)))] == [
        f"{event['id']}@calendo"
    ]


async def test_a_feed_gets_the_header_cap_of_the_api(
    client: httpx.AsyncClient, owner: Actor, settings: Settings
) -> None:
    feed = await _create(client, owner)
    huge = {"X-Padding": "x" * settings.max_header_bytes}
    assert_problem(await client.get(_path(feed), headers=huge), 431)


async def test_a_feed_carries_the_overrides_and_busy_only_their_times(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    series = await make_event(
        owner, title="Doctor", recurrence_pattern="FREQ=DAILY;COUNT=3", **_at(0)
    )
    second = (SOON + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    moved = (SOON + timedelta(days=1, hours=5)).isoformat()
    patched = await client.patch(
        f"/api/events/{series['id']}/occurrences/{second}",
        json={"start_time": moved, "title": "Doctor (moved)"},
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    full = await client.get(_path(await _create(client, owner)))
    master, instance = _vevents(full)
    assert instance["UID"] == master["UID"] == f"{series['id']}@calendo"
    assert instance["RECURRENCE-ID"].dt == SOON + timedelta(days=1)
    assert instance["DTSTART"].dt == SOON + timedelta(days=1, hours=5)
    assert instance["SUMMARY"] == "Doctor (moved)"
    busy = await client.get(_path(await _create(client, owner, name="Busy", busy_only=True)))
    master, instance = _vevents(busy)
    assert set(instance.keys()) == convert.BUSY_OVERRIDE_PROPERTIES
    assert b"Doctor" not in busy.content
