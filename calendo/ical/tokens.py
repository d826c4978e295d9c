"""Feed tokens: create, list, revoke, and find the feed a secret opens.

A secret is 256 random bits (``secrets.token_urlsafe(32)``); only its SHA-256 is stored, so a
copy of the database opens no feed. Looking a secret up is one indexed statement on that hash,
run on every feed request: nothing caches a token's validity, so a revoked feed (its row
deleted) or a deleted account (``accounts.deletion`` deletes its feeds; the lookup also
requires a live account) is refused at once in every process.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth.accounts import record_own
from calendo.auth.caller import CurrentUser
from calendo.auth.models import User
from calendo.auth.scopes import lock_calendar
from calendo.core.db import Reads
from calendo.core.errors import Conflict, NotFound
from calendo.ical.models import FeedToken

MAX_FEEDS_PER_USER = 20
# What ``secrets.token_urlsafe(32)`` writes: 43 characters of the URL-safe alphabet.
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")

_LOOKUP = (
    select(
        FeedToken.id,
        FeedToken.user_id,
        FeedToken.name,
        FeedToken.busy_only,
        FeedToken.token_hash,
    )
    .join(User, User.id == FeedToken.user_id)
    .where(FeedToken.token_hash == bindparam("token_hash"), User.deleted_at.is_(None))
)


@dataclass(frozen=True, slots=True)
class Feed:
    """The feed a secret opened."""

    id: int
    user_id: int
    name: str
    busy_only: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _read(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "busy_only": row.busy_only,
        "created_at": row.created_at,
    }


async def create_feed(
    session: AsyncSession, *, user: CurrentUser, name: str, busy_only: bool, ip: str | None
) -> tuple[dict[str, Any], str]:
    """A new feed of the caller's calendar (``FeedRead`` fields) and its secret; 409 when the
    caller already has ``MAX_FEEDS_PER_USER``."""
    await session.run_sync(lock_calendar, user.id)  # two creates cannot both pass the count
    held = await session.scalar(
        select(func.count()).select_from(FeedToken).where(FeedToken.user_id == user.id)
    )
    if held is not None and held >= MAX_FEEDS_PER_USER:
        raise Conflict(f"An account may hold at most {MAX_FEEDS_PER_USER} feeds; revoke one first")
    secret = secrets.token_urlsafe(32)
    feed = FeedToken(user_id=user.id, name=name, busy_only=busy_only, token_hash=_hash(secret))
    session.add(feed)
    await session.flush()
    details = {"feed_id": feed.id, "name": name, "busy_only": busy_only}
    await record_own(session, user, action="feed_created", ip=ip, details=details)
    return _read(feed), secret


async def list_feeds(session: AsyncSession, *, user_id: int) -> list[dict[str, Any]]:
    """The user's feeds, oldest first, without their secrets."""
    rows = await session.execute(
        select(FeedToken.id, FeedToken.name, FeedToken.busy_only, FeedToken.created_at)
        .where(FeedToken.user_id == user_id)
        .order_by(FeedToken.id)
    )
    return [_read(row) for row in rows]


async def revoke_feed(
    session: AsyncSession, *, user: CurrentUser, feed_id: int, ip: str | None
) -> None:
    """Delete one of the caller's feeds; 404 when the caller has no feed with that id (a
    stranger's feed included: its existence does not leak)."""
    deleted = await session.execute(
        delete(FeedToken)
        .where(FeedToken.id == feed_id, FeedToken.user_id == user.id)
        .returning(FeedToken.name)
    )
    name = deleted.scalar_one_or_none()
    if name is None:
        raise NotFound("No such feed")
    await record_own(
        session, user, action="feed_revoked", ip=ip, details={"feed_id": feed_id, "name": name}
    )


async def delete_feeds(session: AsyncSession, *, user_id: int) -> None:
    """Delete every feed of an account (its deletion)."""
    await session.execute(delete(FeedToken).where(FeedToken.user_id == user_id))


async def open_feed(reads: Reads, secret: str) -> Feed:
    """The live feed this secret opens; 404 otherwise (unknown, revoked, malformed, or its
    account deleted), the same answer for each, so a guess learns nothing."""
    if not _SECRET.fullmatch(secret):
        raise NotFound("No such feed")
    digest = _hash(secret)
    rows = await reads.all(_LOOKUP, {"token_hash": digest})
    if not rows or not hmac.compare_digest(rows[0].token_hash, digest):
        raise NotFound("No such feed")
    row = rows[0]
    return Feed(id=row.id, user_id=row.user_id, name=row.name, busy_only=row.busy_only)
