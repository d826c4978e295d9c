"""``GET /api/sync``: snapshot, incremental changes, paging, deduplication and 410 cursors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select

from calendo.core.pagination import decode_cursor, encode_cursor
from calendo.core.uow import UnitOfWork
from calendo.sharing.models import Permission
from calendo.sync.models import SyncChange
from tests.helpers import Actor, assert_problem
from tests.sync import api
from tests.sync.api import SyncClient


async def _newest_seq(app: FastAPI, user_id: int) -> int:
    async with UnitOfWork.read(app.state.services.db) as session:
        query = select(func.max(SyncChange.seq)).where(SyncChange.user_id == user_id)
        return int((await session.execute(query)).scalar_one() or 0)


def _seq_of(cursor: str) -> int:
    _user, seq, _after = decode_cursor(cursor, length=3)
    return int(seq)


def _summary(page: dict[str, Any]) -> list[tuple[int, str]]:
    return [(c["event_id"], c["change"]) for c in page["changes"]]


async def _detail_without_permissions(
    client: httpx.AsyncClient, actor: Actor, event_id: int
) -> dict[str, Any]:
    response = await client.get(f"/api/events/{event_id}", headers=actor.headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    body.pop("permissions")
    return body


async def test_first_call_returns_the_whole_calendar(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    mine = await api.create(client, owner, title="Mine")
    theirs = await api.create(client, editor, title="Theirs")
    await api.share(client, editor, theirs["id"], owner, "editor")
    gone = await api.create(client, owner, title="Gone")
    await api.delete(client, owner, gone["id"])
    await api.create(client, editor, title="Private to editor")

    page = await api.sync_page(client, owner)

    assert page["has_more"] is False
    assert _summary(page) == [(mine["id"], "upsert"), (theirs["id"], "upsert")]
    by_id = {c["event_id"]: c["event"] for c in page["changes"]}
    assert by_id[mine["id"]] == await _detail_without_permissions(client, owner, mine["id"])
    assert by_id[theirs["id"]]["my_role"] == "editor"
    assert _seq_of(page["next_cursor"]) == await _newest_seq(app, owner.id)

    # Polling right away: nothing new, same position.
    again = await api.sync_page(client, owner, page["next_cursor"])
    assert again == {"changes": [], "next_cursor": page["next_cursor"], "has_more": False}


async def test_new_user_gets_an_empty_calendar_and_a_usable_cursor(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    page = await api.sync_page(client, owner)
    assert page["changes"] == [] and page["has_more"] is False
    assert _seq_of(page["next_cursor"]) == 0
    event = await api.create(client, owner)
    later = await api.sync_page(client, owner, page["next_cursor"])
    assert _summary(later) == [(event["id"], "upsert")]


async def test_incremental_reports_updates_shares_unshares_deletes(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, viewer: Actor
) -> None:
    event = await api.create(client, owner, title="Plan")
    devices = {a.username: SyncClient(a) for a in (owner, editor, viewer)}
    for device in devices.values():
        await device.pull(client)
    assert set(devices["owner"].events) == {event["id"]}
    assert devices["editor"].events == {}

    await api.share(client, owner, event["id"], editor, "editor")
    await api.share(client, owner, event["id"], viewer, "viewer")
    await api.update(client, editor, event["id"], title="Plan v2")
    for device in devices.values():
        await device.pull(client)
    for name, role in (("owner", "owner"), ("editor", "editor"), ("viewer", "viewer")):
        local = devices[name].events[event["id"]]
        assert (local["title"], local["version"], local["my_role"]) == ("Plan v2", 2, role)

    # Unshare: a delete for the ex-collaborator only.
    await api.unshare(client, owner, event["id"], viewer)
    page = await api.sync_page(client, viewer, devices["viewer"].cursor)
    assert page["changes"] == [{"event_id": event["id"], "change": "delete", "event": None}]
    owner_page = await api.sync_page(client, owner, devices["owner"].cursor)
    assert owner_page["changes"] == []

    # Delete: a delete for everyone who could see it.
    await api.delete(client, owner, event["id"])
    for name in ("owner", "editor"):
        page = await api.sync_page(client, devices[name].actor, devices[name].cursor)
        assert _summary(page) == [(event["id"], "delete")]
        devices[name].apply(page)
        assert devices[name].events == {}

    # Restore: an upsert again, with the current body.
    await api.restore(client, owner, event["id"])
    page = await api.sync_page(client, editor, devices["editor"].cursor)
    assert _summary(page) == [(event["id"], "upsert")]
    assert page["changes"][0]["event"]["version"] == 4


async def test_changes_are_deduplicated_with_the_latest_state(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    first = await api.create(client, owner, title="A")
    second = await api.create(client, owner, title="B")
    start = (await api.sync_page(client, owner))["next_cursor"]
    await api.update(client, owner, first["id"], title="A2")
    await api.update(client, owner, second["id"], title="B2")
    await api.update(client, owner, first["id"], title="A3")

    page = await api.sync_page(client, owner, start)
    # Ordered by each event's latest change: B2 (seq n+1) before A3 (seq n+2).
    assert _summary(page) == [(second["id"], "upsert"), (first["id"], "upsert")]
    assert [c["event"]["title"] for c in page["changes"]] == ["B2", "A3"]
    assert page["changes"][1]["event"]["version"] == 3

    # Created then deleted within one page: reported once, as a delete.
    fleeting = await api.create(client, owner, title="Fleeting")
    await api.delete(client, owner, fleeting["id"])
    page = await api.sync_page(client, owner, page["next_cursor"])
    assert _summary(page) == [(fleeting["id"], "delete")]


async def test_upsert_of_an_event_no_longer_visible_is_a_delete(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event = await api.create(client, owner)
    await api.share(client, owner, event["id"], editor, "editor")
    cursor = (await api.sync_page(client, editor))["next_cursor"]
    await api.update(client, owner, event["id"], title="Changed")
    # Access disappears without a feed row (as a path that forgot to record one would do).
    async with UnitOfWork.independent(app.state.services.db) as session:
        await session.execute(
            sql_delete(Permission).where(
                Permission.event_id == event["id"], Permission.user_id == editor.id
            )
        )
    page = await api.sync_page(client, editor, cursor)
    assert page["changes"] == [{"event_id": event["id"], "change": "delete", "event": None}]


async def test_snapshot_pages_then_hands_over_to_incremental(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    made = [await api.create(client, owner, title=f"E{i}") for i in range(5)]
    sizes, ids = [], []
    cursor: str | None = None
    while True:
        page = await api.sync_page(client, owner, cursor, limit=2)
        sizes.append((len(page["changes"]), page["has_more"]))
        ids += [c["event_id"] for c in page["changes"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert sizes == [(2, True), (2, True), (1, False)]
    assert ids == [e["id"] for e in made]
    assert _seq_of(cursor) == await _newest_seq(app, owner.id)

    for event in made:
        await api.update(client, owner, event["id"], title="changed " + event["title"])
    pages = []
    while True:
        page = await api.sync_page(client, owner, cursor, limit=2)
        pages.append(page)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert [len(p["changes"]) for p in pages] == [2, 2, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert [c["event"]["title"] for p in pages for c in p["changes"]] == [
        "changed " + e["title"] for e in made
    ]
    assert _seq_of(cursor) == await _newest_seq(app, owner.id)


async def test_a_change_during_a_paged_snapshot_is_not_lost(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    made = [await api.create(client, owner, title=f"E{i}") for i in range(3)]
    device = SyncClient(owner)
    device.apply(await api.sync_page(client, owner, limit=2))
    # The first event was already sent; it changes before the snapshot finishes.
    await api.update(client, owner, made[0]["id"], title="Edited meanwhile")
    await device.pull(client, limit=2)
    assert device.events == await api.calendar(client, owner)


async def test_page_size_is_capped_by_the_setting(
    client: httpx.AsyncClient, owner: Actor, app: FastAPI
) -> None:
    assert app.state.services.settings.sync_page_size == 200
    page = await api.sync_page(client, owner, limit=1000)
    assert page["has_more"] is False
    for bad in (0, 1001):
        response = await client.get("/api/sync", params={"limit": bad}, headers=owner.headers)
        assert_problem(response, 422, "validation-error")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "%%%",
        encode_cursor(1, 2),
        encode_cursor("x", 0, None),
        encode_cursor(1, -1, None),
        encode_cursor(1, True, None),
        encode_cursor(1, 0, 2**40),
        encode_cursor(1, 2**40, None),
    ],
)
async def test_malformed_cursor_is_410(
    client: httpx.AsyncClient, owner: Actor, cursor: str
) -> None:
    response = await client.get("/api/sync", params={"cursor": cursor}, headers=owner.headers)
    problem = assert_problem(response, 410, "sync-cursor-invalid")
    assert "without a cursor" in problem["detail"]


async def test_cursor_from_the_future_or_another_user_is_410(
    client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    await api.create(client, owner)
    cursor = (await api.sync_page(client, owner))["next_cursor"]
    seq = _seq_of(cursor)

    future = encode_cursor(owner.id, seq + 1, None)
    response = await client.get("/api/sync", params={"cursor": future}, headers=owner.headers)
    assert "does not have" in assert_problem(response, 410, "sync-cursor-invalid")["detail"]

    response = await client.get("/api/sync", params={"cursor": cursor}, headers=editor.headers)
    assert "another user" in assert_problem(response, 410, "sync-cursor-invalid")["detail"]


async def test_sync_needs_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/sync")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_sync_is_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/sync"]["get"]
    assert "410" in operation["responses"]
    assert "410 Gone" in operation["description"]
    assert "has_more" in operation["description"]


async def test_role_change_reaches_the_collaborators_sync(
    client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    event = await api.create(client, owner)
    await api.share(client, owner, event["id"], editor, "viewer")
    device = SyncClient(editor)
    await device.pull(client)
    await api.share(client, owner, event["id"], editor, "editor")
    await device.pull(client)
    assert device.events[event["id"]]["my_role"] == "editor"
    response = await client.put(
        f"/api/events/{event['id']}/permissions/{editor.id}",
        json={"role": "viewer"},
        headers=owner.headers,
    )
    assert response.status_code == 200
    await device.pull(client)
    assert device.events[event["id"]]["my_role"] == "viewer"
