"""History endpoints: versions, changelog, diff (JSON or HTML), rollback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import HTMLResponse

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.cooperative import off_loop
from calendo.core.deps import PathId, ReadUnitDep, client_ip, services_of
from calendo.core.errors import problem_responses
from calendo.core.formats import json_response
from calendo.core.pagination import CursorParam, Limit, encode_cursor, int_cursor
from calendo.core.routing import StrictQueryRoute
from calendo.core.uow import UnitOfWork
from calendo.events import all_day, preconditions
from calendo.events import service as events
from calendo.events import versions as service
from calendo.events.presenters import RenderZone, event_body, rendering_zone
from calendo.events.schemas import ConflictStrategy, EventWriteResult
from calendo.history.schemas import ChangelogPage, DiffRead, VersionPage, VersionRead

router = APIRouter(tags=["history"], route_class=StrictQueryRoute)
_READ_ERRORS = problem_responses(401, 404, 422)


def _paged(body: dict[str, Any], zone: str) -> Response:
    """The page with its cursor encoded, serialised once (up to 200 entries built from rows
    just read: validating them again against the model would hold the loop a few ms more),
    its times rendered in ``zone``."""
    cursor = body["next_cursor"]
    return json_response(
        {**body, "next_cursor": encode_cursor(cursor) if cursor is not None else None}, zone=zone
    )


@router.get("/{event_id}/history", response_model=VersionPage, responses=_READ_ERRORS)
async def list_history(
    event_id: PathId,
    user: CurrentUserDep,
    session: ReadUnitDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    tz: RenderZone = None,
) -> Response:
    """Version summaries, newest first (viewer or more)."""
    return _paged(
        await service.list_history(
            session, user_id=user.id, event_id=event_id, limit=limit, before=int_cursor(cursor)
        ),
        rendering_zone(tz, user.timezone),
    )


@router.get("/{event_id}/history/{version_id}", response_model=VersionRead, responses=_READ_ERRORS)
async def get_version(
    event_id: PathId,
    version_id: PathId,
    user: CurrentUserDep,
    session: ReadUnitDep,
    tz: RenderZone = None,
) -> Response:
    """One version (by its number, 1, 2, 3 …) with the full event content as it was."""
    body = await service.get_version(session, user_id=user.id, event_id=event_id, number=version_id)
    zone = rendering_zone(tz, user.timezone)
    all_day.place_body(body["snapshot"], zone)  # an all-day snapshot: its dates in that zone
    return json_response(body, zone=zone)


@router.get("/{event_id}/changelog", response_model=ChangelogPage, responses=_READ_ERRORS)
async def changelog(
    event_id: PathId,
    user: CurrentUserDep,
    session: ReadUnitDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    tz: RenderZone = None,
) -> Response:
    """Every change, oldest first, with summaries, tags and sharing changes."""
    return _paged(
        await service.changelog(
            session, user_id=user.id, event_id=event_id, limit=limit, offset=int_cursor(cursor) or 0
        ),
        rendering_zone(tz, user.timezone),
    )


@router.get(
    "/{event_id}/diff/{version_id1}/{version_id2}",
    response_model=DiffRead,
    responses={200: {"content": {"text/html": {}}}, **_READ_ERRORS},
)
async def diff(
    event_id: PathId,
    version_id1: PathId,
    version_id2: PathId,
    user: CurrentUserDep,
    session: ReadUnitDep,
    format: Annotated[
        Literal["json", "html"], Query(description="html: a side-by-side page")
    ] = "json",
) -> Any:
    """Field-by-field differences between two versions (either order); `format=html` for a page."""
    result = await service.diff(
        session, user_id=user.id, event_id=event_id, first=version_id1, second=version_id2
    )
    if format == "html":
        # Rendering a long diff is pure CPU: off the event loop (see service.diff).
        return HTMLResponse(await off_loop(service.diff_html, result))
    return result.body


@router.post(
    "/{event_id}/rollback/{version_id}",
    response_model=EventWriteResult,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def rollback(
    event_id: PathId,
    version_id: PathId,
    response: Response,
    user: CurrentUserDep,
    request: Request,
    if_match: Annotated[str | None, Header()] = None,
    conflict_strategy: Annotated[ConflictStrategy, Query()] = "reject",
    note: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Restore an earlier version's content as a new version tagged `rollback` (editor+)."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        ctx = events.WriteContext(
            actor=user, services=services, ip=client_ip(request), strategy=conflict_strategy
        )
        written = await service.rollback(
            unit,
            ctx=ctx,
            event_id=event_id,
            number=version_id,
            if_match=if_match,
            note=note,
        )
    response.headers["ETag"] = preconditions.etag(written.event)
    return {**event_body(written.event, written.role), "conflicts": written.conflicts}
