"""``POST /api/transactions``: all or nothing, event_ref, index-named errors, same rules."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from calendo.audit.models import AuditEntry
from calendo.events.models import Event
from calendo.history.models import EventVersion
from calendo.notifications.models import Notification
from calendo.sharing.models import Permission
from calendo.sync.models import SyncChange
from tests.helpers import Actor, assert_problem
from tests.sync import api

URL = "/api/transactions"
TABLES = (Event, EventVersion, AuditEntry, SyncChange, Permission, Notification)


def _create(hour: int, title: str = "Slot", **extra: Any) -> dict[str, Any]:
    return {
        "op": "create",
        "event": api.payload(
            title=title,
            start_time=f"2026-05-01T{hour:02d}:00:00Z",
            end_time=f"2026-05-01T{hour:02d}:30:00Z",
            **extra,
        ),
    }


async def _post(
    client: httpx.AsyncClient, actor: Actor, operations: list[dict[str, Any]], **params: str
) -> httpx.Response:
    return await client.post(
        URL, json={"operations": operations}, headers=actor.headers, params=params
    )


async def test_all_operations_apply_with_event_refs(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    existing = await api.create(
        client,
        owner,
        title="Old",
        start_time="2026-06-01T10:00:00Z",
        end_time="2026-06-01T11:00:00Z",
    )
    response = await _post(
        client,
        owner,
        [
            _create(9, "Kickoff"),
            {"op": "update", "event_ref": 0, "changes": {"title": "Kickoff!", "version": 1}},
            {"op": "share", "event_ref": 0, "users": [{"username": "editor", "role": "editor"}]},
            {"op": "update", "event_id": existing["id"], "changes": {"location": "Room 2"}},
            {"op": "delete", "event_id": existing["id"]},
        ],
    )
    assert response.status_code == 200, response.text
    created, updated, permissions, moved, deleted = response.json()["results"]
    assert (created["title"], created["version"], created["my_role"]) == ("Kickoff", 1, "owner")
    assert created["conflicts"] == []
    assert (updated["id"], updated["title"], updated["version"]) == (created["id"], "Kickoff!", 2)
    assert [(p["user_id"], p["role"]) for p in permissions] == [
        (owner.id, "owner"),
        (editor.id, "editor"),
    ]
    assert (moved["location"], moved["version"]) == ("Room 2", 2)
    assert deleted == {"event_id": existing["id"], "deleted": True}

    # Side effects, as if each endpoint had been called.
    seen = await client.get(f"/api/events/{created['id']}", headers=editor.headers)
    assert (seen.json()["title"], seen.json()["my_role"]) == ("Kickoff!", "editor")
    assert_problem(await client.get(f"/api/events/{existing['id']}", headers=owner.headers), 404)
    actions = [
        i["action"] for i in (await client.get("/api/audit", headers=owner.headers)).json()["items"]
    ][:5]
    assert actions == ["event_deleted", "event_updated", "shared", "event_updated", "event_created"]
    editor_sync = await api.sync_page(client, editor)
    assert [c["event_id"] for c in editor_sync["changes"]] == [created["id"]]


async def test_failure_in_the_last_of_twenty_leaves_nothing_behind(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, stranger: Actor
) -> None:
    foreign = await api.create(client, stranger, title="Not yours")
    before = await api.count_rows(app, *TABLES)
    operations = [_create(hour % 24, f"E{hour}") for hour in range(19)]
    operations.append({"op": "update", "event_id": foreign["id"], "changes": {"title": "Mine"}})

    response = await _post(client, owner, operations, conflict_strategy="allow")

    problem = assert_problem(response, 404, "event-not-found")
    assert problem["index"] == 19
    assert problem["detail"].startswith("operation 19: ")
    assert await api.count_rows(app, *TABLES) == before
    assert (await client.get("/api/events", headers=owner.headers)).json()["items"] == []
    untouched = await client.get(f"/api/events/{foreign['id']}", headers=stranger.headers)
    assert (untouched.json()["title"], untouched.json()["version"]) == ("Not yours", 1)


async def test_body_validation_error_names_the_operation(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    before = await api.count_rows(app, *TABLES)
    operations = [_create(hour % 24) for hour in range(19)]
    operations.append({"op": "create", "event": api.payload(title="")})
    problem = assert_problem(await _post(client, owner, operations), 422, "validation-error")
    assert problem["index"] == 19
    assert problem["detail"] == "operation 19: title must not be empty"
    assert problem["errors"][0]["loc"] == ["body", "operations", 19, "event", "title"]

    unknown = assert_problem(
        await _post(client, owner, [_create(1), {"op": "frobnicate", "event_id": 1}]), 422
    )
    assert (unknown["index"], unknown["detail"][:13]) == (1, "operation 1: ")
    both = assert_problem(
        await _post(client, owner, [{"op": "delete", "event_id": 1, "event_ref": 0}]), 422
    )
    assert both["index"] == 0 and "exactly one of event_id or event_ref" in both["detail"]
    huge = assert_problem(
        await _post(client, owner, [_create(1), {"op": "delete", "event_id": 2**63}]), 422
    )
    assert huge["errors"][0]["loc"] == ["body", "operations", 1, "event_id"]
    assert await api.count_rows(app, *TABLES) == before


async def test_service_validation_error_points_into_the_operation(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    operations = [
        _create(8),
        {"op": "update", "event_ref": 0, "changes": {"end_time": "2026-05-01T07:00:00Z"}},
    ]
    problem = assert_problem(await _post(client, owner, operations), 422, "validation-error")
    assert problem["index"] == 1
    assert problem["detail"] == "operation 1: end_time must be after start_time"
    assert problem["errors"][0]["loc"] == ["body", "operations", 1, "changes", "end_time"]


async def test_event_ref_must_name_an_earlier_create(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    for operations, index in (
        ([{"op": "delete", "event_ref": 0}], 0),
        ([_create(1), {"op": "delete", "event_ref": 2}, _create(2)], 1),
        ([_create(1), {"op": "delete", "event_ref": 0}, {"op": "delete", "event_ref": 1}], 2),
    ):
        problem = assert_problem(await _post(client, owner, operations), 422, "validation-error")
        assert problem["index"] == index
        assert "earlier create operation" in problem["detail"]
        assert problem["errors"][0]["loc"] == ["body", "operations", index, "event_ref"]
    assert (await client.get("/api/events", headers=owner.headers)).json()["items"] == []


async def test_permissions_are_those_of_the_endpoints(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, viewer: Actor, stranger: Actor
) -> None:
    event = await api.create(client, owner)
    await api.share(client, owner, event["id"], viewer, "viewer")
    before = await api.count_rows(app, *TABLES)

    hidden = await _post(client, stranger, [_create(3), {"op": "delete", "event_id": event["id"]}])
    assert assert_problem(hidden, 404, "event-not-found")["index"] == 1
    low = await _post(
        client, viewer, [{"op": "update", "event_id": event["id"], "changes": {"title": "x"}}]
    )
    assert assert_problem(low, 403, "permission-denied")["index"] == 0
    share = await _post(
        client,
        viewer,
        [{"op": "share", "event_id": event["id"], "users": [{"user_id": 1, "role": "editor"}]}],
    )
    assert assert_problem(share, 403)["index"] == 0
    unknown_user = await _post(
        client,
        owner,
        [
            {
                "op": "share",
                "event_id": event["id"],
                "users": [{"username": "nobody", "role": "viewer"}],
            }
        ],
    )
    problem = assert_problem(unknown_user, 404, "user-not-found")
    assert problem["index"] == 0 and "nobody" in problem["detail"]
    assert await api.count_rows(app, *TABLES) == before


async def test_conflict_rules_apply_between_operations(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    before = await api.count_rows(app, *TABLES)
    clash = await _post(client, owner, [_create(10, "A"), _create(10, "B")])
    problem = assert_problem(clash, 409, "schedule-conflict")
    assert problem["index"] == 1
    assert [c["title"] for c in problem["conflicts"]] == ["A"]

    stale = await _post(
        client,
        owner,
        [
            _create(11),
            {"op": "update", "event_ref": 0, "changes": {"title": "one", "version": 1}},
            {"op": "update", "event_ref": 0, "changes": {"title": "two", "version": 1}},
        ],
    )
    problem = assert_problem(stale, 409, "version-conflict")
    assert (problem["index"], problem["current_version"]) == (2, 2)
    assert await api.count_rows(app, *TABLES) == before

    merged = await _post(
        client,
        owner,
        [
            _create(12),
            {"op": "update", "event_ref": 0, "changes": {"title": "one", "version": 1}},
            {
                "op": "update",
                "event_ref": 0,
                "changes": {"location": "here", "version": 1},
                "merge": True,
            },
        ],
    )
    assert merged.status_code == 200, merged.text
    last = merged.json()["results"][2]
    assert (last["title"], last["location"], last["version"]) == ("one", "here", 3)

    allowed = await _post(client, owner, [_create(12, "Overlap")], conflict_strategy="allow")
    assert allowed.status_code == 200
    assert [c["event_id"] for c in allowed.json()["results"][0]["conflicts"]] == [
        merged.json()["results"][0]["id"]
    ]
    shifted = await _post(client, owner, [_create(12, "Moved")], conflict_strategy="shift")
    assert shifted.json()["results"][0]["start_time"] == "2026-05-01T12:30:00Z"


async def test_limits_of_the_request(client: httpx.AsyncClient, owner: Actor) -> None:
    too_many = await _post(client, owner, [_create(i % 24) for i in range(101)])
    problem = assert_problem(too_many, 422, "validation-error")
    assert "index" not in problem
    assert problem["errors"][0]["loc"] == ["body", "operations"]
    assert_problem(await _post(client, owner, []), 422)
    assert_problem(await client.post(URL, json={}, headers=owner.headers), 422)
    exactly = await _post(
        client, owner, [_create(i % 24) for i in range(100)], conflict_strategy="allow"
    )
    assert exactly.status_code == 200, exactly.text
    assert len(exactly.json()["results"]) == 100
    assert_problem(await client.post(URL, json={"operations": [_create(1)]}), 401)


async def test_delete_then_update_in_one_transaction_is_404(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    event = await api.create(client, owner)
    before = await api.count_rows(app, *TABLES)
    response = await _post(
        client,
        owner,
        [
            {"op": "delete", "event_id": event["id"]},
            {"op": "update", "event_id": event["id"], "changes": {"title": "ghost"}},
        ],
    )
    assert assert_problem(response, 404)["index"] == 1
    assert await api.count_rows(app, *TABLES) == before
    still = await client.get(f"/api/events/{event['id']}", headers=owner.headers)
    assert still.status_code == 200


async def test_later_operations_see_an_earlier_move_in_their_conflict_checks(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    """An event this transaction created, then moved, is checked at its new time by the next
    operation's conflict check, and its old slot is free."""
    response = await _post(
        client,
        owner,
        [
            _create(10, "Moved"),
            {
                "op": "update",
                "event_ref": 0,
                "changes": {
                    "start_time": "2026-05-01T14:00:00Z",
                    "end_time": "2026-05-01T15:00:00Z",
                },
            },
            _create(14, "Overlaps the new slot"),
            _create(10, "Takes the old slot"),
        ],
        conflict_strategy="allow",
    )
    assert response.status_code == 200, response.text
    created, moved, overlapping, old_slot = response.json()["results"]
    assert (created["start_time"], created["version"]) == ("2026-05-01T10:00:00Z", 1)
    assert (moved["start_time"], moved["version"]) == ("2026-05-01T14:00:00Z", 2)
    assert [c["event_id"] for c in overlapping["conflicts"]] == [created["id"]]
    assert old_slot["conflicts"] == []


async def test_a_role_changed_twice_in_one_transaction_reads_back_as_written(
    client: httpx.AsyncClient, owner: Actor, editor: Actor
) -> None:
    """Two access changes of one user in one transaction (permission rows written through
    Core), each read back as written, audited in order."""
    event = await api.create(client, owner, title="Planning")
    share = {"op": "share", "event_id": event["id"]}
    response = await _post(
        client,
        owner,
        [
            {**share, "users": [{"username": "editor", "role": "viewer"}]},
            {**share, "users": [{"username": "editor", "role": "editor"}]},
        ],
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert [(p["user_id"], p["role"]) for p in first] == [
        (owner.id, "owner"),
        (editor.id, "viewer"),
    ]
    assert [(p["user_id"], p["role"]) for p in second] == [
        (owner.id, "owner"),
        (editor.id, "editor"),
    ]
    seen = await client.get(f"/api/events/{event['id']}", headers=editor.headers)
    assert seen.json()["my_role"] == "editor"
    actions = [
        i["action"] for i in (await client.get("/api/audit", headers=owner.headers)).json()["items"]
    ][:2]
    assert actions == ["permission_changed", "shared"]
