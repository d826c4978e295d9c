"""Rate limits with the ``limits`` package: memory by default, Redis when configured.

Two places count. A pure ASGI middleware applies ``CALENDO_RATE_LIMIT_DEFAULT`` to ``/api``
before routing, per user (the access token's subject: the signature is checked, the database
is not; an unverifiable token is keyed by IP and will be refused by the route) or per IP. The
three anonymous auth routes (register, login, refresh) are counted by the routes themselves,
through ``core/auth_limits.py``, because what counts there (a *failed* login) is known only
after the route ran. Under ``/api/auth`` a request no route matches (404) or allows (405)
counts against no limit.

Every counted response carries ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` for the
bucket that applies to its route: the middleware adds them, from its own count or from the
:class:`Quota` a route published with :func:`publish_quota`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calendo.core.config import Settings
from calendo.core.errors import RateLimited, send_app_error
from calendo.core.security import TokenInvalid, TokenVerifier, bearer_credentials

# Counted by their routes (core/auth_limits.py), never by the middleware.
ROUTE_COUNTED = frozenset({"/api/auth/register", "/api/auth/login", "/api/auth/refresh"})
AUTH_PREFIX = "/api/auth/"
# Where a route leaves the quota of its bucket for the middleware to send.
_QUOTA_SLOT = "calendo.ratelimit"


@dataclass(frozen=True, slots=True)
class Quota:
    """A bucket's state as the ``RateLimit-*`` headers say it.

    ``reset``: seconds until the bucket has room for one more than ``remaining`` says (the
    oldest counted request ages out); 0 when the bucket is whole.
    """

    limit: int
    remaining: int
    reset: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The three ``RateLimit-*`` header lines."""
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset).encode()),
        ]


def refusal(detail: str, retry_after: int) -> RateLimited:
    """A 429 with ``Retry-After`` (the ``RateLimit-*`` headers come from the middleware)."""
    return RateLimited(detail, headers={"retry-after": str(max(retry_after, 1))})


def per_period(item: RateLimitItem) -> str:
    """``5 per minute``: how a refusal names its limit."""
    return f"{item.amount} per {item.GRANULARITY.name}"


class RateLimiter:
    """The limits of the service over one storage (memory, or the app's Redis)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.default_limit: RateLimitItem = parse(settings.rate_limit_default)
        # The auth routes' buckets (core/auth_limits.py), per client IP.
        self.login_failure_limit: RateLimitItem = parse(settings.rate_limit_auth)
        self.auth_success_limit: RateLimitItem = parse(settings.rate_limit_auth_success)
        self.refresh_limit: RateLimitItem = parse(settings.rate_limit_refresh)
        self.enabled = settings.rate_limit_enabled
        self.storage: Any = None
        self.strategy: MovingWindowRateLimiter | None = None

    def bind(self, redis_client: aioredis.Redis | None) -> None:
        """Choose the storage at startup: the app's Redis pool when configured, else memory."""
        if redis_client is not None and self.settings.redis_url:
            # The scheme only picks limits' async Redis storage; it counts over the app's own
            # pool, whatever URL made it: a server, or a Sentinel-managed master that a
            # failover moves (core/redis_client.py).
            self.storage = storage_from_string(
                "async+redis://",
                implementation="redispy",
                connection_pool=redis_client.connection_pool,  # type: ignore[arg-type]
            )
        else:
            self.storage = storage_from_string("async+memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)

    def _moving(self) -> MovingWindowRateLimiter:
        assert self.strategy is not None, "RateLimiter.bind() runs in the lifespan"
        return self.strategy

    async def hit(self, item: RateLimitItem, key: str) -> tuple[bool, Quota]:
        """Count one request in a moving window; returns (allowed, the bucket after it)."""
        allowed = await self._moving().hit(item, key)
        return allowed, await self.quota(item, key)

    async def has_room(self, item: RateLimitItem, key: str) -> bool:
        """Whether one more request would fit, without counting it."""
        return await self._moving().test(item, key)

    async def quota(self, item: RateLimitItem, key: str) -> Quota:
        """A moving-window bucket's state."""
        stats = await self._moving().get_window_stats(item, key)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        # An empty window has nothing to age out (limits reports a whole window then).
        return Quota(item.amount, stats.remaining, reset if stats.remaining < item.amount else 0)

    async def reset(self) -> None:
        """Forget every counter (tests)."""
        await self.storage.reset()


def client_host(scope: Scope) -> str:
    """The peer address the limits key anonymous traffic by (no proxy header is trusted)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def publish_quota(request: Request, quota: Quota) -> None:
    """Let the middleware send ``quota`` as this response's ``RateLimit-*`` headers."""
    slot = request.scope.get(_QUOTA_SLOT)
    if slot is not None:
        slot[:] = [quota]


def _routed(scope: Scope) -> bool:
    """Whether a route of the app takes this path with this method (not a 404 or 405)."""
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", ())
    return any(route.matches(scope)[0] is Match.FULL for route in routes)


class RateLimitMiddleware:
    """Apply the default limit to ``/api`` requests and send every bucket's headers."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, tokens: TokenVerifier) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tokens

    def _key(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = bearer_credentials(value.decode("latin-1"))
                if token is None:
                    break
                try:
                    claims = self.tokens.decode(token, expected="access")
                except TokenInvalid:
                    break
                return f"user:{claims.user_id}"
        return f"ip:{client_host(scope)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.limiter.enabled
            or not scope["path"].startswith("/api")
        ):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        slot: list[Quota] = []
        if path in ROUTE_COUNTED:
            scope[_QUOTA_SLOT] = slot
        elif not path.startswith(AUTH_PREFIX) or _routed(scope):
            item = self.limiter.default_limit
            allowed, quota = await self.limiter.hit(item, self._key(scope))
            if not allowed:
                refused = refusal(
                    f"Limit of {per_period(item)} exceeded; retry in {max(quota.reset, 1)} s",
                    quota.reset,
                )
                refused.headers.update({k.decode(): v.decode() for k, v in quota.headers()})
                await send_app_error(send, refused)
                return
            slot.append(quota)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and slot:
                message = {**message, "headers": [*message.get("headers", []), *slot[0].headers()]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
