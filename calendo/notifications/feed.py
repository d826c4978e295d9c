"""The live notification feed of one WebSocket: authenticate, subscribe, replay, forward, ping.

The socket subscribes to ``user:{id}`` *before* it reads the replay from the database, so a
notification committed meanwhile is in the replay, in the subscription queue, or in both; the
copies already replayed are dropped by id (by id, not by "id <= last sent": that would hold
only as long as every writer keeps ids in commit order, below). No database session outlives
one short read: authentication, each replay batch and each re-check open and close their own.

A Redis broker can lose a stretch of messages to a reconnect (core/pubsub.py); the
subscription then says so (``SubscriptionResumed``) and the feed replays from the database
what it has not sent, as a ``since`` reconnect would, before it reads on. To know where that
replay starts, a feed without ``since`` on such a broker reads the user's latest id once.

Across processes, publish order is not commit order: process A commits notification 118,
process B commits 119 and publishes first (or A dies before it publishes). A client that saw
119 and then reconnects with ``since=119`` would never get 118. So the feed keeps what it has
sent a prefix, in id order, of the user's committed notifications: on such a broker, a live
id above the highest sent is forwarded only after an index-only read has shown no unsent id
below it, else the replay sends the missing ones first. That read is sound because a
notification's id is taken under the change feed's lock (``sync.feed``), held to commit:
notification ids commit in id order (SQLite has one writer at a time).

A notification can also be committed and never published at all, with nothing published
after it: every heartbeat also reads the ids above the replay floor (an index-only read) and
replays if one was never sent, so nothing stays missing longer than one heartbeat
(``CALENDO_WS_HEARTBEAT_SECONDS``).
"""

from __future__ import annotations

from collections import deque

import anyio
import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from calendo.auth.caller import CurrentUser, authenticate
from calendo.core.deps import Services
from calendo.core.errors import WS_LAGGING, WS_TOO_MANY, WS_UNAUTHORIZED, NotAuthenticated
from calendo.core.pubsub import SubscriberLagging, Subscription, SubscriptionResumed
from calendo.core.security import bearer_credentials
from calendo.core.uow import UnitOfWork
from calendo.notifications import service

PING = '{"type":"ping"}'
REPLAY_BATCH = 200
# Sent ids remembered against duplicates; a replay after a broker gap starts below them.
REMEMBERED = 1000
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


class Delivered:
    """The notification ids this feed sent, so that neither a replay nor a live copy sends one
    twice, and where a replay starts (``floor``: every id at or below it is behind us).

    The floor trails the highest id sent (``high``) by ``REMEMBERED`` sends: a replay after a
    broker gap looks back that far and skips what was sent, so it would still find a smaller
    id committed after a larger one was sent, should a writer ever take its ids outside the
    feed lock. ``high`` is where the live order check reads from.
    """

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.high = floor  # the highest id sent (or the client's ``since``)
        self._order: deque[int] = deque()
        self._ids: set[int] = set()

    def __contains__(self, notification_id: object) -> bool:
        return notification_id in self._ids

    def add(self, notification_id: int) -> None:
        """Remember a sent id (the oldest remembered one moves the floor up)."""
        self._order.append(notification_id)
        self._ids.add(notification_id)
        self.high = max(self.high, notification_id)
        if len(self._order) > REMEMBERED:
            oldest = self._order.popleft()
            self._ids.discard(oldest)
            self.floor = max(self.floor, oldest)


async def _run(
    websocket: WebSocket,
    services: Services,
    subscription: Subscription,
    *,
    user: CurrentUser,
    token: str,
    since: int | None,
) -> None:
    if since is not None:
        delivered = Delivered(since)
        await _replay(websocket, services, user_id=user.id, delivered=delivered)
    elif services.broker.resumes:
        delivered = Delivered(await _latest_id(services, user_id=user.id))
    else:
        delivered = Delivered(0)  # never replays: the broker loses nothing
    async with anyio.create_task_group() as group:
        group.start_soon(_watch_client, websocket, group.cancel_scope)
        await _forward(
            websocket, services, subscription, token=token, user_id=user.id, delivered=delivered
        )
        group.cancel_scope.cancel()


async def _latest_id(services: Services, *, user_id: int) -> int:
    """The user's newest notification id (0 for none): a gap replay starts above it."""
    async with UnitOfWork.read(services.db) as session:
        page = await service.list_notifications(
            session, user_id=user_id, unread_only=False, before_id=None, limit=1
        )
    return page.items[0].id if page.items else 0


async def _send(websocket: WebSocket, services: Services, text: str) -> None:
    await websocket.send_text(text)
    services.metrics.notifications_sent.inc()


async def _replay(
    websocket: WebSocket,
    services: Services,
    *,
    user_id: int,
    delivered: Delivered,
    start: int | None = None,
) -> None:
    """Send every stored notification above ``start`` (the floor by default) not sent yet,
    oldest first."""
    cursor = delivered.floor if start is None else start
    while True:
        async with UnitOfWork.read(services.db) as session:
            batch = await service.replay_since(
                session, user_id=user_id, since_id=cursor, limit=REPLAY_BATCH
            )
        for notification in batch:
            if notification.id not in delivered:
                await _send(websocket, services, service.encode(notification).decode())
                delivered.add(notification.id)
        if len(batch) < REPLAY_BATCH:
            return
        cursor = batch[-1].id


async def _missed(services: Services, *, user_id: int, delivered: Delivered) -> bool:
    """Whether a notification above the floor was never sent (committed, never published)."""
    limit = REMEMBERED + REPLAY_BATCH
    with anyio.CancelScope(shield=True):  # as the heartbeat's re-check, for the same reason
        async with UnitOfWork.read(services.db) as session:
            ids = await service.ids_since(
                session, user_id=user_id, since_id=delivered.floor, limit=limit
            )
    return len(ids) == limit or any(i not in delivered for i in ids)


async def _unsent_below(
    services: Services, *, user_id: int, delivered: Delivered, notification_id: int
) -> bool:
    """Whether a committed notification between the highest id sent and ``notification_id``
    was never sent (published late by its process, or never): a one-row index-only read."""
    with anyio.CancelScope(shield=True):  # as the heartbeat's re-check, for the same reason
        async with UnitOfWork.read(services.db) as session:
            ids = await service.ids_since(
                session, user_id=user_id, since_id=delivered.high, limit=1
            )
    return bool(ids) and ids[0] < notification_id


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
    user_id: int,
    delivered: Delivered,
) -> None:
    """Forward live messages; every heartbeat re-check the token, and ping if idle."""
    interval = services.settings.ws_heartbeat_seconds
    while True:
        try:
            sent = await _forward_until(
                websocket,
                services,
                subscription,
                anyio.current_time() + interval,
                user_id=user_id,
                delivered=delivered,
            )
        except SubscriptionResumed:
            # The broker's connection dropped and came back: what it lost is in the database.
            await _replay(websocket, services, user_id=user_id, delivered=delivered)
            continue
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
        if services.broker.resumes and await _missed(
            services, user_id=user_id, delivered=delivered
        ):
            await _replay(websocket, services, user_id=user_id, delivered=delivered)
            sent = True
        if not sent:
            await websocket.send_text(PING)


async def _forward_until(
    websocket: WebSocket,
    services: Services,
    subscription: Subscription,
    deadline: float,
    *,
    user_id: int,
    delivered: Delivered,
) -> bool:
    """Send live messages until ``deadline``, each id once and none before an unsent smaller
    one (see the module's docstring); whether any was sent."""
    sent = False
    while (message := await _next_message(subscription, deadline)) is not None:
        notification_id = orjson.loads(message).get("id")
        if notification_id in delivered:
            continue  # a replay sent it already
        if (
            services.broker.resumes
            and isinstance(notification_id, int)
            and notification_id > delivered.high
            and await _unsent_below(
                services, user_id=user_id, delivered=delivered, notification_id=notification_id
            )
        ):
            # Committed before this one, not published yet: the replay sends them in id
            # order, this one too (it is committed), so the live copy is skipped below.
            start = delivered.high
            await _replay(websocket, services, user_id=user_id, delivered=delivered, start=start)
            sent = True
            if notification_id in delivered:
                continue
        await _send(websocket, services, message.decode())
        if isinstance(notification_id, int):
            delivered.add(notification_id)
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
