"""Account settings use cases: change the password, the email or the default time zone.

Each one that needs the account's password checks it first, outside any transaction
(``check_password``), so the slow Argon2 work holds no lock, as login does.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit import service as audit
from calendo.auth import repository
from calendo.auth.caller import INVALID_TOKEN, CurrentUser
from calendo.auth.models import User
from calendo.auth.schemas import AccountUpdate, PasswordChange
from calendo.core.db import Database
from calendo.core.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationFailed
from calendo.core.security import PasswordHasher, same_secret
from calendo.core.types import utcnow
from calendo.core.uow import UnitOfWork

log = structlog.get_logger("calendo.auth")

EMAIL_TAKEN = "That email is already registered"


class WrongPassword(PermissionDenied):
    slug = "wrong-password"
    title = "Wrong password"


async def record_own(
    session: AsyncSession,
    user: CurrentUser,
    *,
    action: str,
    ip: str | None,
    details: dict[str, Any],
) -> None:
    """Audit what the caller did to their own account (actor and subject alike)."""
    await audit.record(
        session, action=action, actor_id=user.id, subject_user_id=user.id, ip=ip, details=details
    )


async def check_password(
    db: Database,
    hasher: PasswordHasher,
    *,
    user: CurrentUser,
    password: str,
    ip: str | None,
    purpose: str,
) -> str:
    """The account's stored hash once ``password`` matches it; 403 otherwise.

    A wrong password is a failed credential attempt: it is audited
    (``password_check_failed``) in a transaction of its own, so the 403 keeps the record.
    """
    async with UnitOfWork.read(db) as lookup:
        stored = await repository.password_hash(lookup, user.id)
    valid = await asyncio.to_thread(hasher.verify, password, stored)
    if stored is None or not valid:
        await audit.record_independently(
            db,
            action="password_check_failed",
            actor_id=user.id,
            subject_user_id=user.id,
            ip=ip,
            details={"purpose": purpose},
        )
        raise WrongPassword("The password given for this account is wrong")
    return stored


async def lock_account(session: AsyncSession, user: CurrentUser, checked: str | None) -> User:
    """The caller's account row, locked; 409 if its password changed since ``checked`` (the
    hash a password was verified against), 401 if the account is gone."""
    account = await repository.lock_user(session, user.id)
    if account is None:
        raise NotAuthenticated(INVALID_TOKEN)
    if checked is not None and not same_secret(account.password_hash, checked):
        raise Conflict("The password of this account changed meanwhile; try again")
    return account


async def change_password(
    session: AsyncSession,
    *,
    db: Database,
    hasher: PasswordHasher,
    user: CurrentUser,
    data: PasswordChange,
    ip: str | None,
) -> None:
    """Set a new password and revoke every other login of the account; this one stays."""
    checked = await check_password(
        db, hasher, user=user, password=data.current_password, ip=ip, purpose="password_change"
    )
    # Hash before the first statement of the unit of work: its transaction stays short.
    new_hash = await asyncio.to_thread(hasher.hash, data.new_password)
    account = await lock_account(session, user, checked)
    account.password_hash = new_hash
    revoked = await repository.revoke_sessions(session, user.id, now=utcnow(), keep=user.session_id)
    await record_own(
        session, user, action="password_changed", ip=ip, details={"revoked_sessions": revoked}
    )


async def update_account(
    session: AsyncSession,
    *,
    db: Database,
    hasher: PasswordHasher,
    user: CurrentUser,
    data: AccountUpdate,
    ip: str | None,
) -> User:
    """Change the email (with the password) and the default time zone."""
    checked = None
    if data.current_password is not None:
        checked = await check_password(
            db, hasher, user=user, password=data.current_password, ip=ip, purpose="account_update"
        )
    elif data.email is not None:
        raise ValidationFailed(
            "Changing the email needs the account's current_password",
            loc=("body", "current_password"),
        )
    account = await lock_account(session, user, checked)
    changed: list[str] = []
    email = data.email.lower() if data.email is not None else None
    if email is not None and email != account.email:
        if await repository.email_taken(session, email, other_than=user.id):
            raise Conflict(EMAIL_TAKEN)
        account.email = email
        changed.append("email")
    if data.timezone is not None and data.timezone != account.timezone:
        account.timezone = data.timezone
        changed.append("timezone")
    if not changed:
        return account
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration or change took the email
        raise Conflict(EMAIL_TAKEN) from exc
    await record_own(
        session, user, action="account_updated", ip=ip, details={"changed_fields": changed}
    )
    return account


def tombstone_email(user_id: int) -> str:
    """The unique placeholder a deleted account's email becomes: not an address (no ``@``),
    so no registration, change or login can ever match it."""
    return f"deleted:{user_id}"


async def _release_email(db: Database, user_id: int) -> None:
    """Free a deleted account's email, once the deletion has committed, in a transaction of
    its own: the email is a key column (a unique index), so PostgreSQL's UPDATE of it takes
    ``FOR UPDATE`` on the account row, which a transaction must not hold while it waits for
    the feed lock, as the deletion's event writes do (docs/architecture.md, "Lock order")."""
    try:
        async with UnitOfWork.independent(db) as session:
            await repository.release_email(session, user_id, tombstone_email(user_id))
    except Exception:  # the account is deleted all the same; only its email stays taken
        log.exception("account_email_not_released", user_id=user_id)


async def close_account(session: AsyncSession, db: Database, account: User) -> int:
    """The auth side of deleting an account (``accounts.deletion``): every login revoked, the
    password blanked, the account marked deleted, its email freed after commit. Returns how
    many login sessions were revoked."""
    now = utcnow()
    revoked = await repository.revoke_sessions(session, account.id, now=now)
    account.password_hash = ""  # never an Argon2 hash: nothing verifies against it
    account.deleted_at = now
    UnitOfWork.of(session).after_commit(partial(_release_email, db, account.id))
    return revoked
