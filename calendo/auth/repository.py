"""SQL of the auth domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth.models import AuthSession, User
from calendo.auth.scopes import LIVE_USERNAME
from calendo.core.db import LIKE_ESCAPE, Reads, like_literal

# Every lookup of "a user" skips deleted accounts (tombstones); only ``find_conflicting``
# sees them, because their usernames stay taken.
_ACTIVE = User.deleted_at.is_(None)


async def live_user(reads: Reads, *, user_id: int, session_id: int) -> tuple[str, str] | None:
    """The user's name and default time zone if the login session is theirs and not revoked
    (one statement per request, outside any transaction: it must see a logout committed a
    moment ago)."""
    rows = await reads.all(LIVE_USERNAME, {"user_id": user_id, "session_id": session_id})
    return (str(rows[0].username), str(rows[0].timezone)) if rows else None


async def find_by_login(session: AsyncSession, identifier: str) -> User | None:
    """Look a user up by username or (case-insensitive) email."""
    query = select(User).where(
        or_(User.username == identifier, User.email == identifier.lower()), _ACTIVE
    )
    return (await session.scalars(query)).first()


async def find_conflicting(session: AsyncSession, *, username: str, email: str) -> User | None:
    """A user that already has this username or email."""
    query = select(User).where(or_(User.username == username, User.email == email))
    return (await session.scalars(query)).first()


async def lock_auth_session(session: AsyncSession, session_id: int) -> AuthSession | None:
    """Load a login session for update (rotation must not race)."""
    query = select(AuthSession).where(AuthSession.id == session_id).with_for_update()
    return (await session.scalars(query)).first()


async def search_users(session: AsyncSession, prefix: str, *, limit: int) -> list[User]:
    """Users whose username starts with ``prefix`` (case-insensitive)."""
    query = (
        select(User)
        .where(
            func.lower(User.username).like(like_literal(prefix) + "%", escape=LIKE_ESCAPE),
            _ACTIVE,
        )
        .order_by(User.username)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def get_users(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    """Users by id."""
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(ids), _ACTIVE))
    return {user.id: user for user in rows}


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    """A user by exact username."""
    query = select(User).where(User.username == username, _ACTIVE)
    return (await session.scalars(query)).first()


async def password_hash(session: AsyncSession, user_id: int) -> str | None:
    """An active account's stored password hash."""
    query = select(User.password_hash).where(User.id == user_id, _ACTIVE)
    return (await session.scalars(query)).first()


async def lock_user(session: AsyncSession, user_id: int) -> User | None:
    """An active account, loaded for update: ``FOR NO KEY UPDATE``, the calendar lock's
    strength (an UPDATE of the email, a key column, takes ``FOR UPDATE`` itself)."""
    query = select(User).where(User.id == user_id, _ACTIVE).with_for_update(key_share=True)
    return (await session.scalars(query)).first()


async def release_email(session: AsyncSession, user_id: int, placeholder: str) -> None:
    """Replace a deleted account's email by its placeholder."""
    query = update(User).where(User.id == user_id, User.deleted_at.is_not(None))
    await session.execute(query.values(email=placeholder))


async def email_taken(session: AsyncSession, email: str, *, other_than: int) -> bool:
    """Whether another account has this email."""
    query = select(User.id).where(User.email == email, User.id != other_than)
    return (await session.scalars(query)).first() is not None


async def revoke_sessions(
    session: AsyncSession, user_id: int, *, now: datetime, keep: int | None = None
) -> int:
    """Revoke the user's live login sessions but ``keep``; returns how many were live."""
    query = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    result = await session.execute(query.values(revoked_at=now))
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
