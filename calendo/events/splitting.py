""" "This and following": split a series at one of its occurrences, as one atomic write, with a
dry run that previews it; and undo a split.

A split ends the series (the *head*) before the occurrence and starts a new series (the
*tail*) there with the requested changes (``calendar.split``): exceptions, extra dates and
overrides from that occurrence on move to the tail, which keeps the head's owner and shares.
Both are written in one unit of work through the event-change pipeline: the head's version,
the tail's creation and its shares; each names the other in ``related_events`` (RFC 5545
RELATED-TO), which is not content: it has no version of its own, and a rollback leaves it.

The undo deletes the tail and gives the head back its pre-split recurrence (rule, exceptions,
extra dates, overrides), as long as the tail has not been edited since (version 1): an undo
then would lose those edits, so it is refused (409) and the caller rolls the tail back, or
deletes it, first. Edits of the head since the split are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.calendar import recurrence
from calendo.calendar.split import split
from calendo.core.errors import Conflict, NotFound, ValidationFailed
from calendo.core.types import utcnow
from calendo.events import access, all_day, overrides, repository, scheduling
from calendo.events.change import build_access_change, build_created
from calendo.events.creation import insert_events, new_row
from calendo.events.preconditions import raise_stale, require_if_match
from calendo.events.series_schemas import SplitRequest
from calendo.events.service import (
    WriteContext,
    content_value,
    reconcile_recurrence,
    record_change,
    write_content,
)
from calendo.events.snapshots import content_snapshot, format_instant, parse_instant
from calendo.history.recording import snapshot_at_version

# The fields a split divides between the two series, and an undo gives back to the head.
RECURRENCE_FIELDS = (
    "is_recurring",
    "recurrence_pattern",
    "recurrence_exceptions",
    "recurrence_dates",
    overrides.FIELD,
)
_LOC = ("body", "recurrence_id")


class SplitNotUndoable(Conflict):
    slug = "split-not-undoable"
    title = "The split cannot be undone"


def _later(values: list[str], at: datetime, after: bool) -> list[str]:
    return [v for v in values if (parse_instant(v) >= at) == after]


def _later_overrides(values: list[dict[str, Any]], at: datetime, after: bool) -> list[Any]:
    return [v for v in values if (parse_instant(v["recurrence_id"]) >= at) == after]


@dataclass(frozen=True, slots=True)
class Plan:
    """A split worked out: the series before it, both sides' content (the tail's with the
    requested changes) and series, and the overrides the tail's changes orphan."""

    original: recurrence.Series
    head: dict[str, Any]
    head_series: recurrence.Series
    tail: dict[str, Any]
    tail_series: recurrence.Series
    orphaned: list[datetime]
    at: datetime


def plan(current: dict[str, Any], data: SplitRequest) -> Plan:
    """The split of ``current`` that ``data`` asks for; 422 when the split point is not an
    occurrence of the series' rule after its first (an all-day series' named as a path names
    it, ``all_day.named_occurrence``), or the changes do not make a series."""
    if not current["is_recurring"]:
        raise ValidationFailed("only a recurring series can be split", loc=_LOC)
    at = all_day.named_occurrence(current, data.recurrence_id, _LOC)
    original = scheduling.series_of_content(current)
    try:
        parts = split(original, at)
    except recurrence.RecurrenceError as exc:
        raise ValidationFailed(str(exc), loc=_LOC) from exc
    head = {
        **current,
        "recurrence_pattern": parts.head.rule,
        "recurrence_exceptions": _later(current["recurrence_exceptions"], at, False),
        "recurrence_dates": _later(current["recurrence_dates"], at, False),
        overrides.FIELD: _later_overrides(current[overrides.FIELD], at, False),
    }
    base = {
        **current,
        "start_time": format_instant(parts.tail.start),
        "end_time": format_instant(parts.tail.end),
        "recurrence_pattern": parts.tail.rule,
        "recurrence_exceptions": _later(current["recurrence_exceptions"], at, True),
        "recurrence_dates": _later(current["recurrence_dates"], at, True),
        overrides.FIELD: _later_overrides(current[overrides.FIELD], at, True),
    }
    if current["all_day"]:  # its dates too: the tail's start and end are floating midnights
        base["start_date"] = parts.tail.start.date().isoformat()
        base["end_date"] = parts.tail.end.date().isoformat()
    changes = {f: content_value(f, v) for f, v in data.changes.changes().items()}
    tail = {**base, **changes}
    if overrides.FIELD in changes:  # an all-day series' override dates as times
        all_day.settle_overrides(tail)
    if "start_time" in changes:
        # The new series moved from the split point: what was keyed to its occurrences moves
        # with them (a whole-series edit moves overrides only; exceptions stay as sent).
        if overrides.FIELD not in changes:
            overrides.rekeyed(base, tail)
        if "recurrence_exceptions" not in changes:
            moved = overrides.wall_mover(base, tail)
            tail["recurrence_exceptions"] = [moved(x) for x in base["recurrence_exceptions"]]
    reconcile_recurrence(tail, set(changes))
    if not tail["is_recurring"]:
        raise ValidationFailed("the new series must repeat", loc=("body", "changes"))
    tail_series = scheduling.series_from_content(tail)
    orphaned = overrides.check(base, tail, tail_series)
    return Plan(original, head, parts.head, tail, tail_series, orphaned, at)


def preview_occurrences(
    planned: Plan, at: datetime, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The occurrences from the split point on, before and after (paired in order; a side
    without a partner is null), at most ``limit``, and whether there are more."""
    before = recurrence.expand(planned.original, at, _far(at), limit=limit).occurrences
    series = planned.tail_series
    after = recurrence.expand(series, series.start, _far(series.start), limit=limit + 1)
    old = [o for o in before if o.start >= at]
    items = []
    for index in range(max(len(old), len(after.occurrences[:limit]))):
        was = old[index] if index < len(old) else None
        now = after.occurrences[index] if index < min(limit, len(after.occurrences)) else None
        items.append(
            {
                "original_start": was.start if was else None,
                "original_end": was.end if was else None,
                "occurrence_start": now.start if now else None,
                "occurrence_end": now.end if now else None,
            }
        )
    return items[:limit], after.truncated or len(items) > limit


def _far(start: datetime) -> datetime:
    return start.replace(year=min(start.year + 200, recurrence.HORIZON_YEAR + 1))


def override_report(planned: Plan) -> dict[str, Any]:
    """Which overrides stay with the head, move to the tail, or move but are orphaned there
    (the tail's changes leave it without their occurrence: kept, inert)."""
    kept = [v["recurrence_id"] for v in planned.head[overrides.FIELD]]
    orphaned = {format_instant(x) for x in planned.orphaned}
    moved = [v["recurrence_id"] for v in planned.tail[overrides.FIELD]]
    return {
        "kept": [parse_instant(x) for x in kept],
        "moved": [parse_instant(x) for x in moved if x not in orphaned],
        "orphaned": [parse_instant(x) for x in moved if x in orphaned],
    }


async def split_series(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    event_id: int,
    data: SplitRequest,
    if_match: str | None,
    limit: int,
) -> dict[str, Any]:
    """Split (or, with ``dry_run``, preview splitting) a series at one occurrence (editor or
    owner)."""
    found = await access.lock_event(
        session, user_id=ctx.actor.id, event_id=event_id, minimum="editor"
    )
    await require_if_match(session, found, if_match)
    if data.version is not None and data.version != found.event.version:
        await raise_stale(session, found.event, found.role, data.version, by_header=False)
    head_event = found.event
    current = content_snapshot(head_event)
    planned = plan(current, data)
    head, tail, tail_series = planned.head, planned.tail, planned.tail_series
    at = planned.at
    items, truncated = preview_occurrences(planned, at, limit)
    result: dict[str, Any] = {
        "dry_run": data.dry_run,
        "series": {"id": head_event.id, **head},
        "new_series": {"id": None, **tail},
        "occurrences": items,
        "occurrences_truncated": truncated,
        "overrides": override_report(planned),
    }
    if data.dry_run:
        found_conflicts, _ = await scheduling.preview(
            session,
            settings=ctx.services.settings,
            user_id=ctx.actor.id,
            series=tail_series,
            exclude_ids=[head_event.id],
        )
        result["conflicts"] = scheduling.conflict_dicts(found_conflicts)
        return result
    placed, conflicts = await scheduling.resolve(
        session,
        settings=ctx.services.settings,
        user_id=ctx.actor.id,
        series=tail_series,
        strategy=ctx.strategy,
        exclude_ids=[head_event.id],
    )
    note = data.note or f"Split at {format_instant(at)}: later occurrences in a new series"
    row = new_row(ctx, tail, placed)
    row["owner_id"] = head_event.owner_id
    row["related_events"] = [{"event_id": head_event.id, "relation": "split_from", "version": 1}]
    [created] = await insert_events(session, [row])
    actor = ctx.change_actor
    made = build_created(created, actor=actor, note=note, tags=("split",))
    audience = found.audience
    shares = [(uid, role) for uid, role in audience.items() if uid != head_event.owner_id]
    grant = build_access_change(created, {head_event.owner_id: "owner"}, shares, actor=actor)
    await repository.apply_changes(
        session, ctx.services.broker, [replace(made, feed_users=tuple(sorted(audience))), grant]
    )
    link = {"event_id": created.id, "relation": "split_into", "version": head_event.version + 1}
    columns = {f: head[f] for f in RECURRENCE_FIELDS if head[f] != current[f]}
    values = {
        **columns,
        "series_end": scheduling.last_end(planned.head_series),
        "related_events": [*(head_event.related_events or []), link],
        "updated_at": utcnow(),
    }
    await record_change(
        session,
        ctx=ctx,
        found=found,
        values=values,
        previous=current,
        action="updated",
        note=note,
        tags=("split",),
        notify_type="event_updated",
    )
    result["series"]["version"] = head_event.version + 1
    result["new_series"] = {"id": created.id, "version": 1, **content_snapshot(created)}
    result["conflicts"] = scheduling.conflict_dicts(conflicts)
    return result


def _origin(related: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The link to the series a split made this one from, if it was."""
    return next((r for r in related or () if r["relation"] == "split_from"), None)


async def undo_split(
    session: AsyncSession, *, ctx: WriteContext, event_id: int, note: str | None = None
) -> dict[str, Any]:
    """Undo the split that made ``event_id`` (the tail; editor or owner of both): the tail
    is deleted and the head gets its pre-split recurrence back.

    Both series are locked up front in the lock order (``access.lock_events``: the head,
    older, has the lower id), not the tail first, which deadlocked with a transaction naming
    both (docs/architecture.md, "Lock order"). The link is read once unlocked to learn the
    head, and checked again under the lock.
    """
    seen = _origin(await repository.related_events_of(session, event_id))
    heads = [seen["event_id"]] if seen is not None else []
    await access.lock_events(session, user_id=ctx.actor.id, event_ids=[event_id, *heads])
    tail_found = await access.lock_event(
        session, user_id=ctx.actor.id, event_id=event_id, minimum="editor"
    )
    tail = tail_found.event
    origin = _origin(tail.related_events)
    if origin is None:
        raise NotFound(f"Event {event_id} was not made by a split")
    head_found = await access.lock_event(
        session, user_id=ctx.actor.id, event_id=origin["event_id"], minimum="editor"
    )
    head = head_found.event
    link = next(
        (
            r
            for r in head.related_events or ()
            if r["relation"] == "split_into" and r["event_id"] == tail.id
        ),
        None,
    )
    if link is None:
        raise SplitNotUndoable(f"Event {head.id} no longer links to event {tail.id}")
    if tail.version != 1:
        raise SplitNotUndoable(
            f"Event {tail.id} was edited since the split (version {tail.version}): undoing the "
            "split would lose those edits. Roll it back to version 1, or delete it, first."
        )
    before = await snapshot_at_version(session, head.id, link["version"] - 1)
    if before is None:  # pragma: no cover - versions are never deleted
        raise SplitNotUndoable(f"Event {head.id} has no version before the split")
    why = note or f"Undid the split into event {tail.id}"
    now = utcnow()
    await record_change(
        session,
        ctx=ctx,
        found=tail_found,
        values={"deleted_at": now, "updated_at": now, "related_events": []},
        previous=content_snapshot(tail),
        action="deleted",
        note=why,
        tags=("split-undone",),
        notify_type="event_deleted",
        change="delete",
    )
    current = content_snapshot(head)
    restored = {**current, **{f: before.get(f, current[f]) for f in RECURRENCE_FIELDS}}
    restored[overrides.FIELD] = before.get(overrides.FIELD) or []
    others = [r for r in head.related_events or () if r is not link]
    written = await write_content(
        session,
        ctx=replace(ctx, strategy="allow"),
        found=head_found,
        previous=current,
        content=restored,
        action="updated",
        note=why,
        tags=("split-undone",),
        notify_type="event_updated",
        extra_columns={"related_events": others},
    )
    return {"event": written, "deleted_id": tail.id}
