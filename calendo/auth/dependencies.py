"""The authenticated caller, resolved from ``Authorization: Bearer``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from calendo.auth import repository
from calendo.core.db import Reads
from calendo.core.errors import NotAuthenticated
from calendo.core.security import TokenInvalid, TokenVerifier

# The scheme as OpenAPI states it (``calendo.openapi`` marks every route that depends on
# ``current_user`` with it). It is not a dependency of ``current_user``: a sub-dependency costs
# ~15 µs per request, and the header is parsed below with FastAPI's own helper.
BEARER = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    username: str
    session_id: int


async def authenticate(tokens: TokenVerifier, reads: Reads, token: str) -> CurrentUser:
    """Resolve an access token to a live user and login session, or raise NotAuthenticated."""
    try:
        claims = tokens.decode(token, expected="access")
    except TokenInvalid as exc:
        raise NotAuthenticated("Invalid or expired access token") from exc
    username = await repository.live_username(
        reads, user_id=claims.user_id, session_id=claims.session_id
    )
    if username is None:
        raise NotAuthenticated("Invalid or expired access token")
    return CurrentUser(id=claims.user_id, username=username, session_id=claims.session_id)


async def current_user(request: Request) -> CurrentUser:
    """The caller; 401 with ``WWW-Authenticate: Bearer`` when the token is missing or bad.

    Resolved outside the request's unit of work (``Database.reads``), so it never holds
    SQLite's writer queue and costs one autocommit statement.
    """
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("Missing bearer token")
    services = request.app.state.services
    return await authenticate(services.tokens, services.db.reads, token)


CurrentUserDep = Annotated[CurrentUser, Depends(current_user)]
