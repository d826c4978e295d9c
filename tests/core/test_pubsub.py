"""The in-process broker: fan-out, and a lagging subscriber is told, never silently trimmed."""

from __future__ import annotations

import pytest

from calendo.core.pubsub import MemoryBroker, SubscriberLagging


async def test_fan_out_to_every_subscriber_of_a_channel() -> None:
    broker = MemoryBroker()
    async with (
        broker.subscribe("user:1") as a,
        broker.subscribe("user:1") as b,
        broker.subscribe("user:2") as other,
    ):
        await broker.publish("user:1", b"hello")
        assert await a.get() == b"hello"
        assert await b.get() == b"hello"
        assert other.queue.empty()


async def test_overflow_marks_the_subscriber_lagging() -> None:
    broker = MemoryBroker()
    async with broker.subscribe("user:1") as sub:
        for n in range(sub.queue.maxsize + 1):
            await broker.publish("user:1", str(n).encode())
        assert sub.lagging
        with pytest.raises(SubscriberLagging):
            await sub.get()


async def test_unsubscribe_on_exit() -> None:
    broker = MemoryBroker()
    async with broker.subscribe("user:1") as sub:
        pass
    await broker.publish("user:1", b"late")
    assert sub.queue.empty()
