"""``events.access.lock_event``: the locked event, its caller's role and its audience."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Table, select, update

from calendo.core.db import Database
from calendo.core.errors import NotAuthenticated
from calendo.core.uow import UnitOfWork
from calendo.events import access, repository
from calendo.events.models import EVENT_TABLE, Event
from calendo.events.state import EventState
from calendo.sharing.models import Permission
from tests.events.conftest import EventFactory
from tests.helpers import Actor


async def test_the_locked_event_is_a_frozen_state_not_an_orm_object(
    app: FastAPI, owner: Actor, make_event: EventFactory
) -> None:
    created = await make_event(owner, title="Plain")
    db: Database = app.state.services.db
    async with UnitOfWork.write(db) as session:
        found = await access.lock_event(
            session, user_id=owner.id, event_id=created["id"], minimum="owner"
        )
        assert isinstance(found.event, EventState)  # nothing a flush could write by accident
        with pytest.raises(FrozenInstanceError):
            found.event.title = "Changed in place"  # type: ignore[misc]
        assert (found.event.title, found.event.version, found.role) == ("Plain", 1, "owner")
        assert found.event.start_time.tzinfo is not None
        assert found.audience == {owner.id: "owner"}
        assert not session.identity_map  # the lock loaded no ORM object


async def test_the_lock_and_later_reads_see_the_row_not_a_stale_loaded_object(
    app: FastAPI, owner: Actor, make_event: EventFactory
) -> None:
    """An event the unit of work loaded earlier and then changed through Core (as every event
    write does) reads as the row is: under the lock, and through the scoped reads after it."""
    created = await make_event(owner, title="Before")
    db: Database = app.state.services.db
    async with UnitOfWork.write(db) as session:
        held = (await session.execute(select(Event).where(Event.id == created["id"]))).scalar_one()
        # A Core UPDATE, as event writes are: the ORM's bulk update would refresh ``held``.
        await session.execute(
            update(EVENT_TABLE)
            .where(EVENT_TABLE.c.id == created["id"])
            .values(title="Behind the ORM")
        )
        found = await access.lock_event(
            session, user_id=owner.id, event_id=created["id"], minimum="editor"
        )
        assert found.event.title == "Behind the ORM"
        query = repository.visible_events(owner.id).where(Event.id == created["id"])
        [(event, role)] = await repository.fetch(session, query)
        assert event is held and role == "owner"
        assert held.title == "Behind the ORM"
        assert not session.dirty  # brought up to date as loaded state, nothing to write


def _login_session(app: FastAPI, actor: Actor) -> int:
    return app.state.services.tokens.decode(actor.access_token, expected="access").session_id


async def test_a_lock_can_prove_the_login_session_and_name_the_caller(
    app: FastAPI, client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    created = await make_event(owner)
    db: Database = app.state.services.db
    session_id = _login_session(app, owner)
    async with UnitOfWork.write(db) as session:
        found = await access.lock_event(
            session,
            user_id=owner.id,
            event_id=created["id"],
            minimum="editor",
            login_session=session_id,
        )
        assert (found.event.id, found.role, found.actor_name) == (
            created["id"],
            "owner",
            owner.username,
        )
        with pytest.raises(access.EventNotFound):
            await access.lock_event(
                session,
                user_id=owner.id,
                event_id=created["id"] + 1000,
                minimum="editor",
                login_session=session_id,
            )
    # After logout the same lock is 401, for the event and for one that does not exist.
    assert (await client.post("/api/auth/logout", headers=owner.headers)).status_code == 204
    for event_id in (created["id"], created["id"] + 1000):
        with pytest.raises(NotAuthenticated):
            async with UnitOfWork.write(db) as session:
                await access.lock_event(
                    session,
                    user_id=owner.id,
                    event_id=event_id,
                    minimum="editor",
                    login_session=session_id,
                )


async def test_a_permission_list_reads_a_role_changed_through_core(
    app: FastAPI, owner: Actor, editor: Actor, shared_event: dict[str, object]
) -> None:
    """Roles are written by Core statements (``repository.apply_changes``): a permission the
    session loaded before must read as the row is, not as it was loaded."""
    db: Database = app.state.services.db
    event_id = int(str(shared_event["id"]))
    async with UnitOfWork.write(db) as session:
        listed = await access.permissions_of(session, [event_id])
        held = next(p for p, _ in listed[event_id] if p.user_id == editor.id)
        table = cast(Table, Permission.__table__)  # Core, as role changes are written
        await session.execute(
            update(table)
            .where(table.c.event_id == event_id, table.c.user_id == editor.id)
            .values(role="viewer")
        )
        again = await access.permissions_of(session, [event_id])
        roles = {p.user_id: p.role for p, _ in again[event_id]}
        assert roles[editor.id] == "viewer" and held.role == "viewer"
