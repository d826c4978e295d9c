"""Races on one event, on SQLite and on PostgreSQL: optimistic concurrency, conflict checks,
and sharing interleaved with edits must leave one consistent story.

Defences: the conditional ``UPDATE ... WHERE version = :seen`` (``version_id_col``), the event
row read ``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` for writes on SQLite
(``core/db.py``), and the per-user lock taken before a conflict check.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest

from calendo.core.config import Settings
from tests.conftest import make_settings
from tests.helpers import Actor, assert_problem, register
from tests.security.support import guarded

PARALLEL = 50


async def gather(*calls: Awaitable[httpx.Response]) -> list[httpx.Response]:
    """Run requests concurrently, under one hang guard."""

    async def run() -> list[httpx.Response]:
        return list(await asyncio.gather(*calls))

    return await guarded(run(), seconds=60)


async def history(client: httpx.AsyncClient, actor: Actor, event_id: int) -> list[dict[str, Any]]:
    """Every version summary, oldest first (follows the cursor)."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        response = await client.get(
            f"/api/events/{event_id}/history", params=params, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        if not body["next_cursor"]:
            return list(reversed(items))
        params["cursor"] = body["next_cursor"]


async def changelog(client: httpx.AsyncClient, actor: Actor, event_id: int) -> list[dict[str, Any]]:
    """The whole changelog, oldest first."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        response = await client.get(
            f"/api/events/{event_id}/changelog", params=params, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        if not body["next_cursor"]:
            return items
        params["cursor"] = body["next_cursor"]


async def snapshot(
    client: httpx.AsyncClient, actor: Actor, event_id: int, n: int
) -> dict[str, Any]:
    """The content of version ``n``."""
    response = await client.get(f"/api/events/{event_id}/history/{n}", headers=actor.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["snapshot"]
    return result


def assert_contiguous(versions: list[dict[str, Any]]) -> None:
    """Versions are 1, 2, 3 ... with no gap or repeat."""
    assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))


async def test_parallel_puts_with_one_if_match_let_exactly_one_win(
    client: httpx.AsyncClient, owner: Actor, make_event: Any
) -> None:
    event = await make_event(owner)
    url, tag = f"/api/events/{event['id']}", f'"{event["id"]}-1"'
    responses = await gather(
        *(
            client.put(url, json={"title": f"T{n}"}, headers={**owner.headers, "If-Match": tag})
            for n in range(PARALLEL)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 412: PARALLEL - 1}, statuses
    for response in responses:
        if response.status_code == 412:
            assert_problem(response, 412)
    winner = next(r.json() for r in responses if r.status_code == 200)
    versions = await history(client, owner, event["id"])
    assert_contiguous(versions)
    assert len(versions) == 2 and winner["version"] == 2
    assert (await snapshot(client, owner, event["id"], 2))["title"] == winner["title"]
    current = (await client.get(url, headers=owner.headers)).json()
    assert (current["title"], current["version"]) == (winner["title"], 2)


async def test_parallel_puts_with_one_version_field_let_exactly_one_win(
    client: httpx.AsyncClient, owner: Actor, make_event: Any
) -> None:
    event = await make_event(owner)
    url = f"/api/events/{event['id']}"
    responses = await gather(
        *(
            client.put(url, json={"title": f"T{n}", "version": 1}, headers=owner.headers)
            for n in range(PARALLEL)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: PARALLEL - 1}, statuses
    assert_contiguous(await history(client, owner, event["id"]))


async def test_parallel_unconditional_puts_lose_nothing(
    client: httpx.AsyncClient, owner: Actor, make_event: Any
) -> None:
    event = await make_event(owner)
    url = f"/api/events/{event['id']}"
    texts = [f"edit {n}" for n in range(PARALLEL)]
    responses = await gather(
        *(client.put(url, json={"description": text}, headers=owner.headers) for text in texts)
    )
    assert [r.status_code for r in responses] == [200] * PARALLEL, [r.text for r in responses]
    assert sorted(r.json()["version"] for r in responses) == list(range(2, PARALLEL + 2))
    versions = await history(client, owner, event["id"])
    assert_contiguous(versions)
    stored = [(await snapshot(client, owner, event["id"], n))["description"] for n in range(2, 52)]
    assert sorted(stored) == sorted(texts)
    by_version = {r.json()["version"]: r.json()["description"] for r in responses}
    assert [by_version[n] for n in range(2, PARALLEL + 2)] == stored


async def test_parallel_conflicting_creates_under_reject_admit_one(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    body = {
        "title": "Slot",
        "start_time": "2026-05-04T09:00:00Z",
        "end_time": "2026-05-04T10:00:00Z",
    }
    responses = await gather(
        *(client.post("/api/events", json=body, headers=owner.headers) for _ in range(20))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 19}, statuses
    for response in responses:
        if response.status_code == 409:
            assert assert_problem(response, 409)["conflicts"]
    listing = await client.get("/api/events", headers=owner.headers)
    assert len(listing.json()["items"]) == 1


async def test_parallel_batches_and_creates_under_reject_admit_one(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    slot = {
        "title": "Slot",
        "start_time": "2026-05-05T09:00:00Z",
        "end_time": "2026-05-05T10:00:00Z",
    }
    calls = [client.post("/api/events", json=slot, headers=owner.headers) for _ in range(5)]
    calls += [
        client.post("/api/events/batch", json={"events": [slot]}, headers=owner.headers)
        for _ in range(5)
    ]
    calls += [
        client.post(
            "/api/transactions",
            json={"operations": [{"op": "create", "event": slot}]},
            headers=owner.headers,
        )
        for _ in range(5)
    ]
    statuses = Counter(r.status_code for r in await gather(*calls))
    assert statuses[409] == 14 and statuses[200] + statuses[201] == 1, statuses
    listing = await client.get("/api/events", headers=owner.headers)
    assert len(listing.json()["items"]) == 1


async def test_parallel_shares_of_one_user_record_one_grant(
    client: httpx.AsyncClient, owner: Actor, viewer: Actor, make_event: Any
) -> None:
    event = await make_event(owner)
    share = {"users": [{"user_id": viewer.id, "role": "viewer"}]}
    url = f"/api/events/{event['id']}/share"
    responses = await gather(
        *(client.post(url, json=share, headers=owner.headers) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    log = await changelog(client, owner, event["id"])
    assert [e["action"] for e in log if e["version"] is None] == ["shared"]
    permissions = await client.get(f"/api/events/{event['id']}/permissions", headers=owner.headers)
    assert sorted(p["user_id"] for p in permissions.json()) == sorted([owner.id, viewer.id])


def _replay_sharing(log: list[dict[str, Any]], names: dict[str, int]) -> dict[int, str]:
    """The permission state the changelog's sharing entries describe, in their order."""
    state: dict[int, str] = {}
    for entry in log:
        summary = entry["summary"]
        if entry["action"] == "shared":
            name, role = summary.removeprefix("shared with ").rsplit(" as ", 1)
            assert names[name] not in state, f"shared twice without unshare: {summary}"
            state[names[name]] = role
        elif entry["action"] == "permission_changed":
            name, rest = summary.removeprefix("changed ").split("'s role from ", 1)
            old, new = rest.split(" to ")
            assert state.get(names[name]) == old, f"contradiction: {summary} but {state}"
            state[names[name]] = new
        elif entry["action"] == "unshared":
            name = summary.removeprefix("removed ").removesuffix("'s access")
            assert names[name] in state, f"removed someone without access: {summary}"
            del state[names[name]]
    return state


async def _collaborator_story(
    client: httpx.AsyncClient, owner: Actor, event_id: int, user: Actor, keep: bool
) -> None:
    """Share as viewer, promote to editor, edit, and (unless ``keep``) remove: one user's story."""
    base = f"/api/events/{event_id}"
    shared = await client.post(
        f"{base}/share",
        json={"users": [{"user_id": user.id, "role": "viewer"}]},
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
    promoted = await client.put(
        f"{base}/permissions/{user.id}", json={"role": "editor"}, headers=owner.headers
    )
    assert promoted.status_code == 200, promoted.text
    edited = await client.put(
        base, json={"location": f"room of {user.username}"}, headers=user.headers
    )
    assert edited.status_code == 200, edited.text
    if not keep:
        removed = await client.delete(f"{base}/permissions/{user.id}", headers=owner.headers)
        assert removed.status_code == 204, removed.text


async def test_sharing_and_edits_interleaved_tell_one_story(
    client: httpx.AsyncClient, owner: Actor, make_event: Any
) -> None:
    event = await make_event(owner)
    users = [await register(client, f"collab{n}") for n in range(6)]
    edits = [
        client.put(
            f"/api/events/{event['id']}", json={"title": f"Owner edit {n}"}, headers=owner.headers
        )
        for n in range(10)
    ]

    stories = [
        _collaborator_story(client, owner, event["id"], user, keep=n % 2 == 0)
        for n, user in enumerate(users)
    ]
    results = await guarded(asyncio.gather(*edits, *stories), seconds=60)
    owner_edits = [r for r in results if isinstance(r, httpx.Response)]
    assert [r.status_code for r in owner_edits] == [200] * len(edits), [r.text for r in owner_edits]

    names = {u.username: u.id for u in users}
    permissions = await client.get(f"/api/events/{event['id']}/permissions", headers=owner.headers)
    actual = {p["user_id"]: p["role"] for p in permissions.json() if p["role"] != "owner"}
    expected = {u.id: "editor" for n, u in enumerate(users) if n % 2 == 0}
    assert actual == expected

    log = await changelog(client, owner, event["id"])
    assert _replay_sharing([e for e in log if e["version"] is None], names) == expected
    versions = await history(client, owner, event["id"])
    assert_contiguous(versions)
    assert len(versions) == 1 + len(edits) + len(users)
    assert [e["version"] for e in log if e["version"] is not None] == list(
        range(1, len(versions) + 1)
    )
    authors = Counter(v["author"]["username"] for v in versions[1:])
    assert authors == {owner.username: 10, **{u.username: 1 for u in users}}


async def test_edits_racing_with_revocation_never_half_happen(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, shared_event: dict[str, Any]
) -> None:
    url = f"/api/events/{shared_event['id']}"
    edits = [
        client.put(url, json={"description": f"editor {n}"}, headers=editor.headers)
        for n in range(15)
    ]
    revoke = client.delete(f"{url}/permissions/{editor.id}", headers=owner.headers)
    responses = await gather(*edits[:7], revoke, *edits[7:])
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 204, 404}, [r.text for r in responses]
    assert statuses[204] == 1
    accepted = sorted(r.json()["version"] for r in responses if r.status_code == 200)
    versions = await history(client, owner, shared_event["id"])
    assert_contiguous(versions)
    by_editor = [v["version"] for v in versions if v["author"]["id"] == editor.id]
    assert by_editor == accepted
    after = await client.put(url, json={"description": "late"}, headers=editor.headers)
    assert_problem(after, 404)


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """A larger pool, so 50 parallel requests measure locking rather than pool waits."""
    return make_settings(database_url, redis_url, db_pool_size=20)
