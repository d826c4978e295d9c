"""Writes that touch the same rows in different orders must never deadlock (PostgreSQL).

Calendo takes its locks in one global order (``docs/architecture.md``, "Lock order"): the
caller's calendar lock, then event rows by ascending id, then the sync feed's advisory lock;
every row lock is ``FOR NO KEY UPDATE``, so the foreign-key checks of the rows a write appends
(``FOR KEY SHARE`` on the user and the event) never wait for it. Each test here runs writes
that used to deadlock in parallel and asserts that none of them answers 5xx and that every
acknowledged write is in the history. SQLite serialises writers, so there they pin the same
answers without any lock wait.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from calendo.core.config import Settings
from tests.conftest import make_settings
from tests.helpers import Actor
from tests.reliability.test_concurrency import assert_contiguous, gather, history

ROUNDS = 30


def _slot(n: int) -> dict[str, Any]:
    """A free hour on day ``n`` of a month of its own (no conflict with anything)."""
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    return {
        "title": f"Free {n}",
        "start_time": f"2027-{month:02d}-{day:02d}T08:00:00Z",
        "end_time": f"2027-{month:02d}-{day:02d}T09:00:00Z",
    }


def _no_server_errors(responses: list[httpx.Response]) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    assert all(status < 500 for status in statuses), [
        r.text for r in responses if r.status_code >= 500
    ]
    return statuses


async def test_creates_beside_an_editors_renames_never_fail(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, shared_event: dict[str, Any]
) -> None:
    """The issue's reproduction: the owner creates while the editor renames the shared event."""
    url = f"/api/events/{shared_event['id']}"
    calls = []
    for n in range(ROUNDS):
        calls.append(client.post("/api/events", json=_slot(n), headers=owner.headers))
        calls.append(client.patch(url, json={"title": f"Renamed {n}"}, headers=editor.headers))
    responses = await gather(*calls)
    statuses = _no_server_errors(responses)
    assert statuses == {201: ROUNDS, 200: ROUNDS}, statuses
    versions = await history(client, owner, shared_event["id"])
    assert_contiguous(versions)
    # Version 1 is the create; one more per rename (the share records no version).
    assert len(versions) == 1 + ROUNDS
    listing = await client.get("/api/events", params={"limit": 100}, headers=owner.headers)
    assert len(listing.json()["items"]) == 1 + ROUNDS


async def test_mixed_writers_on_shared_events_never_fail(
    client: httpx.AsyncClient,
    owner: Actor,
    editor: Actor,
    viewer: Actor,
    make_event: Any,
    shared_event: dict[str, Any],
) -> None:
    """Creates, moves, shares, unshares, deletes and restores of the same users and events."""
    url = f"/api/events/{shared_event['id']}"
    spare = await make_event(
        owner, start_time="2027-06-01T10:00:00Z", end_time="2027-06-01T11:00:00Z"
    )
    spare_url = f"/api/events/{spare['id']}"
    calls = []
    for n in range(10):
        calls.append(client.post("/api/events", json=_slot(n), headers=owner.headers))
        calls.append(client.post("/api/events", json=_slot(100 + n), headers=editor.headers))
        calls.append(client.patch(url, json={"title": f"E{n}"}, headers=editor.headers))
        moved = {
            "start_time": f"2027-08-{n + 1:02d}T10:00:00Z",
            "end_time": f"2027-08-{n + 1:02d}T11:00:00Z",
        }
        calls.append(client.patch(url, json=moved, headers=editor.headers))
        share = {"users": [{"user_id": viewer.id, "role": "viewer"}]}
        calls.append(client.post(f"{spare_url}/share", json=share, headers=owner.headers))
        calls.append(client.delete(f"{spare_url}/permissions/{viewer.id}", headers=owner.headers))
        calls.append(client.delete(spare_url, headers=owner.headers))
        calls.append(client.post(f"{spare_url}/restore", headers=owner.headers))
    responses = await gather(*calls)
    statuses = _no_server_errors(responses)
    # Unshare of a missing grant is 404; a delete of a deleted event 404; a restore of a live
    # one 409: the races decide which, never a 5xx.
    assert set(statuses) <= {200, 201, 204, 404, 409}, statuses
    assert_contiguous(await history(client, owner, shared_event["id"]))
    assert_contiguous(await history(client, owner, spare["id"]))


async def test_transactions_naming_events_in_opposite_orders_never_fail(
    client: httpx.AsyncClient, owner: Actor, editor: Actor, make_event: Any
) -> None:
    """Two transactions that update the same two events, one in each order."""
    first = await make_event(
        owner, start_time="2027-09-01T10:00:00Z", end_time="2027-09-01T11:00:00Z"
    )
    second = await make_event(
        owner, start_time="2027-09-02T10:00:00Z", end_time="2027-09-02T11:00:00Z"
    )
    for event in (first, second):
        shared = await client.post(
            f"/api/events/{event['id']}/share",
            json={"users": [{"user_id": editor.id, "role": "editor"}]},
            headers=owner.headers,
        )
        assert shared.status_code == 200, shared.text

    def transaction(ids: list[int], text: str) -> dict[str, Any]:
        changes = {"description": text}
        return {"operations": [{"op": "update", "event_id": i, "changes": changes} for i in ids]}

    calls = []
    for n in range(ROUNDS // 2):
        forward, backward = [first["id"], second["id"]], [second["id"], first["id"]]
        calls.append(
            client.post(
                "/api/transactions", json=transaction(forward, f"owner {n}"), headers=owner.headers
            )
        )
        calls.append(
            client.post(
                "/api/transactions",
                json=transaction(backward, f"editor {n}"),
                headers=editor.headers,
            )
        )
    responses = await gather(*calls)
    statuses = _no_server_errors(responses)
    assert statuses == {200: ROUNDS - ROUNDS % 2}, statuses
    for event in (first, second):
        versions = await history(client, owner, event["id"])
        assert_contiguous(versions)
        assert len(versions) == 1 + ROUNDS - ROUNDS % 2


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """A pool as large as the parallel requests, so they meet at the locks, not the pool."""
    return make_settings(database_url, redis_url, db_pool_size=30)
