"""Sharing endpoints: share, list, change and revoke permissions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import PathId, ReadUnitDep, client_ip, services_of
from calendo.core.errors import problem_responses
from calendo.core.routing import StrictQueryRoute
from calendo.core.uow import UnitOfWork
from calendo.events import access
from calendo.events import sharing as service
from calendo.sharing.schemas import PermissionRead, RoleUpdate, ShareRequest

router = APIRouter(tags=["sharing"], route_class=StrictQueryRoute)


@router.post(
    "/{event_id}/share",
    response_model=list[PermissionRead],
    responses=problem_responses(401, 403, 404, 422),
)
async def share_event(
    event_id: PathId,
    data: ShareRequest,
    user: CurrentUserDep,
    request: Request,
) -> list[dict[str, Any]]:
    """Share with users by `user_id` or `username` as editor or viewer (owner only)."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        return await service.share(
            unit,
            actor=user,
            services=services,
            ip=client_ip(request),
            event_id=event_id,
            targets=data.users,
        )


@router.get(
    "/{event_id}/permissions",
    response_model=list[PermissionRead],
    responses=problem_responses(401, 404),
)
async def list_permissions(
    event_id: PathId, user: CurrentUserDep, session: ReadUnitDep
) -> list[dict[str, Any]]:
    """Everyone with access to the event, the owner included (viewer or more)."""
    await access.require_event(session, user_id=user.id, event_id=event_id)
    return await service.list_permissions(session, event_id=event_id)


@router.put(
    "/{event_id}/permissions/{user_id}",
    response_model=PermissionRead,
    responses=problem_responses(401, 403, 404, 422),
)
async def update_permission(
    event_id: PathId,
    user_id: PathId,
    data: RoleUpdate,
    user: CurrentUserDep,
    request: Request,
) -> dict[str, Any]:
    """Change a collaborator's role (owner only)."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        return await service.update_permission(
            unit,
            actor=user,
            services=services,
            ip=client_ip(request),
            event_id=event_id,
            user_id=user_id,
            role=data.role,
        )


@router.delete(
    "/{event_id}/permissions/{user_id}",
    status_code=204,
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_permission(
    event_id: PathId,
    user_id: PathId,
    user: CurrentUserDep,
    request: Request,
) -> Response:
    """Remove a collaborator (owner), or leave the event (the collaborator themself)."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        await service.revoke(
            unit,
            actor=user,
            services=services,
            ip=client_ip(request),
            event_id=event_id,
            user_id=user_id,
        )
    return Response(status_code=204)
