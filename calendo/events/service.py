"""Event use cases. Every content write goes through ``write_content`` so that the version,
the audit row, the sync feed and the notifications are written in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth.caller import Bearer, CurrentUser, proven
from calendo.calendar import recurrence
from calendo.core.deps import Services
from calendo.core.errors import (
    Conflict,
    ValidationFailed,
)
from calendo.core.types import utcnow
from calendo.events import access, all_day, overrides, repository, scheduling
from calendo.events.change import Actor, build_change
from calendo.events.preconditions import (
    merge_stale,
    parse_if_match,
    raise_stale,
    require_if_match,
)
from calendo.events.schemas import EventUpdate
from calendo.events.snapshots import (
    CONTENT_FIELDS,
    content_snapshot,
    format_instant,
    parse_instant,
    snapshot_columns,
)
from calendo.events.state import EventFields, EventState
from calendo.sharing.policy import Role

SCHEDULE_FIELDS = frozenset(
    {
        "start_time",
        "end_time",
        "timezone",
        "is_recurring",
        "recurrence_pattern",
        "recurrence_exceptions",
        "recurrence_dates",
        "transparency",
        "recurrence_overrides",
        *all_day.FIELDS,
    }
)


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, with which services, from where."""

    actor: CurrentUser
    services: Services
    ip: str | None = None
    strategy: str = "reject"
    source: str = "api"

    @property
    def change_actor(self) -> Actor:
        """The actor as an event change records it."""
        return Actor(self.actor.id, self.actor.username, ip=self.ip, source=self.source)


@dataclass(frozen=True, slots=True)
class Written:
    """A written event, the caller's role, and conflicts accepted under ``allow``."""

    event: EventFields
    role: str
    conflicts: list[dict[str, Any]]
    orphaned: Sequence[Any] = ()  # recurrence ids of the overrides the write orphaned


class EventNotDeleted(Conflict):
    slug = "event-not-deleted"
    title = "Event is not deleted"


def content_value(field: str, value: Any) -> Any:
    """A request value in snapshot form (times as RFC 3339 UTC strings)."""
    if field in ("start_time", "end_time") and value is not None:
        return format_instant(value)
    if field in ("recurrence_exceptions", "recurrence_dates"):
        return [_stored(v) for v in value or []]
    if field == overrides.FIELD:
        return overrides.stored(v if isinstance(v, dict) else v.model_dump() for v in value or ())
    if field in ("start_date", "end_date") and isinstance(value, date):
        return value.isoformat()
    return value


def _stored(value: datetime | date) -> str:
    """An extra or excluded date as stored: an instant in UTC, or an all-day event's date."""
    return format_instant(value) if isinstance(value, datetime) else value.isoformat()


def reconcile_recurrence(content: dict[str, Any], sent: set[str]) -> None:
    """Keep ``is_recurring``, the pattern and the exceptions consistent, inferring what was not
    sent: ``is_recurring`` false clears the pattern and the exceptions."""
    if "is_recurring" not in sent or content["is_recurring"] is None:
        if "recurrence_pattern" in sent or content["is_recurring"] is None:
            content["is_recurring"] = content["recurrence_pattern"] is not None
    elif content["is_recurring"] is False and "recurrence_pattern" not in sent:
        content["recurrence_pattern"] = None
    if content["is_recurring"] and not content["recurrence_pattern"]:
        raise ValidationFailed(
            "recurrence_pattern is required when is_recurring is true",
            loc=("body", "recurrence_pattern"),
        )
    if not content["is_recurring"] and content["recurrence_pattern"]:
        raise ValidationFailed(
            "recurrence_pattern is forbidden when is_recurring is false",
            loc=("body", "recurrence_pattern"),
        )
    if not content["is_recurring"]:
        _drop_exceptions(content, sent)


def _drop_exceptions(content: dict[str, Any], sent: set[str]) -> None:
    """A single event has no exceptions nor extra dates: refuse them when sent, clear those of
    a former series."""
    for field in ("recurrence_exceptions", "recurrence_dates", overrides.FIELD):
        if field in sent and content[field]:
            raise ValidationFailed(
                f"{field} are only allowed on a recurring event", loc=("body", field)
            )
        content[field] = []


def series_columns(series: recurrence.Series, content: dict[str, Any]) -> dict[str, Any]:
    """The column values of the series of ``content``, placed where it asked or shifted from
    there (the ``shift`` strategy: its overrides move by as much), with its index bounds."""
    columns = _placed(series)
    delta = series.start - parse_instant(content["start_time"])
    if delta and content.get(overrides.FIELD):
        columns[overrides.FIELD] = overrides.shifted(content[overrides.FIELD], delta)
    return columns


def _placed(series: recurrence.Series) -> dict[str, Any]:
    """The columns of a series' times and its index bounds (an all-day series' bounds are
    widened for any zone: ``all_day.bound_columns``)."""
    if series.days_in is not None:
        return all_day.bound_columns(series)
    return {
        "start_time": series.start,
        "end_time": series.end,
        "recurrence_exceptions": [format_instant(x) for x in series.exdates],
        "recurrence_dates": [format_instant(x) for x in series.rdates],
        "series_end": scheduling.last_end(series),
    }


@dataclass(frozen=True, slots=True)
class Edit:
    """A partial update of one event: the fields sent, and how to apply them."""

    event_id: int
    data: EventUpdate
    if_match: str | None = None  # the If-Match header
    merge: bool = False  # three-way merge a stale write instead of refusing it
    note: str | None = None


async def update_event(session: AsyncSession, *, ctx: WriteContext, edit: Edit) -> Written:
    """Partial update; conditional on ``If-Match`` or ``version``, optionally merged."""
    found = await access.lock_event(
        session, user_id=ctx.actor.id, event_id=edit.event_id, minimum="editor"
    )
    return await _update_locked(session, ctx=ctx, found=found, edit=edit)


async def update_event_by_token(
    session: AsyncSession,
    *,
    caller: Bearer,
    services: Services,
    ip: str | None,
    strategy: str,
    edit: Edit,
) -> Written:
    """``update_event`` for a route that took a verified token (``auth.bearer``): the lock's
    own statement proves its login session live (401 if not) and names the caller, so the
    request spends no statement of its own on authentication."""
    found = await access.lock_event(
        session,
        user_id=caller.user_id,
        event_id=edit.event_id,
        minimum="editor",
        login_session=caller.session_id,
    )
    actor = proven(caller, username=found.actor_name, timezone=found.actor_timezone)
    ctx = WriteContext(actor=actor, services=services, ip=ip, strategy=strategy)
    return await _update_locked(session, ctx=ctx, found=found, edit=edit)


async def _update_locked(
    session: AsyncSession, *, ctx: WriteContext, found: access.WriteAccess, edit: Edit
) -> Written:
    event = found.event
    current = content_snapshot(event)
    data = edit.data
    changes = {f: content_value(f, v) for f, v in data.changes().items()}
    header_version = parse_if_match(edit.if_match, event.id)
    # Both preconditions hold when both are sent: the header is checked first (412), then the
    # body's `version` (409), so a current tag never lets a stale `version` overwrite.
    by_header = header_version is not None and header_version != event.version
    expected = header_version if by_header else data.version
    tags: list[str] = []
    if expected is not None and expected != event.version:
        if not edit.merge:
            await raise_stale(session, event, found.role, expected, by_header=by_header)
        content = await merge_stale(session, event, current, expected, changes)
        tags.append("merged")
    else:
        content = {**current, **changes}
    if content[overrides.FIELD] and "start_time" in changes and overrides.FIELD not in changes:
        overrides.rekeyed(current, content)  # the series moved: its overrides move with it
    reconcile_recurrence(content, set(changes))
    if current["all_day"] or content["all_day"] or all_day.SENT_FIELDS & changes.keys():
        all_day.reconcile(content, set(changes), was_all_day=current["all_day"])
    if content == current:
        return Written(event, found.role, [])
    return await write_content(
        session,
        ctx=ctx,
        found=found,
        previous=current,
        content=content,
        action="updated",
        note=edit.note or data.note,
        tags=tags,
        notify_type="event_updated",
    )


async def write_content(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    found: access.WriteAccess,
    previous: dict[str, Any],
    content: dict[str, Any],
    action: str,
    note: str | None,
    tags: Sequence[str],
    notify_type: str,
    target_version: int | None = None,
    extra_columns: dict[str, Any] | None = None,
) -> Written:
    """Apply new content (conflict-checked when times change) and record everything; with
    ``extra_columns``, columns that are not content written with it (a split's links)."""
    event = found.event
    columns = snapshot_columns(content)
    values = {f: columns[f] for f in CONTENT_FIELDS if previous[f] != content[f]}
    conflicts: list[dict[str, Any]] = []
    orphaned: list[Any] = []
    if any(previous[f] != content[f] for f in SCHEDULE_FIELDS):
        # Only a new time or rule is conflict-checked (and may be shifted), and only then do
        # the series' bounds change.
        asked = scheduling.series_from_content(content, zone=ctx.actor.timezone)
        orphaned = overrides.check(previous, content, asked)
        series, found_conflicts = await scheduling.resolve(
            session,
            settings=ctx.services.settings,
            user_id=ctx.actor.id,
            series=asked,
            strategy=ctx.strategy,
            exclude_ids=[event.id],
            zone=ctx.actor.timezone,
        )
        values.update(series_columns(series, content))
        conflicts = scheduling.conflict_dicts(found_conflicts)
        if series is not asked:  # shifted: its overrides moved with it
            orphaned = overrides.orphaned(series)
    values.update(extra_columns or {})
    values["updated_at"] = utcnow()
    after = await record_change(
        session,
        ctx=ctx,
        found=found,
        values=values,
        previous=previous,
        action=action,
        note=note,
        tags=tags,
        notify_type=notify_type,
        target_version=target_version,
    )
    return Written(after, found.role, conflicts, orphaned)


async def record_change(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    found: access.WriteAccess,
    values: dict[str, Any],
    previous: dict[str, Any] | None,
    action: str,
    note: str | None,
    tags: Sequence[str],
    notify_type: str,
    target_version: int | None = None,
    change: str = "upsert",
) -> EventState:
    """Write the event's new column ``values`` as its next version, with the version row, the
    audit row, the feed rows and the notifications (``events.change``, applied by
    ``events.repository.apply_changes``). Returns the state the change leaves."""
    built = build_change(
        found.event,
        values,
        actor=ctx.change_actor,
        audience=found.audience,
        action=action,
        previous=previous,
        note=note,
        tags=tags,
        notify_type=notify_type,
        target_version=target_version,
        feed_change=change,
    )
    await repository.apply_changes(session, ctx.services.broker, [built])
    return built.after


async def delete_event(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    event_id: int,
    if_match: str | None = None,
    note: str | None = None,
) -> None:
    """Soft-delete (owner only): the row and its history stay, everyone's sync sees a delete."""
    found = await access.lock_event(
        session, user_id=ctx.actor.id, event_id=event_id, minimum="owner"
    )
    event = found.event
    await require_if_match(session, found, if_match)
    previous = content_snapshot(event)
    now = utcnow()
    await record_change(
        session,
        ctx=ctx,
        found=found,
        values={"deleted_at": now, "updated_at": now},
        previous=previous,
        action="deleted",
        note=note,
        tags=(),
        notify_type="event_deleted",
        change="delete",
    )


# Who may restore a deleted event (the contract: its owner). The trash lists exactly the
# deleted events the caller holds this role on (``events.trash``).
RESTORE_ROLE: Role = "owner"


async def restore_event(
    session: AsyncSession,
    *,
    ctx: WriteContext,
    event_id: int,
    if_match: str | None = None,
    note: str | None = None,
) -> Written:
    """Bring back a deleted event (``RESTORE_ROLE``: owner only) as a new version,
    conflict-checked; ``If-Match`` names the version the caller saw (the deletion's)."""
    found = await access.lock_event(
        session,
        user_id=ctx.actor.id,
        event_id=event_id,
        minimum=RESTORE_ROLE,
        include_deleted=True,
    )
    event = found.event
    await require_if_match(session, found, if_match)
    if event.deleted_at is None:
        raise EventNotDeleted(f"Event {event_id} is not deleted")
    previous = content_snapshot(event)
    series, conflicts = await scheduling.resolve(
        session,
        settings=ctx.services.settings,
        user_id=ctx.actor.id,
        series=scheduling.series_of(event, zone=ctx.actor.timezone),
        strategy=ctx.strategy,
        exclude_ids=[event.id],
        zone=ctx.actor.timezone,
    )
    values = {**series_columns(series, previous), "deleted_at": None, "updated_at": utcnow()}
    after = await record_change(
        session,
        ctx=ctx,
        found=found,
        values=values,
        previous=previous,
        action="restored",
        note=note,
        tags=(),
        notify_type="event_restored",
    )
    return Written(after, found.role, scheduling.conflict_dicts(conflicts))
