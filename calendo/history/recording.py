"""Writing versions: one append-only row per content change, in the change's transaction.

A pure row builder over plain values (the event's content snapshot, id, version and change
time), imported by the events domain, which owns every content write; reading a version is
``history.store``, and the history use cases (listing, diffs, rollback) are
``events.versions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.core.uow import Step
from calendo.history.diff import changed_fields
from calendo.history.models import EventVersion
from calendo.history.summary import summarize

# Core, not the unit of work: versions are append-only, and the batch path writes all of its
# versions in one executemany.
_INSERT = cast(Table, EventVersion.__table__).insert()


def version_row(
    snapshot: dict[str, Any],
    *,
    event_id: int,
    version: int,
    created_at: datetime,
    action: str,
    author_id: int,
    previous: dict[str, Any] | None,
    note: str | None = None,
    tags: Sequence[str] = (),
    target_version: int | None = None,
) -> dict[str, Any]:
    """The row recording the content ``snapshot`` of event ``event_id`` as its ``version``.

    ``created_at`` is the event's own ``updated_at``, so ``as_of=<updated_at>`` sees it."""
    return {
        "event_id": event_id,
        "version": version,
        "action": action,
        "snapshot": snapshot,
        "changed_fields": changed_fields(previous, snapshot),
        "tags": list(dict.fromkeys(tags)),
        "summary": summarize(previous, snapshot, action=action, target_version=target_version),
        "note": note,
        "author_id": author_id,
        "target_version": target_version,
        "created_at": created_at,
    }


def versions_step(rows: Sequence[dict[str, Any]]) -> Step:
    """The INSERT of ``version_row`` rows, for ``core.uow.run_steps`` (at least one row)."""
    return Step(_INSERT, list(rows))


async def snapshot_at_version(
    session: AsyncSession, event_id: int, version: int
) -> dict[str, Any] | None:
    """The content of one version, or None if it does not exist."""
    query = select(EventVersion.snapshot).where(
        EventVersion.event_id == event_id, EventVersion.version == version
    )
    snapshot: dict[str, Any] | None = (await session.execute(query)).scalar_one_or_none()
    return snapshot
