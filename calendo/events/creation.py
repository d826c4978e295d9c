"""Creating events: one or many, each with its owner row, version 1, audit and feed rows.

``create_event`` is one event through the conflict check; a batch or a transaction's run of
creates (``events.batch.CreateRun``) uses the same pieces: ``prepare_create`` (content and
validated series), ``new_event``, ``insert_events`` (one multi-row Core INSERT) and
``record_created`` (one INSERT per table for all of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit import service as audit
from calendo.calendar import recurrence
from calendo.core.types import utcnow
from calendo.core.uow import Step, run_steps
from calendo.events import scheduling
from calendo.events.models import EVENT_TABLE, Event
from calendo.events.schemas import EventCreate
from calendo.events.service import (
    WriteContext,
    Written,
    content_value,
    reconcile_recurrence,
    series_columns,
)
from calendo.events.snapshots import CONTENT_FIELDS, apply_snapshot, content_snapshot
from calendo.history import recording
from calendo.sharing.models import Permission
from calendo.sync import feed


async def create_event(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    data: EventCreate,
    note: str | None = None,
    tags: Sequence[str] = (),
) -> Written:
    """Create an event owned by the actor, after the conflict check."""
    content, series = prepare_create(data)
    series, found = await scheduling.resolve(
        session,
        settings=ctx.services.settings,
        user_id=ctx.actor.id,
        series=series,
        strategy=ctx.strategy,
        exclude_ids=[],
    )
    event = new_event(ctx, content, series)
    await insert_events(session, [event])
    await record_created(session, ctx, [(event, note or data.note)], tags=tags)
    return Written(event, "owner", scheduling.conflict_dicts(found))


def new_event(ctx: WriteContext, content: dict[str, Any], series: recurrence.Series) -> Event:
    """A new event (every column but the id) for ``insert_events``."""
    now = utcnow()
    event = Event(owner_id=ctx.actor.id, created_at=now, updated_at=now, version=1, deleted_at=None)
    apply_snapshot(event, content)
    for name, value in series_columns(series).items():
        setattr(event, name, value)
    return event


_NEW_COLUMNS = tuple(column.key for column in EVENT_TABLE.columns if column.key != "id")
_INSERT_EVENTS = EVENT_TABLE.insert().returning(EVENT_TABLE.c.id, sort_by_parameter_order=True)


async def insert_events(session: AsyncSession, events: Sequence[Event]) -> None:
    """INSERT ``new_event`` events in one multi-row statement and give each its id.

    Core rather than the unit of work's flush, which costs several times as much per row: the
    events stay plain objects in no session, never flushed."""
    rows = [{name: getattr(event, name) for name in _NEW_COLUMNS} for event in events]
    ids = (await session.execute(_INSERT_EVENTS, rows)).scalars().all()
    for event, event_id in zip(events, ids, strict=True):
        event.id = event_id


# The creator's owner rows, appended like the others (the triggers fill their copies of the
# event's bounds).
_GRANT_OWNER = cast(Table, Permission.__table__).insert()


async def record_created(
    session: AsyncSession,
    ctx: WriteContext,
    created: Sequence[tuple[Event, str | None]],
    *,
    tags: Sequence[str],
) -> None:
    """Owner permission, version 1, audit and feed rows of inserted new events, each
    ``(event, note)``: one INSERT per table, whether one event or a batch of them."""
    granted_at = utcnow()
    owners = [
        {
            "event_id": event.id,
            "user_id": ctx.actor.id,
            "role": "owner",
            "granted_by": ctx.actor.id,
            "granted_at": granted_at,
        }
        for event, _ in created
    ]
    versions = [
        recording.version_row(
            content_snapshot(event),
            event_id=event.id,
            version=event.version,
            created_at=event.updated_at,
            action="created",
            author_id=ctx.actor.id,
            previous=None,
            note=note,
            tags=tags,
        )
        for event, note in created
    ]
    entries = [
        audit.entry(
            action="event_created",
            actor_id=ctx.actor.id,
            subject_user_id=event.owner_id,
            event_id=event.id,
            ip=ctx.ip,
            details={"version": event.version},
        )
        for event, _ in created
    ]
    pairs = [(ctx.actor.id, event.id) for event, _ in created]
    await run_steps(
        session,
        [
            Step(_GRANT_OWNER, owners),
            recording.versions_step(versions),
            audit.entries_step(entries),
            *feed.steps(session, pairs, change="upsert"),
        ],
    )


def prepare_create(data: EventCreate) -> tuple[dict[str, Any], recurrence.Series]:
    """The content of a new event and its validated series."""
    content = {f: content_value(f, getattr(data, f)) for f in CONTENT_FIELDS}
    reconcile_recurrence(content, data.model_fields_set)
    return content, scheduling.series_from_content(content)
