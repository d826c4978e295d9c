"""Passwords (Argon2 via pwdlib), JWTs (PyJWT, HS256 only) and a cache of verified tokens.

Tokens carry ``sub``, ``sid`` (the login family), ``type`` (access or refresh), ``jti``,
``iat`` and ``exp``; decoding pins the algorithm list so ``alg: none`` and key confusion are
refused by the library, and requires every claim.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt
from cachetools import LRUCache
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from calendo.core.config import Settings

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
_REQUIRED_CLAIMS = ["sub", "sid", "type", "jti", "iat", "exp"]


class TokenInvalid(Exception):
    """The token is malformed, expired, of the wrong type or badly signed."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    session_id: int
    token_type: TokenType
    jti: str
    expires_at: int


class PasswordHasher:
    """Argon2id hashing; verifying an unknown user costs the same as a known one."""

    def __init__(self, settings: Settings) -> None:
        hasher = Argon2Hasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_cost
        )
        self._hash = PasswordHash((hasher,))
        self._dummy = self._hash.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Hash a password for storage."""
        return self._hash.hash(password)

    def verify(self, password: str, stored: str | None) -> bool:
        """Check a password; with no stored hash, burn the same time and fail."""
        if stored is None:
            self._hash.verify(password, self._dummy)
            return False
        return self._hash.verify(password, stored)


def create_token(
    settings: Settings, *, user_id: int, session_id: int, token_type: TokenType, now: datetime
) -> tuple[str, str, datetime]:
    """Sign a token; returns (token, jti, expiry)."""
    lifetime = (
        timedelta(minutes=settings.access_token_minutes)
        if token_type == "access"
        else timedelta(days=settings.refresh_token_days)
    )
    jti = secrets.token_urlsafe(16)
    expires = now + lifetime
    payload = {
        "sub": str(user_id),
        "sid": session_id,
        "type": token_type,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(payload, settings.signing_key, algorithm=ALGORITHM), jti, expires


def decode_token(settings: Settings, token: str, *, expected: TokenType) -> TokenClaims:
    """Verify signature, expiry and type; raise TokenInvalid otherwise."""
    try:
        payload = jwt.decode(
            token,
            settings.signing_key,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED_CLAIMS},
            leeway=0,
        )
        claims = TokenClaims(
            user_id=int(payload["sub"]),
            session_id=int(payload["sid"]),
            token_type=payload["type"],
            jti=str(payload["jti"]),
            expires_at=int(payload["exp"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise TokenInvalid(str(exc)) from exc
    if claims.token_type != expected:
        raise TokenInvalid(f"expected an {expected} token")
    return claims


class TokenVerifier:
    """Verifies access tokens, remembering verified ones (bounded LRU).

    Verifying a signature costs more than the rest of a cached read; a token seen before is
    only checked for expiry again. Revocation is not cached: callers still check the login
    session in the database on every request.
    """

    def __init__(self, settings: Settings, *, maxsize: int = 4096) -> None:
        self.settings = settings
        self._verified: LRUCache[tuple[str, str], TokenClaims] = LRUCache(maxsize=maxsize)

    def decode(self, token: str, *, expected: TokenType) -> TokenClaims:
        """Like ``decode_token``, with verified tokens remembered until they expire."""
        key = (token, expected)
        claims = self._verified.get(key)
        if claims is None:
            claims = decode_token(self.settings, token, expected=expected)
            self._verified[key] = claims
        if claims.expires_at <= time.time():
            self._verified.pop(key, None)
            raise TokenInvalid("token expired")
        return claims


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())


def bearer_credentials(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None.

    The one parser of the header: the auth dependency, the rate limiter and the WebSocket feed
    all read the bearer token through it. The scheme is case-insensitive (RFC 9110, 11.1).
    """
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None
