"""Request-scoped dependencies that know no domain: services, the read and independent units of
work, the client. A write route opens its own unit in the handler (``UnitOfWork.write``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Path, Request

from calendo.core.cache import Cache
from calendo.core.config import Settings
from calendo.core.db import Database
from calendo.core.observability import Metrics
from calendo.core.pubsub import Broker
from calendo.core.ratelimit import RateLimiter
from calendo.core.security import PasswordHasher, TokenVerifier
from calendo.core.types import MAX_ID
from calendo.core.uow import UnitOfWork


async def _read_unit(request: Request) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork.read(services_of(request).db) as unit:
        yield unit


async def _independent_unit(request: Request) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork.independent(services_of(request).db) as unit:
        yield unit


# A read route's unit of work (``UnitOfWork.read``): it commits nothing.
ReadUnitDep = Annotated[UnitOfWork, Depends(_read_unit, scope="function")]
# The password routes' (``UnitOfWork.independent``): their slow password hashing must not hold
# the writer queue, so their write transaction takes it only once it begins, and they keep it
# short themselves. scope="function": the commit happens before the response is sent, so a
# client never sees a 2xx for a write that then fails to commit.
IndependentUnitDep = Annotated[UnitOfWork, Depends(_independent_unit, scope="function")]


def client_ip(request: Request) -> str | None:
    """The client's address: the peer, or the client a trusted proxy forwarded
    (``CALENDO_TRUSTED_PROXIES``; ``core.proxy`` rewrites the peer before any route runs)."""
    return request.client.host if request.client else None


async def _client_ip(request: Request) -> str | None:
    return client_ip(request)


ClientIP = Annotated[str | None, Depends(_client_ip)]

# An id or version number in a path: ids are 32-bit (PostgreSQL INTEGER), so a larger one is a
# precise 422 here instead of a value the database would refuse.
PathId = Annotated[int, Path(le=MAX_ID)]


@dataclass(frozen=True)
class Services:
    """Everything the lifespan creates; lives on ``app.state.services``."""

    settings: Settings
    db: Database
    hasher: PasswordHasher
    tokens: TokenVerifier
    broker: Broker
    cache: Cache
    limiter: RateLimiter
    metrics: Metrics
    redis: aioredis.Redis | None


def services_of(request: Request) -> Services:
    """The app's services, for the hottest routes, which take ``request: Request`` (FastAPI
    passes it for free) rather than ``ServicesDep`` (a dependency costs ~15 µs per request)."""
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """The app's services."""
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]
