"""Sync use cases: a full snapshot of the caller's calendar, then incremental pages of changes.

A cursor is ``encode_cursor(user_id, seq, after_event_id)``:

* ``seq`` is the last feed sequence number the client has applied (the high-water mark);
* ``after_event_id`` is set only while a snapshot is being paged: the last event id sent.

A snapshot reads the high-water mark *before* the events, so a change committed while the
snapshot is read is also reported by the next incremental call (re-sending an upsert is
harmless; missing one is not). Incremental pages report, per event, the latest change within
the page: an upsert carries the event as it is *now* (or becomes a delete when the caller can
no longer see it), a delete carries nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.cooperative import Pacer
from calendo.core.errors import Gone, ValidationFailed
from calendo.core.pagination import decode_cursor, encode_cursor
from calendo.core.types import MAX_ID
from calendo.events import sync_reads as repository
from calendo.events.presenters import event_body
from calendo.sync.models import SyncChange

START_OVER = "discard the local copy and sync again without a cursor"
# Sequence numbers and ids are 32-bit integer columns on PostgreSQL.


class SyncCursorInvalid(Gone):
    slug = "sync-cursor-invalid"
    title = "Sync cursor unusable"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a client stands: the feed seq it has applied, and snapshot progress if any."""

    seq: int
    after_event_id: int | None = None


def _encode(user_id: int, position: Position) -> str:
    return encode_cursor(user_id, position.seq, position.after_event_id)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def decode_position(cursor: str, *, user_id: int) -> Position:
    """Read a cursor issued to ``user_id``; 410 for anything else."""
    try:
        owner, seq, after = decode_cursor(cursor, length=3)
    except ValidationFailed as exc:
        raise SyncCursorInvalid(f"The sync cursor is malformed; {START_OVER}") from exc
    if not (_is_count(owner) and _is_count(seq) and (after is None or _is_count(after))):
        raise SyncCursorInvalid(f"The sync cursor is malformed; {START_OVER}")
    if owner != user_id:
        raise SyncCursorInvalid(f"The sync cursor was issued to another user; {START_OVER}")
    return Position(seq=seq, after_event_id=after)


async def sync_changes(
    session: AsyncSession,
    *,
    user_id: int,
    cursor: str | None,
    limit: int | None,
    page_size: int,
) -> dict[str, Any]:
    """One page of the caller's sync: the snapshot without a cursor, the changes with one.

    ``limit`` (default and ceiling: ``page_size``) bounds the events of a snapshot page or
    the feed rows of an incremental page.
    """
    limit = min(limit or page_size, page_size)
    newest = await repository.newest_seq(session, user_id)
    if cursor is None:
        start = Position(newest, 0)
        return await _snapshot_page(session, user_id=user_id, at=start, newest=newest, limit=limit)
    position = decode_position(cursor, user_id=user_id)
    if position.seq > newest:
        raise SyncCursorInvalid(
            f"The sync cursor names changes this server does not have; {START_OVER}"
        )
    if position.after_event_id is not None:
        return await _snapshot_page(
            session, user_id=user_id, at=position, newest=newest, limit=limit
        )
    return await _changes_page(session, user_id=user_id, at=position, limit=limit)


async def _snapshot_page(
    session: AsyncSession, *, user_id: int, at: Position, newest: int, limit: int
) -> dict[str, Any]:
    """Every visible event as an upsert, by id; the last page hands over to incremental.

    The last page still says ``has_more`` when changes arrived while the snapshot was paged,
    so a client that loops on ``has_more`` ends up current.
    """
    pacer = Pacer()
    rows = await repository.visible_page(
        session, user_id=user_id, after_id=at.after_event_id or 0, limit=limit + 1, pacer=pacer
    )
    page, more_events = rows[:limit], len(rows) > limit
    changes = await pacer.map(lambda found: _upsert(found[0].id, event_body(*found)), page)
    after = page[-1][0].id if more_events else None
    return {
        "changes": changes,
        "next_cursor": _encode(user_id, Position(at.seq, after)),
        "has_more": more_events or newest > at.seq,
    }


def _latest_per_event(rows: list[SyncChange]) -> list[SyncChange]:
    """The last row of each event, ordered by that row's seq."""
    latest: dict[int, SyncChange] = {}
    for row in rows:
        latest.pop(row.event_id, None)
        latest[row.event_id] = row
    return list(latest.values())


async def _changes_page(
    session: AsyncSession, *, user_id: int, at: Position, limit: int
) -> dict[str, Any]:
    """Feed rows after the cursor, deduplicated per event, upserts with the current body."""
    rows = await repository.changes_after(
        session, user_id=user_id, after_seq=at.seq, limit=limit + 1
    )
    page, has_more = rows[:limit], len(rows) > limit
    latest = _latest_per_event(page)
    wanted = [row.event_id for row in latest if row.change == "upsert"]
    visible = await repository.visible_by_id(session, user_id=user_id, event_ids=wanted)
    changes = await Pacer().map(lambda row: _change(row, visible), latest)
    seq = page[-1].seq if page else at.seq
    return {
        "changes": changes,
        "next_cursor": _encode(user_id, Position(seq)),
        "has_more": has_more,
    }


def _change(row: SyncChange, visible: dict[int, tuple[Any, str]]) -> dict[str, Any]:
    """A feed row as a change: an upsert with the event as it is now, or a delete."""
    found = visible.get(row.event_id) if row.change == "upsert" else None
    if found is None:
        return {"event_id": row.event_id, "change": "delete", "event": None}
    return _upsert(row.event_id, event_body(*found))


def _upsert(event_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event_id, "change": "upsert", "event": body}
