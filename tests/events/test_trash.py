"""GET /api/events/trash: the deleted events the caller may restore, newest deletion first.

Who sees what is the restore rule (the owner only): every test that lists an event checks
the restore route agrees, so the trash never offers what restore refuses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calendo.core.pagination import encode_cursor
from tests.events.conftest import EventFactory
from tests.events.support import event_row
from tests.helpers import Actor, assert_problem
from tests.performance.test_query_counts import counting

TRASH = "/api/events/trash"


async def _trash(client: httpx.AsyncClient, actor: Actor, **params: Any) -> dict[str, Any]:
    response = await client.get(TRASH, headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(page: dict[str, Any]) -> list[int]:
    return [item["id"] for item in page["items"]]


async def _delete(client: httpx.AsyncClient, actor: Actor, event_id: int) -> None:
    response = await client.delete(f"/api/events/{event_id}", headers=actor.headers)
    assert response.status_code == 204, response.text


async def _restore(client: httpx.AsyncClient, actor: Actor, event_id: int) -> httpx.Response:
    return await client.post(f"/api/events/{event_id}/restore", headers=actor.headers)


async def test_the_owner_sees_their_deleted_events_newest_deletion_first(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    kept = await make_event(owner, title="Kept")
    first = await make_event(owner, title="Dentist", location="Main street 1")
    second = await make_event(owner, title="Standup", recurrence_pattern="FREQ=DAILY;COUNT=3")
    before = (await client.get(f"/api/events/{first['id']}", headers=owner.headers)).json()
    await _delete(client, owner, first["id"])
    await _delete(client, owner, second["id"])

    page = await _trash(client, owner)
    assert _ids(page) == [second["id"], first["id"]]
    assert kept["id"] not in _ids(page)
    assert page["next_cursor"] is None
    item = page["items"][1]
    stored = await event_row(app, first["id"])
    assert stored is not None and stored.deleted_at is not None
    before.pop("permissions")
    assert item == {
        **before,
        "version": before["version"] + 1,  # the deletion is a version
        "updated_at": item["updated_at"],
        "deleted_at": item["deleted_at"],
        "deleted_by": {"id": owner.id, "username": owner.username},
    }
    assert item["deleted_at"] == item["updated_at"]
    assert item["deleted_at"].endswith("Z")
    assert stored.deleted_at.isoformat().replace("+00:00", "Z") == item["deleted_at"]
    assert page["items"][0]["is_recurring"] is True
    assert page["items"][0]["recurrence_pattern"] == "FREQ=DAILY;COUNT=3"


async def test_an_empty_trash(client: httpx.AsyncClient, owner: Actor) -> None:
    assert await _trash(client, owner) == {"items": [], "next_cursor": None}


async def test_collaborators_see_exactly_what_they_may_restore(
    client: httpx.AsyncClient,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    """Only the owner may restore, so the editor's and the viewer's trash stay empty, however
    much they can still read of the deleted event's history; a stranger's too."""
    event_id = shared_event["id"]
    await _delete(client, owner, event_id)

    assert _ids(await _trash(client, owner)) == [event_id]
    for refused, status in ((editor, 403), (viewer, 403), (stranger, 404)):
        assert await _trash(client, refused) == {"items": [], "next_cursor": None}
        assert_problem(await _restore(client, refused, event_id), status)
    history = await client.get(f"/api/events/{event_id}/history", headers=viewer.headers)
    assert history.status_code == 200  # visible to them, just not theirs to restore
    assert _ids(await _trash(client, owner)) == [event_id]  # the refusals changed nothing


async def test_a_collaborators_own_deleted_event_is_in_their_trash_only(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor, editor: Actor
) -> None:
    mine = await make_event(editor, title="Editor's own")
    share = {"users": [{"user_id": owner.id, "role": "editor"}]}
    shared = await client.post(
        f"/api/events/{mine['id']}/share", json=share, headers=editor.headers
    )
    assert shared.status_code == 200
    await _delete(client, editor, mine["id"])
    assert _ids(await _trash(client, editor)) == [mine["id"]]
    assert _ids(await _trash(client, owner)) == []  # an editor of it there


async def test_restored_events_leave_the_trash(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    one = await make_event(owner, title="One")
    two = await make_event(owner, title="Two")
    await _delete(client, owner, one["id"])
    await _delete(client, owner, two["id"])

    restored = await _restore(client, owner, one["id"])
    assert restored.status_code == 200, restored.text
    assert _ids(await _trash(client, owner)) == [two["id"]]
    calendar = (await client.get("/api/events", headers=owner.headers)).json()
    assert one["id"] in _ids(calendar)

    await _delete(client, owner, one["id"])  # deleted again: back, newest first
    assert _ids(await _trash(client, owner)) == [one["id"], two["id"]]


async def test_pages_follow_the_cursor(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    ids = [(await make_event(owner, title=f"Event {n}"))["id"] for n in range(5)]
    for event_id in ids:
        await _delete(client, owner, event_id)
    everything = _ids(await _trash(client, owner))
    assert everything == list(reversed(ids))

    seen: list[int] = []
    cursor: str | None = None
    for size in (2, 2, 1):
        page = await _trash(client, owner, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) == size
        seen += _ids(page)
        cursor = page["next_cursor"]
    assert cursor is None
    assert seen == everything

    # A cursor stays valid while the trash changes: an event restored from an earlier page
    # does not shift the next one.
    first = await _trash(client, owner, limit=2)
    assert (await _restore(client, owner, first["items"][0]["id"])).status_code == 200
    rest = await _trash(client, owner, limit=10, cursor=first["next_cursor"])
    assert _ids(rest) == everything[2:]


async def test_one_statement_per_page(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    """The page, the restore rule and the live-session check are one query."""
    for n in range(3):
        await _delete(client, owner, (await make_event(owner, title=f"Event {n}"))["id"])
    with counting(app) as counted:
        page = await _trash(client, owner, limit=2)
    assert len(page["items"]) == 2
    assert len(counted.statements) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "many"},
        {"cursor": "%%%"},
        {"cursor": encode_cursor(1)},
        {"cursor": encode_cursor("yesterday", 3)},
        {"cursor": "x" * 513},
        {"page": 2},
        {"start_time": "2026-01-01T00:00:00Z"},
        {"tz": "Mars/Olympus_Mons"},
    ],
)
async def test_bad_query_is_422(
    client: httpx.AsyncClient, owner: Actor, params: dict[str, Any]
) -> None:
    response = await client.get(TRASH, headers=owner.headers, params=params)
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"][0] == "query"


async def test_needs_a_live_login(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    await _delete(client, owner, (await make_event(owner))["id"])
    assert_problem(await client.get(TRASH), 401)
    assert (await client.post("/api/auth/logout", headers=owner.headers)).status_code == 204
    assert_problem(await client.get(TRASH, headers=owner.headers), 401)


async def test_an_event_id_route_is_not_shadowed(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    created = await make_event(owner)
    response = await client.get(f"/api/events/{created['id']}", headers=owner.headers)
    assert response.status_code == 200
    assert "deleted_at" not in response.json()


async def test_openapi_documents_the_trash(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"][TRASH]["get"]
    assert operation["summary"].startswith("Deleted events the caller may restore")
    assert "restore" in operation["description"]
    assert {p["name"] for p in operation["parameters"]} == {"limit", "cursor", "tz"}
    assert {"200", "401", "422"} <= operation["responses"].keys()
    item = document["components"]["schemas"]["TrashedEventRead"]
    assert {"deleted_at", "deleted_by", "title", "version"} <= item["properties"].keys()
    assert {"deleted_at", "deleted_by"} <= set(item["required"])


async def test_times_render_in_the_zone_asked_or_the_accounts(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    """The same instants as the UTC page, with Berlin's offset (March: +01:00)."""
    created = await make_event(
        owner, start_time="2026-03-12T17:00:00Z", end_time="2026-03-12T18:30:00Z"
    )
    await _delete(client, owner, created["id"])
    [utc] = (await _trash(client, owner))["items"]
    [zoned] = (await _trash(client, owner, tz="Europe/Berlin"))["items"]
    assert zoned["start_time"] == "2026-03-12T18:00:00+01:00"
    for field in ("start_time", "end_time", "created_at", "updated_at", "deleted_at"):
        assert utc[field].endswith("Z")
        assert not zoned[field].endswith("Z")
        assert datetime.fromisoformat(zoned[field]) == datetime.fromisoformat(utc[field])

    account = {"timezone": "Europe/Berlin"}
    patched = await client.patch("/api/auth/me", json=account, headers=owner.headers)
    assert patched.status_code == 200, patched.text
    [default] = (await _trash(client, owner))["items"]
    assert default == zoned
    [asked] = (await _trash(client, owner, tz="UTC"))["items"]
    assert asked == utc
