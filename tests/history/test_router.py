"""History endpoints: versions, rollback, changelog, diff, merges and races."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from calendo.core.uow import UnitOfWork
from calendo.history.models import EventVersion
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem


async def _put(
    client: httpx.AsyncClient, actor: Actor, event_id: int, **body: Any
) -> httpx.Response:
    params = {k: body.pop(k) for k in ("merge", "note", "conflict_strategy") if k in body}
    headers = {**actor.headers, **body.pop("headers", {})}
    return await client.put(f"/api/events/{event_id}", json=body, headers=headers, params=params)


async def test_history_lists_versions_newest_first(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="Standup")
    await _put(client, owner, event["id"], title="Daily sync", note="clearer name")
    await _put(
        client,
        owner,
        event["id"],
        start_time="2026-03-20T11:00:00Z",
        end_time="2026-03-20T11:30:00Z",
    )
    response = await client.get(f"/api/events/{event['id']}/history", headers=owner.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["version"] for i in items] == [3, 2, 1]
    assert [i["action"] for i in items] == ["updated", "updated", "created"]
    assert items[1]["note"] == "clearer name"
    assert items[1]["summary"] == "renamed from “Standup” to “Daily sync”"
    assert items[0]["summary"] == "moved 1 h later, same length"
    assert items[0]["changed_fields"] == ["start_time", "end_time"]
    assert items[0]["author"] == {"id": owner.id, "username": "owner"}
    assert items[1]["links"]["previous"] == f"/api/events/{event['id']}/diff/1/2"


async def test_history_pages(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner)
    for n in range(4):
        await _put(client, owner, event["id"], title=f"v{n}")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (
            await client.get(
                f"/api/events/{event['id']}/history", params=params, headers=owner.headers
            )
        ).json()
        seen += [i["version"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]


async def test_version_read_has_snapshot(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="First")
    await _put(client, owner, event["id"], title="Second")
    response = await client.get(f"/api/events/{event['id']}/history/1", headers=owner.headers)
    body = response.json()
    assert response.status_code == 200
    assert body["version"] == 1 and body["event_id"] == event["id"] and body["action"] == "created"
    assert body["snapshot"]["title"] == "First"
    assert list(body["snapshot"]) == [
        "title",
        "description",
        "start_time",
        "end_time",
        "timezone",
        "location",
        "is_recurring",
        "recurrence_pattern",
        "recurrence_exceptions",
        "recurrence_dates",
        "transparency",
        "recurrence_overrides",
        "all_day",
        "start_date",
        "end_date",
    ]
    assert_problem(
        await client.get(f"/api/events/{event['id']}/history/9", headers=owner.headers), 404
    )


async def test_rollback_creates_tagged_version_and_marks_reverted(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="A")
    await _put(client, owner, event["id"], title="B")
    await _put(client, owner, event["id"], title="C")
    response = await client.post(f"/api/events/{event['id']}/rollback/1", headers=owner.headers)
    assert response.status_code == 200
    assert response.json()["title"] == "A" and response.json()["version"] == 4
    assert response.headers["etag"] == f'"{event["id"]}-4"'
    log = (await client.get(f"/api/events/{event['id']}/changelog", headers=owner.headers)).json()[
        "items"
    ]
    tags = {e["version"]: e["tags"] for e in log}
    assert tags[4] == ["rollback"]
    assert "reverted" in tags[2] and "reverted" in tags[3] and "reverted" not in tags[1]
    assert log[-1]["action"] == "rolled_back"
    assert log[-1]["summary"].startswith("rolled back to version 1")
    # Rollback of a rollback: back to C.
    again = await client.post(f"/api/events/{event['id']}/rollback/3", headers=owner.headers)
    assert again.json()["title"] == "C" and again.json()["version"] == 5


async def test_rollback_permissions_and_errors(
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    stranger: Actor,
    shared_event: dict[str, Any],
) -> None:
    eid = shared_event["id"]
    await _put(client, owner, eid, title="Changed")
    assert_problem(await client.post(f"/api/events/{eid}/rollback/1", headers=viewer.headers), 403)
    assert_problem(
        await client.post(f"/api/events/{eid}/rollback/1", headers=stranger.headers), 404
    )
    assert_problem(await client.post(f"/api/events/{eid}/rollback/1"), 401)
    assert_problem(await client.post(f"/api/events/{eid}/rollback/99", headers=editor.headers), 404)
    stale = await client.post(
        f"/api/events/{eid}/rollback/1", headers={**editor.headers, "If-Match": f'"{eid}-1"'}
    )
    assert_problem(stale, 412)
    ok = await client.post(
        f"/api/events/{eid}/rollback/1", headers={**editor.headers, "If-Match": f'"{eid}-2"'}
    )
    assert ok.status_code == 200 and ok.json()["title"] == "Standup"


async def test_reads_honour_current_role(
    client: httpx.AsyncClient,
    owner: Actor,
    viewer: Actor,
    stranger: Actor,
    shared_event: dict[str, Any],
) -> None:
    eid = shared_event["id"]
    await _put(client, owner, eid, title="Changed")
    paths = [
        f"/api/events/{eid}/history",
        f"/api/events/{eid}/history/1",
        f"/api/events/{eid}/changelog",
        f"/api/events/{eid}/diff/1/2",
    ]
    for path in paths:
        assert (await client.get(path, headers=viewer.headers)).status_code == 200, path
        assert_problem(await client.get(path, headers=stranger.headers), 404)
        assert_problem(await client.get(path), 401)
    await client.delete(f"/api/events/{eid}/permissions/{viewer.id}", headers=owner.headers)
    for path in paths:
        assert_problem(await client.get(path, headers=viewer.headers), 404)


async def test_changelog_includes_sharing_and_tags(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: EventFactory
) -> None:
    batch = await client.post(
        "/api/events/batch",
        headers=owner.headers,
        json={
            "events": [
                {
                    "title": "Planning",
                    "start_time": "2026-04-01T09:00:00Z",
                    "end_time": "2026-04-01T10:00:00Z",
                },
            ]
        },
    )
    eid = batch.json()["items"][0]["id"]
    await client.post(
        f"/api/events/{eid}/share",
        headers=owner.headers,
        json={"users": [{"user_id": editor.id, "role": "viewer"}]},
    )
    await client.put(
        f"/api/events/{eid}/permissions/{editor.id}", headers=owner.headers, json={"role": "editor"}
    )
    await client.delete(f"/api/events/{eid}/permissions/{editor.id}", headers=owner.headers)
    log = (await client.get(f"/api/events/{eid}/changelog", headers=owner.headers)).json()["items"]
    assert [e["action"] for e in log] == ["created", "shared", "permission_changed", "unshared"]
    assert log[0]["tags"] == ["batch"]
    assert log[1]["version"] is None and log[1]["summary"] == "shared with editor as viewer"
    assert log[2]["summary"] == "changed editor's role from viewer to editor"
    assert log[3]["summary"] == "removed editor's access"
    assert log[0]["summary"].startswith("created “Planning”")


async def test_recurrence_change_summary(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner)
    await _put(client, owner, event["id"], recurrence_pattern="FREQ=WEEKLY;BYDAY=TU,TH")
    entry = (await client.get(f"/api/events/{event['id']}/history", headers=owner.headers)).json()[
        "items"
    ][0]
    assert "now repeats weekly on Tue, Thu" in entry["summary"]
    assert entry["changed_fields"] == ["is_recurring", "recurrence_pattern"]


async def test_diff_both_directions_and_self(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="Weekly team sync", location="Room 2")
    await _put(
        client, owner, event["id"], title="Weekly product sync", location=None, description="Agenda"
    )
    forward = (
        await client.get(f"/api/events/{event['id']}/diff/1/2", headers=owner.headers)
    ).json()
    assert forward["from_version"] == 1 and forward["to_version"] == 2
    changes = {c["field"]: c for c in forward["changes"]}
    assert list(changes) == ["title", "description", "location"]
    assert changes["title"]["op"] == "changed"
    assert {"op": "delete", "text": "team"} in changes["title"]["text_diff"]
    assert {"op": "insert", "text": "product"} in changes["title"]["text_diff"]
    assert changes["description"]["op"] == "added" and changes["location"]["op"] == "removed"
    backward = (
        await client.get(f"/api/events/{event['id']}/diff/2/1", headers=owner.headers)
    ).json()
    back = {c["field"]: c for c in backward["changes"]}
    assert back["description"]["op"] == "removed" and back["location"]["op"] == "added"
    assert back["title"]["old"] == "Weekly product sync"
    same = (await client.get(f"/api/events/{event['id']}/diff/2/2", headers=owner.headers)).json()
    assert same["changes"] == []
    assert_problem(
        await client.get(f"/api/events/{event['id']}/diff/1/7", headers=owner.headers), 404
    )


async def test_diff_html_is_escaped_and_self_contained(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="Plain")
    await _put(client, owner, event["id"], title="<script>alert(1)</script> evil", note="<b>x</b>")
    response = await client.get(
        f"/api/events/{event['id']}/diff/1/2",
        params={"format": "html"},
        headers={**owner.headers, "Accept": "text/html"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>x</b>" not in page
    assert "diff-ins" in page and "diff-del" in page
    assert "http://" not in page and "https://" not in page


async def test_stale_version_is_409_with_current_and_diff(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="One")
    await _put(client, owner, event["id"], title="Two")
    body = assert_problem(await _put(client, owner, event["id"], title="Three", version=1), 409)
    assert body["current"]["title"] == "Two" and body["current_version"] == 2
    assert body["changes"][0]["field"] == "title"


async def test_merge_disjoint_fields(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, shared_event: dict[str, Any]
) -> None:
    eid = shared_event["id"]
    await _put(client, owner, eid, title="Renamed by owner")
    response = await _put(client, editor, eid, location="Room 7", version=1, merge="true")
    assert response.status_code == 200, response.text
    assert (
        response.json()["title"] == "Renamed by owner" and response.json()["location"] == "Room 7"
    )
    entry = (await client.get(f"/api/events/{eid}/history", headers=owner.headers)).json()["items"][
        0
    ]
    assert "merged" in entry["tags"] and entry["changed_fields"] == ["location"]


async def test_merge_overlapping_fields_conflict(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, shared_event: dict[str, Any]
) -> None:
    eid = shared_event["id"]
    await _put(client, owner, eid, title="Owner's title")
    body = assert_problem(
        await _put(client, editor, eid, title="Editor's title", version=1, merge="true"),
        409,
        "merge-conflict",
    )
    assert body["conflicts"] == [
        {"field": "title", "base": "Standup", "mine": "Editor's title", "theirs": "Owner's title"}
    ]
    stale_header = await _put(
        client, editor, eid, location="X", merge="true", headers={"If-Match": f'"{eid}-1"'}
    )
    assert stale_header.status_code == 200 and stale_header.json()["location"] == "X"


async def test_parallel_writers_same_if_match(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, app: Any
) -> None:
    event = await make_event(owner)
    eid = event["id"]
    responses = await asyncio.gather(
        *(
            _put(client, owner, eid, title=f"writer {n}", headers={"If-Match": f'"{eid}-1"'})
            for n in range(20)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1 and set(codes) <= {200, 409, 412}
    async with UnitOfWork.read(app.state.services.db) as session:
        versions = list(
            await session.scalars(
                select(EventVersion.version)
                .where(EventVersion.event_id == eid)
                .order_by(EventVersion.version)
            )
        )
    assert versions == [1, 2]


async def test_delete_and_restore_keep_history(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, app: Any
) -> None:
    event = await make_event(owner)
    eid = event["id"]
    assert (await client.delete(f"/api/events/{eid}", headers=owner.headers)).status_code == 204
    history = (await client.get(f"/api/events/{eid}/history", headers=owner.headers)).json()[
        "items"
    ]
    assert [h["action"] for h in history] == ["deleted", "created"]
    restored = await client.post(f"/api/events/{eid}/restore", headers=owner.headers)
    assert restored.status_code == 200 and restored.json()["version"] == 3
    async with UnitOfWork.read(app.state.services.db) as session:
        count = await session.scalar(select(func.count()).where(EventVersion.event_id == eid))
    assert count == 3
    log = (await client.get(f"/api/events/{eid}/changelog", headers=owner.headers)).json()["items"]
    assert [e["summary"] for e in log[1:]] == ["deleted the event", "restored the event"]
