"""The limits of the anonymous auth routes, counted by the routes themselves.

* **Failed logins per client IP** (``CALENDO_RATE_LIMIT_AUTH``, 5/minute): the brute-force
  budget. A login *takes* one unit before the password is verified and gives it back when the
  password was right, so a burst of concurrent guesses cannot overrun the budget and an IP
  whose budget is spent is refused before any Argon2 work, whatever password it sends. The
  budget is a sliding window counter (the previous window's count, weighted by how much of it
  still overlaps, plus the current one): two integers per IP and window, incremented and
  decremented atomically by the limiter's storage, memory or Redis alike.
* **Per-account backoff.** Failures are also counted per account name (the identifier as the
  lookup reads it: an email lower-cased), whether or not such an account exists, so an
  unknown name behaves exactly like a known one. Once one IP has failed
  ``CALENDO_LOGIN_BACKOFF_AFTER`` times on a name, each further attempt of that IP on it opens
  a wait of base × 2^(failures − after) seconds, at most ``CALENDO_LOGIN_BACKOFF_MAX_SECONDS``,
  during which the IP's next attempt on that name is a 429. A looser account-wide bound does
  the same for every IP once the name has ``CALENDO_LOGIN_BACKOFF_ACCOUNT_AFTER`` failures from
  all IPs together, sparing the IPs that logged in to it successfully in the last 30 days: a
  distributed guesser is slowed, while the owner, at home, is never made to wait by someone
  else's failures, and anywhere else waits at most the cap per attempt. A success clears the
  name's counts. Failure counts are forgotten an hour after the first one.
* **Successful logins and registrations per client IP** (``CALENDO_RATE_LIMIT_AUTH_SUCCESS``):
  a higher moving-window budget. Every registration that reaches the route counts (a 409 tells
  whether a name is taken); a login counts when it succeeds, and is refused before
  verification while the budget is spent.
* **Refreshes per client IP** (``CALENDO_RATE_LIMIT_REFRESH``), a moving window of its own.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from limits import RateLimitItem
from starlette.requests import Request

from calendo.core.errors import NotAuthenticated, RateLimited
from calendo.core.ratelimit import (
    Quota,
    RateLimiter,
    client_host,
    per_period,
    publish_quota,
    refusal,
)

FAILURE_MEMORY_SECONDS = 3600
KNOWN_ADDRESS_SECONDS = 30 * 86400
SUCCESSES = "successful logins and registrations"


def spent(item: RateLimitItem, what: str, quota: Quota) -> RateLimited:
    """The 429 of a spent per-IP budget, saying which one and when to retry."""
    retry = max(quota.reset, 1)
    detail = f"Limit of {per_period(item)} {what} from this address reached; retry in {retry} s"
    return refusal(detail, retry)


def account_key(identifier: str) -> str:
    """A fixed-size key for an account name (usernames hold no ``@``; emails match
    case-insensitively), so no raw name or email is written to the limiter's storage."""
    name = identifier.lower() if "@" in identifier else identifier
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def seconds_until(previous: int, current: int, elapsed: float, window: int, target: int) -> int:
    """Seconds until the weighted count ``previous × (window − elapsed) / window + current``
    is at most ``target``, if nothing more is counted."""
    if previous * (window - elapsed) / window + current <= target:
        return 0
    if current <= target:  # the previous window's share fades first
        wait = (window - elapsed) - (target - current) * window / previous
    else:  # wait for the next window, where today's count fades in its turn
        wait = (window - elapsed) + window - target * window / current
    return max(1, math.ceil(wait))


class SlidingBudget:
    """A per-key budget over a sliding window counter, from which a unit can be held and given
    back (a login holds one while its password is verified)."""

    def __init__(self, item: RateLimitItem, prefix: str) -> None:
        self.item = item
        self.prefix = prefix
        self.window = int(item.get_expiry())

    def _keys(self, key: str, now: float) -> tuple[str, str, float]:
        index = int(now // self.window)
        base = f"{self.prefix}:{key}"
        return f"{base}:{index}", f"{base}:{index - 1}", now - index * self.window

    async def take(self, storage: Any, key: str) -> str | None:
        """Hold one unit; returns the hold (give it back to undo), or None when none is left."""
        current, previous, elapsed = self._keys(key, time.time())
        # Three windows of life: a key is read as "current" and then as "previous".
        count = await storage.incr(current, 3 * self.window, 1)
        earlier = max(0, await storage.get(previous))
        if earlier * (self.window - elapsed) / self.window + count > self.item.amount:
            await storage.incr(current, 3 * self.window, -1)
            return None
        return current

    async def give_back(self, storage: Any, hold: str) -> None:
        """Undo a ``take`` (in the window it was taken in, even if that one has passed)."""
        await storage.incr(hold, 3 * self.window, -1)

    async def quota(self, storage: Any, key: str) -> Quota:
        """The budget's state for the ``RateLimit-*`` headers."""
        current, previous, elapsed = self._keys(key, time.time())
        count = max(0, await storage.get(current))
        earlier = max(0, await storage.get(previous))
        limit = self.item.amount
        weighted = earlier * (self.window - elapsed) / self.window + count
        remaining = max(0, math.floor(limit - weighted))
        reset = 0
        if remaining < limit:
            reset = seconds_until(earlier, count, elapsed, self.window, limit - remaining - 1)
        return Quota(limit, remaining, reset)


class Backoff:
    """Exponential backoff for one scope (an account name, or a name and an IP): after
    ``after`` failures, an attempt opens a wait; no other attempt starts until it has passed.

    The wait is a storage counter with an expiry: the attempt that creates it (the increment
    that returns 1) goes ahead, any other is refused until it expires. Atomic in memory and in
    Redis, so concurrent attempts cannot slip through together."""

    def __init__(self, prefix: str, *, after: int, base: int, cap: int) -> None:
        self.prefix = prefix
        self.after = after
        self.base = base
        self.cap = cap

    def delay(self, failures: int) -> int:
        """The wait an attempt opens once the scope has ``failures`` failures."""
        exponent = min(failures - self.after, 32)
        return int(min(self.cap, self.base * 2**exponent))

    async def admit(self, storage: Any, scope: str, *, spared_by: str | None = None) -> int:
        """0 if an attempt may start now, else the seconds to wait. ``spared_by``: a key whose
        presence exempts the attempt (an address the account logged in from)."""
        failures = await storage.get(f"{self.prefix}:fails:{scope}")
        if failures < self.after:
            return 0
        if spared_by is not None and await storage.get(spared_by) > 0:
            return 0
        turn = f"{self.prefix}:turn:{scope}"
        if await storage.incr(turn, self.delay(failures), 1) == 1:
            return 0
        expires: float = await storage.get_expiry(turn)
        return max(1, math.ceil(expires - time.time()))

    async def failed(self, storage: Any, scope: str) -> None:
        """Count a failure."""
        await storage.incr(f"{self.prefix}:fails:{scope}", FAILURE_MEMORY_SECONDS, 1)

    async def end_wait(self, storage: Any, scope: str) -> None:
        """End the current wait (the failures stay counted)."""
        await storage.clear(f"{self.prefix}:turn:{scope}")

    async def forget(self, storage: Any, scope: str) -> None:
        """Forget the scope's failures and wait (after a success)."""
        await storage.clear(f"{self.prefix}:fails:{scope}")
        await self.end_wait(storage, scope)


class AuthLimits:
    """The auth routes' buckets over the limiter's storage."""

    def __init__(self, limiter: RateLimiter) -> None:
        settings = limiter.settings
        self.limiter = limiter
        self.failures = SlidingBudget(limiter.login_failure_limit, "login-failed")
        shape = {
            "base": settings.login_backoff_base_seconds,
            "cap": settings.login_backoff_max_seconds,
        }
        self.per_address = Backoff("login-name-ip", after=settings.login_backoff_after, **shape)
        self.per_account = Backoff(
            "login-name", after=settings.login_backoff_account_after, **shape
        )

    @property
    def storage(self) -> Any:
        """The limiter's storage (bound in the lifespan)."""
        return self.limiter.storage

    async def count(self, request: Request, item: RateLimitItem, bucket: str, what: str) -> None:
        """Count one request of a moving-window bucket per IP; 429 when it is spent."""
        if not self.limiter.enabled:
            return
        allowed, quota = await self.limiter.hit(item, f"{bucket}:{client_host(request.scope)}")
        publish_quota(request, quota)
        if not allowed:
            raise spent(item, what, quota)

    async def end_waits(self, identifier: str, ip: str) -> None:
        """End the backoff waits of a name, for every IP and for this one (operators, tests)."""
        account = account_key(identifier)
        await self.per_account.end_wait(self.storage, account)
        await self.per_address.end_wait(self.storage, f"{account}:{ip}")


def _limits(request: Request) -> AuthLimits:
    limiter: RateLimiter = request.app.state.limiter
    return AuthLimits(limiter)


async def count_registration(request: Request) -> None:
    """Count a registration against the successes budget of its IP (429 when spent)."""
    limits = _limits(request)
    item = limits.limiter.auth_success_limit
    await limits.count(request, item, "auth-ok", SUCCESSES)


async def count_refresh(request: Request) -> None:
    """Count a token refresh against the refresh budget of its IP (429 when spent)."""
    limits = _limits(request)
    await limits.count(request, limits.limiter.refresh_limit, "refresh", "token refreshes")


class LoginAttempt:
    """One login's passage through the limits: :meth:`begin` before the password is looked
    at, then exactly one of :meth:`succeeded`, :meth:`failed` or :meth:`abandoned`."""

    def __init__(self, limits: AuthLimits, request: Request, identifier: str) -> None:
        self.limits = limits
        self.request = request
        self.ip = client_host(request.scope)
        self.account = account_key(identifier)
        self.hold: str | None = None
        self.settled = not limits.limiter.enabled

    def _known(self, account: str) -> str:
        return f"login-known:{account}:{self.ip}"

    async def _publish(self) -> None:
        quota = await self.limits.failures.quota(self.limits.storage, self.ip)
        publish_quota(self.request, quota)

    async def begin(self) -> None:
        """Refuse (429) before any password work when a budget is spent or a wait runs."""
        if self.settled:
            return
        limits, storage = self.limits, self.limits.storage
        success_item = limits.limiter.auth_success_limit
        success_key = f"auth-ok:{self.ip}"
        if not await limits.limiter.has_room(success_item, success_key):
            quota = await limits.limiter.quota(success_item, success_key)
            publish_quota(self.request, quota)
            raise spent(success_item, SUCCESSES, quota)
        self.hold = await limits.failures.take(storage, self.ip)
        if self.hold is None:
            quota = await limits.failures.quota(storage, self.ip)
            publish_quota(self.request, quota)
            raise spent(limits.failures.item, "failed logins", quota)
        wait = await limits.per_address.admit(storage, f"{self.account}:{self.ip}")
        if not wait:
            spare = self._known(self.account)
            wait = await limits.per_account.admit(storage, self.account, spared_by=spare)
        if wait:
            await self.abandoned()
            raise refusal(f"Too many failed logins for this account; retry in {wait} s", wait)

    async def failed(self) -> None:
        """The password was wrong (or no such account): the held unit stays counted."""
        if self.settled:
            return
        self.settled = True
        storage = self.limits.storage
        await self.limits.per_address.failed(storage, f"{self.account}:{self.ip}")
        await self.limits.per_account.failed(storage, self.account)
        await self._publish()

    async def succeeded(self, *names: str) -> None:
        """The account (known by all its ``names``) logged in: give the unit back, clear its
        failures, remember this address, count a success."""
        if self.settled:
            return
        self.settled = True
        limits, storage = self.limits, self.limits.storage
        if self.hold is not None:
            await limits.failures.give_back(storage, self.hold)
        for account in {self.account, *map(account_key, names)}:
            await limits.per_account.forget(storage, account)
            await limits.per_address.forget(storage, f"{account}:{self.ip}")
            # Remembered for 30 days from the latest success (a fresh key, a fresh expiry).
            await storage.clear(self._known(account))
            await storage.incr(self._known(account), KNOWN_ADDRESS_SECONDS, 1)
        await limits.limiter.hit(limits.limiter.auth_success_limit, f"auth-ok:{self.ip}")
        await self._publish()

    async def abandoned(self) -> None:
        """Neither verdict (an error, or refused by a wait): the unit goes back."""
        if self.settled:
            return
        self.settled = True
        if self.hold is not None:
            await self.limits.failures.give_back(self.limits.storage, self.hold)
        await self._publish()


@asynccontextmanager
async def login_attempt(request: Request, identifier: str) -> AsyncIterator[LoginAttempt]:
    """Wrap a login: 429 before the block when limited; a ``NotAuthenticated`` out of the
    block is a failure; the block calls :meth:`LoginAttempt.succeeded` on success."""
    attempt = LoginAttempt(_limits(request), request, identifier)
    await attempt.begin()
    try:
        yield attempt
    except NotAuthenticated:
        await attempt.failed()
        raise
    except Exception:
        await attempt.abandoned()
        raise
    await attempt.abandoned()  # a no-op once succeeded() ran


def documented_limits(
    responses: dict[int | str, dict[str, Any]], bucket: str, *statuses: int
) -> dict[int | str, dict[str, Any]]:
    """Add the ``RateLimit-*`` headers (and ``Retry-After`` on a 429) to a route's OpenAPI
    responses, saying which ``bucket`` they describe."""
    integer = {"type": "integer", "minimum": 0}
    headers = {
        "RateLimit-Limit": {"description": f"Size of {bucket}", "schema": integer},
        "RateLimit-Remaining": {"description": f"What is left of {bucket}", "schema": integer},
        "RateLimit-Reset": {
            "description": f"Seconds until {bucket} has room for one more than "
            "RateLimit-Remaining says",
            "schema": integer,
        },
    }
    retry = {"description": "Seconds to wait before trying again", "schema": integer}
    for status in statuses:
        entry = responses.setdefault(status, {})
        entry["headers"] = {**headers, **({"Retry-After": retry} if status == 429 else {})}
    return responses
