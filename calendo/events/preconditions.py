"""HTTP preconditions on events: entity tags, ``If-None-Match`` (304) and ``If-Match`` (412),
and the 409 that tells an editor what changed since the version their edit was based on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.cooperative import off_loop
from calendo.core.errors import Conflict, PreconditionFailed
from calendo.events import access
from calendo.events.presenters import event_body
from calendo.events.snapshots import content_snapshot
from calendo.events.state import EventFields
from calendo.history import recording
from calendo.history.diff import diff_snapshots, is_degraded
from calendo.history.merge import three_way_merge


class VersionConflict(Conflict):
    slug = "version-conflict"
    title = "Version conflict"


class MergeConflict(Conflict):
    slug = "merge-conflict"
    title = "Merge conflict"


def version_tag(event_id: int, version: int, zone: str = "UTC") -> str:
    """The entity tag of one version of an event: the only place its form is written.

    A read rendered in another zone than UTC is another representation of the version, so
    its tag names the zone (``"7-3@Europe/Berlin"``): a copy rendered in one zone is never
    confirmed (304) to a caller reading in another. ``If-Match`` reads either form.
    """
    suffix = "" if zone == "UTC" else f"@{zone}"
    return f'"{event_id}-{version}{suffix}"'


def etag(event: EventFields) -> str:
    """The entity tag of an event's current version."""
    return version_tag(event.id, event.version)


def none_match_fails(header: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (or ``*``): the client's copy is current (304).

    GET compares weakly (RFC 9110 13.1.2), so ``W/"1-2"`` matches ``"1-2"``.
    """
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or tag in tags


def parse_if_match(header: str | None, event_id: int) -> int | None:
    """The version an ``If-Match`` tag names (``"<id>-<version>"``, or a zoned read's
    ``"<id>-<version>@<zone>"``); None for ``*`` or absent."""
    if header is None or header.strip() == "*":
        return None
    tag = header.strip().removeprefix("W/").strip('"').partition("@")[0]
    prefix, _, version = tag.rpartition("-")
    if prefix != str(event_id) or not version.isdigit():
        return 0  # names another event or is malformed: can never match
    return int(version)


async def require_if_match(
    session: AsyncSession, found: access.Access | access.WriteAccess, if_match: str | None
) -> None:
    """412 when an ``If-Match`` header names another version than the current one."""
    expected = parse_if_match(if_match, found.event.id)
    if expected is not None and expected != found.event.version:
        await raise_stale(session, found.event, found.role, expected, by_header=True)


async def raise_stale(
    session: AsyncSession, event: EventFields, role: str, expected: int, *, by_header: bool
) -> None:
    if by_header:
        raise PreconditionFailed(
            f"Event {event.id} is at version {event.version}, not {expected}",
            headers={"ETag": etag(event)},
        )
    base = await recording.snapshot_at_version(session, event.id, expected)
    current = content_snapshot(event)
    # Bounded by history.diff.DIFF_BUDGET, and off the event loop like the diff endpoint.
    changes = await off_loop(diff_snapshots, base, current) if base else []
    raise VersionConflict(
        f"Event {event.id} is at version {event.version}; your edit was based on {expected}",
        extra={
            "current": event_body(event, role),
            "current_version": event.version,
            "your_version": expected,
            "changes": changes,
            "degraded": is_degraded(changes),
        },
    )


async def merge_stale(
    session: AsyncSession,
    event: EventFields,
    current: dict[str, Any],
    expected: int,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """``changes`` made on version ``expected``, merged three ways into the current content
    (``?merge=true``): VersionConflict if that version does not exist, MergeConflict (409,
    with the fields) if both sides changed a field."""
    base = await recording.snapshot_at_version(session, event.id, expected)
    if base is None:
        raise VersionConflict(f"Version {expected} of event {event.id} does not exist")
    result = three_way_merge(base, {**base, **changes}, current)
    if result.conflicts:
        raise MergeConflict(
            "Both you and another editor changed " + ", ".join(c.field for c in result.conflicts),
            extra={
                "conflicts": [
                    {"field": c.field, "base": c.base, "mine": c.mine, "theirs": c.theirs}
                    for c in result.conflicts
                ],
                "current_version": event.version,
            },
        )
    return result.merged
