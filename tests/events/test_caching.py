"""The occurrence cache: keyed by version, and never a way around the access check."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calendo.calendar import recurrence
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem

WINDOW = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-05-01T00:00:00Z"}


@pytest.fixture
def expansions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count series expansions (the work the occurrence cache saves); writes expand too."""
    calls: list[int] = []
    real = recurrence.expand

    def counting(*args: Any, **kwargs: Any) -> recurrence.Expansion:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(recurrence, "expand", counting)
    return calls


async def occurrence_starts(
    client: httpx.AsyncClient, actor: Actor, event: dict[str, Any]
) -> list[str]:
    response = await client.get(
        f"/api/events/{event['id']}/occurrences", params=WINDOW, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return [item["occurrence_start"] for item in response.json()["items"]]


async def test_same_version_is_served_from_cache_a_write_is_seen_at_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    make_event: EventFactory,
    owner: Actor,
    expansions: list[int],
) -> None:
    event = await make_event(owner, recurrence_pattern="FREQ=WEEKLY;COUNT=3")
    expansions.clear()
    first = await occurrence_starts(client, owner, event)
    assert first == ["2026-03-20T10:00:00Z", "2026-03-27T10:00:00Z", "2026-04-03T10:00:00Z"]
    assert len(expansions) == 1
    assert await occurrence_starts(client, owner, event) == first
    assert len(expansions) == 1  # cache hit

    response = await client.put(
        f"/api/events/{event['id']}",
        json={"recurrence_pattern": "FREQ=DAILY;COUNT=2"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    expansions.clear()
    assert await occurrence_starts(client, owner, event) == [
        "2026-03-20T10:00:00Z",
        "2026-03-21T10:00:00Z",
    ]
    assert len(expansions) == 1  # the new version missed the cache


async def test_a_title_change_keeps_occurrences_correct(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, recurrence_pattern="FREQ=DAILY;COUNT=2")
    before = await occurrence_starts(client, owner, event)
    await client.put(f"/api/events/{event['id']}", json={"title": "New"}, headers=owner.headers)
    moved = await client.put(
        f"/api/events/{event['id']}",
        json={"start_time": "2026-03-20T12:00:00Z", "end_time": "2026-03-20T12:30:00Z"},
        headers=owner.headers,
    )
    assert moved.status_code == 200
    after = await occurrence_starts(client, owner, event)
    assert before == ["2026-03-20T10:00:00Z", "2026-03-21T10:00:00Z"]
    assert after == ["2026-03-20T12:00:00Z", "2026-03-21T12:00:00Z"]


async def test_revoked_collaborator_is_refused_despite_the_cache(
    client: httpx.AsyncClient,
    shared_event: dict[str, Any],
    owner: Actor,
    viewer: Actor,
    stranger: Actor,
    expansions: list[int],
) -> None:
    expansions.clear()
    assert await occurrence_starts(client, viewer, shared_event) == ["2026-03-20T10:00:00Z"]
    assert await occurrence_starts(client, owner, shared_event) == ["2026-03-20T10:00:00Z"]
    assert len(expansions) == 1  # the owner was served the viewer's cached entry

    revoked = await client.delete(
        f"/api/events/{shared_event['id']}/permissions/{viewer.id}", headers=owner.headers
    )
    assert revoked.status_code == 204
    path = f"/api/events/{shared_event['id']}/occurrences"
    assert_problem(await client.get(path, params=WINDOW, headers=viewer.headers), 404)
    assert_problem(await client.get(path, params=WINDOW, headers=stranger.headers), 404)
    assert await occurrence_starts(client, owner, shared_event) == ["2026-03-20T10:00:00Z"]


async def test_deleted_event_occurrences_are_gone(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor
) -> None:
    event = await make_event(owner, recurrence_pattern="FREQ=DAILY;COUNT=2")
    assert len(await occurrence_starts(client, owner, event)) == 2
    assert (
        await client.delete(f"/api/events/{event['id']}", headers=owner.headers)
    ).status_code == 204
    path = f"/api/events/{event['id']}/occurrences"
    assert_problem(await client.get(path, params=WINDOW, headers=owner.headers), 404)
