"""Events as they were at a past instant (``?as_of=``), read from the version history.

The version in force at ``t`` is the latest ``event_version`` row with ``created_at <= t``
(ties broken by id, which follows the version order and keeps the lookup inside the
``(event_id, created_at)`` index): one index probe per event, never a replay of the history.
The event did not exist at ``t`` when there is no such row (``t`` is before its creation) or
when that row's action is ``deleted``.

Permissions are those of *now*: the caller must currently hold a permission row on the event
(a currently deleted event still counts, so its past can be read), and ``my_role`` and the
permission list are the current ones. Only the content fields, ``version`` and ``updated_at``
(the time of that version) come from the past.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.cooperative import Pacer
from calendo.core.errors import ValidationFailed
from calendo.core.pagination import encode_cursor
from calendo.events import access, all_day, listing, scheduling
from calendo.events.models import Event
from calendo.events.presenters import event_body, permission_body
from calendo.events.snapshots import apply_snapshot, format_instant, snapshot_columns
from calendo.history.models import EventVersion
from calendo.sharing.models import Permission

_TEXT_FIELDS = ("title", "description", "location")
# No event starts before MIN_YEAR, so earlier window starts are raised to this floor (as the
# live list does): expanding a series from near year 1 would overflow.


def _version_at(at: datetime) -> Any:
    """The id of the version of the outer query's event in force at ``at`` (correlated)."""
    return (
        select(EventVersion.id)
        .where(EventVersion.event_id == Event.id, EventVersion.created_at <= at)
        .order_by(EventVersion.created_at.desc(), EventVersion.id.desc())
        .limit(1)
        .correlate(Event)
        .scalar_subquery()
    )


def _past_event(current: Event, version: EventVersion) -> Event:
    """A detached copy of ``current`` carrying the content of ``version`` (never persisted)."""
    past = Event(
        id=current.id,
        owner_id=current.owner_id,
        version=version.version,
        created_at=current.created_at,
        updated_at=version.created_at,
    )
    apply_snapshot(past, version.snapshot)
    return past


def _not_found(event_id: int, at: datetime) -> access.EventNotFound:
    return access.EventNotFound(f"Event {event_id} did not exist at {format_instant(at)}")


def version_at_query(event_id: int, at: datetime) -> Select[EventVersion]:
    """The latest version at or before ``at``: one probe of the (event_id, created_at) index."""
    return (
        select(EventVersion)
        .where(EventVersion.event_id == event_id, EventVersion.created_at <= at)
        .order_by(EventVersion.created_at.desc(), EventVersion.id.desc())
        .limit(1)
    )


async def get_event_as_of(
    session: AsyncSession, *, user_id: int, event_id: int, at: datetime
) -> dict[str, Any]:
    """The event as it was at ``at``, with the caller's current role and permission list.

    404 when the caller cannot see the event now, when ``at`` is before its creation, or
    when it was deleted at that time.
    """
    found = await access.require_event(
        session, user_id=user_id, event_id=event_id, include_deleted=True
    )
    version = (await session.scalars(version_at_query(event_id, at))).first()
    if version is None or version.action == "deleted":
        raise _not_found(event_id, at)
    perms = await access.permissions_of(session, [event_id])
    body = event_body(_past_event(found.event, version), found.role)
    body["permissions"] = [permission_body(p, name) for p, name in perms[event_id]]
    return body


STEP = 100  # rows per statement of a past calendar read


def _calendar_at(user_id: int, at: datetime, role: str | None, after_id: int) -> Select[Any]:
    """The next ``STEP`` events (by id, after ``after_id``) the user holds a permission on,
    deleted or not, with the content of their version at ``at``: plain columns, no ORM objects
    (a past calendar is hundreds of rows)."""
    query = (
        select(
            Event.id,
            Event.owner_id,
            Event.created_at,
            Permission.role,
            EventVersion.version,
            EventVersion.created_at.label("version_at"),
            EventVersion.snapshot,
        )
        .join(Permission, Permission.event_id == Event.id)
        .join(EventVersion, EventVersion.id == _version_at(at))
        .where(Permission.user_id == user_id, EventVersion.action != "deleted", Event.id > after_id)
        .order_by(Event.id)
        .limit(STEP)
    )
    if role is not None:
        query = query.where(Permission.role == role)
    return query


def _past_row(row: Any) -> SimpleNamespace:
    """The event of a ``_calendar_at`` row as it was: the fields ``event_body`` and
    ``scheduling.series_of`` read, content from the snapshot."""
    return SimpleNamespace(
        id=row.id,
        owner_id=row.owner_id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.version_at,
        related_events=None,  # links are not content: a past read shows none
        **snapshot_columns(row.snapshot),
    )


async def _past_calendar(
    session: AsyncSession, user_id: int, at: datetime, role: str | None, pacer: Pacer
) -> list[tuple[Any, str]]:
    """Every event of the caller's calendar at ``at`` with the caller's role, read in keyset
    steps with a ``pacer`` tick between them (SQLite runs on the event loop)."""
    found: list[tuple[Any, str]] = []
    after_id = 0
    while True:
        rows = (await session.execute(_calendar_at(user_id, at, role, after_id))).all()
        found += await pacer.map(lambda row: (_past_row(row), row.role), rows)
        if len(rows) < STEP:
            return found
        after_id = rows[-1].id
        await pacer.tick()


def _in_window(event: Any, start: datetime | None, end: datetime | None, zone: str = "UTC") -> bool:
    """Whether an occurrence of the (past) series overlaps the window, as the live list does
    (an all-day one placed in ``zone``)."""
    return listing.series_in_window(scheduling.series_of(event, zone=zone), start, end)


def _matches(event: Any, text: str | None) -> bool:
    """Case-insensitive substring match on title, description and location."""
    if not text:
        return True
    needle = text.lower()
    return any(needle in (getattr(event, f) or "").lower() for f in _TEXT_FIELDS)


async def list_events_as_of(
    session: AsyncSession,
    *,
    user_id: int,
    at: datetime,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
    role: str | None,
    limit: int,
    cursor: str | None,
    skip: int | None,
    expand: bool = False,
    zone: str = "UTC",
) -> dict[str, Any]:
    """A page of the caller's calendar as it was at ``at``, sorted by (past) start then id
    (all-day events placed in ``zone``, the caller's, for the window and their times).

    One query fetches each event's version at ``at``; the window and text filters then apply
    to that past content, so they cannot use the live indexes (a past read is rare).
    """
    if expand:
        raise ValidationFailed("expand=true cannot be combined with as_of", loc=("query", "expand"))
    listing.validate_window(start, end)
    start = None if start is None else max(start, listing.WINDOW_FLOOR)
    after = listing.cursor_position(cursor)
    pacer = Pacer()
    past = await _past_calendar(session, user_id, at, role, pacer)
    wanted = await pacer.map(
        lambda item: _matches(item[0], q) and _in_window(item[0], start, end, zone), past
    )
    kept = [item for item, keep in zip(past, wanted, strict=True) if keep]
    kept.sort(key=lambda item: (item[0].start_time, item[0].id))
    if after is not None:
        kept = [item for item in kept if (item[0].start_time, item[0].id) > after]
    kept = kept[skip or 0 :]
    page = kept[:limit]
    next_cursor = None
    if len(kept) > limit:
        last = page[-1][0]
        next_cursor = encode_cursor(format_instant(last.start_time), last.id)
    items = await pacer.map(lambda item: all_day.place_body(event_body(*item), zone), page)
    return {"items": items, "next_cursor": next_cursor}
