"""The live notification feed of one WebSocket: authenticate, subscribe, replay, forward, ping.

The socket subscribes to ``user:{id}`` *before* it reads the replay from the database, so a
notification committed meanwhile is in the replay, in the subscription queue, or in both; the
copies already replayed are dropped by id. (Dropping by id rather than by "id <= last replayed"
matters: ids are assigned at insert, not at commit, so a smaller id can commit later and must
still be delivered.) No database session outlives one short read: authentication, each replay
batch and each heartbeat's re-check open and close their own.
"""

from __future__ import annotations

import anyio
import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from calendo.auth.caller import CurrentUser, authenticate
from calendo.core.deps import Services
from calendo.core.errors import WS_LAGGING, WS_TOO_MANY, WS_UNAUTHORIZED, NotAuthenticated
from calendo.core.pubsub import SubscriberLagging, Subscription
from calendo.core.security import bearer_credentials
from calendo.notifications import service

PING = '{"type":"ping"}'
REPLAY_BATCH = 200
_UNAUTHORIZED_REASON = "Invalid or expired access token"
_TOO_MANY_REASON = "Too many live feeds open for this user"


def bearer_token(websocket: WebSocket, query_token: str | None) -> str | None:
    """The access token from ``?token=`` or, failing that, ``Authorization: Bearer``."""
    if query_token:
        return query_token
    return bearer_credentials(websocket.headers.get("authorization"))


async def _authenticate(services: Services, token: str | None) -> CurrentUser | None:
    """The token's user while its login session is live, else None (one statement)."""
    if not token:
        return None
    try:
        return await authenticate(services.tokens, services.db.reads, token)
    except NotAuthenticated:
        return None


async def serve(
    websocket: WebSocket, services: Services, *, token: str | None, since: int | None
) -> None:
    """Run the feed until the client leaves or its token stops being valid."""
    user = await _authenticate(services, token)
    if user is None:
        # Accept first: a close before accept is an HTTP 403 on real servers, losing the code.
        await websocket.accept()
        await websocket.close(WS_UNAUTHORIZED, _UNAUTHORIZED_REASON)
        return
    channel = service.user_channel(user.id)
    async with services.broker.subscribe(channel) as subscription:
        await websocket.accept()
        # Counted after subscribing, which is synchronous in the hub, so the cap is exact
        # however many handshakes race (a racing pair may both be refused, never both let in).
        if services.broker.hub.subscribers(channel) > services.settings.ws_max_per_user:
            await websocket.close(WS_TOO_MANY, _TOO_MANY_REASON)
            return
        services.metrics.ws_connections.inc()
        try:
            await _run(websocket, services, subscription, user=user, token=token or "", since=since)
        except* (WebSocketDisconnect, WebSocketDisconnected):
            pass  # the client went away mid-send
        finally:
            services.metrics.ws_connections.dec()


async def _run(
    websocket: WebSocket,
    services: Services,
    subscription: Subscription,
    *,
    user: CurrentUser,
    token: str,
    since: int | None,
) -> None:
    replayed: set[int] = set()
    if since is not None:
        replayed = await _replay(websocket, services, user_id=user.id, since=since)
    async with anyio.create_task_group() as group:
        group.start_soon(_watch_client, websocket, group.cancel_scope)
        await _forward(websocket, services, subscription, token=token, replayed=replayed)
        group.cancel_scope.cancel()


async def _send(websocket: WebSocket, services: Services, text: str) -> None:
    await websocket.send_text(text)
    services.metrics.notifications_sent.inc()


async def _replay(
    websocket: WebSocket, services: Services, *, user_id: int, since: int
) -> set[int]:
    """Send every stored notification after ``since``, oldest first; return their ids."""
    replayed: set[int] = set()
    cursor = since
    while True:
        async with services.db.read_sessions() as session:
            batch = await service.replay_since(
                session, user_id=user_id, since_id=cursor, limit=REPLAY_BATCH
            )
        for notification in batch:
            await _send(websocket, services, service.encode(notification).decode())
            replayed.add(notification.id)
        if len(batch) < REPLAY_BATCH:
            return replayed
        cursor = batch[-1].id


async def _watch_client(websocket: WebSocket, scope: anyio.CancelScope) -> None:
    """Read (and ignore) what the client sends; stop the feed when it disconnects."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
    scope.cancel()


async def _forward(
    websocket: WebSocket,
    services: Services,
    subscription: Subscription,
    *,
    token: str,
    replayed: set[int],
) -> None:
    """Forward live messages; every heartbeat re-check the token, and ping if idle."""
    interval = services.settings.ws_heartbeat_seconds
    while True:
        try:
            sent = await _forward_until(
                websocket, services, subscription, anyio.current_time() + interval, replayed
            )
        except SubscriberLagging:
            # The live queue overflowed: rather than drop messages silently, end the feed;
            # the client reconnects with ?since= and the replay fills the gap from the database.
            await websocket.close(WS_LAGGING, "too far behind: reconnect with ?since=<last id>")
            return
        # Shielded: a client leaving mid-query would cancel it, and SQLAlchemy then discards
        # the connection (with aiosqlite, a task left waiting forever on the closed thread).
        with anyio.CancelScope(shield=True):
            user = await _authenticate(services, token)
        if user is None:
            await websocket.close(WS_UNAUTHORIZED, _UNAUTHORIZED_REASON)
            return
        if not sent:
            await websocket.send_text(PING)


async def _forward_until(
    websocket: WebSocket,
    services: Services,
    subscription: Subscription,
    deadline: float,
    replayed: set[int],
) -> bool:
    """Send live messages until ``deadline``; whether any was sent."""
    sent = False
    while (message := await _next_message(subscription, deadline)) is not None:
        if not _already_replayed(message, replayed):
            await _send(websocket, services, message.decode())
            sent = True
    return sent


async def _next_message(subscription: Subscription, deadline: float) -> bytes | None:
    """The next live message, or None once ``deadline`` passes (even with messages queued)."""
    remaining = deadline - anyio.current_time()
    if remaining <= 0:
        return None
    with anyio.move_on_after(remaining):
        return await subscription.get()
    return None


def _already_replayed(message: bytes, replayed: set[int]) -> bool:
    """Whether the replay already sent this notification (each id is published once)."""
    if not replayed:
        return False
    notification_id = orjson.loads(message).get("id")
    if notification_id in replayed:
        replayed.discard(notification_id)
        return True
    return False
