"""The bounded retry of a write the database aborted: the request is run again, whole.

The lock order (docs/architecture.md) designs deadlocks out of Calendo's own writes; this is
the net under it, for what no order covers (a serialization failure, an operator's statement
holding a lock, SQLite's write lock held past its busy timeout by another process). The unit
of work (``core.uow.UnitOfWork``) rolls such a transaction back and raises
``TransientConflict``. A route's unit of work spans the route's whole body and commits before
the response starts, so nothing of a failed attempt has reached the client or the broker
(after-commit hooks run only on commit): running the request once more from the start, with
the same body, is the retry.

``ATTEMPTS`` runs in all, with full-jitter exponential backoff between them (a random wait
of up to ``BASE_DELAY`` × 2, × 4, ... seconds: about 50, 100, 200 ms at most). When the last
attempt fails too the answer is ``503 service-unavailable`` with ``Retry-After``, never a 500.

It sits inside the rate limiter and the metrics (a replay is not a new request to them) and
inside format negotiation, so it replays the body the routes read.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calendo.core.errors import ServiceUnavailable, send_app_error
from calendo.core.uow import TransientConflict

ATTEMPTS = 4
BASE_DELAY = 0.025
RETRY_AFTER_SECONDS = 1
# No unit of work a GET, HEAD or OPTIONS opens writes (and autocommit reads cannot deadlock).
_REPLAYED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

log = structlog.get_logger("calendo.replay")


async def _read_body(receive: Receive) -> list[Message]:
    """The request's body messages, whole (the body limit was enforced outside)."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


class ReplayMiddleware:
    """Run a write request again when its unit of work raised ``TransientConflict``."""

    def __init__(
        self, app: ASGIApp, *, attempts: int = ATTEMPTS, base_delay: float = BASE_DELAY
    ) -> None:
        self.app = app
        self.attempts = attempts
        self.base_delay = base_delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _REPLAYED_METHODS:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        for attempt in range(1, self.attempts + 1):
            try:
                await self.app(scope, _replaying(body, receive), tracked)
                return
            except TransientConflict as exc:
                if started:  # cannot happen: a unit of work ends before its response
                    raise
                log.warning(
                    "transaction_retried",
                    attempt=attempt,
                    attempts=self.attempts,
                    path=scope.get("path"),
                    error=str(exc)[:200],
                )
                if attempt < self.attempts:
                    # Jitter, not a secret: the stdlib generator is the right tool.
                    delay = random.uniform(0, self.base_delay * 2**attempt)  # noqa: S311
                    await asyncio.sleep(delay)
        refusal = ServiceUnavailable(
            f"The database aborted this write {self.attempts} times in a row to resolve "
            "conflicts with concurrent writes; nothing was written. Try again.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        await send_app_error(send, refusal)


def _replaying(body: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out the buffered body, then the client's own (disconnect)."""
    pending = list(body)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
