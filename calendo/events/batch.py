"""Batch create (every event or none, each item checked against the calendar and the items
before it, errors naming the failing item) and the non-writing conflict preview."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.deps import Services
from calendo.core.errors import AppError, ValidationFailed
from calendo.events import scheduling, service
from calendo.events.schemas import ConflictCheck, EventCreate
from calendo.events.snapshots import format_instant


async def batch_create(
    session: AsyncSession, *, ctx: service.WriteContext, items: Sequence[EventCreate]
) -> list[service.Written]:
    """Create every event or none; conflicts between the batch's own items count too.

    The body schema counted the items (``CALENDO_BATCH_MAX``) before validating any of them."""
    prepared = []
    for index, item in enumerate(items):
        try:
            prepared.append(service.prepare_create(item))
        except AppError as exc:
            raise _name_item(exc, index) from exc
    settings = ctx.services.settings
    cache = await scheduling.load_cache(
        session,
        user_id=ctx.actor.id,
        series=[s for _, s in prepared],
        strategy=ctx.strategy,
        settings=settings,
    )
    events, conflicts = [], []
    for index, (content, series) in enumerate(prepared):
        try:
            placed, found = await scheduling.resolve(
                session,
                settings=settings,
                user_id=ctx.actor.id,
                series=series,
                strategy=ctx.strategy,
                exclude_ids=[],
                cache=cache,
            )
        except AppError as exc:
            raise _name_item(_name_batch_refs(exc), index) from exc
        events.append(service.new_event(ctx, content, placed))
        conflicts.append(scheduling.conflict_dicts(found))
        # Items not yet written stand in the calendar under a placeholder id -(index + 1).
        cache.add(-(index + 1), content["title"], placed, settings)
    session.add_all(events)
    await session.flush()  # one multi-row INSERT for every event of the batch
    ids = {-(i + 1): event.id for i, event in enumerate(events)}
    created = [(event, item.note) for item, event in zip(items, events, strict=True)]
    await service.record_created(session, ctx, created, tags=("batch",))
    return [
        service.Written(
            event,
            "owner",
            [{**c, "event_id": ids.get(c["event_id"], c["event_id"])} for c in found],
        )
        for event, found in zip(events, conflicts, strict=True)
    ]


def _name_batch_refs(exc: AppError) -> AppError:
    """In a conflict with an earlier item of the batch, name that item (it has no id yet)."""
    if "conflicts" in exc.extra:
        exc.extra["conflicts"] = [
            {**c, "event_id": None, "batch_index": -c["event_id"] - 1} if c["event_id"] < 0 else c
            for c in exc.extra["conflicts"]
        ]
    return exc


def _name_item(exc: AppError, index: int) -> AppError:
    """Name batch item ``index`` in an error: ``item 3: ...``, ``index``, and each ``loc``."""
    exc.detail = f"item {index}: {exc.detail}"
    exc.extra = {**exc.extra, "index": index}
    if "errors" in exc.extra:
        exc.extra["errors"] = [
            {**e, "loc": ["body", "events", index, *e["loc"][1:]]} for e in exc.extra["errors"]
        ]
    return exc


def _item_index(loc: Sequence[Any]) -> int | None:
    if len(loc) > 2 and tuple(loc[:2]) == ("body", "events") and isinstance(loc[2], int):
        return loc[2]
    return None


def invalid_batch_item(errors: Sequence[Any]) -> AppError | None:
    """The body validation errors of the first invalid batch item, as a problem naming it;
    too many items (counted before any is validated) as the problem naming the limit."""
    for error in errors:
        if error.get("type") == "too_long" and tuple(error.get("loc", ())) == ("body", "events"):
            limit = error["ctx"]["max_length"]
            return ValidationFailed(f"a batch holds at most {limit} events", loc=("body", "events"))
    indexes = [i for e in errors if (i := _item_index(e.get("loc", ()))) is not None]
    if not indexes:
        return None
    index = min(indexes)
    mine = [e for e in errors if _item_index(e.get("loc", ())) == index]
    first = mine[0]
    exc = ValidationFailed(f"{'.'.join(map(str, first['loc'][3:]))}: {first['msg']}")
    exc.detail = f"item {index}: {exc.detail}"
    exc.extra = {
        "errors": [{"loc": list(e["loc"]), "msg": str(e["msg"])} for e in mine],
        "index": index,
    }
    return exc


async def check_conflicts(
    session: AsyncSession, *, services: Services, user_id: int, data: ConflictCheck
) -> dict[str, Any]:
    """Conflicts and suggested free slots for a prospective time, without writing."""
    content = {
        "start_time": format_instant(data.start_time),
        "end_time": format_instant(data.end_time),
        "timezone": data.timezone,
        "is_recurring": data.recurrence_pattern is not None,
        "recurrence_pattern": data.recurrence_pattern,
        "recurrence_exceptions": [format_instant(x) for x in data.recurrence_exceptions],
    }
    series = scheduling.series_from_content(content)
    exclude = [data.exclude_event_id] if data.exclude_event_id is not None else []
    found, slots = await scheduling.preview(
        session, settings=services.settings, user_id=user_id, series=series, exclude_ids=exclude
    )
    return {
        "conflicts": scheduling.conflict_dicts(found),
        "suggestions": [{"start_time": s, "end_time": e} for s, e in slots],
    }
