"""HTTP routes of the sync domain: ``GET /api/sync``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import ReadUnitDep, ServicesDep
from calendo.core.errors import problem_responses
from calendo.core.formats import json_response
from calendo.core.pagination import CursorParam
from calendo.core.routing import StrictQueryRoute
from calendo.events import sync as service
from calendo.events.sync_schemas import SyncPage

router = APIRouter(tags=["sync"], route_class=StrictQueryRoute)

SYNC_DESCRIPTION = """Keep a local copy of the caller's calendar up to date.

**First call (no `cursor`)**: the whole calendar, every event the caller can see now as an
`upsert`, in pages of at most `limit` events by id. While `has_more` is true, call again at
once with `next_cursor`. The snapshot's last page hands over to the change feed at the
position it had when the snapshot began, so anything that changed while the snapshot was
being read is reported again afterwards (its `has_more` is true when such changes exist).

**Later calls (`cursor`)**: the changes since that position, oldest first, at most `limit`
feed entries per page (`has_more` tells whether more are waiting). Each event appears at most
once per page, with its latest change: `upsert` carries the event as it is *now* (with the
caller's current `my_role`); `delete` (with `event` null) means the event was deleted or the
caller lost access to it, so drop it locally. An event may be reported again in a later page;
applying changes in order is always correct. When nothing changed, `changes` is empty and
`next_cursor` is the cursor sent.

**Cursors** are opaque, never expire, and belong to the user they were issued to. A cursor
that does not decode, was issued to another user, or names a position beyond this server's
feed (for example after a database restore) is answered with **410 Gone**: discard the local
copy and start again without a cursor.
"""


@router.get(
    "",
    response_model=SyncPage,
    description=SYNC_DESCRIPTION,
    responses=problem_responses(401, 410, 422),
)
async def sync_changes(
    user: CurrentUserDep,
    session: ReadUnitDep,
    services: ServicesDep,
    cursor: CursorParam = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=1000, description="Page size; capped at CALENDO_SYNC_PAGE_SIZE (200)."),
    ] = None,
) -> Response:
    """The caller's calendar without a cursor, then what changed since the cursor."""
    # Serialised once: the page is built from rows just read (no second pass over the model).
    page = await service.sync_changes(
        session,
        user_id=user.id,
        cursor=cursor,
        limit=limit,
        page_size=services.settings.sync_page_size,
    )
    return json_response(page)
