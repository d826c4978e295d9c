"""Reads issue a fixed number of SQL statements, however many items or collaborators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.events.conftest import EventFactory
from tests.helpers import Actor, register


@contextmanager
def counting(app: FastAPI) -> Iterator[list[str]]:
    """Collect the SQL statements the app runs inside the block, on every engine (the unit of
    work's and the one of ``Database.reads``)."""
    statements: list[str] = []
    engines = app.state.services.db.sync_engines

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def _statements(app: FastAPI, client: httpx.AsyncClient, path: str, actor: Actor) -> int:
    with counting(app) as statements:
        response = await client.get(path, headers=actor.headers)
    assert response.status_code == 200, response.text
    return len(statements)


async def test_list_page_does_not_grow_with_items(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    await make_event(owner, title="first")
    few = await _statements(app, client, "/api/events?limit=20", owner)
    for n in range(25):
        await make_event(owner, title=f"event {n}", recurrence_pattern="FREQ=WEEKLY;COUNT=3")
    many = await _statements(app, client, "/api/events?limit=20", owner)
    windowed = await _statements(
        app,
        client,
        "/api/events?limit=20&start_time=2026-03-01T00:00:00Z&end_time=2026-04-01T00:00:00Z",
        owner,
    )
    assert many == few
    assert windowed == few
    # One page query, which also proves the login session live (the page is full at the
    # first fetch).
    assert few == 1


async def test_event_read_does_not_grow_with_collaborators(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    created = await make_event(owner)
    path = f"/api/events/{created['id']}"
    alone = await _statements(app, client, path, owner)
    for n in range(10):
        friend = await register(client, f"friend{n}")
        shared = await client.post(
            f"{path}/share",
            headers=owner.headers,
            json={"users": [{"user_id": friend.id, "role": "viewer"}]},
        )
        assert shared.status_code == 200
    shared_with_ten = await _statements(app, client, path, owner)
    assert shared_with_ten == alone
    # The event with its permission list, in a statement that also proves the login session
    # live: one autocommit statement, no transaction around it.
    assert alone == 1
