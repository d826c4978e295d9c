"""Rate limits with the ``limits`` package: memory by default, Redis when configured.

A pure ASGI middleware, so every limited response (success or error) carries the
``RateLimit-*`` headers. Auth endpoints are limited per client IP; everything else under
``/api`` per user, identified by the access token's subject (the signature is checked, the
database is not: an unverifiable token is keyed by IP and will be refused by the route).
"""

from __future__ import annotations

import math
import time
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calendo.core.config import Settings
from calendo.core.errors import RateLimited, send_app_error
from calendo.core.security import TokenInvalid, TokenVerifier, bearer_credentials

AUTH_PATHS = frozenset({"/api/auth/register", "/api/auth/login", "/api/auth/refresh"})


class RateLimiter:
    """The two limits of the contract over one storage."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.auth_limit: RateLimitItem = parse(settings.rate_limit_auth)
        self.default_limit: RateLimitItem = parse(settings.rate_limit_default)
        self.enabled = settings.rate_limit_enabled
        self.storage: Any = None
        self.strategy: MovingWindowRateLimiter | None = None

    def bind(self, redis_client: aioredis.Redis | None) -> None:
        """Choose the storage at startup: the app's Redis pool when configured, else memory."""
        if redis_client is not None and self.settings.redis_url:
            uri = self.settings.redis_url.replace("redis://", "async+redis://", 1)
            self.storage = storage_from_string(
                uri,
                implementation="redispy",
                connection_pool=redis_client.connection_pool,  # type: ignore[arg-type]
            )
        else:
            self.storage = storage_from_string("async+memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)

    async def hit(self, item: RateLimitItem, key: str) -> tuple[bool, int, int]:
        """Count one request; returns (allowed, remaining, seconds until reset)."""
        assert self.strategy is not None, "RateLimiter.bind() runs in the lifespan"
        allowed = await self.strategy.hit(item, key)
        stats = await self.strategy.get_window_stats(item, key)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return allowed, stats.remaining, reset

    async def reset(self) -> None:
        """Forget every counter (tests)."""
        await self.storage.reset()


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """Apply the auth or default limit to every ``/api`` request."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, tokens: TokenVerifier) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tokens

    def _key(self, scope: Scope) -> tuple[RateLimitItem, str]:
        path = scope["path"]
        if path in AUTH_PATHS:
            return self.limiter.auth_limit, f"auth:{_client_ip(scope)}"
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = bearer_credentials(value.decode("latin-1"))
                if token is None:
                    break
                try:
                    claims = self.tokens.decode(token, expected="access")
                except TokenInvalid:
                    break
                return self.limiter.default_limit, f"user:{claims.user_id}"
        return self.limiter.default_limit, f"ip:{_client_ip(scope)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.limiter.enabled
            or not scope["path"].startswith("/api")
        ):
            await self.app(scope, receive, send)
            return
        item, key = self._key(scope)
        allowed, remaining, reset = await self.limiter.hit(item, key)
        headers = [
            (b"ratelimit-limit", str(item.amount).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(reset).encode()),
        ]
        if not allowed:
            retry = max(reset, 1)
            refusal = RateLimited(
                f"Limit of {item.amount} per {item.GRANULARITY.name} exceeded; retry in {retry} s",
                headers={
                    **{name.decode(): value.decode() for name, value in headers},
                    "retry-after": str(retry),
                },
            )
            await send_app_error(send, refusal)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
