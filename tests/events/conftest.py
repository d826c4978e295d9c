"""Event factories, and reading an event back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.helpers import Actor

EventFactory = Callable[..., Awaitable[dict[str, Any]]]
# An all-day weekly series: Thursdays 12, 19, 26 March and 2 April 2026, one day each.
CAMP = {
    "all_day": True,
    "start_time": None,
    "end_time": None,
    "start_date": "2026-03-12",
    "recurrence_pattern": "FREQ=WEEKLY;COUNT=4",
}


def event_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Standup",
        "start_time": "2026-03-20T10:00:00Z",
        "end_time": "2026-03-20T10:30:00Z",
    }
    body.update(overrides)
    return body


async def read_event(client: httpx.AsyncClient, actor: Actor, event_id: int) -> dict[str, Any]:
    """The event's body as ``actor`` reads it (200 asserted)."""
    response = await client.get(f"/api/events/{event_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def make_event(client: httpx.AsyncClient) -> EventFactory:
    async def make(actor: Actor, **overrides: Any) -> dict[str, Any]:
        params = {"conflict_strategy": overrides.pop("strategy", "allow")}
        response = await client.post(
            "/api/events", json=event_payload(**overrides), headers=actor.headers, params=params
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return make


@pytest.fixture
async def shared_event(
    client: httpx.AsyncClient, make_event: EventFactory, owner: Actor, editor: Actor, viewer: Actor
) -> dict[str, Any]:
    """An event of ``owner`` shared with ``editor`` and ``viewer``."""
    event = await make_event(owner)
    response = await client.post(
        f"/api/events/{event['id']}/share",
        json={
            "users": [
                {"user_id": editor.id, "role": "editor"},
                {"username": "viewer", "role": "viewer"},
            ]
        },
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return event
