"""API helpers of the sync, audit and transaction tests: event writes and a sync client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from calendo.core.db import Base
from calendo.core.uow import UnitOfWork
from tests.helpers import Actor


def payload(**overrides: Any) -> dict[str, Any]:
    """An EventCreate body."""
    body: dict[str, Any] = {
        "title": "Standup",
        "start_time": "2026-03-20T10:00:00Z",
        "end_time": "2026-03-20T10:30:00Z",
    }
    body.update(overrides)
    return body


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def create(client: httpx.AsyncClient, actor: Actor, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/events",
        json=payload(**overrides),
        headers=actor.headers,
        params={"conflict_strategy": "allow"},
    )
    body: dict[str, Any] = _ok(response, 201)
    return body


async def update(
    client: httpx.AsyncClient, actor: Actor, event_id: int, **changes: Any
) -> dict[str, Any]:
    response = await client.put(
        f"/api/events/{event_id}",
        json=changes,
        headers=actor.headers,
        params={"conflict_strategy": "allow"},
    )
    body: dict[str, Any] = _ok(response)
    return body


async def share(
    client: httpx.AsyncClient, actor: Actor, event_id: int, user: Actor, role: str = "viewer"
) -> None:
    response = await client.post(
        f"/api/events/{event_id}/share",
        json={"users": [{"user_id": user.id, "role": role}]},
        headers=actor.headers,
    )
    _ok(response)


async def unshare(client: httpx.AsyncClient, actor: Actor, event_id: int, user: Actor) -> None:
    response = await client.delete(
        f"/api/events/{event_id}/permissions/{user.id}", headers=actor.headers
    )
    _ok(response, 204)


async def delete(client: httpx.AsyncClient, actor: Actor, event_id: int) -> None:
    _ok(await client.delete(f"/api/events/{event_id}", headers=actor.headers), 204)


async def restore(client: httpx.AsyncClient, actor: Actor, event_id: int) -> None:
    response = await client.post(
        f"/api/events/{event_id}/restore",
        headers=actor.headers,
        params={"conflict_strategy": "allow"},
    )
    _ok(response)


async def calendar(client: httpx.AsyncClient, actor: Actor) -> dict[int, dict[str, Any]]:
    """Every event of ``GET /api/events``, all pages, by id."""
    events: dict[int, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = _ok(await client.get("/api/events", params=params, headers=actor.headers))
        events.update({e["id"]: e for e in page["items"]})
        if page["next_cursor"] is None:
            return events
        params["cursor"] = page["next_cursor"]


async def sync_page(
    client: httpx.AsyncClient, actor: Actor, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if cursor is not None:
        params["cursor"] = cursor
    if limit is not None:
        params["limit"] = limit
    body: dict[str, Any] = _ok(await client.get("/api/sync", params=params, headers=actor.headers))
    return body


@dataclass
class SyncClient:
    """A device keeping a local copy of one user's calendar through ``GET /api/sync``."""

    actor: Actor
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    cursor: str | None = None
    pages: int = 0

    def apply(self, page: dict[str, Any]) -> None:
        for change in page["changes"]:
            if change["change"] == "upsert":
                assert change["event"]["id"] == change["event_id"]
                self.events[change["event_id"]] = change["event"]
            else:
                assert change["event"] is None
                self.events.pop(change["event_id"], None)
        self.cursor = page["next_cursor"]
        self.pages += 1

    async def pull(self, client: httpx.AsyncClient, limit: int | None = None) -> None:
        """Apply pages until ``has_more`` is false."""
        while True:
            page = await sync_page(client, self.actor, self.cursor, limit)
            ids = [c["event_id"] for c in page["changes"]]
            assert len(ids) == len(set(ids)), "one entry per event per page"
            self.apply(page)
            if not page["has_more"]:
                return


async def count_rows(app: FastAPI, *tables: type[Base]) -> dict[str, int]:
    """Row counts of the given tables."""
    counts: dict[str, int] = {}
    async with UnitOfWork.read(app.state.services.db) as session:
        for table in tables:
            counts[table.__tablename__] = (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return counts
