"""Reads issue a fixed number of SQL statements, however many items or collaborators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from tests.conftest import BACKEND
from tests.events.conftest import EventFactory
from tests.helpers import Actor, each_statement, register

# A title change: the lock read, the UPDATE, the version, audit and feed rows; PostgreSQL
# also takes the caller's calendar lock, reads the audience after the row lock and takes the
# feed's advisory lock (through the session, not driver-direct).
UPDATE_STATEMENTS, UPDATE_DIRECT = {"sqlite": (5, 5), "postgres": (8, 7)}[BACKEND]


@dataclass
class Counted:
    """The SQL statements run in a ``counting`` block, and how many of them went driver-direct
    (``core.statements``, which fires no engine event)."""

    statements: list[str] = field(default_factory=list)
    direct: int = 0


@contextmanager
def counting(app: FastAPI) -> Iterator[Counted]:
    """Collect the SQL statements the app runs inside the block (``helpers.each_statement``)."""
    counted = Counted()

    def record(sql: str, direct: bool) -> None:
        counted.statements.append(sql)
        counted.direct += direct

    with each_statement(app, record):
        yield counted


def _fast(app: FastAPI) -> bool:
    return bool(app.state.services.settings.fast_path == "on")


async def _statements(app: FastAPI, client: httpx.AsyncClient, path: str, actor: Actor) -> int:
    with counting(app) as counted:
        response = await client.get(path, headers=actor.headers)
    assert response.status_code == 200, response.text
    # The count is production's: with the fast path on, these reads run driver-direct.
    assert counted.direct == (len(counted.statements) if _fast(app) else 0)
    return len(counted.statements)


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


async def test_an_update_counts_the_statements_production_runs(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    """A title change with ``If-Match``: the lock read, the UPDATE and the rows it appends
    (version, audit, feed), counted on the path production runs (the write statements go
    driver-direct when the fast path is on)."""
    created = await make_event(owner)
    path = f"/api/events/{created['id']}"
    headers = {**owner.headers, "If-Match": f'"{created["id"]}-{created["version"]}"'}
    with counting(app) as counted:
        response = await client.put(path, headers=headers, json={"title": "renamed"})
    assert response.status_code == 200, response.text
    assert len(counted.statements) == UPDATE_STATEMENTS, counted.statements
    assert counted.direct == (UPDATE_DIRECT if _fast(app) else 0)
