"""Calendars as text/calendar: one event, a window of the caller's calendar, a feed.

Rendering is pure CPU with no natural step (``icalendar`` serialises a whole calendar at
once), so it runs off the event loop on the process's CPU lane (``core.cooperative.off_loop``),
as the word diff does. A feed checks its entity tag before reading any event: an unchanged
calendar costs the token lookup and one aggregate statement (``listing.calendar_stamp``).
One event's tag names its version and when an import last wrote the lines kept of it, read
with them in one primary-key lookup (``event_calendar``), before anything is rendered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from calendo.auth.caller import Bearer
from calendo.core.cache import Cache
from calendo.core.cooperative import off_loop
from calendo.core.db import Reads
from calendo.core.errors import ValidationFailed
from calendo.events import listing
from calendo.events.preconditions import none_match_fails, version_tag
from calendo.ical import convert
from calendo.ical.models import EventIcalExtra
from calendo.ical.tokens import Feed
from calendo.sharing.models import Permission

# A feed serves the events with an occurrence from a year before today to two years after.
FEED_DAYS_BACK = 365
FEED_DAYS_AHEAD = 730
# Bumped when the rendering changes, so that no client keeps a copy a 304 would confirm.
RENDERING = "4"


_EXTRAS = select(EventIcalExtra.event_id, EventIcalExtra.lines).where(
    EventIcalExtra.event_id.in_(bindparam("ids", expanding=True))
)
# One event's kept lines and when they were written (its primary key).
_ONE_EXTRA = select(EventIcalExtra.lines, EventIcalExtra.updated_at).where(
    EventIcalExtra.event_id == bindparam("event_id")
)


# How many events the user can see keep imported lines, and when the latest were written.
_EXTRAS_STAMP = (
    select(func.count(), func.max(EventIcalExtra.updated_at))
    .select_from(Permission)
    .join(EventIcalExtra, EventIcalExtra.event_id == Permission.event_id)
    .where(Permission.user_id == bindparam("user_id"))
)


async def with_extras(reads: Reads, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bodies with what an import kept of each (``ical_extra``), read in one statement
    per thousand events (none when no event of them was imported with such lines)."""
    ids = [body["id"] for body in bodies]
    found: dict[int, dict[str, Any]] = {}
    for first in range(0, len(ids), 1000):
        rows = await reads.all(_EXTRAS, {"ids": ids[first : first + 1000]})
        found.update({row.event_id: row.lines for row in rows})
    if not found:
        return bodies
    return [
        {**body, "ical_extra": found[body["id"]]} if body["id"] in found else body
        for body in bodies
    ]


@dataclass(frozen=True, slots=True)
class Tagged:
    """A calendar's entity tag, and its body unless the client's copy is current (None)."""

    tag: str
    body: bytes | None


async def event_calendar(
    reads: Reads, body: Mapping[str, Any], *, if_none_match: str | None
) -> Tagged:
    """One event (its ``EventRead`` body) as a VCALENDAR, or only its tag when
    ``if_none_match`` names it.

    The tag is ``"<id>-<version>@ics<rendering>"`` (``RENDERING``, so that a copy rendered
    before the rendering changed is not confirmed); for an event an import kept lines of
    (``EventIcalExtra``, not versioned) ``"<id>-<version>@ics<rendering>.<µs>"``, ``<µs>`` the
    time the import wrote them in microseconds since the Unix epoch (UTC), so a re-import that
    changes only those lines changes the tag. ``If-Match`` reads the version of either (the
    part before ``@``)."""
    rows = await reads.all(_ONE_EXTRA, {"event_id": body["id"]})
    full, kind = dict(body), f"ics{RENDERING}"
    if rows:
        [(lines, written)] = rows
        full["ical_extra"] = lines
        kind = f"ics{RENDERING}.{_microseconds(written)}"
    tag = version_tag(body["id"], body["version"], kind)
    if none_match_fails(if_none_match, tag):
        return Tagged(tag, None)
    return Tagged(tag, await off_loop(convert.to_calendar, [full]))


def _microseconds(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _too_many(cap: int, loc: str) -> ValidationFailed:
    return ValidationFailed(
        f"more than {cap} events have an occurrence in this window, the most one text/calendar "
        "answer holds (CALENDO_ICAL_MAX_EVENTS); ask for a shorter window",
        loc=("query", loc),
    )


async def window_calendar(
    reads: Reads,
    *,
    caller: Bearer,
    start: datetime,
    end: datetime,
    q: str | None,
    role: str | None,
    cap: int,
) -> bytes:
    """Every event of the caller's calendar with an occurrence in the window, as one
    VCALENDAR; 422 when there are more than ``cap``."""
    bodies, more = await listing.calendar_window(
        reads, owner=caller, start=start, end=end, q=q, role=role, cap=cap
    )
    if more:
        raise _too_many(cap, "end_time")
    return await off_loop(convert.to_calendar, await with_extras(reads, bodies))


def feed_window(today: datetime) -> tuple[datetime, datetime]:
    """The window a feed serves, from UTC midnight of ``today``'s date."""
    midnight = today.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=FEED_DAYS_BACK), midnight + timedelta(days=FEED_DAYS_AHEAD)


async def feed_calendar(
    reads: Reads,
    *,
    feed: Feed,
    cap: int,
    if_none_match: str | None,
    now: datetime,
    cache: Cache,
    ttl: int,
) -> Tagged:
    """The feed's calendar, or only its tag when ``if_none_match`` names it (checked before
    any event is read).

    A rendering is cached under its tag, so a client that polls without ``If-None-Match``
    gets an unchanged calendar without it being read and rendered again. The tag changes with
    every change the calendar's owner can see, so no stale rendering is ever reachable (and
    the secret was checked before: a revoked feed reaches no cache entry)."""
    start, end = feed_window(now)
    stamp = await listing.calendar_stamp(reads, user_id=feed.user_id, start=start, end=end)
    if not feed.busy_only:  # what imports kept, which no event version records
        [(kept, latest)] = await reads.all(_EXTRAS_STAMP, {"user_id": feed.user_id})
        stamp += f"|{kept}.{latest or '-'}"
    state = f"{RENDERING}|{start.date().isoformat()}|{stamp}".encode()
    tag = f'"feed-{feed.id}-{hashlib.sha256(state).hexdigest()[:32]}"'
    if none_match_fails(if_none_match, tag):
        return Tagged(tag, None)
    key = f"ics:{tag}"
    cached = await cache.get(key)
    if cached is not None:
        return Tagged(tag, cached)
    bodies, more = await listing.calendar_window(
        reads, owner=feed.user_id, start=start, end=end, cap=cap
    )
    if more:
        raise _too_many(cap, "feed")
    if not feed.busy_only:  # a busy-only feed shows times alone
        bodies = await with_extras(reads, bodies)
    body = await off_loop(_render_feed, bodies, feed)
    await cache.set(key, body, ttl=ttl)
    return Tagged(tag, body)


def _render_feed(bodies: list[dict[str, Any]], feed: Feed) -> bytes:
    return convert.to_calendar(bodies, busy_only=feed.busy_only, name=feed.name)
