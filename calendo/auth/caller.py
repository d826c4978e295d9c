"""The authenticated caller: who a verified access token names, and the check that its login
session is live. Built by auth alone; services take these types and never the HTTP layer
(``auth.dependencies`` reads them from the request)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from calendo.auth import repository
from calendo.core.db import Reads
from calendo.core.errors import NotAuthenticated
from calendo.core.security import TokenClaims, TokenInvalid, TokenVerifier


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


def claims(tokens: TokenVerifier, token: str) -> TokenClaims:
    """The verified claims of an access token, or 401 (``NotAuthenticated``)."""
    try:
        return tokens.decode(token, expected="access")
    except TokenInvalid as exc:
        raise NotAuthenticated(INVALID_TOKEN) from exc


async def _live_user(reads: Reads, user_id: int, session_id: int) -> tuple[str, str]:
    """The user's name and default zone, or 401 unless the login session is theirs and not
    revoked."""
    found = await repository.live_user(reads, user_id=user_id, session_id=session_id)
    if found is None:
        raise NotAuthenticated(INVALID_TOKEN)
    return found


async def authenticate(tokens: TokenVerifier, reads: Reads, token: str) -> CurrentUser:
    """Resolve an access token to a live user and login session, or raise NotAuthenticated."""
    verified = claims(tokens, token)
    username, timezone = await _live_user(reads, verified.user_id, verified.session_id)
    return CurrentUser(
        id=verified.user_id, username=username, session_id=verified.session_id, timezone=timezone
    )


async def require_live(reads: Reads, caller: Bearer) -> None:
    """401 unless the token's login session is live (``current_user``'s check, on its own)."""
    await _live_user(reads, caller.user_id, caller.session_id)


def refuse() -> NoReturn:
    """Raise the 401 of a token whose login session a statement found dead (the reads that
    carry ``auth.scopes.LIVE_SESSION`` in their own ``WHERE`` call it)."""
    raise NotAuthenticated(INVALID_TOKEN)


def proven(caller: Bearer, *, username: str | None, timezone: str | None) -> CurrentUser:
    """The caller of a verified token whose login session another package's statement proved
    live (``auth.scopes.LIVE_SESSION`` in its ``WHERE``), with the name and zone it read; 401
    if it read none."""
    if username is None or timezone is None:
        refuse()
    return CurrentUser(
        id=caller.user_id, username=username, session_id=caller.session_id, timezone=timezone
    )
