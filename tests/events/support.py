"""Database probes for the event and sharing tests: count and read rows behind the API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, update

from calendo.audit.models import AuditEntry
from calendo.core.uow import UnitOfWork
from calendo.events.models import Event
from calendo.history.models import EventVersion
from calendo.sharing.models import Permission

__all__ = [
    "AuditEntry",
    "Event",
    "EventVersion",
    "Permission",
    "count_rows",
    "event_row",
    "permission_rows",
    "strip_snapshots",
    "version_rows",
]


async def count_rows(app: FastAPI, model: Any, **filters: Any) -> int:
    """How many rows of ``model`` match the equality ``filters``."""
    query = select(func.count()).select_from(model)
    for name, value in filters.items():
        query = query.where(getattr(model, name) == value)
    async with UnitOfWork.read(app.state.services.db) as session:
        return int((await session.execute(query)).scalar_one())


async def version_rows(app: FastAPI, event_id: int) -> list[EventVersion]:
    """Every version row of an event, oldest first."""
    query = (
        select(EventVersion).where(EventVersion.event_id == event_id).order_by(EventVersion.version)
    )
    async with UnitOfWork.read(app.state.services.db) as session:
        return list((await session.scalars(query)).all())


async def event_row(app: FastAPI, event_id: int) -> Event | None:
    """The event row as stored (deleted or not)."""
    async with UnitOfWork.read(app.state.services.db) as session:
        return await session.get(Event, event_id)


async def permission_rows(app: FastAPI, event_id: int) -> dict[int, str]:
    """user_id -> role for an event."""
    query = select(Permission.user_id, Permission.role).where(Permission.event_id == event_id)
    async with UnitOfWork.read(app.state.services.db) as session:
        return {user_id: role for user_id, role in (await session.execute(query)).all()}


async def strip_snapshots(app: FastAPI, event_id: int, fields: tuple[str, ...]) -> None:
    """Remove ``fields`` from every version snapshot of an event: versions as a release
    older than those fields wrote them."""
    async with UnitOfWork.write(app.state.services.db) as session:
        rows = await session.execute(
            select(EventVersion.id, EventVersion.snapshot).where(EventVersion.event_id == event_id)
        )
        for row_id, snapshot in rows.all():
            old = {k: v for k, v in snapshot.items() if k not in fields}
            await session.execute(
                update(EventVersion).where(EventVersion.id == row_id).values(snapshot=old)
            )
        await session.commit()
