"""Redis clients from a URL: one server, or the master a set of Redis Sentinels watch.

``redis://`` / ``rediss://`` / ``unix://`` URLs are redis-py's own. A Sentinel URL names the
sentinels, the monitored master's service name and the database:

    redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]

(``rediss+sentinel://`` for TLS to the master and replicas). The user and password are those
of the master; sentinels that require a password of their own take ``?sentinel_password=``.
The client asks the sentinels for the current master when it connects and again whenever a
connection fails, so after a failover every new connection, the pub/sub one included, goes to
the promoted replica. redis-py has no URL form for this; ``limits`` has one of its own, but
the rate limiter is handed this client's pool instead (``RateLimiter.bind``), so the broker,
the limiter and the cache all follow a failover the same way.

While the sentinels promote a replica they may, for a moment, name no healthy master: the old
one is down and the new one not yet announced, or just announced and, before the sentinel has
reached it, flagged down again for a few hundred milliseconds (seen with Debian's Redis 7
sentinel and ``down-after-milliseconds 500``). redis-py then raises ``MasterNotFoundError``
(a ``ConnectionError``) at once, to a publish, a rate-limited request or the cache. So the
master lookup waits for a master, up to ``MASTER_LOOKUP_GRACE_SECONDS`` from the first lookup
that found none; past that, lookups fail at once, as a refused connection to a single server
does, until the sentinels name a master again. What fails after the grace is handled as any
lost Redis connection is (a publish is logged, the pub/sub reader retries, a rate-limited
request fails: docs/operations.md).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}
DEFAULT_SENTINEL_PORT = 26379
# A sentinel that does not answer within this is skipped for the next one.
SENTINEL_TIMEOUT_SECONDS = 1.0
# How long the sentinels may name no master before a lookup gives up (a promotion window);
# and how often a waiting lookup asks again.
MASTER_LOOKUP_GRACE_SECONDS = 2.0
MASTER_LOOKUP_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a Sentinel URL names."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int
    username: str | None
    password: str | None
    ssl: bool
    sentinel_password: str | None


def is_sentinel_url(url: str) -> bool:
    """Whether the URL names a master through its sentinels."""
    return url.partition("://")[0].lower() in SENTINEL_SCHEMES


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The parts of a ``redis+sentinel://`` URL; ValueError when one is missing or malformed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SENTINEL_SCHEMES:
        raise ValueError(f"not a Sentinel URL (redis+sentinel://...): {scheme}://")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = tuple(_host_port(item) for item in hostlist.split(",") if item)
    path = [segment for segment in parts.path.split("/") if segment]
    if not sentinels or not 1 <= len(path) <= 2:
        raise ValueError("a Sentinel URL is redis+sentinel://host:port[,host:port]/service[/db]")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError(f"the database of a Sentinel URL is a number, not {path[1]!r}")
    query = parse_qs(parts.query)
    return SentinelTarget(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        ssl=SENTINEL_SCHEMES[scheme],
        sentinel_password=query.get("sentinel_password", [None])[0],
    )


def _host_port(item: str) -> tuple[str, int]:
    """``host:port``, ``host`` (the default port) or ``[v6 address]:port``."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = item.partition(":")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"bad sentinel address {item!r}")
    return host, int(port) if port else DEFAULT_SENTINEL_PORT


class PatientSentinel(Sentinel):
    """A ``Sentinel`` whose master lookup waits out a promotion window (module docstring).

    The grace is counted from the first lookup that found no master, for every lookup
    alike: in a longer outage only the lookups of its first ``grace`` seconds wait, the rest
    fail at once, so no request waits more than ``grace`` for an answer the sentinels lack."""

    def __init__(self, *args: object, grace: float = MASTER_LOOKUP_GRACE_SECONDS, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.grace = grace
        self._masterless_since: float | None = None
        self.lookups_waited = 0  # lookups that found no master at first and then one (tests)

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        """The master's address; MasterNotFoundError once the sentinels named none for
        ``grace`` seconds."""
        waited = False
        while True:
            try:
                address: tuple[str, int] = await super().discover_master(service_name)
            except MasterNotFoundError:
                now = time.monotonic()
                if self._masterless_since is None:
                    self._masterless_since = now
                if now - self._masterless_since >= self.grace:
                    raise
                waited = True
                await asyncio.sleep(MASTER_LOOKUP_POLL_SECONDS)
                continue
            self._masterless_since = None
            self.lookups_waited += waited
            return address


def connect_redis(url: str) -> aioredis.Redis:
    """A client for the URL: redis-py's own for a server, a Sentinel-managed master otherwise.
    Nothing connects until the first command."""
    if not is_sentinel_url(url):
        return aioredis.from_url(url)
    target = parse_sentinel_url(url)
    sentinel_kwargs: dict[str, object] = {
        "socket_timeout": SENTINEL_TIMEOUT_SECONDS,
        "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS,
    }
    if target.sentinel_password:
        sentinel_kwargs["password"] = target.sentinel_password
    sentinel = PatientSentinel(list(target.sentinels), sentinel_kwargs=sentinel_kwargs)
    client: aioredis.Redis = sentinel.master_for(
        target.service,
        db=target.db,
        username=target.username,
        password=target.password,
        ssl=target.ssl,
    )
    return client


async def close_redis(client: aioredis.Redis) -> None:
    """Close the client's pool and, for a Sentinel-managed one, its sentinel connections."""
    await client.aclose()
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        await pool.sentinel_manager.aclose()
