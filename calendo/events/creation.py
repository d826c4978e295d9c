"""Creating events: one or many, each with its owner row, version 1, audit and feed rows.

``create_event`` is one event through the conflict check; a batch or a transaction's run of
creates (``events.batch.CreateRun``) uses the same pieces: ``prepare_create`` (content and
validated series), ``new_row``, ``insert_events`` (one multi-row Core INSERT, which gives the
ids) and ``record_created`` (the pipeline's changes for all of them: one INSERT per table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.calendar import recurrence
from calendo.core.types import utcnow
from calendo.events import all_day, overrides, repository, scheduling
from calendo.events.change import build_created
from calendo.events.models import EVENT_TABLE
from calendo.events.schemas import EventCreate
from calendo.events.service import (
    WriteContext,
    Written,
    content_value,
    reconcile_recurrence,
    series_columns,
)
from calendo.events.snapshots import CONTENT_FIELDS, snapshot_columns
from calendo.events.state import EventState


async def create_event(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    data: EventCreate,
    note: str | None = None,
    tags: Sequence[str] = (),
) -> Written:
    """Create an event owned by the actor, after the conflict check."""
    content, series = prepare_create(data, zone=ctx.actor.timezone)
    series, found = await scheduling.resolve(
        session,
        settings=ctx.services.settings,
        user_id=ctx.actor.id,
        series=series,
        strategy=ctx.strategy,
        exclude_ids=[],
        zone=ctx.actor.timezone,
    )
    [event] = await insert_events(session, [new_row(ctx, content, series)])
    await record_created(session, ctx, [(event, note or data.note)], tags=tags)
    return Written(event, "owner", scheduling.conflict_dicts(found))


def new_row(ctx: WriteContext, content: dict[str, Any], series: recurrence.Series) -> NewRow:
    """The columns of a new event (every one but the id) for ``insert_events``."""
    now = utcnow()
    row: NewRow = {"owner_id": ctx.actor.id, "created_at": now, "updated_at": now}
    row |= {"version": 1, "deleted_at": None, **snapshot_columns(content)}
    row |= series_columns(series, content)
    return row


# A new event's columns, every one but the id.
NewRow = dict[str, Any]
_INSERT_EVENTS = EVENT_TABLE.insert().returning(EVENT_TABLE.c.id, sort_by_parameter_order=True)


async def insert_events(session: AsyncSession, rows: Sequence[NewRow]) -> list[EventState]:
    """INSERT ``new_row`` rows in one multi-row statement; the events they became.

    Core rather than the unit of work's flush, which costs several times as much per row."""
    ids = (await session.execute(_INSERT_EVENTS, list(rows))).scalars().all()
    return [EventState(id=event_id, **row) for row, event_id in zip(rows, ids, strict=True)]


async def record_created(
    session: AsyncSession,
    ctx: WriteContext,
    created: Sequence[tuple[EventState, str | None]],
    *,
    tags: Sequence[str],
) -> None:
    """Owner permission, version 1, audit and feed rows of inserted new events, each
    ``(event, note)``, through the event-change pipeline (``events.change.build_created``):
    one INSERT per table, whether one event or a batch of them."""
    actor = ctx.change_actor
    changes = [build_created(event, actor=actor, note=note, tags=tags) for event, note in created]
    await repository.apply_changes(session, ctx.services.broker, changes)


def prepare_create(
    data: EventCreate, *, zone: str = "UTC"
) -> tuple[dict[str, Any], recurrence.Series]:
    """The content of a new event and its validated series (an all-day one placed in
    ``zone``, the creator's, for the conflict check)."""
    content = {f: content_value(f, getattr(data, f)) for f in CONTENT_FIELDS}
    reconcile_recurrence(content, data.model_fields_set)
    sent = {f for f in data.model_fields_set if getattr(data, f) is not None}
    all_day.reconcile(content, sent, was_all_day=False)
    series = scheduling.series_from_content(content, zone=zone)
    overrides.check(None, content, series)
    return content, series
