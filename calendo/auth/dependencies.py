"""The HTTP side of authentication: the caller (``auth.caller``) read from
``Authorization: Bearer``, as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from calendo.auth.caller import Bearer, CurrentUser, authenticate, claims
from calendo.core.errors import NotAuthenticated
from calendo.core.security import bearer_credentials

# The scheme as OpenAPI states it (``calendo.openapi`` marks every route that depends on
# ``current_user`` with it). It is not a dependency of ``current_user``: a sub-dependency costs
# ~15 µs per request, and the header is parsed below with FastAPI's own helper.
BEARER = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


def _token(request: Request) -> str:
    token = bearer_credentials(request.headers.get("authorization"))
    if token is None:
        raise NotAuthenticated("Missing bearer token")
    return token


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
    verified = claims(request.app.state.services.tokens, _token(request))
    return Bearer(user_id=verified.user_id, session_id=verified.session_id)


CurrentUserDep = Annotated[CurrentUser, Depends(current_user)]
BearerDep = Annotated[Bearer, Depends(bearer)]
