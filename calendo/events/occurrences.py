"""Editing one occurrence of a series (``PATCH``) or cancelling it (``DELETE``).

Both are writes of the series' content through ``service.write_content``: an edit changes the
occurrence's override (``events.overrides``), a cancellation adds its start to the series'
exceptions (EXDATE) and drops its override. Each is a new version of the series, so history,
diff, rollback, ``as_of``, the sync feed and the notifications carry it; the occurrence is
conflict-checked with the rest of the series under the caller's strategy.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.events import access, all_day, overrides
from calendo.events.preconditions import raise_stale, require_if_match
from calendo.events.series_schemas import OccurrenceEdit
from calendo.events.service import WriteContext, Written, write_content
from calendo.events.snapshots import content_snapshot, format_instant


async def edit_occurrence(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    event_id: int,
    recurrence_id: datetime | date,
    data: OccurrenceEdit,
    if_match: str | None,
    note: str | None = None,
) -> Written:
    """Give one occurrence its own times, title, description, location or transparency
    (editor or owner); 404 when the series has no occurrence starting at ``recurrence_id``."""
    found, current, rid = await _locked(
        session, ctx, event_id, recurrence_id, data.version, if_match
    )
    changes = all_day.occurrence_days(
        data.changes(), all_day=current["all_day"], loc=("body",), recurrence_id=rid
    )
    values = overrides.patched(current[overrides.FIELD], rid, changes)
    content = {**current, overrides.FIELD: values}
    if content == current:
        return Written(found.event, found.role, [])
    return await _write(session, ctx, found, current, content, note or data.note)


async def cancel_occurrence(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    event_id: int,
    recurrence_id: datetime | date,
    if_match: str | None,
    note: str | None = None,
) -> Written:
    """Cancel one occurrence (editor or owner): its start becomes an exception of the series
    and its override, if any, goes with it (both come back with a rollback)."""
    found, current, rid = await _locked(session, ctx, event_id, recurrence_id, None, if_match)
    # An all-day series' exceptions are dates (``events.all_day``).
    excluded = rid.date().isoformat() if current["all_day"] else format_instant(rid)
    exceptions = sorted({*current["recurrence_exceptions"], excluded}, key=all_day.stored_instant)
    content: dict[str, Any] = {
        **current,
        "recurrence_exceptions": exceptions,
        overrides.FIELD: overrides.without(current[overrides.FIELD], rid),
    }
    return await _write(session, ctx, found, current, content, note)


async def _write(
    session: AsyncSession,
    ctx: WriteContext,
    found: access.WriteAccess,
    current: dict[str, Any],
    content: dict[str, Any],
    note: str | None,
) -> Written:
    """The series' new content as its next version: an update of the series."""
    return await write_content(
        session,
        ctx=ctx,
        found=found,
        previous=current,
        content=content,
        action="updated",
        note=note,
        tags=(),
        notify_type="event_updated",
    )


async def _locked(
    session: AsyncSession,
    ctx: WriteContext,
    event_id: int,
    recurrence_id: datetime | date,
    version: int | None,
    if_match: str | None,
) -> tuple[access.WriteAccess, dict[str, Any], datetime]:
    """The series locked for an editor, its preconditions met, its content and the recurrence
    id the path names (``all_day.occurrence_key``); 404 when it has no such occurrence."""
    found = await access.lock_event(
        session, user_id=ctx.actor.id, event_id=event_id, minimum="editor"
    )
    await require_if_match(session, found, if_match)
    if version is not None and version != found.event.version:
        await raise_stale(session, found.event, found.role, version, by_header=False)
    current = content_snapshot(found.event)
    return found, current, overrides.require_occurrence(current, recurrence_id)
