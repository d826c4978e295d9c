"""Reading events: one event (optionally as of a past time), the calendar list, occurrences."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.config import Settings
from calendo.core.deps import Services
from calendo.core.errors import ValidationFailed
from calendo.core.pagination import decode_cursor, encode_cursor
from calendo.events import recurrence, repository, scheduling
from calendo.events.models import Event
from calendo.events.presenters import event_body, permission_body
from calendo.events.snapshots import format_instant, parse_instant
from calendo.sharing import access

_CHUNK = 100


async def get_event(session: AsyncSession, *, user_id: int, event_id: int) -> dict[str, Any]:
    """The event with the caller's role and the permission list."""
    found = await access.require_event(session, user_id=user_id, event_id=event_id)
    perms = await access.permissions_of(session, [event_id])
    body = event_body(found.event, found.role)
    body["permissions"] = [permission_body(p, name) for p, name in perms[event_id]]
    return body


def _keyset(query: Any, cursor: str | None) -> Any:
    if cursor is None:
        return query
    start_raw, last_id = decode_cursor(cursor, length=2)
    try:
        start = parse_instant(str(start_raw))
        last_id = int(last_id)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("malformed cursor", loc=("query", "cursor")) from exc
    return query.where(
        or_(Event.start_time > start, and_(Event.start_time == start, Event.id > last_id))
    )


def _occurs_in(event: Event, start: datetime | None, end: datetime | None) -> bool:
    """Whether a recurring event really has an occurrence in the window."""
    if not event.is_recurring or start is None or end is None:
        return True
    expansion = recurrence.expand(scheduling.series_of(event), start, end, limit=1)
    return bool(expansion.occurrences)


async def list_events(
    session: AsyncSession,
    *,
    user_id: int,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
    role: str | None,
    limit: int,
    cursor: str | None,
    skip: int | None,
) -> dict[str, Any]:
    """A page of the caller's calendar, sorted by start then id (keyset pagination)."""
    query = repository.visible_events(user_id)
    query = repository.in_window(query, start, end)
    if q:
        query = repository.matching_text(query, q)
    if role:
        query = query.where(repository.Permission.role == role)
    query = _keyset(query, cursor).order_by(Event.start_time, Event.id)
    offset = skip or 0
    items: list[tuple[Event, str]] = []
    while len(items) <= limit:
        rows = await repository.fetch(session, query.offset(offset).limit(_CHUNK))
        items.extend(row for row in rows if _occurs_in(row[0], start, end))
        if len(rows) < _CHUNK:
            break
        offset += _CHUNK
    page = items[:limit]
    next_cursor = None
    if len(items) > limit:
        last = page[-1][0]
        next_cursor = encode_cursor(format_instant(last.start_time), last.id)
    return {"items": [event_body(e, r) for e, r in page], "next_cursor": next_cursor}


async def list_expanded(
    session: AsyncSession,
    *,
    user_id: int,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
    role: str | None,
    limit: int,
    cursor: str | None,
    settings: Settings,
) -> dict[str, Any]:
    """One item per occurrence in the window, sorted by occurrence start then id."""
    if start is None or end is None:
        raise ValidationFailed("expand=true needs start_time and end_time", loc=("query", "expand"))
    query = repository.in_window(repository.visible_events(user_id), start, end)
    if q:
        query = repository.matching_text(query, q)
    if role:
        query = query.where(repository.Permission.role == role)
    after: tuple[datetime, int] | None = None
    if cursor is not None:
        raw_start, raw_id = decode_cursor(cursor, length=2)
        try:
            after = (parse_instant(str(raw_start)), int(raw_id))
        except (ValueError, TypeError) as exc:
            raise ValidationFailed("malformed cursor", loc=("query", "cursor")) from exc
    rows: list[tuple[datetime, int, datetime, Event, str]] = []
    for event, event_role in await repository.fetch(session, query):
        expansion = recurrence.expand(
            scheduling.series_of(event), start, end, limit=settings.max_occurrences
        )
        for occ in expansion.occurrences:
            if after is None or (occ.start, event.id) > after:
                rows.append((occ.start, event.id, occ.end, event, event_role))
    rows.sort(key=lambda r: (r[0], r[1]))
    page = rows[:limit]
    items = [
        {**event_body(e, r), "occurrence_start": s, "occurrence_end": oe} for s, _, oe, e, r in page
    ]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(format_instant(page[-1][0]), page[-1][1])
    return {"items": items, "next_cursor": next_cursor}


async def occurrences(
    session: AsyncSession,
    *,
    services: Services,
    user_id: int,
    event_id: int,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> dict[str, Any]:
    """The series expanded in a window (default: from its start, one year or to its end).

    Cached per event version and window: a write bumps the version, so stale entries are
    never read; access is checked on every call before the cache is consulted.
    """
    found = await access.require_event(session, user_id=user_id, event_id=event_id)
    event = found.event
    series = scheduling.series_of(event)
    start = start or event.start_time
    if end is None:
        last = recurrence.series_last_end(series)
        end = last if last is not None else start + timedelta(days=366)
    if end <= start:
        raise ValidationFailed("end_time must be after start_time", loc=("query", "end_time"))
    key = f"occ:{event.id}:{event.version}:{start.timestamp()}:{end.timestamp()}:{limit}"
    cached = await services.cache.get(key)
    if cached is not None:
        body: dict[str, Any] = orjson.loads(cached)
        return body
    expansion = recurrence.expand(series, start, end, limit=limit)
    body = {
        "event_id": event.id,
        "items": [
            {"occurrence_start": format_instant(o.start), "occurrence_end": format_instant(o.end)}
            for o in expansion.occurrences
        ],
        "truncated": expansion.truncated,
    }
    await services.cache.set(key, orjson.dumps(body), ttl=services.settings.cache_ttl_seconds)
    return body
