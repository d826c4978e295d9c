"""``?as_of=``: an event and the calendar as they were at a past instant, with today's access."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from calendo.core.uow import UnitOfWork
from calendo.history.models import EventVersion
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem

TINY = timedelta(microseconds=1)


async def _version_times(app: FastAPI, event_id: int) -> dict[int, datetime]:
    """When each version of the event was written, from the database."""
    async with UnitOfWork.read(app.state.services.db) as session:
        rows = await session.execute(
            select(EventVersion.version, EventVersion.created_at).where(
                EventVersion.event_id == event_id
            )
        )
        return dict(rows.all())


def _mid(a: datetime, b: datetime) -> str:
    return (a + (b - a) / 2).isoformat()


async def _get(
    client: httpx.AsyncClient, actor: Actor, event_id: int, as_of: str | datetime, **headers: str
) -> httpx.Response:
    value = as_of.isoformat() if isinstance(as_of, datetime) else as_of
    return await client.get(
        f"/api/events/{event_id}",
        params={"as_of": value},
        headers={**actor.headers, **headers},
    )


async def _update(client: httpx.AsyncClient, actor: Actor, event_id: int, **changes: Any) -> None:
    response = await client.put(
        f"/api/events/{event_id}",
        json=changes,
        headers=actor.headers,
        params={"conflict_strategy": "allow"},
    )
    assert response.status_code == 200, response.text


async def _history_of_three(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> tuple[dict[str, Any], dict[int, datetime]]:
    event = await make_event(owner, title="First", location="Room 1")
    await _update(client, owner, event["id"], title="Second")
    await _update(client, owner, event["id"], title="Third", start_time="2026-03-20T09:00:00Z")
    return event, await _version_times(app, event["id"])


async def test_as_of_between_versions_returns_the_old_content_and_version(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event, times = await _history_of_three(app, client, make_event, owner)

    response = await _get(client, owner, event["id"], _mid(times[1], times[2]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["ETag"] == f'"{event["id"]}-1"'
    assert body["version"] == 1
    assert body["title"] == "First"
    assert body["location"] == "Room 1"
    assert body["start_time"] == "2026-03-20T10:00:00Z"
    assert body["my_role"] == "owner"
    assert body["created_at"] == event["created_at"]
    assert [p["user_id"] for p in body["permissions"]] == [owner.id]

    exact = (await _get(client, owner, event["id"], times[2])).json()
    assert (exact["version"], exact["title"]) == (2, "Second")
    latest = (await _get(client, owner, event["id"], times[3] + timedelta(days=1))).json()
    assert (latest["version"], latest["title"]) == (3, "Third")
    assert latest["start_time"] == "2026-03-20T09:00:00Z"
    # The live event is untouched by reading its past.
    live = (await client.get(f"/api/events/{event['id']}", headers=owner.headers)).json()
    assert (live["version"], live["title"]) == (3, "Third")


async def test_as_of_with_an_offset_is_the_same_instant(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event, times = await _history_of_three(app, client, make_event, owner)
    instant = times[1] + (times[2] - times[1]) / 2
    in_berlin = instant.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+01:00").tzinfo)
    body = (await _get(client, owner, event["id"], in_berlin.isoformat())).json()
    assert body["version"] == 1


async def test_as_of_if_none_match_gives_304_for_that_version(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event, times = await _history_of_three(app, client, make_event, owner)
    at = _mid(times[1], times[2])
    response = await _get(client, owner, event["id"], at, **{"If-None-Match": f'"{event["id"]}-1"'})
    assert response.status_code == 304
    response = await _get(client, owner, event["id"], at, **{"If-None-Match": f'"{event["id"]}-3"'})
    assert response.status_code == 200


async def test_as_of_before_creation_is_404(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event, times = await _history_of_three(app, client, make_event, owner)
    problem = assert_problem(
        await _get(client, owner, event["id"], times[1] - TINY), 404, "event-not-found"
    )
    assert "did not exist" in problem["detail"]


async def test_deleted_event_is_404_after_deletion_and_readable_before(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event, _ = await _history_of_three(app, client, make_event, owner)
    deleted = await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    times = await _version_times(app, event["id"])
    assert set(times) == {1, 2, 3, 4}

    assert_problem(await client.get(f"/api/events/{event['id']}", headers=owner.headers), 404)
    assert_problem(await _get(client, owner, event["id"], times[4]), 404, "event-not-found")
    assert_problem(
        await _get(client, owner, event["id"], times[4] + timedelta(days=3)), 404, "event-not-found"
    )
    before = await _get(client, owner, event["id"], _mid(times[3], times[4]))
    assert before.status_code == 200, before.text
    assert (before.json()["version"], before.json()["title"]) == (3, "Third")


async def test_restored_event_reads_again_after_the_restore(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, title="Phoenix")
    await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
    restored = await client.post(f"/api/events/{event['id']}/restore", headers=owner.headers)
    assert restored.status_code == 200, restored.text
    times = await _version_times(app, event["id"])
    assert_problem(await _get(client, owner, event["id"], _mid(times[2], times[3])), 404)
    body = (await _get(client, owner, event["id"], times[3])).json()
    assert (body["version"], body["title"]) == (3, "Phoenix")


async def test_naive_or_malformed_as_of_is_422(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    for bad in ("2026-03-20T10:00:00", "yesterday", "0001-01-01T00:00:00+01:00"):
        problem = assert_problem(await _get(client, owner, event["id"], bad), 422)
        assert problem["errors"][0]["loc"] == ["query", "as_of"]
        listed = await client.get("/api/events", params={"as_of": bad}, headers=owner.headers)
        assert_problem(listed, 422)


async def test_stranger_gets_404_and_permissions_are_those_of_now(
    app: FastAPI,
    client: httpx.AsyncClient,
    shared_event: dict[str, Any],
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
) -> None:
    event_id = shared_event["id"]
    times = await _version_times(app, event_id)
    now = times[1] + timedelta(seconds=1)
    missing = assert_problem(await _get(client, stranger, event_id, now), 404, "event-not-found")
    unknown = assert_problem(await _get(client, stranger, 999_999, now), 404, "event-not-found")
    assert missing["title"] == unknown["title"]

    seen = await _get(client, viewer, event_id, times[1])
    assert seen.status_code == 200
    assert seen.json()["my_role"] == "viewer"
    assert {p["user_id"] for p in seen.json()["permissions"]} == {owner.id, editor.id, viewer.id}

    # Access lost today means no past either, even for a time when access existed.
    revoked = await client.delete(
        f"/api/events/{event_id}/permissions/{viewer.id}", headers=owner.headers
    )
    assert revoked.status_code == 204
    assert_problem(await _get(client, viewer, event_id, times[1]), 404)


async def _list(client: httpx.AsyncClient, actor: Actor, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_list_as_of_is_the_calendar_at_that_time(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    early = await make_event(
        owner, title="Early", start_time="2026-03-21T08:00:00Z", end_time="2026-03-21T09:00:00Z"
    )
    doomed = await make_event(
        owner, title="Doomed", start_time="2026-03-19T08:00:00Z", end_time="2026-03-19T09:00:00Z"
    )
    t_before = (await _version_times(app, doomed["id"]))[1]
    await _update(client, owner, early["id"], title="Early renamed")
    await client.delete(f"/api/events/{doomed['id']}", headers=owner.headers)
    late = await make_event(owner, title="Late")
    t_after_delete = (await _version_times(app, late["id"]))[1] - TINY

    then = await _list(client, owner, as_of=t_before.isoformat())
    assert [(e["id"], e["title"], e["version"]) for e in then["items"]] == [
        (doomed["id"], "Doomed", 1),
        (early["id"], "Early", 1),
    ]
    assert then["next_cursor"] is None
    assert all(e["my_role"] == "owner" for e in then["items"])

    later = await _list(client, owner, as_of=t_after_delete.isoformat())
    assert [(e["title"], e["version"]) for e in later["items"]] == [("Early renamed", 2)]

    before_anything = await _list(client, owner, as_of=(t_before - timedelta(days=1)).isoformat())
    assert before_anything == {"items": [], "next_cursor": None}


async def test_list_as_of_filters_and_pages(
    app: FastAPI, client: httpx.AsyncClient, make_event: EventFactory, owner: Actor, viewer: Actor
) -> None:
    made = [
        await make_event(
            owner,
            title=f"Meeting {i}",
            start_time=f"2026-03-2{i}T10:00:00Z",
            end_time=f"2026-03-2{i}T11:00:00Z",
        )
        for i in range(1, 5)
    ]
    weekly = await make_event(
        owner,
        title="Weekly sync",
        start_time="2026-03-02T10:00:00Z",
        end_time="2026-03-02T11:00:00Z",
        recurrence_pattern="FREQ=WEEKLY;COUNT=2",
    )
    share = await client.post(
        f"/api/events/{made[0]['id']}/share",
        json={"users": [{"user_id": viewer.id, "role": "viewer"}]},
        headers=owner.headers,
    )
    assert share.status_code == 200
    # Move everything afterwards so the past differs from the present.
    for event in [*made, weekly]:
        await _update(
            client,
            owner,
            event["id"],
            title="Renamed",
            start_time="2027-01-01T10:00:00Z",
            end_time="2027-01-01T11:00:00Z",
        )
    last = max(
        (await _version_times(app, weekly["id"]))[1],
        *[(await _version_times(app, e["id"]))[1] for e in made],
    )
    at = (last + TINY).isoformat()

    window = await _list(
        client, owner, as_of=at, start_time="2026-03-22T00:00:00Z", end_time="2026-03-24T00:00:00Z"
    )
    assert [e["title"] for e in window["items"]] == ["Meeting 2", "Meeting 3"]
    # The recurring series had an occurrence on 2026-03-09 only then.
    series = await _list(
        client, owner, as_of=at, start_time="2026-03-09T00:00:00Z", end_time="2026-03-10T00:00:00Z"
    )
    assert [e["id"] for e in series["items"]] == [weekly["id"]]
    assert (
        await _list(
            client,
            owner,
            as_of=at,
            start_time="2026-03-10T00:00:00Z",
            end_time="2026-03-20T00:00:00Z",
        )
    )["items"] == []
    text = await _list(client, owner, as_of=at, q="MEETING 4")
    assert [e["id"] for e in text["items"]] == [made[3]["id"]]
    assert (await _list(client, owner, as_of=at, q="Renamed"))["items"] == []
    as_viewer = await _list(client, viewer, as_of=at, role="viewer")
    assert [(e["id"], e["my_role"]) for e in as_viewer["items"]] == [(made[0]["id"], "viewer")]

    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = await _list(
            client, owner, as_of=at, limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [weekly["id"], *[e["id"] for e in made]]

    ancient = await _list(client, owner, as_of=at, start_time="0001-01-01T00:00:00Z")
    assert len(ancient["items"]) == 5
    inverted = await client.get(
        "/api/events",
        params={
            "as_of": at,
            "start_time": "2026-03-24T00:00:00Z",
            "end_time": "2026-03-22T00:00:00Z",
        },
        headers=owner.headers,
    )
    assert_problem(inverted, 422, "validation-error")
    bad_cursor = await client.get(
        "/api/events", params={"as_of": at, "cursor": "%%%"}, headers=owner.headers
    )
    assert_problem(bad_cursor, 422, "validation-error")

    expand = await client.get(
        "/api/events",
        params={
            "as_of": at,
            "expand": "true",
            "start_time": "2026-03-01T00:00:00Z",
            "end_time": "2026-04-01T00:00:00Z",
        },
        headers=owner.headers,
    )
    assert_problem(expand, 422, "validation-error")


async def test_as_of_at_the_reported_update_time_is_that_version(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner)
    assert (await _get(client, owner, event["id"], event["created_at"])).status_code == 200
    response = await client.put(
        f"/api/events/{event['id']}", json={"title": "v2"}, headers=owner.headers
    )
    updated = response.json()
    body = (await _get(client, owner, event["id"], updated["updated_at"])).json()
    assert body["version"] == 2


async def test_as_of_lookup_uses_the_index(app: Any, settings: Any) -> None:
    """The point-in-time lookup is an index probe, not a scan of the history."""
    if not settings.is_sqlite:
        pytest.skip("the plan is checked on SQLite; PostgreSQL plans depend on statistics")
    from datetime import UTC

    from sqlalchemy.dialects import sqlite

    from calendo.events.temporal import version_at_query

    query = version_at_query(1, datetime(2026, 1, 1, tzinfo=UTC))
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    async with UnitOfWork.read(app.state.services.db) as session:
        plan = (await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_event_version_as_of" in details, details
    assert "SCAN event_version" not in details, details
