"""``core.uow.UnitOfWork``: the three ways a transaction opens, and its typed state.

- a read unit refuses writes and never commits one;
- a write unit commits before the route's response starts, and its after-commit hooks run only
  once the commit succeeded (never after a rollback);
- an independent unit commits on its own, even when the request around it rolls back.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message, Receive, Scope, Send

from calendo.audit.models import AuditEntry
from calendo.audit.service import entries_step, entry
from calendo.auth.models import User
from calendo.core.db import Database
from calendo.core.uow import ReadOnlyUnit, Step, UnitOfWork, commit_order_steps, run_steps
from calendo.events.models import Event
from tests.events.conftest import EventFactory
from tests.helpers import Actor

_NAME = select(User.username).where(User.id == bindparam("user_id"))
_RENAME = update(User).where(User.id == bindparam("user_id")).values(username=bindparam("new"))
_TITLE = select(Event.title).where(Event.id == bindparam("event_id"))


def _db(app: FastAPI) -> Database:
    db: Database = app.state.services.db
    return db


async def _username(db: Database, user_id: int) -> str:
    """The committed username, read outside any unit of work."""
    rows = await db.reads.all(_NAME, {"user_id": user_id})
    return str(rows[0].username)


async def _audit_actions(db: Database, user_id: int) -> list[str]:
    async with UnitOfWork.read(db) as unit:
        query = select(AuditEntry.action).where(AuditEntry.subject_user_id == user_id)
        return list((await unit.scalars(query)).all())


def _audit_step(user_id: int) -> Step:
    return entries_step(
        [entry(action="independent_record", actor_id=None, subject_user_id=user_id)]
    )


async def _noop() -> None:
    """An after-commit hook that does nothing."""


# A read unit.


async def test_a_read_unit_refuses_a_flush_and_never_commits_a_statement(
    app: FastAPI, owner: Actor
) -> None:
    db = _db(app)
    async with UnitOfWork.read(db) as unit:
        user = await unit.get(User, owner.id)
        assert user is not None
        user.username = "changed-by-a-read"
        with pytest.raises(ReadOnlyUnit):
            await unit.flush()
    async with UnitOfWork.read(db) as unit:
        # A Core statement runs, but the unit ends with a rollback: nothing of it stays.
        await unit.execute(_RENAME, {"user_id": owner.id, "new": "written-in-a-read"})
    assert await _username(db, owner.id) == owner.username


async def test_a_read_unit_takes_no_hook_no_appending_write_and_no_commit_order_lock(
    app: FastAPI, owner: Actor
) -> None:
    async with UnitOfWork.read(_db(app)) as unit:
        assert not unit.writes
        with pytest.raises(ReadOnlyUnit):
            unit.after_commit(_noop)
        with pytest.raises(ReadOnlyUnit):
            await run_steps(unit, [Step(_RENAME, {"user_id": owner.id, "new": "x"})])
        with pytest.raises(ReadOnlyUnit):
            commit_order_steps(unit)


# A write unit.


async def test_a_write_unit_commits_before_its_hooks_run(app: FastAPI, owner: Actor) -> None:
    db = _db(app)
    seen_by_hook: list[str] = []

    async def hook() -> None:
        seen_by_hook.append(await _username(db, owner.id))

    async with UnitOfWork.write(db) as unit:
        await unit.execute(_RENAME, {"user_id": owner.id, "new": "renamed"})
        unit.after_commit(hook)
        assert seen_by_hook == []
    assert seen_by_hook == ["renamed"]
    assert unit.hooks == []


async def test_a_rolled_back_write_unit_runs_no_hook_and_keeps_nothing(
    app: FastAPI, owner: Actor
) -> None:
    db = _db(app)
    ran: list[str] = []

    async def hook() -> None:
        ran.append("published")

    with pytest.raises(RuntimeError):
        async with UnitOfWork.write(db) as unit:
            await unit.execute(_RENAME, {"user_id": owner.id, "new": "never"})
            unit.after_commit(hook)
            raise RuntimeError("the request failed")
    assert ran == []
    assert await _username(db, owner.id) == owner.username


async def test_the_state_is_typed_on_the_unit_and_a_rollback_drops_it(app: FastAPI) -> None:
    async with UnitOfWork.write(_db(app)) as unit:
        unit.after_commit(_noop)
        unit.locked_calendars.add(7)
        unit.commit_order_locked = True
        # The synchronous session inside run_sync reaches the same unit.
        assert await unit.run_sync(UnitOfWork.of) is unit
        await unit.rollback()  # the locks are released, the hooks must not run
        assert (unit.hooks, unit.locked_calendars, unit.commit_order_locked) == ([], set(), False)


async def test_a_session_opened_another_way_has_no_unit_of_work(app: FastAPI) -> None:
    async with AsyncSession(_db(app).engine) as session:
        with pytest.raises(TypeError):
            UnitOfWork.of(session)


async def test_a_write_route_commits_before_its_response_starts(
    app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    db = _db(app)
    event = await make_event(owner)
    seen_at_start: list[Any] = []

    async def spying(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_and_look(message: Message) -> None:
            if message["type"] == "http.response.start":
                async with UnitOfWork.read(db) as unit:
                    seen_at_start.append(await unit.scalar(_TITLE, {"event_id": event["id"]}))
            await send(message)

        await app(scope, receive, send_and_look)

    transport = httpx.ASGITransport(app=spying)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.put(
            f"/api/events/{event['id']}", json={"title": "Committed"}, headers=owner.headers
        )
    assert response.status_code == 200, response.text
    assert seen_at_start == ["Committed"]


# An independent unit.


async def test_an_independent_unit_commits_even_when_the_request_rolls_back(
    app: FastAPI, owner: Actor
) -> None:
    db = _db(app)
    with pytest.raises(RuntimeError):
        async with UnitOfWork.write(db) as request_unit:
            async with UnitOfWork.independent(db) as independent:
                await run_steps(independent, [_audit_step(owner.id)])
            await request_unit.execute(_RENAME, {"user_id": owner.id, "new": "rolled-back"})
            raise RuntimeError("the request failed")
    assert await _username(db, owner.id) == owner.username
    assert "independent_record" in await _audit_actions(db, owner.id)


async def test_a_failed_login_keeps_its_audit_row_through_the_401(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.post(
        "/api/auth/login", json={"username": owner.username, "password": "wrong-password"}
    )
    assert response.status_code == 401
    assert "login_failed" in await _audit_actions(_db(app), owner.id)
