"""The trash: the deleted events the caller may restore, newest deletion first.

"May restore" is the restore rule itself (``service.RESTORE_ROLE``, matched through
``sharing.policy.roles_allowing``), so the list and ``POST /api/events/{id}/restore`` cannot
disagree: every listed event can be restored by its caller, and no other deleted event can.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import Row

from calendo.auth.caller import Bearer, require_live
from calendo.core.db import Reads
from calendo.core.pagination import encode_cursor
from calendo.events import repository
from calendo.events.listing import cursor_position
from calendo.events.presenters import calendar_bodies
from calendo.events.schemas import EventRead
from calendo.events.service import RESTORE_ROLE
from calendo.events.snapshots import format_instant
from calendo.history.schemas import Author
from calendo.sharing.policy import roles_allowing

_ROLES = roles_allowing(RESTORE_ROLE)


class TrashedEventRead(EventRead):
    """A deleted event as it was when deleted, with when and by whom."""

    deleted_at: datetime = Field(description="When the event was deleted.")
    deleted_by: Author | None = Field(
        description="Who deleted it (the author of the `deleted` version); null once that "
        "account is gone."
    )


def _bodies(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    bodies = calendar_bodies(rows)
    for body in bodies:
        del body["caller_timezone"]  # a column of the statement, not a field of the body
        deleter_id, deleter_name = body.pop("deleted_by_id"), body.pop("deleted_by_name")
        has_deleter = deleter_id is not None and deleter_name is not None
        body["deleted_by"] = {"id": deleter_id, "username": deleter_name} if has_deleter else None
    return bodies


async def list_trash(
    reads: Reads, *, caller: Bearer, limit: int, cursor: str | None
) -> tuple[dict[str, Any], str]:
    """A page of the caller's trash, and the caller's account zone (one statement, which also
    proves the login session live; an empty page checks the session once more, to answer 401
    rather than nothing, and has no times to render: UTC)."""
    after = cursor_position(cursor)  # (deleted_at, id)
    params: dict[str, Any] = {
        "user_id": caller.user_id,
        "session_id": caller.session_id,
        "limit": limit + 1,
    }
    if after is not None:
        params["after_deleted"], params["after_id"] = after
    query = repository.trash_query(roles=_ROLES, after=after is not None)
    rows = await reads.all(query, params)
    if not rows:
        await require_live(reads, caller)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(format_instant(last.deleted_at), last.id)
    zone = rows[0].caller_timezone if rows else "UTC"
    return {"items": _bodies(page), "next_cursor": next_cursor}, zone
