"""The authenticated caller, resolved from ``Authorization: Bearer``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from calendo.auth import repository
from calendo.core.db import Reads
from calendo.core.errors import NotAuthenticated
from calendo.core.security import TokenClaims, TokenInvalid, TokenVerifier, bearer_credentials

# The scheme as OpenAPI states it (``calendo.openapi`` marks every route that depends on
# ``current_user`` with it). It is not a dependency of ``current_user``: a sub-dependency costs
# ~15 µs per request, and the header is parsed below with FastAPI's own helper.
BEARER = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    username: str
    session_id: int
    # The account's default IANA zone for rendering times (``user_account.timezone``), read
    # in the statement that checks the login session.
    timezone: str


@dataclass(frozen=True, slots=True)
class Bearer:
    """A verified access token (signature, type, expiry) whose login session has not been
    looked up yet: the read that uses it must prove the session live (see ``bearer``)."""

    user_id: int
    session_id: int


# The 401 detail of a token that fails (signature, type, expiry, or a dead login session).
INVALID_TOKEN = "Invalid or expired access token"


def _claims(tokens: TokenVerifier, token: str) -> TokenClaims:
    try:
        return tokens.decode(token, expected="access")
    except TokenInvalid as exc:
        raise NotAuthenticated(INVALID_TOKEN) from exc


def _token(request: Request) -> str:
    token = bearer_credentials(request.headers.get("authorization"))
    if token is None:
        raise NotAuthenticated("Missing bearer token")
    return token


async def _live_user(reads: Reads, user_id: int, session_id: int) -> tuple[str, str]:
    """The user's name and default zone, or 401 unless the login session is theirs and not
    revoked."""
    found = await repository.live_user(reads, user_id=user_id, session_id=session_id)
    if found is None:
        raise NotAuthenticated(INVALID_TOKEN)
    return found


async def authenticate(tokens: TokenVerifier, reads: Reads, token: str) -> CurrentUser:
    """Resolve an access token to a live user and login session, or raise NotAuthenticated."""
    claims = _claims(tokens, token)
    username, timezone = await _live_user(reads, claims.user_id, claims.session_id)
    return CurrentUser(
        id=claims.user_id, username=username, session_id=claims.session_id, timezone=timezone
    )


async def current_user(request: Request) -> CurrentUser:
    """The caller; 401 with ``WWW-Authenticate: Bearer`` when the token is missing or bad.

    Resolved outside the request's unit of work (``Database.reads``), so it never holds
    SQLite's writer queue and costs one autocommit statement.
    """
    services = request.app.state.services
    return await authenticate(services.tokens, services.db.reads, _token(request))


async def bearer(request: Request) -> Bearer:
    """The caller's verified token, for the hottest reads, which check the login session in
    their own statement (``auth.repository.LIVE_SESSION``) instead of a statement of its own,
    and call ``require_live`` when that statement finds nothing (401, not 404, for a revoked
    session). Every other route takes ``current_user``."""
    claims = _claims(request.app.state.services.tokens, _token(request))
    return Bearer(user_id=claims.user_id, session_id=claims.session_id)


async def require_live(reads: Reads, caller: Bearer) -> None:
    """401 unless the token's login session is live (``current_user``'s check, on its own)."""
    await _live_user(reads, caller.user_id, caller.session_id)


CurrentUserDep = Annotated[CurrentUser, Depends(current_user)]
BearerDep = Annotated[Bearer, Depends(bearer)]
