"""HTTP and WebSocket routes of the notifications domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, WebSocket

from calendo.auth.dependencies import CurrentUserDep
from calendo.core.deps import PathId, ReadUnitDep, Services, services_of
from calendo.core.errors import problem_responses
from calendo.core.pagination import CursorParam, Limit, Page, int_cursor
from calendo.core.routing import StrictQueryRoute
from calendo.core.types import MAX_ID
from calendo.core.uow import UnitOfWork
from calendo.notifications import feed, service
from calendo.notifications.schemas import NotificationRead

router = APIRouter(tags=["notifications"], route_class=StrictQueryRoute)


@router.get("", response_model=Page[NotificationRead], responses=problem_responses(401, 422))
async def list_notifications(
    user: CurrentUserDep,
    session: ReadUnitDep,
    unread: Annotated[bool, Query(description="Only the unread ones.")] = False,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Page[NotificationRead]:
    """The caller's notifications, newest first.

    Each names its event by id and by `event_title`, the title when the notification was
    written (a rename's new title): it stays as written whatever happens to the event later,
    so a `permission_revoked` or `event_deleted` still says which event it was.
    """
    return await service.list_notifications(
        session, user_id=user.id, unread_only=unread, before_id=int_cursor(cursor), limit=limit
    )


@router.post("/read", status_code=204, responses=problem_responses(401))
async def mark_all_read(user: CurrentUserDep, request: Request) -> Response:
    """Mark every notification of the caller read."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        await service.mark_all_read(unit, user_id=user.id)
    return Response(status_code=204)


@router.post("/{notification_id}/read", status_code=204, responses=problem_responses(401, 404, 422))
async def mark_read(user: CurrentUserDep, request: Request, notification_id: PathId) -> Response:
    """Mark one of the caller's notifications read (404 for anyone else's)."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        await service.mark_read(unit, user_id=user.id, notification_id=notification_id)
    return Response(status_code=204)


@router.websocket("/ws")
async def notification_feed(
    websocket: WebSocket,
    token: Annotated[str | None, Query(max_length=4096)] = None,
    since: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> None:
    """Live notifications: those after ``since`` first, then each new one as it commits.

    Each message is a notification exactly as ``GET /api/notifications`` lists it, with its
    ``event_title`` as written.

    Authenticate with ``?token=<access token>`` or ``Authorization: Bearer``; a bad token, or
    one whose login is revoked or has expired later, closes the socket with code 4401. An idle
    socket receives ``{"type": "ping"}`` every ``CALENDO_WS_HEARTBEAT_SECONDS``; clients may
    ignore it. A client that falls so far behind that its live queue fills is closed with code
    4408 rather than silently losing messages: reconnect with ``?since=<last id received>``.
    One user may hold ``CALENDO_WS_MAX_PER_USER`` (20) feeds in each server process; one more
    is closed with code 4429 (close another first). When the server process stops (a deploy),
    the socket is closed with code 1001, going away: reconnect with ``since``. A ``since`` that
    is not a whole number from 0 to 2147483647 (an id's range) refuses the handshake (close
    1008 before accept, which servers send as HTTP 403).
    """
    services: Services = websocket.app.state.services
    await feed.serve(websocket, services, token=feed.bearer_token(websocket, token), since=since)
