"""SQL of the auth domain."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth.models import AuthSession, User
from calendo.auth.scopes import LIVE_USERNAME
from calendo.core.db import LIKE_ESCAPE, Reads, like_literal


async def live_user(reads: Reads, *, user_id: int, session_id: int) -> tuple[str, str] | None:
    """The user's name and default time zone if the login session is theirs and not revoked
    (one statement per request, outside any transaction: it must see a logout committed a
    moment ago)."""
    rows = await reads.all(LIVE_USERNAME, {"user_id": user_id, "session_id": session_id})
    return (str(rows[0].username), str(rows[0].timezone)) if rows else None


async def find_by_login(session: AsyncSession, identifier: str) -> User | None:
    """Look a user up by username or (case-insensitive) email."""
    query = select(User).where(or_(User.username == identifier, User.email == identifier.lower()))
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
        .where(func.lower(User.username).like(like_literal(prefix) + "%", escape=LIKE_ESCAPE))
        .order_by(User.username)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def get_users(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    """Users by id."""
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user for user in rows}


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    """A user by exact username."""
    return (await session.scalars(select(User).where(User.username == username))).first()
