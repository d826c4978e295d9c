"""Event CRUD through the API: create, read, update (PUT/PATCH), delete, restore."""

from __future__ import annotations

from typing import Any

import httpx
import ormsgpack
from fastapi import FastAPI

from tests.events.conftest import EventFactory, event_payload
from tests.events.support import (
    AuditEntry,
    Event,
    EventVersion,
    Permission,
    count_rows,
    event_row,
    permission_rows,
    version_rows,
)
from tests.helpers import Actor, assert_problem


def url(event: dict[str, Any], suffix: str = "") -> str:
    return f"/api/events/{event['id']}{suffix}"


def etag(event: dict[str, Any]) -> str:
    return f'"{event["id"]}-{event["version"]}"'


# --------------------------------------------------------------------------- create


async def test_create_returns_201_with_location_etag_and_owner(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    payload = event_payload(description="Daily sync", location="Room 1", timezone="Europe/Berlin")
    response = await client.post("/api/events", json=payload, headers=owner.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["my_role"] == "owner"
    assert body["owner_id"] == owner.id
    assert body["version"] == 1
    assert body["conflicts"] == []
    assert body["title"] == "Standup"
    assert body["description"] == "Daily sync"
    assert body["location"] == "Room 1"
    assert body["timezone"] == "Europe/Berlin"
    assert body["start_time"] == "2026-03-20T10:00:00Z"
    assert body["end_time"] == "2026-03-20T10:30:00Z"
    assert body["is_recurring"] is False
    assert body["recurrence_pattern"] is None
    assert body["recurrence_exceptions"] == []
    assert response.headers["etag"] == f'"{body["id"]}-1"'

    fetched = await client.get(response.headers["location"], headers=owner.headers)
    assert fetched.status_code == 200
    assert fetched.json()["id"] == body["id"]

    assert await permission_rows(app, body["id"]) == {owner.id: "owner"}
    versions = await version_rows(app, body["id"])
    assert [(v.version, v.action, v.author_id) for v in versions] == [(1, "created", owner.id)]
    assert versions[0].snapshot["title"] == "Standup"
    assert await count_rows(app, AuditEntry, event_id=body["id"], action="event_created") == 1


async def test_create_defaults_timezone_to_utc_and_accepts_offsets(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    payload = event_payload(
        start_time="2026-03-20T11:00:00+01:00", end_time="2026-03-20T12:00:00+01:00"
    )
    response = await client.post("/api/events", json=payload, headers=owner.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["timezone"] == "UTC"
    assert body["start_time"] == "2026-03-20T10:00:00Z"
    assert body["end_time"] == "2026-03-20T11:00:00Z"


async def test_create_needs_a_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.post("/api/events", json=event_payload())
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    bad = await client.post(
        "/api/events", json=event_payload(), headers={"Authorization": "Bearer nope"}
    )
    assert_problem(bad, 401)
    assert bad.headers["www-authenticate"] == "Bearer"
    assert await count_rows(app, Event) == 0


# --------------------------------------------------------------------------- get


async def test_get_gives_event_and_permissions_to_every_role(
    client: httpx.AsyncClient,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
) -> None:
    for actor, role in ((owner, "owner"), (editor, "editor"), (viewer, "viewer")):
        response = await client.get(url(shared_event), headers=actor.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["my_role"] == role
        assert body["id"] == shared_event["id"]
        assert response.headers["etag"] == etag(shared_event)
        permissions = {p["user_id"]: (p["username"], p["role"]) for p in body["permissions"]}
        assert permissions == {
            owner.id: ("owner", "owner"),
            editor.id: ("editor", "editor"),
            viewer.id: ("viewer", "viewer"),
        }
        assert body["permissions"][0]["role"] == "owner"
        assert all(p["granted_by"] == owner.id for p in body["permissions"])


async def test_get_if_none_match_gives_304(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    headers = {**owner.headers, "If-None-Match": etag(event)}
    response = await client.get(url(event), headers=headers)
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag(event)

    listed = {**owner.headers, "If-None-Match": f'"x-1", W/{etag(event)}'}
    assert (await client.get(url(event), headers=listed)).status_code == 304

    stale = {**owner.headers, "If-None-Match": f'"{event["id"]}-0"'}
    assert (await client.get(url(event), headers=stale)).status_code == 200


async def test_get_hides_events_from_strangers(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor, stranger: Actor
) -> None:
    event = await make_event(owner)
    assert_problem(await client.get(url(event), headers=stranger.headers), 404, "event-not-found")
    missing = await client.get("/api/events/999999", headers=owner.headers)
    assert_problem(missing, 404, "event-not-found")


async def test_get_without_token_is_401(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    response = await client.get(url(event))
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


# --------------------------------------------------------------------------- update


async def test_put_is_partial_and_records_one_version(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, description="keep me", location="Room 1")
    response = await client.put(url(event), json={"title": "Retro"}, headers=owner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "Retro"
    assert body["version"] == 2
    assert response.headers["etag"] == f'"{event["id"]}-2"'
    unchanged = ("description", "location", "start_time", "end_time", "timezone", "created_at")
    for field in unchanged:
        assert body[field] == event[field], field
    assert body["updated_at"] >= event["updated_at"]

    versions = await version_rows(app, event["id"])
    assert [(v.version, v.action) for v in versions] == [(1, "created"), (2, "updated")]
    assert versions[1].changed_fields == ["title"]
    row = await event_row(app, event["id"])
    assert row is not None and row.title == "Retro" and row.version == 2
    # The version carries the event's own timestamps, so as_of=<updated_at> finds it.
    assert versions[1].created_at == row.updated_at
    assert versions[0].created_at == row.created_at


async def test_patch_is_an_alias_of_put(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    response = await client.patch(url(event), json={"location": "Room 2"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["location"] == "Room 2"
    assert response.json()["title"] == event["title"]
    assert len(await version_rows(app, event["id"])) == 2


async def test_put_accepts_a_read_body_echoed_back(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    current = (await client.get(url(event), headers=owner.headers)).json()
    edited = {**current, "title": "Echoed"}
    response = await client.put(url(event), json=edited, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Echoed"
    assert response.json()["owner_id"] == owner.id


async def test_editor_may_update_viewer_may_not_stranger_sees_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    response = await client.put(url(shared_event), json={"title": "E"}, headers=editor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["my_role"] == "editor"

    denied = await client.put(url(shared_event), json={"title": "V"}, headers=viewer.headers)
    assert_problem(denied, 403, "permission-denied")
    patched = await client.patch(url(shared_event), json={"title": "V"}, headers=viewer.headers)
    assert_problem(patched, 403, "permission-denied")
    hidden = await client.put(url(shared_event), json={"title": "S"}, headers=stranger.headers)
    assert_problem(hidden, 404, "event-not-found")

    versions = await version_rows(app, shared_event["id"])
    assert [v.author_id for v in versions] == [shared_event["owner_id"], editor.id]


async def test_if_match_stale_is_412_current_is_200(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    first = await client.put(
        url(event), json={"title": "One"}, headers={**owner.headers, "If-Match": etag(event)}
    )
    assert first.status_code == 200, first.text

    stale = await client.put(
        url(event), json={"title": "Two"}, headers={**owner.headers, "If-Match": etag(event)}
    )
    problem = assert_problem(stale, 412, "precondition-failed")
    assert "version 2" in problem["detail"]
    assert stale.headers["etag"] == f'"{event["id"]}-2"'
    other = await client.put(
        url(event), json={"title": "Two"}, headers={**owner.headers, "If-Match": '"999-2"'}
    )
    assert_problem(other, 412)

    current = await client.put(
        url(event),
        json={"title": "Two"},
        headers={**owner.headers, "If-Match": first.headers["etag"]},
    )
    assert current.status_code == 200, current.text
    assert current.json()["version"] == 3
    wildcard = await client.put(
        url(event), json={"title": "Three"}, headers={**owner.headers, "If-Match": "*"}
    )
    assert wildcard.status_code == 200
    assert [v.version for v in await version_rows(app, event["id"])] == [1, 2, 3, 4]


async def test_stale_version_field_is_409_with_current_and_changes(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    moved = {"start_time": "2026-03-20T11:00:00Z", "end_time": "2026-03-20T11:30:00Z"}
    assert (await client.put(url(event), json=moved, headers=owner.headers)).status_code == 200

    response = await client.put(
        url(event), json={"title": "Mine", "version": 1}, headers=owner.headers
    )
    problem = assert_problem(response, 409, "version-conflict")
    assert problem["current"]["version"] == 2
    assert problem["current"]["start_time"] == "2026-03-20T11:00:00Z"
    assert problem["current"]["title"] == "Standup"
    fields = [change["field"] for change in problem["changes"]]
    assert fields == ["start_time", "end_time"]
    assert problem["changes"][0]["old"] == "2026-03-20T10:00:00Z"
    assert problem["changes"][0]["new"] == "2026-03-20T11:00:00Z"
    assert len(await version_rows(app, event["id"])) == 2

    fresh = await client.put(
        url(event), json={"title": "Mine", "version": 2}, headers=owner.headers
    )
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 3


async def test_no_op_update_creates_no_version(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, location="Room 1")
    same = {
        "title": event["title"],
        "location": "Room 1",
        "start_time": "2026-03-20T11:00:00+01:00",
    }
    response = await client.put(url(event), json=same, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert response.headers["etag"] == etag(event)
    empty = await client.patch(url(event), json={}, headers=owner.headers)
    assert empty.status_code == 200
    assert len(await version_rows(app, event["id"])) == 1
    assert await count_rows(app, AuditEntry, event_id=event["id"]) == 1


async def test_is_recurring_false_clears_the_pattern(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, recurrence_pattern="FREQ=DAILY;COUNT=3")
    assert event["is_recurring"] is True
    response = await client.put(url(event), json={"is_recurring": False}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_recurring"] is False
    assert response.json()["recurrence_pattern"] is None
    row = await event_row(app, event["id"])
    assert row is not None and row.recurrence_pattern is None and row.series_end == row.end_time


async def test_sending_a_pattern_makes_an_event_recurring(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    response = await client.put(
        url(event), json={"recurrence_pattern": "RRULE:FREQ=WEEKLY"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["is_recurring"] is True
    assert response.json()["recurrence_pattern"] == "FREQ=WEEKLY"
    cleared = await client.put(url(event), json={"recurrence_pattern": None}, headers=owner.headers)
    assert cleared.status_code == 200
    assert cleared.json()["is_recurring"] is False


async def test_moving_onto_another_event_is_a_conflict(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    blocker = await make_event(
        owner, title="Blocker", start_time="2026-03-20T12:00:00Z", end_time="2026-03-20T13:00:00Z"
    )
    event = await make_event(owner)
    moved = {"start_time": "2026-03-20T12:30:00Z", "end_time": "2026-03-20T13:00:00Z"}
    response = await client.put(url(event), json=moved, headers=owner.headers)
    problem = assert_problem(response, 409, "schedule-conflict")
    assert problem["conflicts"] == [
        {
            "event_id": blocker["id"],
            "title": "Blocker",
            "occurrence_start": "2026-03-20T12:00:00Z",
            "occurrence_end": "2026-03-20T13:00:00Z",
        }
    ]
    assert len(await version_rows(app, event["id"])) == 1
    row = await event_row(app, event["id"])
    assert row is not None and row.version == 1

    # Changing the title only does not re-check times, even if the event already overlaps.
    await make_event(owner, title="Overlap")
    assert (
        await client.put(url(event), json={"title": "X"}, headers=owner.headers)
    ).status_code == 200


async def test_update_validates_like_create(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    cases: list[dict[str, Any]] = [
        {"end_time": "2026-03-20T09:00:00Z"},
        {"title": ""},
        {"title": None},
        {"start_time": None},
        {"end_time": None},
        {"timezone": None},
        {"timezone": "Mars/Olympus"},
        {"is_recurring": True},
        {"recurrence_pattern": "FREQ=NEVER"},
        {"is_recurring": False, "recurrence_pattern": "FREQ=DAILY"},
        {"start_time": "2026-03-20T10:00:00"},
        {"unknown": 1},
        {"version": 0},
    ]
    for changes in cases:
        response = await client.put(url(event), json=changes, headers=owner.headers)
        problem = assert_problem(response, 422, "validation-error")
        assert problem["errors"], changes
    assert len(await version_rows(app, event["id"])) == 1


# --------------------------------------------------------------------------- delete / restore


async def test_only_the_owner_deletes(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    assert_problem(await client.delete(url(shared_event), headers=editor.headers), 403)
    assert_problem(await client.delete(url(shared_event), headers=viewer.headers), 403)
    assert_problem(await client.delete(url(shared_event), headers=stranger.headers), 404)

    response = await client.delete(url(shared_event), headers=owner.headers)
    assert response.status_code == 204
    assert response.content == b""

    for actor in (owner, editor, viewer):
        assert_problem(await client.get(url(shared_event), headers=actor.headers), 404)
        listed = await client.get("/api/events", headers=actor.headers)
        assert listed.json()["items"] == []
    row = await event_row(app, shared_event["id"])
    assert row is not None and row.deleted_at is not None
    versions = await version_rows(app, shared_event["id"])
    assert [(v.version, v.action) for v in versions] == [(1, "created"), (2, "deleted")]
    assert await count_rows(app, Permission, event_id=shared_event["id"]) == 3
    assert_problem(await client.delete(url(shared_event), headers=owner.headers), 404)


async def test_delete_if_match(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    await client.put(url(event), json={"title": "v2"}, headers=owner.headers)
    stale = await client.delete(url(event), headers={**owner.headers, "If-Match": etag(event)})
    assert_problem(stale, 412, "precondition-failed")
    assert (await event_row(app, event["id"])).deleted_at is None  # type: ignore[union-attr]
    current = await client.delete(
        url(event), headers={**owner.headers, "If-Match": f'"{event["id"]}-2"'}
    )
    assert current.status_code == 204


async def test_restore_brings_back_a_new_version(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    assert (await client.delete(url(shared_event), headers=owner.headers)).status_code == 204
    assert_problem(await client.post(url(shared_event, "/restore"), headers=editor.headers), 403)
    assert_problem(await client.post(url(shared_event, "/restore"), headers=viewer.headers), 403)
    assert_problem(await client.post(url(shared_event, "/restore"), headers=stranger.headers), 404)

    response = await client.post(url(shared_event, "/restore"), headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 3
    assert body["title"] == shared_event["title"]
    assert response.headers["etag"] == f'"{shared_event["id"]}-3"'
    versions = await version_rows(app, shared_event["id"])
    assert [v.action for v in versions] == ["created", "deleted", "restored"]
    assert (await client.get(url(shared_event), headers=viewer.headers)).status_code == 200

    again = await client.post(url(shared_event, "/restore"), headers=owner.headers)
    assert_problem(again, 409, "event-not-deleted")
    assert len(await version_rows(app, shared_event["id"])) == 3


async def test_restore_if_match(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    assert (await client.delete(url(event), headers=owner.headers)).status_code == 204
    [trashed] = (await client.get("/api/events/trash", headers=owner.headers)).json()["items"]
    assert trashed["version"] == 2
    stale = await client.post(
        url(event, "/restore"), headers={**owner.headers, "If-Match": etag(event)}
    )
    problem = assert_problem(stale, 412, "precondition-failed")
    assert problem["detail"] == f"Event {event['id']} is at version 2, not 1"
    assert stale.headers["etag"] == f'"{event["id"]}-2"'
    assert (await event_row(app, event["id"])).deleted_at is not None  # type: ignore[union-attr]
    assert await count_rows(app, EventVersion, event_id=event["id"]) == 2
    restored = await client.post(
        url(event, "/restore"), headers={**owner.headers, "If-Match": f'"{event["id"]}-2"'}
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3
    # Restored meanwhile: the deletion's tag is stale now (412, not the 409 of a live event).
    again = await client.post(
        url(event, "/restore"), headers={**owner.headers, "If-Match": f'"{event["id"]}-2"'}
    )
    assert_problem(again, 412, "precondition-failed")
    assert await count_rows(app, EventVersion, event_id=event["id"]) == 3


async def test_restore_is_conflict_checked(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    assert (await client.delete(url(event), headers=owner.headers)).status_code == 204
    await make_event(owner, title="Taken")
    assert_problem(
        await client.post(url(event, "/restore"), headers=owner.headers), 409, "schedule-conflict"
    )
    assert (await event_row(app, event["id"])).deleted_at is not None  # type: ignore[union-attr]
    allowed = await client.post(
        url(event, "/restore"), params={"conflict_strategy": "allow"}, headers=owner.headers
    )
    assert allowed.status_code == 200
    assert [c["title"] for c in allowed.json()["conflicts"]] == ["Taken"]
    assert await count_rows(app, EventVersion, event_id=event["id"]) == 3


# --------------------------------------------------------------------------- merge


async def test_stale_write_with_merge_applies_disjoint_fields(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    await client.put(url(event), json={"location": "Room 9"}, headers=owner.headers)
    response = await client.put(
        url(event),
        json={"title": "Merged", "version": 1},
        params={"merge": "true"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["title"], body["location"], body["version"]) == ("Merged", "Room 9", 3)
    assert (await version_rows(app, event["id"]))[-1].tags == ["merged"]

    clash = await client.put(
        url(event),
        json={"location": "Room 1"},
        params={"merge": "true"},
        headers={**owner.headers, "If-Match": etag(event)},
    )
    problem = assert_problem(clash, 409, "merge-conflict")
    assert [c["field"] for c in problem["conflicts"]] == ["location"]
    assert len(await version_rows(app, event["id"])) == 3


async def test_if_none_match_star_matches_any_version(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    response = await client.get(url(event), headers={**owner.headers, "If-None-Match": "*"})
    assert response.status_code == 304


# --------------------------------------------------------------------------- formats


async def test_msgpack_bodies_and_responses(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    headers = {
        **owner.headers,
        "Content-Type": "application/msgpack",
        "Accept": "application/msgpack",
    }
    response = await client.post(
        "/api/events", content=ormsgpack.packb(event_payload()), headers=headers
    )
    assert response.status_code == 201, response.content
    assert response.headers["content-type"].startswith("application/msgpack")
    body = ormsgpack.unpackb(response.content)
    assert body["title"] == "Standup" and body["my_role"] == "owner"

    bad = await client.post(
        "/api/events", content=ormsgpack.packb(event_payload(title="")), headers=headers
    )
    assert_problem(bad, 422)
    xml = {**owner.headers, "Content-Type": "application/xml"}
    assert_problem(await client.post("/api/events", content=b"<e/>", headers=xml), 415)
    html = {**owner.headers, "Accept": "text/html"}
    assert_problem(await client.get(url(body), headers=html), 406)
    assert await count_rows(app, Event) == 1


async def test_edit_summaries_are_recorded(
    client: httpx.AsyncClient, app: FastAPI, owner: Actor
) -> None:
    created = await client.post(
        "/api/events", json=event_payload(note="first draft"), headers=owner.headers
    )
    event = created.json()
    await client.put(
        url(event), json={"title": "T"}, params={"note": "renamed"}, headers=owner.headers
    )
    await client.put(url(event), json={"title": "U", "note": "again"}, headers=owner.headers)
    notes = [v.note for v in await version_rows(app, event["id"])]
    assert notes == ["first draft", "renamed", "again"]
    too_long = await client.put(
        url(event), json={"title": "V", "note": "n" * 501}, headers=owner.headers
    )
    assert_problem(too_long, 422)


async def test_current_if_match_does_not_excuse_a_stale_version_field(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    """Both preconditions hold when both are sent: a current tag with a stale `version` is the
    409 of the stale field (it used to be ignored, and the write overwrote version 2)."""
    event = await make_event(owner)
    renamed = await client.put(url(event), json={"title": "Theirs"}, headers=owner.headers)
    assert renamed.status_code == 200, renamed.text

    response = await client.put(
        url(event),
        json={"title": "Mine", "version": 1},
        headers={**owner.headers, "If-Match": renamed.headers["etag"]},
    )
    problem = assert_problem(response, 409, "version-conflict")
    assert (problem["current_version"], problem["your_version"]) == (2, 1)
    assert problem["current"]["title"] == "Theirs"
    assert [change["field"] for change in problem["changes"]] == ["title"]
    assert [v.version for v in await version_rows(app, event["id"])] == [1, 2]

    stale_tag = await client.put(
        url(event),
        json={"title": "Mine", "version": 2},
        headers={**owner.headers, "If-Match": etag(event)},
    )
    assert_problem(stale_tag, 412, "precondition-failed")
    both_current = await client.put(
        url(event),
        json={"title": "Mine", "version": 2},
        headers={**owner.headers, "If-Match": renamed.headers["etag"]},
    )
    assert both_current.status_code == 200, both_current.text
    assert both_current.json()["version"] == 3
    assert [v.version for v in await version_rows(app, event["id"])] == [1, 2, 3]
