"""Auth use cases: register, login, refresh with rotation and reuse detection, logout."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit import service as audit
from calendo.auth import repository
from calendo.auth.models import AuthSession, User
from calendo.auth.schemas import RegisterRequest, TokenResponse, UserRead
from calendo.core.config import Settings
from calendo.core.db import Database
from calendo.core.errors import Conflict, NotAuthenticated
from calendo.core.security import (
    PasswordHasher,
    TokenInvalid,
    create_token,
    decode_token,
    same_secret,
)
from calendo.core.types import utcnow
from calendo.core.uow import UnitOfWork

BAD_CREDENTIALS = "Invalid username, email or password"
BAD_REFRESH = "Invalid or expired refresh token"


async def _issue_tokens(
    session: AsyncSession, settings: Settings, user: User, auth_session: AuthSession | None
) -> TokenResponse:
    """Sign an access/refresh pair; a new login session when none is given."""
    now = utcnow()
    if auth_session is None:
        auth_session = AuthSession(user_id=user.id, refresh_jti="")
        session.add(auth_session)
        await session.flush()
    access, _, _ = create_token(
        settings, user_id=user.id, session_id=auth_session.id, token_type="access", now=now
    )
    refresh, jti, _ = create_token(
        settings, user_id=user.id, session_id=auth_session.id, token_type="refresh", now=now
    )
    auth_session.refresh_jti = jti
    return TokenResponse(
        user=UserRead.model_validate(user),
        access_token=access,
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
    )


async def register(
    session: AsyncSession,
    *,
    settings: Settings,
    hasher: PasswordHasher,
    data: RegisterRequest,
    ip: str | None,
) -> TokenResponse:
    """Create an account and log it in."""
    email = data.email.lower()
    # Hash before the first query: the write transaction starts there and stays short.
    password_hash = await asyncio.to_thread(hasher.hash, data.password)
    existing = await repository.find_conflicting(session, username=data.username, email=email)
    if existing is not None:
        field = "username" if existing.username == data.username else "email"
        raise Conflict(f"That {field} is already registered")
    user = User(username=data.username, email=email, password_hash=password_hash)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("That username or email is already registered") from exc
    await audit.record(session, action="register", actor_id=user.id, subject_user_id=user.id, ip=ip)
    return await _issue_tokens(session, settings, user, None)


async def login(
    session: AsyncSession,
    *,
    settings: Settings,
    hasher: PasswordHasher,
    db: Database,
    identifier: str,
    password: str,
    ip: str | None,
) -> TokenResponse:
    """Check credentials; unknown users and bad passwords cost the same and read the same."""
    # Look up and verify outside the write transaction, so the slow hash holds no lock.
    async with UnitOfWork.read(db) as lookup:
        user = await repository.find_by_login(lookup, identifier)
    stored = user.password_hash if user else None
    valid = await asyncio.to_thread(hasher.verify, password, stored)
    if user is None or not valid:
        subject_id = user.id if user else None
        await audit.record_independently(
            db,
            action="login_failed",
            actor_id=None,
            subject_user_id=subject_id,
            ip=ip,
            details={"identifier": identifier[:320]},
        )
        raise NotAuthenticated(BAD_CREDENTIALS)
    user = await session.merge(user, load=False)
    await audit.record(session, action="login", actor_id=user.id, subject_user_id=user.id, ip=ip)
    return await _issue_tokens(session, settings, user, None)


async def refresh(
    session: AsyncSession, *, settings: Settings, db: Database, token: str, ip: str | None
) -> TokenResponse:
    """Rotate a refresh token; a reused (already rotated) one revokes its whole family."""
    try:
        claims = decode_token(settings, token, expected="refresh")
    except TokenInvalid as exc:
        raise NotAuthenticated(BAD_REFRESH) from exc
    auth_session = await repository.lock_auth_session(session, claims.session_id)
    if auth_session is None or auth_session.user_id != claims.user_id:
        raise NotAuthenticated(BAD_REFRESH)
    if auth_session.revoked_at is not None:
        raise NotAuthenticated(BAD_REFRESH)
    if not same_secret(claims.jti, auth_session.refresh_jti):
        await session.rollback()  # release the row lock; the revocation commits on its own
        await _revoke_family(db, claims.session_id, claims.user_id, ip)
        raise NotAuthenticated("Refresh token reuse detected; this login has been revoked")
    users = await repository.get_users(session, {claims.user_id})
    user = users.get(claims.user_id)
    if user is None:
        raise NotAuthenticated(BAD_REFRESH)
    await audit.record(
        session, action="token_refresh", actor_id=user.id, subject_user_id=user.id, ip=ip
    )
    return await _issue_tokens(session, settings, user, auth_session)


async def _revoke_family(db: Database, session_id: int, user_id: int, ip: str | None) -> None:
    """Revoke a login in its own transaction, so the revocation survives the 401."""
    async with UnitOfWork.independent(db) as independent:
        auth_session = await repository.lock_auth_session(independent, session_id)
        if auth_session is not None and auth_session.revoked_at is None:
            auth_session.revoked_at = utcnow()
        await audit.record(
            independent,
            action="refresh_reuse_detected",
            actor_id=None,
            subject_user_id=user_id,
            ip=ip,
            details={"session_id": session_id},
        )


async def logout(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: int,
    session_id: int,
    refresh_token: str | None,
    ip: str | None,
) -> None:
    """Revoke the current login (access and refresh tokens at once), and the named one."""
    session_ids = {session_id}
    if refresh_token:
        try:
            claims = decode_token(settings, refresh_token, expected="refresh")
        except TokenInvalid:
            claims = None
        if claims is not None and claims.user_id == user_id:
            session_ids.add(claims.session_id)
    for sid in sorted(session_ids):
        auth_session = await repository.lock_auth_session(session, sid)
        if auth_session is not None and auth_session.revoked_at is None:
            auth_session.revoked_at = utcnow()
    await audit.record(session, action="logout", actor_id=user_id, subject_user_id=user_id, ip=ip)


async def search_users(session: AsyncSession, *, prefix: str) -> list[User]:
    """At most 20 users whose name starts with the prefix."""
    return await repository.search_users(session, prefix, limit=20)


async def get_users(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    """Users by id (for other domains that show names)."""
    return await repository.get_users(session, ids)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    """A user by exact username."""
    return await repository.get_user_by_username(session, username)
