"""Batch create (every event or none, each item checked against the calendar and the items
before it, errors naming the failing item) and the non-writing conflict preview."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.calendar import recurrence
from calendo.calendar.conflicts import Conflict
from calendo.core.cooperative import Pacer
from calendo.core.deps import Services
from calendo.core.errors import AppError, ItemList, ValidationFailed
from calendo.events import all_day, creation, scheduling, service
from calendo.events.schemas import ConflictCheck, EventCreate
from calendo.events.snapshots import format_instant
from calendo.events.state import EventState

# New events written per step: one multi-row INSERT per table, then the loop is handed back.
WRITE_STEP = 10
# A batch's problems name the failing item: ``item 3: ...``.
ITEMS = ItemList(field="events", label="item")


class CreateRun:
    """New events conflict-checked one after another against one load of the calendar, then
    written together: what a batch does, and a transaction for its consecutive creates.

    Each event is checked against the calendar plus the events placed before it, which stand
    in the calendar under placeholder ids ``-1, -2, ...`` (``-(position + 1)``) until written.
    Every step hands the loop back when its budget is spent (``core.cooperative``).
    """

    def __init__(
        self,
        session: AsyncSession,
        ctx: service.WriteContext,
        cache: scheduling.BusyCache,
        pacer: Pacer,
    ) -> None:
        self.session, self.ctx, self.cache, self.pacer = session, ctx, cache, pacer
        self.rows: list[creation.NewRow] = []
        self.placed: list[recurrence.Series] = []  # each row's series, as placed
        self.found: list[list[Conflict]] = []
        self.ids: dict[int, int] = {}  # placeholder -> id, once written

    @classmethod
    async def open(
        cls,
        session: AsyncSession,
        *,
        ctx: service.WriteContext,
        series: Sequence[recurrence.Series],
        pacer: Pacer,
    ) -> CreateRun:
        """Lock the calendar and load the busy time every one of ``series`` is checked against."""
        cache = await scheduling.load_cache(
            session,
            user_id=ctx.actor.id,
            series=list(series),
            strategy=ctx.strategy,
            settings=ctx.services.settings,
            pacer=pacer,
            zone=ctx.actor.timezone,
        )
        return cls(session, ctx, cache, pacer)

    async def place(self, content: dict[str, Any], series: recurrence.Series) -> None:
        """Check one more event under the strategy (raises as ``scheduling.resolve`` does) and
        hold it, placed, for ``write``."""
        placed, found = await scheduling.resolve(
            self.session,
            settings=self.ctx.services.settings,
            user_id=self.ctx.actor.id,
            series=series,
            strategy=self.ctx.strategy,
            exclude_ids=[],
            cache=self.cache,
            zone=self.ctx.actor.timezone,
        )
        self.rows.append(creation.new_row(self.ctx, content, placed))
        self.placed.append(placed)
        self.found.append(found)
        await self.cache.add(-len(self.rows), content["title"], placed, self.pacer)

    async def write(
        self, notes: Sequence[str | None], *, tags: Sequence[str], pacer: Pacer
    ) -> list[service.Written]:
        """Insert the placed events with their owner, version, audit and feed rows,
        ``WRITE_STEP`` events per step; conflicts name the new ids."""
        events: list[EventState] = []
        for first in range(0, len(self.rows), WRITE_STEP):
            chunk = await creation.insert_events(
                self.session, self.rows[first : first + WRITE_STEP]
            )
            self.ids.update({-(first + i + 1): event.id for i, event in enumerate(chunk)})
            events += chunk
            await pacer.tick()
            created = list(zip(chunk, notes[first : first + WRITE_STEP], strict=True))
            await creation.record_created(self.session, self.ctx, created, tags=tags)
            await pacer.tick()
        return [
            service.Written(event, "owner", self.named(scheduling.conflict_dicts(found)))
            for event, found in zip(events, self.found, strict=True)
        ]

    def named(self, conflicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Conflicts with the events placed here named by their ids (once written)."""
        return [{**c, "event_id": self.ids.get(c["event_id"], c["event_id"])} for c in conflicts]


async def batch_create(
    session: AsyncSession, *, ctx: service.WriteContext, items: Sequence[EventCreate]
) -> list[service.Written]:
    """Create every event or none; conflicts between the batch's own items count too.

    The body schema counted the items (``CALENDO_BATCH_MAX``) before validating any of them.
    Validation, the conflict checks and the writes hand the loop back between items."""
    pacer = Pacer()
    prepared = []
    for index, item in enumerate(items):
        try:
            prepared.append(creation.prepare_create(item, zone=ctx.actor.timezone))
        except AppError as exc:
            raise ITEMS.name(exc, index) from exc
        await pacer.tick()
    run = await CreateRun.open(session, ctx=ctx, series=[s for _, s in prepared], pacer=pacer)
    for index, (content, series) in enumerate(prepared):
        try:
            await run.place(content, series)
        except AppError as exc:
            raise ITEMS.name(_name_batch_refs(exc), index) from exc
        await pacer.tick()
    return await run.write([item.note for item in items], tags=("batch",), pacer=pacer)


def _name_batch_refs(exc: AppError) -> AppError:
    """In a conflict with an earlier item of the batch, name that item (it has no id yet)."""
    if "conflicts" in exc.extra:
        exc.extra["conflicts"] = [
            {**c, "event_id": None, "batch_index": -c["event_id"] - 1} if c["event_id"] < 0 else c
            for c in exc.extra["conflicts"]
        ]
    return exc


def invalid_batch_item(errors: Sequence[Any]) -> AppError | None:
    """The body validation errors of the first invalid batch item, every one of them, as a
    problem naming it; too many items (counted before any is validated) as the problem naming
    the limit."""
    for error in errors:
        if error.get("type") == "too_long" and tuple(error.get("loc", ())) == ("body", "events"):
            limit = error["ctx"]["max_length"]
            return ValidationFailed(f"a batch holds at most {limit} events", loc=("body", "events"))
    return ITEMS.invalid_item(errors)


async def check_conflicts(
    session: AsyncSession,
    *,
    services: Services,
    user_id: int,
    data: ConflictCheck,
    zone: str = "UTC",
) -> dict[str, Any]:
    """Conflicts and suggested free slots for a prospective time, without writing (all-day
    events placed in ``zone``, the caller's)."""
    content = {
        "start_time": format_instant(data.start_time) if data.start_time else None,
        "end_time": format_instant(data.end_time) if data.end_time else None,
        "timezone": data.timezone,
        "is_recurring": data.recurrence_pattern is not None,
        "recurrence_pattern": data.recurrence_pattern,
        **{
            f: service.content_value(f, getattr(data, f))
            for f in ("recurrence_exceptions", "recurrence_dates", *all_day.FIELDS)
        },
        "transparency": data.transparency,
    }
    sent = {f for f in data.model_fields_set if getattr(data, f) is not None}
    all_day.reconcile(content, sent, was_all_day=False)
    series = scheduling.series_from_content(content, zone=zone)
    exclude = [data.exclude_event_id] if data.exclude_event_id is not None else []
    found, slots = await scheduling.preview(
        session,
        settings=services.settings,
        user_id=user_id,
        series=series,
        exclude_ids=exclude,
        zone=zone,
    )
    return {
        "conflicts": scheduling.conflict_dicts(found),
        "suggestions": [{"start_time": s, "end_time": e} for s, e in slots],
    }
