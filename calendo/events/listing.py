"""Reading events: one event (optionally as of a past time), the calendar list, occurrences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth.caller import Bearer, require_live
from calendo.calendar import recurrence, stepped
from calendo.core.config import Settings
from calendo.core.cooperative import Pacer
from calendo.core.db import Reads
from calendo.core.deps import Services
from calendo.core.errors import ValidationFailed
from calendo.core.formats import encode_json
from calendo.core.pagination import decode_cursor, encode_cursor
from calendo.events import access, all_day, overrides, repository, scheduling
from calendo.events.presenters import calendar_bodies, event_body, permission_body
from calendo.events.schemas import MIN_YEAR
from calendo.events.snapshots import format_instant, parse_instant
from calendo.events.state import EventFields

_CHUNK = 100


# A read's body, and the caller's account zone its statement read along (the zone its times
# are rendered in when the request names no ``tz``).
WithZone = tuple[dict[str, Any], str]


async def get_event(reads: Reads, *, caller: Bearer, event_id: int) -> WithZone:
    """The event with the caller's role and the permission list (one statement, which also
    proves the caller's login session live and reads the caller's default zone)."""
    event, role, perms = await access.require_event_with_permissions(
        reads, caller=caller, event_id=event_id
    )
    body = event_body(event, role)
    body["permissions"] = [permission_body(p, p.username) for p in perms]
    return body, event.user_timezone


def _page_bodies(rows: list[Row[Any]]) -> tuple[list[dict[str, Any]], str]:
    """Calendar rows as bodies, and the caller's default zone they carry (no rows, no times
    to render: UTC)."""
    bodies = calendar_bodies(rows)
    for body in bodies:
        del body["caller_timezone"]  # a column of the statement, not a field of the body
    return bodies, rows[0].caller_timezone if rows else "UTC"


# Every event starts after 1900 (schemas.MIN_YEAR), so window starts before this floor can be
# raised to it without losing an occurrence; expansion near year 1 would overflow.
WINDOW_FLOOR = datetime(MIN_YEAR - 100, 1, 1, tzinfo=UTC)


def validate_window(start: datetime | None, end: datetime | None) -> None:
    """An empty or inverted window is a client error, not an empty page."""
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("end_time must be after start_time", loc=("query", "end_time"))


def _floored(start: datetime | None) -> datetime | None:
    return None if start is None else max(start, WINDOW_FLOOR)


def cursor_position(cursor: str | None) -> tuple[datetime, int] | None:
    """The (start, id) a cursor points after; 422 when it is not one of ours."""
    if cursor is None:
        return None
    raw_start, raw_id = decode_cursor(cursor, length=2)
    if not isinstance(raw_start, str) or not isinstance(raw_id, int):
        raise ValidationFailed("malformed cursor", loc=("query", "cursor"))
    try:
        return parse_instant(raw_start), raw_id
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed("malformed cursor", loc=("query", "cursor")) from exc


def _calendar(
    *,
    caller: Bearer | int,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
    role: str | None,
    after: tuple[datetime, int] | None = None,
    paged: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """The prepared calendar statement for these filters, and the values to bind; ``caller``
    is a bearer (its login session must be live) or a bare user id (a feed's owner)."""
    live = isinstance(caller, Bearer)
    params: dict[str, Any] = {
        "user_id": caller.user_id if isinstance(caller, Bearer) else caller,
        "session_id": caller.session_id if isinstance(caller, Bearer) else None,
        "start": start,
        "end": end,
        "role": role,
    }
    if q:
        params["pattern"] = repository.text_pattern(q)
    if after is not None:
        params["after_start"], params["after_id"] = after
    statement = repository.calendar_query(
        start=start is not None,
        end=end is not None,
        text=bool(q),
        role=bool(role),
        after=after is not None,
        paged=paged,
        live=live,
    )
    return statement, {k: v for k, v in params.items() if v is not None}


def _occurs_in(
    event: Row[Any], start: datetime | None, end: datetime | None, zone: str = "UTC"
) -> bool:
    """Whether a recurring event really has an occurrence in the window; an all-day event
    (recurring or not) placed in ``zone``, since its stored bounds are wider than any
    placement of its dates."""
    if event.all_day:
        return _all_day_in(event, start, end, zone)
    if not event.is_recurring or start is None or end is None:
        return True
    return recurrence.occurs_in(scheduling.series_of(event), start, end)


def _all_day_in(event: Row[Any], start: datetime | None, end: datetime | None, zone: str) -> bool:
    """Whether an all-day event placed in ``zone`` has an occurrence in the (half-open) window."""
    return series_in_window(scheduling.series_of(event, zone=zone), start, end)


def series_in_window(
    series: recurrence.Series, start: datetime | None, end: datetime | None
) -> bool:
    """Whether the series has an occurrence in a window, either bound of which may be open."""
    if start is not None and end is not None:
        return recurrence.occurs_in(series, start, end)
    if end is not None:
        return scheduling.first_start(series) < end
    if start is not None:
        last = scheduling.last_end(series)
        return last is None or last > start
    return True


def _zone_of(rows: Sequence[Row[Any]], tz: str | None) -> str:
    """The zone all-day dates are placed in: the read's ``tz``, else the caller's account zone
    (which the statement read along)."""
    if tz is not None:
        return tz
    return rows[0].caller_timezone if rows else "UTC"


async def list_events(
    reads: Reads,
    *,
    caller: Bearer,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
    role: str | None,
    limit: int,
    cursor: str | None,
    skip: int | None,
    tz: str | None = None,
) -> WithZone:
    """A page of the caller's calendar, sorted by start then id (keyset pagination); an
    all-day event is in the window when its dates, placed in the caller's zone (``tz``, else
    the account's), overlap it, and its times are that placement."""
    validate_window(start, end)
    start = _floored(start)
    query, params = _calendar(
        caller=caller,
        start=start,
        end=end,
        q=q,
        role=role,
        after=cursor_position(cursor),
        paged=True,
    )
    items = await _occurring(
        reads,
        query,
        params,
        caller=caller,
        offset=skip or 0,
        limit=limit,
        window=(start, end),
        tz=tz,
    )
    page = items[:limit]
    next_cursor = None
    if len(items) > limit:
        last = page[-1]
        next_cursor = encode_cursor(format_instant(last.start_time), last.id)
    bodies, zone = _page_bodies(page)
    all_day.place_bodies(bodies, tz or zone)
    return {"items": bodies, "next_cursor": next_cursor}, zone


async def _occurring(
    reads: Reads,
    query: Any,
    params: dict[str, Any],
    *,
    caller: Bearer | None,
    offset: int,
    limit: int,
    window: tuple[datetime | None, datetime | None],
    tz: str | None = None,
) -> list[Row[Any]]:
    """The rows of a paged calendar statement from ``offset`` that occur in the window, read
    until more than ``limit`` are found or the rows run out: the caller keeps the first
    ``limit``, and one more tells there is more. Recurring candidates without an occurrence in
    the window are dropped, so it fetches again until it has enough; an all-day event is placed
    in ``tz``, else the caller's account zone (``_zone_of``). With a ``caller``, an empty
    first fetch proves the login session live (401 otherwise)."""
    start, end = window
    chunk = limit + 1
    items: list[Row[Any]] = []
    first = offset
    while len(items) <= limit:
        rows = await reads.all(query, {**params, "offset": offset, "limit": chunk})
        if not rows and offset == first and caller is not None:
            await require_live(reads, caller)  # an empty calendar, or a revoked session
        zone = _zone_of(rows, tz)
        items.extend(row for row in rows if _occurs_in(row, start, end, zone))
        if len(rows) < chunk:
            break
        offset += chunk
        chunk = max(chunk, _CHUNK)
    return items


async def calendar_window(
    reads: Reads,
    *,
    owner: Bearer | int,
    start: datetime,
    end: datetime,
    cap: int,
    q: str | None = None,
    role: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Every event of a calendar with an occurrence in the window, sorted by start then id, as
    ``EventRead`` bodies (at most ``cap``), and whether more were left out.

    ``owner``: the caller's bearer (its login session must be live: 401 otherwise), or the
    user id of a feed's owner (whose token the feed checked)."""
    validate_window(start, end)
    start = max(start, WINDOW_FLOOR)
    query, params = _calendar(caller=owner, start=start, end=end, q=q, role=role, paged=True)
    caller = owner if isinstance(owner, Bearer) else None
    rows = await _occurring(
        reads, query, params, caller=caller, offset=0, limit=cap, window=(start, end)
    )
    bodies, _ = _page_bodies(rows[:cap])
    return bodies, len(rows) > cap


async def calendar_stamp(reads: Reads, *, user_id: int, start: datetime, end: datetime) -> str:
    """A short text that changes whenever ``calendar_window`` of that window would
    (``repository.calendar_stamp_query``): one indexed aggregate, no row content read."""
    params = {"user_id": user_id, "start": start, "end": end}
    [(seq, count, ids, versions, latest)] = await reads.all(
        repository.calendar_stamp_query(), params
    )
    return f"{seq or 0}.{count}.{ids}.{versions}.{latest or '-'}"


async def list_expanded(
    reads: Reads,
    *,
    caller: Bearer,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
    role: str | None,
    limit: int,
    cursor: str | None,
    settings: Settings,
    tz: str | None = None,
) -> WithZone:
    """One item per occurrence in the window, sorted by occurrence start then id (all-day
    occurrences placed in the caller's zone: ``tz``, else the account's)."""
    if start is None or end is None:
        raise ValidationFailed("expand=true needs start_time and end_time", loc=("query", "expand"))
    validate_window(start, end)
    after = cursor_position(cursor)
    # Expanding from the cursor, not the window start, keeps every page within the per-series
    # expansion cap (max_occurrences > the page limit), however long the series.
    since = (
        max(start, after[0], WINDOW_FLOOR) if after and after[0] < end else max(start, WINDOW_FLOOR)
    )
    query, params = _calendar(caller=caller, start=since, end=end, q=q, role=role)
    found = await reads.all(query, params)
    if not found:
        await require_live(reads, caller)  # an empty window, or a revoked session
    rows: list[tuple[datetime, int, recurrence.Occurrence, Row[Any]]] = []
    pacer = Pacer()
    zone = _zone_of(found, tz)
    for event in found:
        series = scheduling.series_of(event, zone=zone)
        expansion = await pacer.drive(
            stepped.expansion(series, since, end, limit=settings.max_occurrences)
        )
        for occ in expansion.occurrences:
            if after is None or (occ.start, event.id) > after:
                rows.append((occ.start, event.id, occ, event))
        await pacer.tick()
    rows.sort(key=lambda r: (r[0], r[1]))
    page = rows[:limit]
    await pacer.tick()
    bodies, account_zone = _page_bodies([event for _, _, _, event in page])
    all_day.place_bodies(bodies, zone)
    items = await pacer.map(
        lambda pair: {**pair[0], **occurrence_fields(pair[1][2], pair[1][3])},
        zip(bodies, page, strict=True),
    )
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(format_instant(page[-1][0]), page[-1][1])
    return {"items": items, "next_cursor": next_cursor}, account_zone


async def occurrences(
    session: AsyncSession,
    *,
    services: Services,
    user_id: int,
    event_id: int,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    zone: str = "UTC",
) -> bytes:
    """The series expanded in a window (default: from its start, one year or to its end), as
    the JSON body with its times rendered in ``zone`` (an all-day series placed there).

    Cached per event version, window and zone: a write bumps the version, so stale entries
    are never read, and a rendering in one zone is never served to a caller reading in
    another; access is checked on every call before the cache is consulted.
    """
    found = await access.require_event(session, user_id=user_id, event_id=event_id)
    event = found.event
    series = scheduling.series_of(event, zone=zone)
    validate_window(start, end)
    start, end = _default_window(series, _floored(start), end)
    if end <= start:  # a defaulted bound fell on the other side: nothing to expand
        return encode_json({"event_id": event.id, "items": [], "truncated": False})
    window = f"{start.timestamp()}:{end.timestamp()}:{limit}"
    key = f"occ:{event.id}:{event.version}:{window}:{zone}"
    cached = await services.cache.get(key)
    if cached is not None:
        return cached
    pacer = Pacer()
    expansion = await pacer.drive(stepped.expansion(series, start, end, limit=limit))
    items = await pacer.map(lambda o: occurrence_fields(o, event), expansion.occurrences)
    body = {"event_id": event.id, "items": items, "truncated": expansion.truncated}
    encoded = encode_json(body, zone=zone)
    await services.cache.set(key, encoded, ttl=services.settings.cache_ttl_seconds)
    return encoded


def occurrence_fields(
    occurrence: recurrence.Occurrence, event: EventFields | Row[Any]
) -> dict[str, Any]:
    """An occurrence's own fields: its start and end and, when overridden, its recurrence
    id and what its override gives it (title, description, location, transparency)."""
    fields: dict[str, Any] = {
        "occurrence_start": occurrence.start,
        "occurrence_end": occurrence.end,
    }
    if occurrence.recurrence_id is not None:
        fields["recurrence_id"] = occurrence.recurrence_id
        own = overrides.for_occurrence(event.recurrence_overrides, occurrence.recurrence_id)
        for name in overrides.CONTENT:
            if own is not None and name in own:
                fields[name] = own[name]
    return fields


def _default_window(
    series: recurrence.Series, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """Fill a missing bound: from the series start, to its end or one year on."""
    start = start or scheduling.first_start(series)
    if end is None:
        last = scheduling.last_end(series)
        end = last if last is not None else _year_after(start)
    return start, end


def _year_after(value: datetime) -> datetime:
    try:
        return value + timedelta(days=366)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)
