"""The one access check: "what is this user's role on this event", in a single query.

Every event read and write resolves the event through ``require_event`` (or the scoped list
queries of the events repository, which join the same permission table), so no route can
forget to check. An event the caller cannot see is 404; a visible one with too low a role 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Select, Table, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from calendo.auth.caller import Bearer, refuse, require_live
from calendo.auth.models import User
from calendo.auth.scopes import LIVE_SESSION, lock_calendar
from calendo.core import statements
from calendo.core.db import Reads
from calendo.core.errors import NotFound, PermissionDenied
from calendo.events.models import Event
from calendo.events.state import EventFields, EventState
from calendo.sharing.models import Permission
from calendo.sharing.policy import Role, allows, is_role

_E = TypeVar("_E", bound=EventFields)


class EventNotFound(NotFound):
    slug = "event-not-found"
    title = "Event not found"


@dataclass(frozen=True, slots=True)
class Access:
    """An event the caller may read, loaded by the session, and the caller's role on it."""

    event: Event
    role: Role


@dataclass(frozen=True, slots=True)
class WriteAccess:
    """An event locked for a write, as a frozen state, with the caller's role, everyone who
    can see it (user id → role), and the caller's username and default zone when the lock
    also checked their login session."""

    event: EventState
    role: Role
    audience: dict[int, str]
    actor_name: str | None = None
    actor_timezone: str | None = None


_EVENT_AND_ROLE = (
    select(Event, Permission.role)
    .join(Permission, Permission.event_id == Event.id)
    .where(Event.id == bindparam("event_id"), Permission.user_id == bindparam("user_id"))
)

# The locked event is read as plain columns, through ``core.statements`` (no ORM loading), and
# handed back as a frozen ``EventState``; its writes are Core UPDATEs
# (``events.repository.apply_changes``), never a flush.
_EVENT_TABLE = cast(Table, Event.__table__)
_LOCK_COLUMNS = (*_EVENT_TABLE.c, Permission.role)

_Everyone = aliased(Permission)


def _lock_reads(*, live: bool) -> tuple[Select[Any], Select[Any]]:
    """The reads of ``lock_event``: SQLite's and PostgreSQL's (see below). With ``live``,
    each also proves the caller's login session live (bind ``session_id``; no row if it is
    not) and names the caller (``actor_name``, ``actor_timezone``)."""
    columns: list[Any] = [*_LOCK_COLUMNS]
    if live:
        columns.append(User.username.label("actor_name"))
        columns.append(User.timezone.label("actor_timezone"))

    def scoped(query: Select[Any]) -> Select[Any]:
        query = query.join(Permission, Permission.event_id == _EVENT_TABLE.c.id).where(
            _EVENT_TABLE.c.id == bindparam("event_id"),
            Permission.user_id == bindparam("user_id"),
        )
        if live:
            query = query.join(User, User.id == Permission.user_id).where(LIVE_SESSION)
        return query

    # SQLite: one row per permission of the event, each with the caller's role, so the writer
    # learns who to tell (feed, notifications) in the statement that reads the event. Its
    # write transaction is exclusive (BEGIN IMMEDIATE), so nothing can change in between.
    sqlite = scoped(
        select(*columns, _Everyone.user_id.label("member"), _Everyone.role.label("grant"))
    ).join(_Everyone, _Everyone.event_id == _EVENT_TABLE.c.id)
    # PostgreSQL: lock first, then read the audience in a statement of its own. A statement
    # that waited for the lock still sees the other tables as of its own start (READ
    # COMMITTED re-reads only the locked row), so an audience read with the lock would miss a
    # permission the lock's previous holder just committed. ``FOR NO KEY UPDATE``: the rows
    # other writers append for this event (versions, feed, notifications) check their foreign
    # key with ``FOR KEY SHARE``, which passes beside it.
    postgres = scoped(select(*columns)).with_for_update(of=_EVENT_TABLE, key_share=True)
    return sqlite, postgres


_LOCK_READS = {live: _lock_reads(live=live) for live in (False, True)}
_IS_LIVE = select(LIVE_SESSION)
_AUDIENCE = select(Permission.user_id, Permission.role).where(
    Permission.event_id == bindparam("event_id")
)


def _checked(
    found: tuple[_E, str] | None, event_id: int, minimum: Role, include_deleted: bool
) -> tuple[_E, Role]:
    """The event and role of a lookup's first row, or 404 / 403."""
    if found is None or (found[0].deleted_at is not None and not include_deleted):
        raise EventNotFound(f"Event {event_id} not found")
    event, role = found
    if not is_role(role) or not allows(role, minimum):
        raise PermissionDenied(f"This needs the {minimum} role on event {event_id}; you are {role}")
    return event, role


async def require_event(
    session: AsyncSession,
    *,
    user_id: int,
    event_id: int,
    minimum: Role = "viewer",
    include_deleted: bool = False,
) -> Access:
    """Load an event with the caller's role, or raise 404 / 403."""
    params = {"event_id": event_id, "user_id": user_id}
    row = (await session.execute(_EVENT_AND_ROLE, params)).first()
    found = (row[0], row[1]) if row is not None else None
    event, role = _checked(found, event_id, minimum, include_deleted)
    return Access(event=event, role=role)


async def lock_event(
    session: AsyncSession,
    *,
    user_id: int,
    event_id: int,
    minimum: Role,
    include_deleted: bool = False,
    login_session: int | None = None,
) -> WriteAccess:
    """``require_event`` for a write, with the event's audience as of the lock: the event row
    locked until commit (PostgreSQL; SQLite's write transaction is exclusive already).

    With ``login_session`` (a route that took ``auth.bearer``), the same statement proves
    that session live and names the caller (``actor_name``): 401 if it is not live, whether
    or not the event exists.
    """
    live = login_session is not None
    params: dict[str, Any] = {"event_id": event_id, "user_id": user_id}
    if live:
        params["session_id"] = login_session
    sqlite_read, postgres_read = _LOCK_READS[live]

    def read(sync: Session, connection: Connection) -> tuple[list[Row[Any]], dict[int, str]]:
        if connection.dialect.name == "sqlite":
            # The write transaction is exclusive (BEGIN IMMEDIATE): nothing to lock.
            rows = statements.rows(connection, sqlite_read, params)
            return rows, {row.member: row.grant for row in rows}
        # The lock order: the caller's calendar before any event row (a no-op once taken).
        lock_calendar(sync, user_id)
        rows = statements.rows(connection, postgres_read, params)
        if not rows:
            return rows, {}
        members = statements.rows(connection, _AUDIENCE, {"event_id": event_id})
        return rows, {row.user_id: row.role for row in members}

    def run(sync: Session) -> tuple[Row[Any] | None, dict[int, str]]:
        sync.flush()  # what the session's own execute does first (autoflush)
        connection = sync.connection()
        rows, audience = read(sync, connection)
        if not rows:
            if live and not statements.rows(connection, _IS_LIVE, params)[0][0]:
                refuse()
            return None, audience
        return rows[0], audience

    first, audience = await session.run_sync(run)
    found = (EventState.of_row(first), first.role) if first is not None else None
    event, role = _checked(found, event_id, minimum, include_deleted)
    actor_name = actor_timezone = None
    if live and first is not None:
        actor_name, actor_timezone = first.actor_name, first.actor_timezone
    return WriteAccess(
        event=event,
        role=role,
        audience=audience,
        actor_name=actor_name,
        actor_timezone=actor_timezone,
    )


# Every event a multi-event write names, locked in ascending id order (the sort runs below
# the lock, so PostgreSQL locks the rows in that order). Only the caller's own events: a name
# the caller cannot see locks nothing (its operation fails with 404 all the same).
_LOCK_IN_ORDER = (
    select(_EVENT_TABLE.c.id)
    .join(Permission, Permission.event_id == _EVENT_TABLE.c.id)
    .where(
        _EVENT_TABLE.c.id.in_(bindparam("event_ids", expanding=True)),
        Permission.user_id == bindparam("user_id"),
    )
    .order_by(_EVENT_TABLE.c.id)
    .with_for_update(of=_EVENT_TABLE, key_share=True)
)


async def lock_events(session: AsyncSession, *, user_id: int, event_ids: list[int]) -> None:
    """Take, up front and in the global lock order, the locks of a write that touches several
    existing events (a transaction): the caller's calendar, then the events by ascending id.

    Each operation still goes through ``lock_event`` (the permission check, the audience);
    its lock is then already held, so no operation waits for a row while holding another
    that a concurrent writer took in the opposite order. PostgreSQL only: SQLite's write
    transaction is exclusive.
    """
    if session.get_bind().dialect.name != "postgresql":
        return

    def run(sync: Session) -> None:
        lock_calendar(sync, user_id)
        if event_ids:
            params = {"user_id": user_id, "event_ids": sorted(set(event_ids))}
            sync.execute(_LOCK_IN_ORDER, params).all()

    await session.run_sync(run)


_EVENT_WITH_PERMISSIONS = (
    select(
        Event,
        Permission.user_id,
        Permission.role,
        Permission.granted_by,
        Permission.granted_at,
        User.username,
        User.timezone.label("user_timezone"),
    )
    .join(Permission, Permission.event_id == Event.id)
    .join(User, User.id == Permission.user_id)
    .where(Event.id == bindparam("event_id"), LIVE_SESSION)
    .order_by(Permission.id)
)


async def require_event_with_permissions(
    reads: Reads, *, caller: Bearer, event_id: int
) -> tuple[Row[Any], Role, list[Row[Any]]]:
    """``require_event`` (viewer) and the permission list with usernames, in one statement
    that also proves the caller's login session live (nothing found: 401 if it is not).

    Returns the event's row (its columns by name), the caller's role, and one row per
    permission (``user_id``, ``role``, ``granted_by``, ``granted_at``, ``username``,
    ``user_timezone``: that user's account zone), owner first. The event's row is the
    caller's own permission row, so its ``user_timezone`` is the caller's default zone.
    """
    params = {"event_id": event_id, "user_id": caller.user_id, "session_id": caller.session_id}
    rows = await reads.all(_EVENT_WITH_PERMISSIONS, params)
    if not rows:
        await require_live(reads, caller)
    mine = next((row for row in rows if row.user_id == caller.user_id), None)
    if mine is None or mine.deleted_at is not None:
        raise EventNotFound(f"Event {event_id} not found")
    role = mine.role
    if not is_role(role):
        raise PermissionDenied(f"Unknown role {role!r} on event {event_id}")
    return mine, role, list(rows)


async def permissions_of(
    session: AsyncSession, event_ids: list[int]
) -> dict[int, list[tuple[Permission, str]]]:
    """Permission rows with usernames, per event, owner first."""
    if not event_ids:
        return {}
    rows = await session.execute(
        select(Permission, User.username)
        .join(User, User.id == Permission.user_id)
        .where(Permission.event_id.in_(event_ids))
        .order_by(Permission.event_id, Permission.id)
        # Permission rows are written through Core (``repository.apply_changes``): one the
        # session loaded before a role changed must take the row's values.
        .execution_options(populate_existing=True)
    )
    result: dict[int, list[tuple[Permission, str]]] = {eid: [] for eid in event_ids}
    for permission, username in rows:
        result[permission.event_id].append((permission, username))
    return result
