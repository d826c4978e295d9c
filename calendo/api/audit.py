"""HTTP routes of the audit domain: ``GET /api/audit``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from calendo.audit import service
from calendo.audit.schemas import AuditEntryRead
from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import ReadUnitDep
from calendo.core.errors import problem_responses
from calendo.core.pagination import CursorParam, Limit, Page
from calendo.core.routing import StrictQueryRoute

router = APIRouter(tags=["audit"], route_class=StrictQueryRoute)

AUDIT_DESCRIPTION = """The caller's audit trail, newest first: everything the caller did
(logins, refreshes, logouts, event writes, sharing) and everything that touched the caller's
account or the events the caller owns (failed logins on the account, refresh-token reuse,
collaborators' edits, ...). Entries are written in the transaction of the operation, so a
failed request leaves none, except failed logins and token reuse, which are recorded on their
own precisely because the request fails."""


@router.get(
    "",
    response_model=Page[AuditEntryRead],
    description=AUDIT_DESCRIPTION,
    responses=problem_responses(401, 422),
)
async def list_audit_entries(
    user: CurrentUserDep, session: ReadUnitDep, limit: Limit = 50, cursor: CursorParam = None
) -> dict[str, Any]:
    """The caller's audit trail, newest first."""
    return await service.list_trail(session, user_id=user.id, cursor=cursor, limit=limit)
