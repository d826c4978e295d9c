"""Cache: bounded in-memory TTL cache, or Redis when several processes must agree.

Values are bytes; keys should embed a version (for example ``occ:<event>:<version>:...``) so
that a write makes the old entry unreachable instead of relying on a delete reaching every
process in time.
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as aioredis
from cachetools import TTLCache


class Cache(Protocol):
    """Byte cache with expiry."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl: int) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryCache:
    """Process-local TTL cache with a size bound (one TTL for all entries)."""

    def __init__(self, *, maxsize: int = 10_000, ttl: int = 300) -> None:
        self._data: TTLCache[str, bytes] = TTLCache(maxsize=maxsize, ttl=ttl)

    async def get(self, key: str) -> bytes | None:
        """The cached value, if present and fresh."""
        return self._data.get(key)

    async def set(self, key: str, value: bytes, *, ttl: int) -> None:
        """Store a value (the cache-wide TTL applies)."""
        self._data[key] = value

    async def delete(self, key: str) -> None:
        """Drop a value."""
        self._data.pop(key, None)


class RedisCache:
    """Cache shared by every process through Redis."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "calendo:cache:") -> None:
        self.client = client
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        """The cached value, if present."""
        value = await self.client.get(self.prefix + key)
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    async def set(self, key: str, value: bytes, *, ttl: int) -> None:
        """Store a value for ``ttl`` seconds."""
        await self.client.set(self.prefix + key, value, ex=ttl)

    async def delete(self, key: str) -> None:
        """Drop a value everywhere."""
        await self.client.delete(self.prefix + key)


def create_cache(redis_client: aioredis.Redis | None, *, ttl: int) -> MemoryCache | RedisCache:
    """Redis when configured, memory otherwise."""
    return RedisCache(redis_client) if redis_client is not None else MemoryCache(ttl=ttl)
