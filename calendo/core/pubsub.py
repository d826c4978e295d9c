"""Publish/subscribe broker: in-process (``memory://``) or Redis pub/sub, chosen by URL.

Both backends deliver through a local ``Hub`` of per-subscriber queues. The Redis backend keeps
one pub/sub connection per process, subscribes a channel while at least one local socket
listens to it, and fans incoming messages out to the local queues, so a thousand sockets cost
one Redis connection, not a thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Protocol

import redis.asyncio as aioredis
import structlog

log = structlog.get_logger("calendo.pubsub")
_QUEUE_SIZE = 1000


class SubscriberLagging(Exception):
    """The subscriber fell so far behind that its queue filled: it must resynchronise."""


class Subscription:
    """One subscriber's bounded queue of messages."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        self.lagging = False

    async def get(self) -> bytes:
        """Wait for the next message; SubscriberLagging once a message could not be queued."""
        if self.lagging:
            raise SubscriberLagging
        return await self.queue.get()


class Broker(Protocol):
    """What the notification layer needs from a broker."""

    name: str
    hub: Hub

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

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.hub = Hub()
        # Pub/sub channels are global to a Redis server, whatever database the URL names:
        # the prefix keeps deployments (and test runs) that share a server apart.
        self.prefix = redis_channel_prefix(client)
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

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
                await self._confirmed(self.prefix + channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        try:
            yield sub
        finally:
            async with self._lock:
                if self.hub.remove(channel, sub):
                    await self._pubsub.unsubscribe(self.prefix + channel)

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
            self.hub.deliver(name.removeprefix(self.prefix), message["data"])

    async def ping(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(await self.client.ping())
        except aioredis.RedisError:
            return False

    async def close(self) -> None:
        """Stop the reader and close the pub/sub connection."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]


def redis_channel_prefix(client: aioredis.Redis) -> str:
    """``calendo:<db>:``, from the database number of the client's URL."""
    return f"calendo:{client.connection_pool.connection_kwargs.get('db', 0)}:"


def create_broker(redis_client: aioredis.Redis | None) -> MemoryBroker | RedisBroker:
    """Redis when configured, in-process otherwise."""
    return RedisBroker(redis_client) if redis_client is not None else MemoryBroker()
