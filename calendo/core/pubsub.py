"""Publish/subscribe broker: in-process (``memory://``) or Redis pub/sub, chosen by URL.

Both backends deliver through a local ``Hub`` of per-subscriber queues. The Redis backend keeps
one pub/sub connection per process, subscribes a channel while at least one local socket
listens to it, and fans incoming messages out to the local queues, so a thousand sockets cost
one Redis connection, not a thousand.

Redis pub/sub keeps nothing for a subscriber that is away: what is published while the
connection is down (a restart, a failover, a network cut, ``CLIENT KILL``) is gone. redis-py
reconnects and subscribes again by itself, silently; the broker notices the reconnect, and
once Redis confirms a channel's new subscription it tells that channel's subscribers, through
their queues (``SubscriptionResumed``), that messages may be missing up to that point. From
there on everything published is queued again, so a subscriber that then reads what it missed
from the database (the notification feed does) has every message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Protocol

import redis.asyncio as aioredis
import structlog

from calendo.core.cooperative import stop

log = structlog.get_logger("calendo.pubsub")
_QUEUE_SIZE = 1000


class SubscriberLagging(Exception):
    """The subscriber fell so far behind that its queue filled: it must resynchronise."""


class SubscriptionResumed(Exception):
    """The broker lost its connection and subscribed again: what was published meanwhile is
    missing from the queue (everything after this is in it). Catch up, then read on."""


# Queued in place of a message where the broker's subscription resumed; never sent by anyone.
_RESUMED = b"\x00calendo:resumed"


class Subscription:
    """One subscriber's bounded queue of messages."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        self.lagging = False

    async def get(self) -> bytes:
        """Wait for the next message; SubscriberLagging once a message could not be queued,
        SubscriptionResumed where the broker's subscription came back after a drop."""
        if self.lagging:
            raise SubscriberLagging
        message = await self.queue.get()
        if message is _RESUMED:
            raise SubscriptionResumed
        return message


class Broker(Protocol):
    """What the notification layer needs from a broker."""

    name: str
    hub: Hub
    # Whether its subscriptions can raise SubscriptionResumed (lose messages to a reconnect).
    resumes: bool

    async def publish(self, channel: str, message: bytes) -> None: ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class Hub:
    """Local fan-out from a channel to its subscribers' queues."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    def deliver(self, channel: str, message: bytes) -> None:
        """Queue a message for every local subscriber.

        A full queue is never silently trimmed: the subscriber is marked lagging, and its
        reader ends the stream so the client resynchronises (WebSockets replay with since).
        """
        for sub in self._subscribers.get(channel, ()):
            if sub.queue.full():
                sub.lagging = True
                log.warning("subscriber_lagging", channel=channel)
                continue
            sub.queue.put_nowait(message)

    def resume(self, channel: str) -> None:
        """Tell the channel's subscribers, in order with its messages, that the broker's
        subscription came back after a drop (a full queue makes its subscriber lagging)."""
        self.deliver(channel, _RESUMED)

    def channels(self) -> list[str]:
        """The channels with at least one local subscriber."""
        return list(self._subscribers)

    def subscribers(self, channel: str) -> int:
        """How many local subscribers the channel has in this process."""
        return len(self._subscribers.get(channel, ()))

    def add(self, channel: str) -> tuple[Subscription, bool]:
        """Register a subscriber; the flag says whether the channel is new here."""
        sub = Subscription()
        first = not self._subscribers[channel]
        self._subscribers[channel].add(sub)
        return sub, first

    def remove(self, channel: str, sub: Subscription) -> bool:
        """Unregister; the flag says whether the channel has no subscriber left."""
        subs = self._subscribers.get(channel)
        if subs is None:
            return False
        subs.discard(sub)
        if subs:
            return False
        del self._subscribers[channel]
        return True


class MemoryBroker:
    """Single-process broker."""

    name = "memory"
    resumes = False

    def __init__(self) -> None:
        self.hub = Hub()

    async def publish(self, channel: str, message: bytes) -> None:
        """Deliver to local subscribers."""
        self.hub.deliver(channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Listen to a channel for the duration of the block."""
        sub, _ = self.hub.add(channel)
        try:
            yield sub
        finally:
            self.hub.remove(channel, sub)

    async def ping(self) -> bool:
        """Always reachable."""
        return True

    async def close(self) -> None:
        """Nothing to release."""


class RedisBroker:
    """Redis pub/sub with one connection per process and local fan-out."""

    name = "redis"
    resumes = True

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.hub = Hub()
        # Pub/sub channels are global to a Redis server, whatever database the URL names:
        # the prefix keeps deployments (and test runs) that share a server apart.
        self.prefix = redis_channel_prefix(client)
        # Subscribe confirmations are read too: after a reconnect they mark where each
        # channel's messages flow again (``_read``).
        self._pubsub = client.pubsub()
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        # Channels redis-py subscribed again after a reconnect, not yet confirmed by Redis.
        self._resuming: set[str] = set()
        self._watched: object | None = None  # the pub/sub connection _on_reconnect watches
        self.reconnects = 0

    async def publish(self, channel: str, message: bytes) -> None:
        """Publish to every process."""
        await self.client.publish(self.prefix + channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Listen to a channel, subscribing at Redis only for the first local listener."""
        async with self._lock:
            sub, first = self.hub.add(channel)
            if first:
                await self._pubsub.subscribe(self.prefix + channel)
                self._watch_reconnects()
                await self._confirmed(self.prefix + channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        try:
            yield sub
        finally:
            async with self._lock:
                if self.hub.remove(channel, sub):
                    self._resuming.discard(self.prefix + channel)
                    await self._pubsub.unsubscribe(self.prefix + channel)

    def _watch_reconnects(self) -> None:
        """Have the pub/sub connection call ``_on_reconnect`` each time it connects again.

        redis-py's own callback, registered first, has sent the SUBSCRIBEs by then."""
        connection = self._pubsub.connection
        if connection is not None and connection is not self._watched:
            connection.register_connect_callback(self._on_reconnect)
            self._watched = connection

    def _on_reconnect(self, _connection: object) -> None:
        self.reconnects += 1
        self._resuming = {self.prefix + channel for channel in self.hub.channels()}
        log.warning("redis_pubsub_reconnected", channels=len(self._resuming))

    async def _confirmed(self, channel: str) -> None:
        """Wait until Redis lists our subscription, so no publish falls in the gap."""
        for _ in range(100):
            counts = await self.client.pubsub_numsub(channel)
            if counts and counts[0][1] > 0:
                return
            await asyncio.sleep(0.01)
        log.warning("redis_subscribe_unconfirmed", channel=channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (aioredis.ConnectionError, RuntimeError) as exc:
                log.warning("redis_pubsub_error", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if message is None:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            if message["type"] == "message":
                self.hub.deliver(name.removeprefix(self.prefix), message["data"])
            elif message["type"] == "subscribe" and name in self._resuming:
                # Redis has the channel again: whatever follows reaches the queues.
                self._resuming.discard(name)
                self.hub.resume(name.removeprefix(self.prefix))

    async def ping(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(await self.client.ping())
        except aioredis.RedisError:
            return False

    async def close(self) -> None:
        """Stop the reader and close the pub/sub connection."""
        if self._reader is not None:
            await stop(self._reader)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]


def redis_channel_prefix(client: aioredis.Redis) -> str:
    """``calendo:<db>:``, from the database number of the client's URL."""
    return f"calendo:{client.connection_pool.connection_kwargs.get('db', 0)}:"


def create_broker(redis_client: aioredis.Redis | None) -> MemoryBroker | RedisBroker:
    """Redis when configured, in-process otherwise."""
    return RedisBroker(redis_client) if redis_client is not None else MemoryBroker()
