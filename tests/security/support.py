"""Helpers of the security tests: raw and forged JWTs, WebSocket probes, database surgery.

Tokens are assembled by hand (base64url header, payload, signature) so that a test can build
what no well-behaved library would: ``alg: none``, a payload changed after signing, a header
that lies about its algorithm.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from fastapi import FastAPI
from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from sqlalchemy import delete

from calendo.auth.models import User
from calendo.core.uow import UnitOfWork
from calendo.models import Base
from tests.conftest import SECRET

T = TypeVar("T")
WS_PATH = "/api/notifications/ws"
# What a client may get when the server refuses a socket's token (contract: 4401, or 1008).
WS_REFUSED = frozenset({4401, 1008})
# A public key as an attacker would paste it into an HMAC "secret" (the classic confusion).
PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9
q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==
-----END PUBLIC KEY-----
"""


def b64url(data: bytes) -> str:
    """Unpadded URL-safe base64, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Inverse of ``b64url``."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """``header.payload.`` with an empty signature (what ``alg: none`` looks like)."""
    return f"{_segment(header)}.{_segment(payload)}."


def hmac_signed(
    payload: dict[str, Any], key: str | bytes, *, alg: str = "HS256", header_alg: str | None = None
) -> str:
    """A JWS signed with HMAC-``alg``; ``header_alg`` lets the header claim something else."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = {"alg": header_alg or alg, "typ": "JWT"}
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    raw_key = key.encode() if isinstance(key, str) else key
    signature = hmac.new(raw_key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims_of(token: str) -> dict[str, Any]:
    """A token's payload, unverified."""
    payload: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return payload


def with_payload(token: str, **changes: Any) -> str:
    """The same header and signature over a changed payload (a tampered token)."""
    header, _payload, signature = token.split(".")
    return f"{header}.{_segment({**claims_of(token), **changes})}.{signature}"


def fresh_claims(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Claims like a real access token's, valid now, with ``changes`` applied."""
    now = datetime.now(UTC)
    claims = {
        **template,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=15)).timestamp()),
        "jti": "forged-" + str(now.timestamp()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def server_signed(claims: dict[str, Any]) -> str:
    """A token signed with the test suite's real secret (what only the server can make)."""
    return hmac_signed(claims, SECRET)


def now_plus(seconds: int) -> int:
    """A Unix timestamp ``seconds`` from now."""
    return int(datetime.now(UTC).timestamp()) + seconds


@asynccontextmanager
async def ws_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that speaks WebSocket to the (already started) app."""
    async with (
        ASGIWebSocketTransport(app=app, initial_receive_timeout=5.0) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def ws_outcome(app: FastAPI, token: str | None, *, wait: float = 0.5) -> int | str:
    """Open the notification socket: its close code if it is closed before any message,
    ``"open"`` if it stays open for ``wait`` seconds, ``"message"`` if it sends data first,
    ``"http <status>"`` if the upgrade itself is refused."""
    url = WS_PATH if token is None else f"{WS_PATH}?token={token}"
    try:
        async with ws_client(app) as client, aconnect_ws(url, client) as ws:
            try:
                await ws.receive_text(timeout=wait)
            except WebSocketDisconnect as closed:
                return closed.code
            except TimeoutError:
                return "open"
            return "message"
    except WebSocketUpgradeError as exc:
        return f"http {exc.response.status_code}"


async def delete_user(app: FastAPI, user_id: int) -> None:
    """Remove an account row (there is no API for it; an operator or a GDPR erasure would)."""
    async with UnitOfWork.independent(app.state.services.db) as session:
        await session.execute(delete(User).where(User.id == user_id))


class Hung(BaseException):
    """Raised into a request that is still computing past its deadline (not an Exception,
    so no ``except Exception`` in the app can swallow it)."""


async def guarded(awaitable: Awaitable[T], seconds: float = 10.0) -> T:
    """Await with ``asyncio.wait_for``; a CPU-bound hang (which blocks the loop, so that
    ``wait_for`` cannot fire) is interrupted by SIGALRM two seconds later.

    pytest-timeout uses SIGALRM too: its timer is saved and re-armed with what remains of it,
    and when it would fire first, the backstop is left to it.
    """
    hard = seconds + 2
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_delay and outer_delay <= hard:
        return await asyncio.wait_for(awaitable, seconds)

    def _alarm(_signum: int, _frame: Any) -> None:
        raise Hung(f"request still running after {hard:.0f} s")

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, hard)
    try:
        return await asyncio.wait_for(awaitable, seconds)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            remaining = max(outer_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, remaining, outer_interval)


@contextmanager
def module_database(template: str, directory: Path) -> Iterator[str]:
    """A database for one test module: a copy of the SQLite template, or the PostgreSQL test
    database truncated afterwards (modules run one after another, so nothing else uses it)."""
    if not template.startswith("postgresql"):
        path = directory / "module.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    try:
        yield template
    finally:
        asyncio.run(_truncate(template))


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


class GuardedClient(httpx.AsyncClient):
    """An httpx client whose every request runs under ``guarded`` (a hang fails fast)."""

    guard_seconds = 30.0

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        return await guarded(super().send(request, **kwargs), seconds=self.guard_seconds)
