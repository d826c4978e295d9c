"""The occurrence cache is bounded in bytes, and never shares the main Redis."""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from calendo.core.cache import (
    ENTRY_OVERHEAD_BYTES,
    MemoryCache,
    RedisCache,
    create_cache,
    warn_if_redis_evicts,
)
from calendo.core.config import Settings
from tests.conftest import BACKEND, make_settings
from tests.events.conftest import EventFactory
from tests.helpers import Actor

MiB = 1024 * 1024
CACHE_BOUND = 512 * 1024


@pytest.fixture
def settings(database_url: str, redis_url: str | None) -> Settings:
    """The app of this module has a small cache: 512 KB, 128 KB an entry."""
    return make_settings(
        database_url, redis_url, cache_max_bytes=CACHE_BOUND, cache_entry_max_bytes=128 * 1024
    )


async def test_memory_cache_holds_no_more_bytes_than_its_bound() -> None:
    """The finding: 60 windows of ~500 KB each once fit under an entry-count bound."""
    cache = MemoryCache(max_bytes=4 * MiB, entry_max_bytes=MiB, ttl=300)
    value = b"x" * 500_000
    for window in range(60):
        await cache.set(f"occ:1:1:{window}", value, ttl=300)
        assert cache.used_bytes <= 4 * MiB
    stored = [w for w in range(60) if await cache.get(f"occ:1:1:{w}") is not None]
    per_entry = len(value) + ENTRY_OVERHEAD_BYTES
    assert len(stored) == (4 * MiB) // per_entry  # as many as fit, no more
    assert stored == list(range(60 - len(stored), 60))  # the oldest were evicted first
    assert cache.used_bytes == len(stored) * per_entry


async def test_a_value_over_the_entry_bound_is_not_cached() -> None:
    cache = MemoryCache(max_bytes=4 * MiB, entry_max_bytes=MiB, ttl=300)
    await cache.set("small", b"ok", ttl=300)
    await cache.set("big", b"x" * (MiB + 1), ttl=300)
    assert await cache.get("big") is None
    assert await cache.get("small") == b"ok"
    await cache.set("small", b"y" * (MiB + 1), ttl=300)
    assert await cache.get("small") is None  # a stale smaller value is not left behind


async def test_the_main_redis_never_backs_the_cache() -> None:
    """Only a Redis given for the cache alone backs it; otherwise memory, bounded."""
    cache = create_cache(None, max_bytes=MiB, entry_max_bytes=1024, ttl=60)
    assert isinstance(cache, MemoryCache) and cache.max_bytes == MiB
    own = aioredis.Redis()
    try:
        assert isinstance(
            create_cache(own, max_bytes=MiB, entry_max_bytes=1024, ttl=60), RedisCache
        )
    finally:
        await own.aclose()


async def test_occurrence_windows_stay_within_the_byte_bound(
    client: httpx.AsyncClient, app: FastAPI, make_event: EventFactory, owner: Actor
) -> None:
    """Through the API: many distinct big windows never grow the cache past its bound."""
    cache = app.state.services.cache
    assert isinstance(cache, MemoryCache) and cache.max_bytes == CACHE_BOUND
    event = await make_event(owner, recurrence_pattern="FREQ=HOURLY")
    sizes: list[int] = []
    for day in range(1, 29):
        params: dict[str, Any] = {
            "start_time": f"2026-04-{day:02d}T00:00:00Z",
            "end_time": "2026-06-30T00:00:00Z",
            "limit": 1000,
        }
        response = await client.get(
            f"/api/events/{event['id']}/occurrences", params=params, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == 1000
        sizes.append(cache.used_bytes)
    assert max(sizes) <= CACHE_BOUND
    assert sizes[-1] > CACHE_BOUND // 2  # the windows were cached, up to the bound


@pytest.mark.skipif(BACKEND != "postgres", reason="needs the Redis of the PostgreSQL run")
async def test_an_evicting_main_redis_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    client = aioredis.from_url(os.environ["CALENDO_TEST_REDIS_URL"])
    try:
        before = await client.config_get("maxmemory*")
        try:
            await client.config_set("maxmemory", "1gb")
            await client.config_set("maxmemory-policy", "allkeys-lru")
            with caplog.at_level(logging.WARNING, logger="calendo.core.cache"):
                assert await warn_if_redis_evicts(client) == "allkeys-lru"
            assert "noeviction" in caplog.text
            await client.config_set("maxmemory-policy", "noeviction")
            assert await warn_if_redis_evicts(client) is None
        finally:
            await client.config_set("maxmemory", before["maxmemory"])
            await client.config_set("maxmemory-policy", before["maxmemory-policy"])
    finally:
        await client.aclose()
