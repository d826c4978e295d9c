"""SQL of the auth domain."""

from __future__ import annotations

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from calendo.auth.models import AuthSession, User
from calendo.core import statements
from calendo.core.db import LIKE_ESCAPE, Reads, like_literal

# Built once: the statement and its cache key are reused by every request.
_LIVE_USERNAME = (
    select(User.username)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
    )
)


# The same check as a condition, for a read that proves the caller's session in its own
# statement (bind ``user_id`` and ``session_id``): it finds nothing for a revoked session.
LIVE_SESSION = _LIVE_USERNAME.exists()


# A user's calendar lock (PostgreSQL): their account row, ``FOR NO KEY UPDATE``. It serialises
# the writes that conflict-check that user's calendar, and it is the weakest row lock that
# does: the foreign-key checks of the rows other writes append for this user (feed rows,
# notifications, permissions take ``FOR KEY SHARE``) pass beside it, where ``FOR UPDATE``
# would block them and let two writers wait on each other. First in the lock order
# (docs/architecture.md, "Lock order").
_CALENDAR_LOCK = (
    select(User.id).where(User.id == bindparam("user_id")).with_for_update(key_share=True)
)
_LOCKED_CALENDARS = "calendo_locked_calendars"


def lock_calendar(sync_session: Session, user_id: int) -> None:
    """Take ``user_id``'s calendar lock until commit, once per transaction (inside
    ``run_sync``). On SQLite the write transaction is exclusive already: nothing to do."""
    connection = sync_session.connection()
    if connection.dialect.name != "postgresql":
        return
    locked: set[int] = sync_session.info.setdefault(_LOCKED_CALENDARS, set())
    if user_id not in locked:
        statements.rows(connection, _CALENDAR_LOCK, {"user_id": user_id})
        locked.add(user_id)


async def live_username(reads: Reads, *, user_id: int, session_id: int) -> str | None:
    """The user's name if the login session is theirs and not revoked (one statement per
    request, outside any transaction: it must see a logout committed a moment ago)."""
    rows = await reads.all(_LIVE_USERNAME, {"user_id": user_id, "session_id": session_id})
    return str(rows[0].username) if rows else None


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
