"""History use cases: list and read versions, changelog, diff (JSON or HTML), rollback.

Every read checks the caller's current role through ``access.require_event``: someone who
lost access sees none of the history (404). Deleted events keep their history readable by
their collaborators, so an owner can look before restoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.cooperative import Pacer, off_loop
from calendo.core.errors import NotFound
from calendo.events import access, preconditions
from calendo.events import service as events
from calendo.events.presenters import snapshot_body
from calendo.events.snapshots import content_snapshot, ordered
from calendo.history import store as repository
from calendo.history.diff import diff_snapshots, is_degraded
from calendo.history.html import DiffSide, render_diff_html
from calendo.history.models import EventVersion
from calendo.history.summary import summarize

VERSION_STEP = 60


class VersionNotFound(NotFound):
    slug = "version-not-found"
    title = "Version not found"


def reverted_versions(rows: Sequence[EventVersion]) -> set[int]:
    """Versions undone by a later rollback: those between its target and itself."""
    undone: set[int] = set()
    for row in rows:
        if row.action == "rolled_back" and row.target_version is not None:
            undone.update(range(row.target_version + 1, row.version))
    return undone


def rendered_summary(row: EventVersion, previous: EventVersion | None) -> str:
    """A version's summary, rendered when read from its snapshot and its predecessor's.

    Read time, not the stored ``summary`` column: the text then speaks the version's own
    zone for versions written before summaries did, and a wording fix reaches every version.
    """
    return summarize(
        previous.snapshot if previous is not None else None,
        row.snapshot,
        action=row.action,
        target_version=row.target_version,
    )


def _size(row: EventVersion) -> int:
    return len(orjson.dumps(row.snapshot))


async def _summarized(
    entries: list[dict[str, Any]], rows: Sequence[EventVersion]
) -> list[dict[str, Any]]:
    """``entries`` (a page) with the summaries of their versions rendered: only the page's,
    never the whole history's (each is a diff of two snapshots, 20-50 µs), in paced steps
    (a 200-entry page is several milliseconds of them)."""
    position = {row.version: index for index, row in enumerate(rows)}
    pacer = Pacer()
    for entry in entries:
        if entry["version"] is not None:
            index = position[entry["version"]]
            entry["summary"] = rendered_summary(rows[index], rows[index - 1] if index else None)
            await pacer.tick()
    return entries


def _author(author_id: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    if author_id is None:
        return None
    return {"id": author_id, "username": names.get(author_id, "(deleted user)")}


def _entry(
    row: EventVersion,
    previous: EventVersion | None,
    names: dict[int, str],
    undone: set[int],
    latest: int,
    sizes: dict[int, int],
) -> dict[str, Any]:
    tags = [*row.tags, *(["reverted"] if row.version in undone else [])]
    base = f"/api/events/{row.event_id}/diff"
    return {
        "version": row.version,
        "action": row.action,
        "author": _author(row.author_id, names),
        "created_at": row.created_at,
        "note": row.note,
        "changed_fields": row.changed_fields,
        "summary": None,  # rendered for the entries a read returns (``_summarized``)
        "tags": tags,
        "size": sizes[row.version],
        "size_change": sizes[row.version] - (sizes[previous.version] if previous else 0),
        "links": {
            "previous": f"{base}/{previous.version}/{row.version}" if previous else None,
            "current": f"{base}/{row.version}/{latest}" if row.version != latest else None,
        },
    }


async def _load(
    session: AsyncSession, user_id: int, event_id: int
) -> tuple[list[EventVersion], dict[int, str]]:
    found = await access.require_event(
        session, user_id=user_id, event_id=event_id, include_deleted=True
    )
    # Read VERSION_STEP versions per statement with a pacer tick between: 300 versions in one
    # statement hold the loop ~4 ms on SQLite (which runs on it), 60 about 1-2 ms.
    pacer = Pacer()
    rows: list[EventVersion] = []
    for first in range(1, found.event.version + 1, VERSION_STEP):
        numbers = set(range(first, min(first + VERSION_STEP, found.event.version + 1)))
        rows += sorted(
            await repository.versions_numbered(session, event_id, numbers),
            key=lambda row: row.version,
        )
        await pacer.tick()
    names = await repository.usernames(session, {r.author_id for r in rows if r.author_id})
    return rows, names


async def _entries(rows: list[EventVersion], names: dict[int, str]) -> list[dict[str, Any]]:
    """Every version as an entry, built in paced steps (a long history is hundreds of rows:
    ``core.cooperative``)."""
    pacer = Pacer()
    undone = reverted_versions(rows)
    latest = rows[-1].version if rows else 0
    # Each snapshot serialised once.
    sizes = dict(await pacer.map(lambda row: (row.version, _size(row)), rows))
    return await pacer.map(
        lambda i: _entry(rows[i], rows[i - 1] if i else None, names, undone, latest, sizes),
        range(len(rows)),
    )


async def list_history(
    session: AsyncSession, *, user_id: int, event_id: int, limit: int, before: int | None
) -> dict[str, Any]:
    """Version summaries, newest first; the cursor is the last version number seen."""
    rows, names = await _load(session, user_id, event_id)
    entries = [
        e for e in reversed(await _entries(rows, names)) if before is None or e["version"] < before
    ]
    page = await _summarized(entries[:limit], rows)
    more = len(entries) > limit
    return {"items": page, "next_cursor": page[-1]["version"] if more and page else None}


async def get_version(
    session: AsyncSession, *, user_id: int, event_id: int, number: int
) -> dict[str, Any]:
    """One version with its full snapshot."""
    rows, names = await _load(session, user_id, event_id)
    entries = {e["version"]: e for e in await _entries(rows, names)}
    row = next((r for r in rows if r.version == number), None)
    if row is None:
        raise VersionNotFound(f"Event {event_id} has no version {number}")
    snapshot = snapshot_body(ordered(row.snapshot))  # its times rendered in the read's zone
    [entry] = await _summarized([entries[number]], rows)
    return {**entry, "event_id": event_id, "snapshot": snapshot}


async def changelog(
    session: AsyncSession, *, user_id: int, event_id: int, limit: int, offset: int
) -> dict[str, Any]:
    """Every change, oldest first: versions and sharing changes interleaved by time."""
    rows, names = await _load(session, user_id, event_id)
    sharing = await repository.sharing_entries(session, event_id)
    names |= await repository.usernames(
        session,
        {e.actor_id for e in sharing if e.actor_id}
        | {int(e.details["user_id"]) for e in sharing if "user_id" in e.details},
    )
    merged = await _entries(rows, names) + [_sharing_entry(e, names) for e in sharing]
    merged.sort(key=lambda e: (e["created_at"], e["version"] or 0))
    page = await _summarized(merged[offset : offset + limit], rows)
    more = offset + limit < len(merged)
    return {"items": page, "next_cursor": offset + limit if more else None}


def _sharing_entry(entry: Any, names: dict[int, str]) -> dict[str, Any]:
    target = int(entry.details.get("user_id", 0))
    who = names.get(target, f"user {target}")
    role = entry.details.get("role")
    summary = {
        "shared": f"shared with {who} as {role}",
        "permission_changed": f"changed {who}'s role from {entry.details.get('previous_role')} "
        f"to {role}",
        "unshared": f"removed {who}'s access",
    }[entry.action]
    return {
        "version": None,
        "action": entry.action,
        "author": _author(entry.actor_id, names),
        "created_at": entry.created_at,
        "note": None,
        "changed_fields": [],
        "summary": summary,
        "tags": [],
        "size": None,
        "size_change": None,
        "links": {"previous": None, "current": None},
    }


@dataclass(frozen=True, slots=True)
class DiffResult:
    """A diff body and the versions it compares (for the HTML view)."""

    body: dict[str, Any]
    old: EventVersion
    new: EventVersion
    names: dict[int, str]
    latest: int
    summaries: dict[int, str]  # version number → its rendered summary


async def diff(
    session: AsyncSession, *, user_id: int, event_id: int, first: int, second: int
) -> DiffResult:
    """Field-by-field differences from version ``first`` to ``second`` (either order)."""
    found = await access.require_event(
        session, user_id=user_id, event_id=event_id, include_deleted=True
    )
    # Only the two versions compared (and their predecessors, for their summaries) are
    # loaded, however long the history.
    wanted = {first, second, first - 1, second - 1}
    by_number = {
        r.version: r for r in await repository.versions_numbered(session, event_id, wanted)
    }
    for number in (first, second):
        if number not in by_number:
            raise VersionNotFound(f"Event {event_id} has no version {number}")
    old, new = by_number[first], by_number[second]
    names = await repository.usernames(
        session, {r.author_id for r in (old, new) if r.author_id is not None}
    )
    # Pure CPU, bounded by diff.DIFF_BUDGET (about 0.15 s at most): on a worker thread, so the
    # event loop keeps serving other requests meanwhile (it gets the GIL back every switch
    # interval).
    changes = await off_loop(diff_snapshots, old.snapshot, new.snapshot)
    body = {
        "event_id": event_id,
        "from_version": first,
        "to_version": second,
        "changes": changes,
        "degraded": is_degraded(changes),
    }
    summaries = {
        row.version: rendered_summary(row, by_number.get(row.version - 1)) for row in (old, new)
    }
    return DiffResult(body, old, new, names, found.event.version, summaries)


def diff_html(result: DiffResult) -> str:
    """The diff as a self-contained side-by-side HTML page."""
    old, new, names, latest = result.old, result.new, result.names, result.latest
    event_id = result.body["event_id"]
    base = f"/api/events/{event_id}/diff"

    def side(row: EventVersion) -> DiffSide:
        return DiffSide(
            version=row.version,
            author=names.get(row.author_id or 0, "(deleted user)"),
            created_at=row.created_at.isoformat().replace("+00:00", "Z"),
            summary=result.summaries[row.version],
            note=row.note,
            action=row.action,
        )

    low, high = sorted((old.version, new.version))
    prev_href = f"{base}/{low - 1}/{low}?format=html" if low > 1 else None
    next_href = f"{base}/{high}/{high + 1}?format=html" if high < latest else None
    return render_diff_html(
        event_title=new.snapshot["title"],
        event_id=event_id,
        old=side(old),
        new=side(new),
        changes=result.body["changes"],
        old_snapshot=old.snapshot,
        new_snapshot=new.snapshot,
        prev_href=prev_href,
        next_href=next_href,
    )


async def rollback(
    session: AsyncSession,
    *,
    ctx: events.WriteContext,
    event_id: int,
    number: int,
    if_match: str | None,
    note: str | None,
) -> events.Written:
    """A new version whose content equals version ``number`` (editor or owner)."""
    found = await access.lock_event(
        session, user_id=ctx.actor.id, event_id=event_id, minimum="editor"
    )
    event = found.event
    await preconditions.require_if_match(session, found, if_match)
    target = await repository.version(session, event_id, number)
    if target is None:
        raise VersionNotFound(f"Event {event_id} has no version {number}")
    return await events.write_content(
        session,
        ctx=ctx,
        found=found,
        previous=content_snapshot(event),
        content=ordered(target.snapshot),  # an older snapshot: its missing fields defaulted
        action="rolled_back",
        note=note,
        tags=("rollback",),
        notify_type="event_rolled_back",
        target_version=number,
    )
