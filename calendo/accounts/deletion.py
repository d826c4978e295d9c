"""Deleting an account, through the event and sharing use cases every other delete uses.

Above the events domain, in a package of its own so auth stays below events (only
``api.accounts`` imports it).
What deletion does, and why, is in docs/api-notes.md, "Deleting an account": the owned events
are deleted as ``DELETE /api/events/{id}`` deletes them, the account leaves the events shared
with it as ``DELETE /permissions/{me}`` leaves them, every login ends, and the account row
stays as a tombstone whose username is retired and whose email is released.

Its SQL on other domains' tables lives here, not in ``auth.repository``: the statement every
request's authentication runs (``auth.caller``) must not pull those domains in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth.accounts import check_password, close_account, lock_account, record_own
from calendo.auth.caller import CurrentUser
from calendo.core.deps import Services
from calendo.events import access, sharing
from calendo.events import service as events
from calendo.ical import tokens as feeds
from calendo.notifications.models import Notification
from calendo.sharing.models import Permission
from calendo.sync.models import SyncChange

# The history note of each owned event's "deleted" version: why it went.
OWNER_DELETED_NOTE = "The owner deleted their account"


@dataclass(frozen=True, slots=True)
class Memberships:
    """The live events an account owns and the live events shared with it, by ascending id."""

    owned: list[int]
    shared: list[int]


async def _memberships(session: AsyncSession, user_id: int) -> Memberships:
    query = (
        select(Permission.event_id, Permission.role)
        .where(Permission.user_id == user_id, Permission.event_deleted_at.is_(None))
        .order_by(Permission.event_id)
    )
    live = list(await session.execute(query))
    return Memberships(
        owned=[event_id for event_id, role in live if role == "owner"],
        shared=[event_id for event_id, role in live if role != "owner"],
    )


async def _erase_personal_rows(session: AsyncSession, user_id: int) -> None:
    """Delete what only the account could read: its notifications, its sync feed, its
    calendar subscription feeds (their URLs answer 404 from the commit on) and its remaining
    collaborator roles (on deleted events; its owner rows stay, naming the owner of its
    events): the rows an ON DELETE CASCADE would take if the account row went away."""
    await session.execute(delete(Notification).where(Notification.user_id == user_id))
    await feeds.delete_feeds(session, user_id=user_id)
    await session.execute(delete(SyncChange).where(SyncChange.user_id == user_id))
    await session.execute(
        delete(Permission).where(Permission.user_id == user_id, Permission.role != "owner")
    )


async def delete_account(
    session: AsyncSession,
    *,
    services: Services,
    user: CurrentUser,
    password: str,
    ip: str | None,
) -> None:
    """Delete the caller's account (with its password): see the module docstring."""
    checked = await check_password(
        services.db, services.hasher, user=user, password=password, ip=ip, purpose="deletion"
    )
    held = await _memberships(session, user.id)
    # The lock order of any multi-event write: the calendar (the account row, FOR NO KEY
    # UPDATE, which lock_account then finds held), then the events by ascending id.
    await access.lock_events(session, user_id=user.id, event_ids=held.owned + held.shared)
    account = await lock_account(session, user, checked)
    ctx = events.WriteContext(actor=user, services=services, ip=ip)
    for event_id in held.owned:
        await events.delete_event(session, ctx=ctx, event_id=event_id, note=OWNER_DELETED_NOTE)
    for event_id in held.shared:
        await sharing.revoke(
            session, actor=user, services=services, ip=ip, event_id=event_id, user_id=user.id
        )
    await _erase_personal_rows(session, user.id)
    revoked = await close_account(session, services.db, account)
    await record_own(
        session,
        user,
        action="account_deleted",
        ip=ip,
        details={
            "username": user.username,
            "events_deleted": len(held.owned),
            "shares_left": len(held.shared),
            "revoked_sessions": revoked,
        },
    )
