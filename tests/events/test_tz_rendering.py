"""Event and history reads render their times in a zone: ``?tz=``, else the account's default,
else UTC (``Z``, byte for byte as without the parameter). The instants never change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import ormsgpack
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from calendo.core.uow import UnitOfWork
from calendo.history.models import EventVersion
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem

BERLIN = {"tz": "Europe/Berlin"}
# An 18:00 Berlin rehearsal, weekly four times: 12, 19 and 26 Mar in CET (UTC+1), 2 Apr in
# CEST (UTC+2), so the last one is 16:00 UTC.
REHEARSAL: dict[str, Any] = {
    "title": "Rehearsal",
    "start_time": "2026-03-12T17:00:00Z",
    "end_time": "2026-03-12T18:30:00Z",
    "timezone": "Europe/Berlin",
    "recurrence_pattern": "FREQ=WEEKLY;COUNT=4",
    "recurrence_exceptions": ["2026-03-19T17:00:00Z"],
}
WINDOW = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-05-01T00:00:00Z"}
TIME_FIELDS = ("start_time", "end_time", "created_at", "updated_at")


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_same_instants(
    utc: dict[str, Any], zoned: dict[str, Any], fields: tuple[str, ...]
) -> None:
    """Each field names the same instant in both bodies; the UTC body says ``Z``."""
    for field in fields:
        assert utc[field].endswith("Z"), (field, utc[field])
        assert not zoned[field].endswith("Z"), (field, zoned[field])
        assert instant(zoned[field]) == instant(utc[field]), field


@pytest.fixture
async def rehearsal(make_event: EventFactory, owner: Actor) -> dict[str, Any]:
    return await make_event(owner, **REHEARSAL)


async def set_default_zone(client: httpx.AsyncClient, actor: Actor, zone: str) -> None:
    response = await client.patch("/api/auth/me", json={"timezone": zone}, headers=actor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == zone


# --- one event ---------------------------------------------------------------------------


async def test_event_read_renders_every_time_with_the_zones_offset(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}"
    utc = await client.get(path, headers=owner.headers)
    zoned = await client.get(path, params=BERLIN, headers=owner.headers)
    assert zoned.status_code == 200, zoned.text
    body = zoned.json()
    assert body["start_time"] == "2026-03-12T18:00:00+01:00"
    assert body["end_time"] == "2026-03-12T19:30:00+01:00"
    assert body["recurrence_exceptions"] == ["2026-03-19T18:00:00+01:00"]
    assert_same_instants(utc.json(), body, TIME_FIELDS)
    granted = body["permissions"][0]["granted_at"]
    assert instant(granted) == instant(utc.json()["permissions"][0]["granted_at"])
    assert granted[-6:] in ("+01:00", "+02:00")
    # Everything else is the same.
    untimed = (*TIME_FIELDS, "recurrence_exceptions", "permissions")
    assert {k: v for k, v in body.items() if k not in untimed} == {
        k: v for k, v in utc.json().items() if k not in untimed
    }


async def test_utc_is_the_default_and_renders_as_before(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}"
    plain = await client.get(path, headers=owner.headers)
    explicit = await client.get(path, params={"tz": "UTC"}, headers=owner.headers)
    assert plain.json()["start_time"] == "2026-03-12T17:00:00Z"
    assert explicit.content == plain.content
    assert explicit.headers["etag"] == plain.headers["etag"] == f'"{rehearsal["id"]}-1"'


async def test_the_etag_names_the_zone_so_a_copy_never_crosses_zones(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}"
    utc_tag = (await client.get(path, headers=owner.headers)).headers["etag"]
    zoned = await client.get(path, params=BERLIN, headers=owner.headers)
    berlin_tag = zoned.headers["etag"]
    assert berlin_tag == f'"{rehearsal["id"]}-1@Europe/Berlin"'
    # The Berlin copy is current for a Berlin reader only.
    same = await client.get(
        path, params=BERLIN, headers={**owner.headers, "If-None-Match": berlin_tag}
    )
    assert same.status_code == 304
    assert same.headers["etag"] == berlin_tag
    utc_reader = await client.get(path, headers={**owner.headers, "If-None-Match": berlin_tag})
    assert utc_reader.status_code == 200
    assert utc_reader.json()["start_time"] == "2026-03-12T17:00:00Z"
    berlin_reader = await client.get(
        path, params=BERLIN, headers={**owner.headers, "If-None-Match": utc_tag}
    )
    assert berlin_reader.status_code == 200
    assert berlin_reader.json()["start_time"] == "2026-03-12T18:00:00+01:00"


async def test_a_zoned_tag_names_its_version_for_if_match(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}"
    berlin_tag = (await client.get(path, params=BERLIN, headers=owner.headers)).headers["etag"]
    renamed = await client.put(
        path, json={"title": "Dress rehearsal"}, headers={**owner.headers, "If-Match": berlin_tag}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["version"] == 2
    # Now stale: the same tag is refused, and nothing more is written.
    stale = await client.put(
        path, json={"title": "Again"}, headers={**owner.headers, "If-Match": berlin_tag}
    )
    assert_problem(stale, 412)
    assert (await client.get(path, headers=owner.headers)).json()["title"] == "Dress rehearsal"


async def test_event_read_as_of_renders_in_the_zone(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}"
    params = {"as_of": rehearsal["updated_at"], **BERLIN}
    zoned = await client.get(path, params=params, headers=owner.headers)
    assert zoned.status_code == 200, zoned.text
    assert zoned.json()["start_time"] == "2026-03-12T18:00:00+01:00"
    assert zoned.headers["etag"].endswith('@Europe/Berlin"')


# --- lists -------------------------------------------------------------------------------


async def test_calendar_list_renders_in_the_zone(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    utc = await client.get("/api/events", headers=owner.headers)
    zoned = await client.get("/api/events", params=BERLIN, headers=owner.headers)
    assert zoned.status_code == 200, zoned.text
    [item] = zoned.json()["items"]
    assert item["start_time"] == "2026-03-12T18:00:00+01:00"
    assert item["recurrence_exceptions"] == ["2026-03-19T18:00:00+01:00"]
    assert_same_instants(utc.json()["items"][0], item, TIME_FIELDS)


async def test_expanded_list_renders_occurrences_across_dst(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    params = {**WINDOW, "expand": "true"}
    utc = await client.get("/api/events", params=params, headers=owner.headers)
    zoned = await client.get("/api/events", params={**params, **BERLIN}, headers=owner.headers)
    assert zoned.status_code == 200, zoned.text
    starts = [item["occurrence_start"] for item in zoned.json()["items"]]
    # 19 Mar is an exception; 2 Apr is in summer time, still at 18:00 on Berlin's clock.
    assert starts == [
        "2026-03-12T18:00:00+01:00",
        "2026-03-26T18:00:00+01:00",
        "2026-04-02T18:00:00+02:00",
    ]
    for plain, local in zip(utc.json()["items"], zoned.json()["items"], strict=True):
        assert_same_instants(plain, local, ("occurrence_start", "occurrence_end", *TIME_FIELDS))


async def test_past_calendar_renders_in_the_zone(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    params = {"as_of": rehearsal["updated_at"], **BERLIN}
    zoned = await client.get("/api/events", params=params, headers=owner.headers)
    assert zoned.status_code == 200, zoned.text
    assert [i["start_time"] for i in zoned.json()["items"]] == ["2026-03-12T18:00:00+01:00"]


async def test_list_without_tz_is_unchanged(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    for params in ({}, {**WINDOW, "expand": "true"}):
        plain = await client.get("/api/events", params=params, headers=owner.headers)
        explicit = await client.get(
            "/api/events", params={**params, "tz": "UTC"}, headers=owner.headers
        )
        assert plain.status_code == 200
        assert explicit.content == plain.content
        assert all(i["start_time"].endswith("Z") for i in plain.json()["items"])


# --- occurrences and the cache -----------------------------------------------------------


async def test_occurrences_render_in_the_zone_and_are_cached_per_zone(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}/occurrences"
    first_utc = await client.get(path, params=WINDOW, headers=owner.headers)
    zoned = await client.get(path, params={**WINDOW, **BERLIN}, headers=owner.headers)
    again_utc = await client.get(path, params=WINDOW, headers=owner.headers)
    again_zoned = await client.get(path, params={**WINDOW, **BERLIN}, headers=owner.headers)
    assert zoned.status_code == 200, zoned.text
    assert [o["occurrence_start"] for o in zoned.json()["items"]] == [
        "2026-03-12T18:00:00+01:00",
        "2026-03-26T18:00:00+01:00",
        "2026-04-02T18:00:00+02:00",
    ]
    assert first_utc.json()["items"][2]["occurrence_start"] == "2026-04-02T16:00:00Z"
    # Each zone reads its own rendering, whichever was cached first.
    assert again_utc.content == first_utc.content
    assert again_zoned.content == zoned.content
    for plain, local in zip(first_utc.json()["items"], zoned.json()["items"], strict=True):
        assert_same_instants(plain, local, ("occurrence_start", "occurrence_end"))


async def test_a_cached_zoned_rendering_is_never_served_in_utc(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}/occurrences"
    zoned = await client.get(path, params={**WINDOW, **BERLIN}, headers=owner.headers)
    assert zoned.status_code == 200
    utc = await client.get(path, params=WINDOW, headers=owner.headers)
    assert all(o["occurrence_start"].endswith("Z") for o in utc.json()["items"])
    # Both renderings are in the cache, under keys that name their zone.
    cache = app.state.services.cache
    assert await cache.get(_occurrence_key(rehearsal["id"], "Europe/Berlin")) == zoned.content
    assert await cache.get(_occurrence_key(rehearsal["id"], "UTC")) == utc.content


def _occurrence_key(event_id: int, zone: str) -> str:
    start, end = (instant(WINDOW[k]).timestamp() for k in ("start_time", "end_time"))
    return f"occ:{event_id}:1:{start}:{end}:1000:{zone}"


# --- history -----------------------------------------------------------------------------


async def test_history_reads_render_in_the_zone(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    base = f"/api/events/{rehearsal['id']}"
    moved = await client.put(
        base,
        json={"start_time": "2026-03-12T18:00:00Z", "end_time": "2026-03-12T19:30:00Z"},
        headers=owner.headers,
    )
    assert moved.status_code == 200, moved.text
    for path in (f"{base}/history", f"{base}/changelog"):
        utc = await client.get(path, headers=owner.headers)
        zoned = await client.get(path, params=BERLIN, headers=owner.headers)
        assert zoned.status_code == 200, zoned.text
        for plain, local in zip(utc.json()["items"], zoned.json()["items"], strict=True):
            assert_same_instants(plain, local, ("created_at",))
    utc_version = (await client.get(f"{base}/history/2", headers=owner.headers)).json()
    version = await client.get(f"{base}/history/2", params=BERLIN, headers=owner.headers)
    assert version.status_code == 200, version.text
    snapshot = version.json()["snapshot"]
    assert snapshot["start_time"] == "2026-03-12T19:00:00+01:00"
    assert snapshot["end_time"] == "2026-03-12T20:30:00+01:00"
    assert snapshot["recurrence_exceptions"] == ["2026-03-19T18:00:00+01:00"]
    assert utc_version["snapshot"]["start_time"] == "2026-03-12T18:00:00Z"
    assert_same_instants(utc_version["snapshot"], snapshot, ("start_time", "end_time"))
    assert_same_instants(utc_version, version.json(), ("created_at",))


async def test_history_without_tz_is_unchanged(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    base = f"/api/events/{rehearsal['id']}"
    for path in (f"{base}/history", f"{base}/history/1", f"{base}/changelog"):
        plain = await client.get(path, headers=owner.headers)
        explicit = await client.get(path, params={"tz": "UTC"}, headers=owner.headers)
        assert plain.status_code == 200, plain.text
        assert explicit.content == plain.content
        assert '+01:00"' not in plain.text


async def test_summaries_speak_the_events_zone_even_when_stored_in_utc(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    # As a version written before summaries spoke the event's zone.
    async with UnitOfWork.independent(app.state.services.db) as session:
        await session.execute(
            update(EventVersion)
            .where(EventVersion.event_id == rehearsal["id"])
            .values(summary="created “Rehearsal” on Thu 12 Mar 2026, 17:00–18:30 UTC")
        )
    history = await client.get(f"/api/events/{rehearsal['id']}/history", headers=owner.headers)
    [entry] = history.json()["items"]
    assert entry["summary"] == (
        "created “Rehearsal” on Thu 12 Mar 2026, 18:00–19:30 Europe/Berlin, repeats weekly, 4 times"
    )
    page = await client.get(
        f"/api/events/{rehearsal['id']}/diff/1/1", params={"format": "html"}, headers=owner.headers
    )
    assert page.status_code == 200
    assert "18:00–19:30 Europe/Berlin" in page.text
    assert "17:00–18:30 UTC" not in page.text


# --- the account's default zone ----------------------------------------------------------


async def test_the_account_default_applies_without_tz(
    client: httpx.AsyncClient, owner: Actor, viewer: Actor, rehearsal: dict[str, Any]
) -> None:
    base = f"/api/events/{rehearsal['id']}"
    await set_default_zone(client, owner, "Europe/Berlin")
    event = await client.get(base, headers=owner.headers)
    assert event.json()["start_time"] == "2026-03-12T18:00:00+01:00"
    assert event.headers["etag"] == f'"{rehearsal["id"]}-1@Europe/Berlin"'
    past = await client.get(base, params={"as_of": rehearsal["updated_at"]}, headers=owner.headers)
    assert past.json()["start_time"] == "2026-03-12T18:00:00+01:00"
    for params in ({}, {**WINDOW, "expand": "true"}, {"as_of": rehearsal["updated_at"]}):
        listed = await client.get("/api/events", params=params, headers=owner.headers)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"][0]["start_time"] == "2026-03-12T18:00:00+01:00", params
    occurrences = await client.get(f"{base}/occurrences", params=WINDOW, headers=owner.headers)
    assert occurrences.json()["items"][0]["occurrence_start"] == "2026-03-12T18:00:00+01:00"
    version = await client.get(f"{base}/history/1", headers=owner.headers)
    assert version.json()["snapshot"]["start_time"] == "2026-03-12T18:00:00+01:00"
    # tz overrides the default, UTC included.
    utc = await client.get(
        f"{base}/occurrences", params={**WINDOW, "tz": "UTC"}, headers=owner.headers
    )
    assert utc.json()["items"][0]["occurrence_start"] == "2026-03-12T17:00:00Z"
    tokyo = await client.get(
        f"{base}/history/1", params={"tz": "Asia/Tokyo"}, headers=owner.headers
    )
    assert tokyo.json()["snapshot"]["start_time"] == "2026-03-13T02:00:00+09:00"
    # Another account's default is its own.
    shared = await client.post(
        f"{base}/share",
        json={"users": [{"user_id": viewer.id, "role": "viewer"}]},
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
    theirs = await client.get(f"{base}/occurrences", params=WINDOW, headers=viewer.headers)
    assert theirs.json()["items"][0]["occurrence_start"] == "2026-03-12T17:00:00Z"
    their_read = await client.get(base, headers=viewer.headers)
    assert their_read.json()["start_time"] == "2026-03-12T17:00:00Z"
    assert their_read.headers["etag"] == f'"{rehearsal["id"]}-1"'
    their_list = await client.get("/api/events", headers=viewer.headers)
    assert their_list.json()["items"][0]["start_time"] == "2026-03-12T17:00:00Z"


async def test_an_overriding_tz_and_the_default_share_a_tag_only_when_equal(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    path = f"/api/events/{rehearsal['id']}"
    await set_default_zone(client, owner, "Europe/Berlin")
    by_default = await client.get(path, headers=owner.headers)
    explicit = await client.get(path, params=BERLIN, headers=owner.headers)
    assert explicit.content == by_default.content
    assert explicit.headers["etag"] == by_default.headers["etag"]
    # The default changed: the copy rendered in Berlin is no longer current for this caller.
    await set_default_zone(client, owner, "UTC")
    now = await client.get(
        path, headers={**owner.headers, "If-None-Match": by_default.headers["etag"]}
    )
    assert now.status_code == 200
    assert now.json()["start_time"] == "2026-03-12T17:00:00Z"


# --- bad input and documentation ---------------------------------------------------------

ZONED_READS = (
    "/api/events",
    "/api/events/{id}",
    "/api/events/{id}/occurrences",
    "/api/events/{id}/history",
    "/api/events/{id}/history/1",
    "/api/events/{id}/changelog",
)


@pytest.mark.parametrize("template", ZONED_READS)
@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/berlin", "", "../etc/passwd"])
async def test_an_unknown_zone_is_a_422_in_plain_words(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any], template: str, zone: str
) -> None:
    path = template.format(id=rehearsal["id"])
    response = await client.get(path, params={"tz": zone}, headers=owner.headers)
    body = assert_problem(response, 422, "validation-error")
    [error] = body["errors"]
    assert error["loc"] == ["query", "tz"]
    assert error["msg"] == (
        f"{zone!r} is not a time zone this server knows; use an IANA name such as "
        "Europe/Berlin or UTC"
    )


@pytest.mark.parametrize("template", ZONED_READS)
async def test_a_misspelt_tz_is_still_an_unknown_parameter(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any], template: str
) -> None:
    path = template.format(id=rehearsal["id"])
    response = await client.get(path, params={"timezone": "Europe/Berlin"}, headers=owner.headers)
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"] == ["query", "timezone"]
    assert "tz" in body["detail"]


async def test_strangers_learn_nothing_whatever_the_zone(
    client: httpx.AsyncClient, stranger: Actor, rehearsal: dict[str, Any]
) -> None:
    for template in ZONED_READS[1:]:
        path = template.format(id=rehearsal["id"])
        response = await client.get(path, params=BERLIN, headers=stranger.headers)
        assert_problem(response, 404)


async def test_openapi_documents_tz_on_every_zoned_read(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for template in ZONED_READS:
        path = template.replace("{id}", "{event_id}").replace("history/1", "history/{version_id}")
        parameters = spec["paths"][path]["get"]["parameters"]
        [tz] = [p for p in parameters if p["name"] == "tz"]
        assert tz["in"] == "query"
        assert tz["required"] is False
        assert "IANA" in tz["description"]
        assert "account default" in tz["description"]


async def test_messagepack_carries_the_same_zoned_strings(
    client: httpx.AsyncClient, owner: Actor, rehearsal: dict[str, Any]
) -> None:
    response = await client.get(
        f"/api/events/{rehearsal['id']}",
        params=BERLIN,
        headers={**owner.headers, "Accept": "application/msgpack"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/msgpack"
    body = ormsgpack.unpackb(response.content)
    assert body["start_time"] == "2026-03-12T18:00:00+01:00"
