"""SQL of the events domain. Every list query is scoped by the caller's permission rows."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from calendo.audit import service as audit
from calendo.auth.models import User
from calendo.auth.scopes import LIVE_SESSION, lock_calendar
from calendo.core.db import LIKE_ESCAPE, like_literal
from calendo.core.types import utcnow
from calendo.core.uow import Step, run_steps
from calendo.events.change import AccessChange, EventChange, Notice
from calendo.events.models import EVENT_TABLE, Event
from calendo.events.preconditions import VersionConflict
from calendo.events.state import EventState
from calendo.history import recording
from calendo.history.models import EventVersion
from calendo.notifications import service as notifications
from calendo.sharing.models import Permission
from calendo.sync import feed
from calendo.sync.models import SyncChange

Bound = BindParameter[Any]
_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def visible_events(user_id: int | Bound) -> Select[Event, str]:
    """Events the user can see now (not deleted), with the user's role."""
    return (
        select(Event, Permission.role)
        .join(Permission, Permission.event_id == Event.id)
        .where(Permission.user_id == user_id, Event.deleted_at.is_(None))
    )


def in_window(
    query: Select[Event, str], start: datetime | Bound | None, end: datetime | Bound | None
) -> Select[Event, str]:
    """Keep events whose series bounds overlap the window (occurrences are checked later)."""
    if end is not None:
        query = query.where(Event.start_time < end)
    if start is not None:
        query = query.where(or_(Event.series_end.is_(None), Event.series_end > start))
    return query


def text_pattern(text: str) -> str:
    """The LIKE pattern (escape character ``\\``) of a case-insensitive substring search."""
    return f"%{like_literal(text)}%"


def matching_text(query: _Query, pattern: str | Bound) -> _Query:
    """Case-insensitive match of a ``text_pattern`` on title, description and location."""
    return query.where(
        or_(
            func.lower(Event.title).like(pattern, escape=LIKE_ESCAPE),
            func.lower(Event.description).like(pattern, escape=LIKE_ESCAPE),
            func.lower(Event.location).like(pattern, escape=LIKE_ESCAPE),
        )
    )


# A calendar row's columns, named and ordered as the ``EventRead`` fields they fill
# (``presenters.calendar_bodies`` zips them into the body; tests/events/test_listing.py checks
# that the two agree). ``deleted_at`` is always NULL on the page, and the filters read the
# permission row's copy of ``series_end``.
CALENDAR_COLUMNS = (
    Event.id,
    Event.title,
    Event.description,
    Event.start_time,
    Event.end_time,
    Event.timezone,
    Event.location,
    Event.is_recurring,
    Event.recurrence_pattern,
    Event.recurrence_exceptions,
    Event.recurrence_dates,
    Event.transparency,
    Event.recurrence_overrides,
    Event.all_day,
    Event.start_date,
    Event.end_date,
    Event.related_events,
    Event.owner_id,
    Permission.role.label("my_role"),
    Event.version,
    Event.created_at,
    Event.updated_at,
)


# The caller's default zone, read by the calendar statement itself (no statement of its own):
# uncorrelated, so the database evaluates it once per statement.
CALLER_TIMEZONE = (
    select(User.timezone)
    .where(User.id == bindparam("user_id"))
    .scalar_subquery()
    .label("caller_timezone")
)


@functools.cache
def calendar_query(
    *, start: bool, end: bool, text: bool, role: bool, after: bool, paged: bool, live: bool = True
) -> Select[*tuple[Any, ...]]:
    """The calendar statement for one combination of filters, built once per process.

    Values are bound per call: ``user_id`` and ``session_id`` (the caller's login session,
    which must be live: ``auth.scopes.LIVE_SESSION``) always; ``start``, ``end``,
    ``pattern`` (from ``text_pattern``), ``role`` when filtered; ``after_start`` and
    ``after_id`` (keyset); ``offset`` and ``limit`` when ``paged`` (sorted by start, then id).
    ``live=False`` leaves the login-session condition out (and ``session_id`` unbound): for a
    read that proved its right otherwise (a subscription feed's token).

    Rows have the ``CALENDAR_COLUMNS``, then ``caller_timezone`` (the caller's account zone,
    which the page's times are rendered in when the read names no ``tz``). Every filter and
    the sort read the permission row's copies of the event's bounds, so the statement walks
    ``ix_permission_calendar`` in page order and stops after ``limit`` rows; only the rows on
    the page read their event.
    """
    query = (
        select(*CALENDAR_COLUMNS, CALLER_TIMEZONE)
        .select_from(Permission)
        .join(Event, Event.id == Permission.event_id)
        .where(Permission.user_id == bindparam("user_id"), Permission.event_deleted_at.is_(None))
    )
    if live:
        query = query.where(LIVE_SESSION)  # binds session_id too: a revoked session finds nothing
    if end:
        query = query.where(Permission.event_start_time < bindparam("end"))
    if start:
        query = query.where(
            or_(
                Permission.event_series_end.is_(None),
                Permission.event_series_end > bindparam("start"),
            )
        )
    if text:
        query = matching_text(query, bindparam("pattern"))
    if role:
        query = query.where(Permission.role == bindparam("role"))
    if after:
        after_start = bindparam("after_start", type_=Permission.event_start_time.type)
        query = query.where(
            tuple_(Permission.event_start_time, Permission.event_id)
            > tuple_(after_start, bindparam("after_id", type_=Integer()))
        )
    if paged:
        query = (
            query.order_by(Permission.event_start_time, Permission.event_id)
            .offset(bindparam("offset"))
            .limit(bindparam("limit"))
        )
    return query


@functools.cache
def calendar_stamp_query() -> Select[*tuple[Any, ...]]:
    """What changes whenever the calendar window of a user changes, in one row: the user's
    latest sync-feed sequence number (every event or sharing write the user can see appends a
    row there, ``sync.feed``), then how many events the window holds, the sums of their ids and
    versions, and the latest ``updated_at`` (bind ``user_id``, ``start``, ``end``), which also
    catch a row changed by hand. Read from the sync feed's index and the calendar page's,
    without reading the rows' content."""
    latest_change = (
        select(func.max(SyncChange.seq))
        .where(SyncChange.user_id == bindparam("user_id"))
        .scalar_subquery()
    )
    return (
        select(
            latest_change,
            func.count(),
            func.coalesce(func.sum(Event.id), 0),
            func.coalesce(func.sum(Event.version), 0),
            func.max(Event.updated_at),
        )
        .select_from(Permission)
        .join(Event, Event.id == Permission.event_id)
        .where(
            Permission.user_id == bindparam("user_id"),
            Permission.event_deleted_at.is_(None),
            Permission.event_start_time < bindparam("end"),
            or_(
                Permission.event_series_end.is_(None),
                Permission.event_series_end > bindparam("start"),
            ),
        )
    )


# An alias: ``LIVE_SESSION``'s subquery names ``User`` too, and would correlate to the
# unaliased table (the deleter's row instead of the caller's).
_Deleter = aliased(User)


@functools.cache
def trash_query(*, roles: tuple[str, ...], after: bool) -> Select[*tuple[Any, ...]]:
    """The caller's deleted events on which they hold one of ``roles``, newest deletion
    first (then id), built once per process.

    Bind ``user_id``, ``session_id`` (the login session must be live:
    ``auth.scopes.LIVE_SESSION``), ``limit``, and with ``after`` the keyset
    ``after_deleted`` / ``after_id``. Rows have the ``CALENDAR_COLUMNS``, then
    ``deleted_at``, who deleted the event (``deleted_by_id``, ``deleted_by_name``: the
    author of the version that deleted it, which is the current version while it is deleted;
    NULL once that account is gone) and ``caller_timezone`` (as in ``calendar_query``).
    Filtered and sorted on the permission row's copy of ``deleted_at``, under the index's
    ``user_id`` prefix.
    """
    deletion = and_(
        EventVersion.event_id == Event.id,
        EventVersion.version == Event.version,
        EventVersion.action == "deleted",
    )
    query = (
        select(
            *CALENDAR_COLUMNS,
            Event.deleted_at,
            EventVersion.author_id.label("deleted_by_id"),
            _Deleter.username.label("deleted_by_name"),
            CALLER_TIMEZONE,
        )
        .select_from(Permission)
        .join(Event, Event.id == Permission.event_id)
        .outerjoin(EventVersion, deletion)
        .outerjoin(_Deleter, _Deleter.id == EventVersion.author_id)
        .where(
            Permission.user_id == bindparam("user_id"),
            Permission.event_deleted_at.is_not(None),
            Permission.role.in_(roles),
            LIVE_SESSION,
        )
    )
    if after:
        after_deleted = bindparam("after_deleted", type_=Permission.event_deleted_at.type)
        query = query.where(
            tuple_(Permission.event_deleted_at, Permission.event_id)
            < tuple_(after_deleted, bindparam("after_id", type_=Integer()))
        )
    newest_first = (Permission.event_deleted_at.desc(), Permission.event_id.desc())
    return query.order_by(*newest_first).limit(bindparam("limit"))


async def fetch(session: AsyncSession, query: Select[Event, str]) -> list[tuple[Event, str]]:
    """Run a scoped query. Events the session already holds take the rows' values
    (``populate_existing``): event writes are Core UPDATEs, which leave a loaded object as it
    was, and a transaction may read an event again after changing it."""
    query = query.execution_options(populate_existing=True)
    return [(event, role) for event, role in (await session.execute(query)).all()]


# Compare-and-set on the version (the mapper's version_id_col rule, written out): 0 rows
# updated means another writer got there first. SET takes the columns of the change.
_SAVE = (
    update(EVENT_TABLE)
    .where(
        EVENT_TABLE.c.id == bindparam("event_id"), EVENT_TABLE.c.version == bindparam("expected")
    )
    .values(version=bindparam("new_version"))
)


def _save_step(before: EventState, change: EventChange) -> Step:
    """The conditional UPDATE writing a change's columns as the event's next version; if it
    matches no row, ``VersionConflict`` rolls the whole request back."""
    after = change.after
    params = {
        **change.columns,
        "event_id": before.id,
        "expected": before.version,
        "new_version": after.version,
    }
    stale = functools.partial(VersionConflict, f"Event {before.id} was changed concurrently; retry")
    return Step(_SAVE, params, unmatched=stale)


async def apply_changes(
    session: AsyncSession,
    broker: notifications.Publisher,
    changes: Sequence[EventChange | AccessChange],
) -> None:
    """Write changes in one pass through the driver, in the order given: each event's
    conditional UPDATE and each permission row granted, changed or revoked (a new event's
    owner rows: one INSERT), then every version row, audit row and feed row (one INSERT
    each, the feed's commit-order lock before it); then the notifications (inserted,
    published after commit). A created event's row is inserted before (``events.creation``),
    since its changes need its id."""
    if not changes:
        return
    steps: list[Step] = []
    owners: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    feed_rows: dict[str, list[tuple[int, int]]] = {"upsert": [], "delete": []}
    notices: list[Notice] = []
    for change in changes:
        if isinstance(change, EventChange):
            if change.before is None:
                owners.append(_owner_row(change.after))
            else:
                steps.append(_save_step(change.before, change))
            versions.append(dict(change.version_row))
            entries.append(dict(change.audit_row))
            feed_rows[change.feed_change] += [(u, change.after.id) for u in change.feed_users]
            if change.notice is not None:
                notices.append(change.notice)
        else:
            steps += _permission_steps(change)
            entries += [dict(row) for row in change.audit_rows]
            for user_id, kind in change.feed:
                feed_rows[kind].append((user_id, change.event.id))
            notices += change.notices
    if owners:
        steps.append(Step(_GRANT, owners))
    if versions:
        steps.append(recording.versions_step(versions))
    if entries:
        steps.append(audit.entries_step(entries))
    for kind, pairs in feed_rows.items():
        steps += feed.steps(session, pairs, change=kind)
    await run_steps(session, steps)
    for notice in notices:
        await notifications.notify(
            session,
            broker,
            recipient_ids=notice.recipient_ids,
            type=notice.type,
            event_id=notice.event_id,
            event_title=notice.event_title,
            actor_id=notice.actor_id,
            actor_username=notice.actor_username,
            changed_fields=notice.changed_fields,
            version=notice.version,
        )


_PERMISSION = cast(Table, Permission.__table__)
_GRANT = _PERMISSION.insert()
_REGRANT = (
    update(_PERMISSION)
    .where(
        _PERMISSION.c.event_id == bindparam("of_event"),
        _PERMISSION.c.user_id == bindparam("of_user"),
    )
    .values(role=bindparam("new_role"), granted_by=bindparam("by"))
)
_REVOKE = delete(_PERMISSION).where(
    _PERMISSION.c.event_id == bindparam("of_event"),
    _PERMISSION.c.user_id == bindparam("of_user"),
)


def _owner_row(event: EventState) -> dict[str, Any]:
    """The owner's permission row of a new event (the triggers fill its copies of the
    event's bounds)."""
    owner = event.owner_id
    row = {"event_id": event.id, "user_id": owner, "role": "owner", "granted_by": owner}
    return {**row, "granted_at": event.created_at}


def _permission_steps(change: AccessChange) -> list[Step]:
    """The permission rows of an access change: new grants inserted (the database triggers
    copy the event's bounds into them), changed roles updated, revoked ones deleted."""
    event_id, by, now = change.event.id, change.actor_id, utcnow()
    steps = []
    for grant in change.grants:
        if grant.previous is None:
            row = {"event_id": event_id, "user_id": grant.user_id, "role": grant.role}
            steps.append(Step(_GRANT, {**row, "granted_by": by, "granted_at": now}))
        elif grant.role is None:
            steps.append(Step(_REVOKE, {"of_event": event_id, "of_user": grant.user_id}))
        else:
            params = {"of_event": event_id, "of_user": grant.user_id, "new_role": grant.role}
            steps.append(Step(_REGRANT, {**params, "by": by}))
    return steps


async def calendar_candidates(
    session: AsyncSession,
    *,
    user_id: int,
    start: datetime,
    end: datetime | None,
    exclude_ids: Sequence[int] = (),
) -> list[Event]:
    """The user's events whose series bounds overlap the window: the only ones to expand in a
    conflict check (``scheduling.keeps_busy`` then drops the transparent occurrences; an
    occurrence of a transparent series may have been made busy by its override)."""
    query = in_window(visible_events(user_id), start, end)
    if exclude_ids:
        query = query.where(Event.id.not_in(exclude_ids))
    return [event for event, _ in await fetch(session, query)]


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Serialise calendar writes of one user (the conflict check must not race).

    PostgreSQL takes the user's calendar lock (``auth.scopes.lock_calendar``); on SQLite
    the write transaction is already exclusive. The lock lasts until commit, so a batch or
    transaction takes it once, and an event write has taken it already (``lock_event``).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.run_sync(lock_calendar, user_id)


async def related_events_of(session: AsyncSession, event_id: int) -> list[dict[str, Any]]:
    """An event's ``related_events`` as stored, read without a lock or an access check (to
    learn which other rows a write must lock, in the lock order, before it locks any)."""
    related = await session.scalar(select(Event.related_events).where(Event.id == event_id))
    return list(related or ())
