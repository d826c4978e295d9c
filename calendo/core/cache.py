"""Cache: a per-process TTL cache bounded in bytes, or a Redis instance of its own.

Values are bytes; keys embed a version (for example ``occ:<event>:<version>:...``) so that a
write makes the old entry unreachable instead of relying on a delete reaching every process in
time. That is also why a per-process cache is correct behind a load balancer: processes never
need to agree on what is cached, only on what is current, and the key says that.

Memory is bounded in bytes, not entries: ``MemoryCache`` counts every value's length plus a
fixed overhead for its key and bookkeeping against ``max_bytes`` and evicts the least recently
used entries past it; a value larger than ``entry_max_bytes`` is not cached at all (it is
recomputed on each request, which its own limits already bound).

Redis is used only when ``CALENDO_CACHE_REDIS_URL`` names an instance for the cache alone,
run with ``maxmemory`` and ``maxmemory-policy allkeys-lru``. The main Redis
(``CALENDO_REDIS_URL``) holds rate-limit windows and token revocations, which must never be
evicted, so it runs ``noeviction`` and holds no cache entries (see docs/operations.md).
Either URL may name a Sentinel-managed master (``redis+sentinel://``, core/redis_client.py):
the cache then follows a failover as the broker and the limiter do.
"""

from __future__ import annotations

import logging
from typing import Protocol

import redis.asyncio as aioredis
from cachetools import TTLCache

# What one entry costs beyond its value: the key (keys are short, versioned ids), the dict slot
# and the TTL links. A deliberate over-estimate, so the bound holds for tiny values too.
ENTRY_OVERHEAD_BYTES = 256

log = logging.getLogger(__name__)


class Cache(Protocol):
    """Byte cache with expiry."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl: int) -> None: ...

    async def delete(self, key: str) -> None: ...


def entry_bytes(value: bytes) -> int:
    """What one cached value counts against the byte bound."""
    return len(value) + ENTRY_OVERHEAD_BYTES


class MemoryCache:
    """Process-local TTL cache bounded in bytes (one TTL for all entries)."""

    def __init__(self, *, max_bytes: int, entry_max_bytes: int, ttl: int = 300) -> None:
        self.max_bytes = max_bytes
        self.entry_max_bytes = min(entry_max_bytes, max_bytes - ENTRY_OVERHEAD_BYTES)
        self._data: TTLCache[str, bytes] = TTLCache(
            maxsize=max_bytes, ttl=ttl, getsizeof=entry_bytes
        )

    @property
    def used_bytes(self) -> int:
        """The bytes the cached entries count for now (never above ``max_bytes``)."""
        return int(self._data.currsize)

    async def get(self, key: str) -> bytes | None:
        """The cached value, if present and fresh."""
        return self._data.get(key)

    async def set(self, key: str, value: bytes, *, ttl: int) -> None:
        """Store a value (the cache-wide TTL applies); one over the entry bound is skipped."""
        if len(value) > self.entry_max_bytes:
            self._data.pop(key, None)
            return
        self._data[key] = value

    async def delete(self, key: str) -> None:
        """Drop a value."""
        self._data.pop(key, None)


class RedisCache:
    """Cache shared by every process through Redis."""

    def __init__(
        self, client: aioredis.Redis, *, entry_max_bytes: int, prefix: str = "calendo:cache:"
    ) -> None:
        self.client = client
        self.entry_max_bytes = entry_max_bytes
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        """The cached value, if present."""
        value = await self.client.get(self.prefix + key)
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    async def set(self, key: str, value: bytes, *, ttl: int) -> None:
        """Store a value for ``ttl`` seconds; one over the entry bound is skipped."""
        if len(value) > self.entry_max_bytes:
            await self.client.delete(self.prefix + key)
            return
        await self.client.set(self.prefix + key, value, ex=ttl)

    async def delete(self, key: str) -> None:
        """Drop a value everywhere."""
        await self.client.delete(self.prefix + key)


def create_cache(
    cache_redis: aioredis.Redis | None, *, max_bytes: int, entry_max_bytes: int, ttl: int
) -> MemoryCache | RedisCache:
    """The cache's own Redis when one is configured, a bounded per-process cache otherwise."""
    if cache_redis is not None:
        return RedisCache(cache_redis, entry_max_bytes=entry_max_bytes)
    return MemoryCache(max_bytes=max_bytes, entry_max_bytes=entry_max_bytes, ttl=ttl)


async def warn_if_redis_evicts(client: aioredis.Redis) -> str | None:
    """Log a warning if the main Redis may evict keys; return the offending policy, if any.

    Rate-limit windows and revocations carry TTLs, so even a ``volatile-*`` policy could drop
    them under memory pressure. Managed services may refuse ``CONFIG GET``: then nothing is
    known and nothing is said.
    """
    try:
        config = await client.config_get("maxmemory*")
    except aioredis.RedisError:
        return None
    values = {_text(k): _text(v) for k, v in config.items() if v is not None}
    policy = values.get("maxmemory-policy", "noeviction")
    if values.get("maxmemory", "0") == "0" or policy == "noeviction":
        return None
    log.warning(
        "redis at CALENDO_REDIS_URL has maxmemory-policy %s: rate-limit and revocation keys "
        "may be evicted; run it with noeviction (the cache needs its own instance)",
        policy,
    )
    return policy


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
