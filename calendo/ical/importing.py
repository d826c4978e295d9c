"""Import: one part of an iCalendar file's events written through the event use cases, in
the caller's unit of work.

The file is read in steps on the event loop (``reading.steps``, pure CPU) and cut into parts
(``ical.parts``); each part's events (one per ``UID``: a series and its overrides) are
matched and written here, in that part's unit of work: every event of the part or none.

Which event a ``UID`` updates, stated once (docs/api-notes.md, "iCalendar import"):

- ``<id>@calendo`` (Calendo's own, from an export or a feed): event ``id`` when the caller can
  edit it (owner or editor). One the caller can only view is **refused**, naming the role.
  One the caller cannot see at all (someone else's export, or a deleted event) is treated as
  a foreign UID below: the caller gets an event of their own.
- Any other UID: the caller's ``imported_uid`` row for it (``(owner_id, uid)``) names the
  event an earlier import made, which is updated (recreated if it was deleted since); with no
  row, a new event is created and the row written. Another user's import of the same UID
  is their own event.

Updates go through ``events.service.update_event`` (the If-Match-free full replacement of
every content field; an unchanged event writes no version), creates through
``events.batch.CreateRun`` (the batch's conflict checks, each against the calendar and the
events placed before it), both under the caller's conflict strategy and with the change source
``import`` (``WriteContext.source``: the versions' tags and the audit entries say so). What
Calendo does not model is written beside each event (``EventIcalExtra``).

A refused event (unreadable, invalid, in conflict under ``reject``, only viewable) is listed
with its component index, UID and reason. ``run`` does the writes whatever it refused; the
caller (``ical.parts``) decides what to keep: a dry run rolls everything back, a real run rolls
back when something was refused unless the caller asked to skip refusals (``on_refusal=skip``).

``run`` writes one part of a file. A dry run's parts are each rolled back, so a later part
cannot see what an earlier one would create: the earlier parts' new events are handed to it
(``earlier``, the ``Report.placed`` of each) and stand in its conflict checks under ids of
their own (``_CARRIED`` below the component index). A conflict with an event the file itself
creates names that event's component (``{"event_id": null, "index": i}``) wherever it has no
id yet, as a batch names its items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.calendar import recurrence
from calendo.core.cooperative import Pacer
from calendo.core.errors import AppError, PermissionDenied
from calendo.core.types import utcnow
from calendo.events import access, creation, scheduling, service
from calendo.events.batch import CreateRun
from calendo.events.schemas import EventCreate, EventUpdate
from calendo.events.snapshots import CONTENT_FIELDS
from calendo.ical import convert
from calendo.ical.models import EventIcalExtra, ImportedUid
from calendo.ical.reading import Item

# A would-be event of an earlier dry part stands in a later part's checks as
# ``-(_CARRIED + index)``: below the placeholders (``-1, -2, ...``) any one part can use.
_CARRIED = 1 << 40


@dataclass(frozen=True, slots=True)
class Placed:
    """A new event of a part, as placed (its component index, title and series), with the
    span of its occurrences (``last`` None when open-ended)."""

    index: int
    title: str
    series: recurrence.Series
    first: datetime
    last: datetime | None

    @classmethod
    def of(cls, index: int, title: str, series: recurrence.Series) -> Placed:
        first, last = scheduling.first_start(series), scheduling.last_end(series)
        return cls(index, title, series, first, last)

    def meets(self, start: datetime, end: datetime) -> bool:
        """Whether an occurrence of it may overlap ``[start, end)``."""
        return self.first < end and (self.last is None or self.last > start)


@dataclass(slots=True)
class Report:
    """What an import did (or, dry, would do)."""

    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    placed: list[Placed] = field(default_factory=list)  # not in the answer

    def extend(self, other: Report) -> None:
        """Add a later part's lists to these."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.refused += other.refused
        self.placed += other.placed

    def rolled_back(self) -> None:
        """A dry part's new ids were rolled back: its new events, and conflicts with them,
        name their components instead."""
        indexes = {entry["event_id"]: entry["index"] for entry in self.created}
        for entry in self.created:
            entry["event_id"] = None
        for entries in (self.created, self.updated, self.unchanged, self.refused):
            for entry in entries:
                if "conflicts" in entry:
                    entry["conflicts"] = [_named(c, indexes) for c in entry["conflicts"]]

    def refuse(self, item: Item, reason: str, **more: Any) -> None:
        self.refused.append({"index": item.index, "uid": item.uid, "reason": reason, **more})

    def body(self, *, dry_run: bool) -> dict[str, Any]:
        return {
            "dry_run": dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
        }


def _listed(item: Item, event_id: int | None) -> dict[str, Any]:
    return {"index": item.index, "uid": item.uid, "event_id": event_id, "title": item.title}


def _named(conflict: dict[str, Any], indexes: dict[int, int]) -> dict[str, Any]:
    """A conflict with an event of the file that has no id (yet): named by its component."""
    event_id = conflict["event_id"]
    if event_id in indexes:
        return {**conflict, "event_id": None, "index": indexes[event_id]}
    if event_id is not None and event_id <= -_CARRIED:
        return {**conflict, "event_id": None, "index": -event_id - _CARRIED}
    return conflict


def _reason(exc: AppError, indexes: dict[int, int] | None = None) -> tuple[str, dict[str, Any]]:
    more: dict[str, Any] = {}
    if "conflicts" in exc.extra:
        more["conflicts"] = [_named(c, indexes or {}) for c in exc.extra["conflicts"]]
    return f"{exc.status} {exc.detail}", more


async def run(
    session: AsyncSession,
    *,
    ctx: service.WriteContext,
    items: Sequence[Item],
    earlier: Sequence[Placed] | None = None,
) -> Report:
    """Write one part of a file's events (module docstring) and report each; raises nothing
    for one event's failure (it is listed as refused). ``earlier``: in a dry run, the new
    events of the earlier parts, for the conflict checks (and this part's are then listed in
    ``Report.placed`` for the next); None in a real run."""
    report = Report()
    for item in items:
        if item.refusal is not None:
            report.refuse(item, item.refusal)
    readable = [item for item in items if item.data is not None]
    # Each statement below runs on the loop with SQLite (the inline driver): a tick between
    # them keeps a part's statements from adding up to one long step.
    pacer = Pacer()
    # The caller's calendar lock first (the lock order's first step), so that the UIDs are
    # matched after any concurrent import of theirs has committed (PostgreSQL; SQLite's write
    # transaction is exclusive): the same file imported twice at once makes each event once.
    await access.lock_events(session, user_id=ctx.actor.id, event_ids=[])
    mapped = await _mapped(session, ctx.actor.id, [item.uid for item in readable])
    await pacer.tick()
    own_ids = [convert.event_id_of(item.uid or "") for item in readable]
    targets = [i for i in own_ids if i is not None] + list(mapped.values())
    await access.lock_events(session, user_id=ctx.actor.id, event_ids=targets)
    creates: list[Item] = []
    kept: dict[int, dict[str, list[str]]] = {}
    for item, own_id in zip(readable, own_ids, strict=True):
        await pacer.tick()
        if own_id is not None:
            outcome = await _update(session, ctx, item, own_id, report, kept)
            if outcome != "gone":
                continue
        target = mapped.get(item.uid or "")
        if target is not None:
            outcome = await _update(session, ctx, item, target, report, kept)
            if outcome != "gone":
                continue
        creates.append(item)
    await _create(session, ctx, creates, report, kept, pacer, earlier)
    await _keep(session, kept, pacer)
    return report


async def _update(
    session: AsyncSession,
    ctx: service.WriteContext,
    item: Item,
    event_id: int,
    report: Report,
    kept: dict[int, dict[str, list[str]]],
) -> str:
    """Update ``event_id`` with the item's content: ``done``, or ``gone`` when the caller
    cannot see the event (the item is then created instead)."""
    assert item.data is not None
    edit = service.Edit(event_id=event_id, data=replacement(item.data))
    started = utcnow()  # an unchanged event keeps its updated_at (no version is written)
    try:
        written = await service.update_event(session, ctx=ctx, edit=edit)
    except access.EventNotFound:
        return "gone"
    except PermissionDenied as exc:
        report.refuse(
            item,
            f"UID {item.uid} names event {event_id}, which you can only view: an import "
            f"updates only events you can edit ({exc.detail})",
        )
        return "done"
    except AppError as exc:
        reason, more = _reason(exc)
        report.refuse(item, reason, **more)
        return "done"
    entry = {**_listed(item, event_id), "conflicts": written.conflicts}
    wrote = written.event.updated_at >= started
    same_lines = await _kept_of(session, event_id) == item.kept
    if not same_lines:
        kept[event_id] = item.kept
    (report.unchanged if not wrote and same_lines else report.updated).append(entry)
    return "done"


def replacement(data: EventCreate) -> EventUpdate:
    """An update that gives an event every content field of ``data`` (an all-day event's
    dates and no times, a timed event's times and no dates)."""
    # Warnings off: the schema types an all-day event's date lists as times for serialising.
    content = data.model_dump(include=set(CONTENT_FIELDS), warnings=False)
    content["all_day"] = bool(content["all_day"])
    # An all-day VEVENT names no zone: the event keeps its own.
    unused = (
        ("start_time", "end_time", "timezone") if content["all_day"] else ("start_date", "end_date")
    )
    for name in unused:
        content.pop(name)
    return EventUpdate.model_validate(content)


async def _create(
    session: AsyncSession,
    ctx: service.WriteContext,
    creates: list[Item],
    report: Report,
    kept: dict[int, dict[str, list[str]]],
    pacer: Pacer,
    earlier: Sequence[Placed] | None,
) -> None:
    """Create the items no event matched, as a batch does, and map their UIDs."""
    prepared: list[tuple[Item, dict[str, Any], Any]] = []
    for item in creates:
        assert item.data is not None
        await pacer.tick()
        try:
            content, series = creation.prepare_create(item.data)
        except AppError as exc:
            reason, more = _reason(exc)
            report.refuse(item, reason, **more)
            continue
        prepared.append((item, content, series))
    if not prepared:
        return
    run_ = await CreateRun.open(session, ctx=ctx, series=[p[2] for p in prepared], pacer=pacer)
    for before in earlier or ():  # only those that can meet this part's window are expanded
        if before.meets(run_.cache.start, run_.cache.end):
            await run_.cache.add(-(_CARRIED + before.index), before.title, before.series, pacer)
            await pacer.tick()
    placed: list[Item] = []
    for item, content, series in prepared:
        try:
            await run_.place(content, series)
        except AppError as exc:
            # Placeholder -(k + 1) is the k-th event placed here, not written yet.
            reason, more = _reason(exc, {-(k + 1): p.index for k, p in enumerate(placed)})
            report.refuse(item, reason, **more)
            continue
        placed.append(item)
        await pacer.tick()
    written = await run_.write([None] * len(placed), tags=(), pacer=pacer)
    rows = []
    for item, result, series in zip(placed, written, run_.placed, strict=True):
        event_id = result.event.id
        report.created.append({**_listed(item, event_id), "conflicts": result.conflicts})
        if earlier is not None:  # a dry run: held for the next part's checks
            report.placed.append(Placed.of(item.index, result.event.title, series))
            await pacer.tick()
        if item.kept:
            kept[event_id] = item.kept
        rows.append({"owner_id": ctx.actor.id, "uid": item.uid, "event_id": event_id})
    if rows:
        uids = [row["uid"] for row in rows]
        await session.execute(
            delete(ImportedUid).where(
                ImportedUid.owner_id == ctx.actor.id, ImportedUid.uid.in_(uids)
            )
        )
        await pacer.tick()
        await session.execute(insert(ImportedUid), rows)
        await pacer.tick()


async def _mapped(session: AsyncSession, owner_id: int, uids: list[str | None]) -> dict[str, int]:
    """The caller's imported UIDs among ``uids``, and the events they name."""
    wanted = sorted({uid for uid in uids if uid})
    found: dict[str, int] = {}
    for first in range(0, len(wanted), 500):
        statement = select(ImportedUid.uid, ImportedUid.event_id).where(
            ImportedUid.owner_id == owner_id, ImportedUid.uid.in_(wanted[first : first + 500])
        )
        found.update({uid: event_id for uid, event_id in (await session.execute(statement))})
    return found


async def _kept_of(session: AsyncSession, event_id: int) -> dict[str, list[str]]:
    lines = await session.scalar(
        select(EventIcalExtra.lines).where(EventIcalExtra.event_id == event_id)
    )
    return dict(lines or {})


async def _keep(session: AsyncSession, kept: dict[int, dict[str, list[str]]], pacer: Pacer) -> None:
    """What each event whose kept lines changed keeps now: the file's, replacing any before
    (stamped, so that a feed's tag changes with them: ``export.feed_calendar``)."""
    if not kept:
        return
    ids = sorted(kept)
    for first in range(0, len(ids), 500):
        chunk = ids[first : first + 500]
        await session.execute(delete(EventIcalExtra).where(EventIcalExtra.event_id.in_(chunk)))
        await pacer.tick()
    now = utcnow()
    rows = [{"event_id": i, "lines": v, "updated_at": now} for i, v in kept.items() if v]
    if rows:
        await session.execute(insert(EventIcalExtra), rows)
