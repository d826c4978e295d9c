"""Sharing use cases: grant, change and revoke roles, with audit, feed and notifications."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calendo.audit import service as audit
from calendo.auth import service as auth
from calendo.auth.caller import CurrentUser
from calendo.core.deps import Services
from calendo.core.errors import NotFound, ValidationFailed
from calendo.events import access
from calendo.events.presenters import permission_body
from calendo.events.state import EventFields
from calendo.notifications import service as notifications
from calendo.sharing.models import Permission
from calendo.sharing.policy import Role
from calendo.sharing.schemas import ShareTarget
from calendo.sync import feed


class UserNotFound(NotFound):
    slug = "user-not-found"
    title = "User not found"


class PermissionNotFound(NotFound):
    slug = "permission-not-found"
    title = "Permission not found"


async def _resolve_targets(
    session: AsyncSession, targets: Sequence[ShareTarget]
) -> list[tuple[int, str, str]]:
    """(user_id, username, role) per user; 404 naming the first unknown user.

    A user named twice (by id and by username, say) gets the last role given.
    """
    resolved: dict[int, tuple[int, str, str]] = {}
    for index, target in enumerate(targets):
        if target.user_id is not None:
            user = (await auth.get_users(session, {target.user_id})).get(target.user_id)
            name = f"user_id {target.user_id}"
        else:
            user = await auth.get_user_by_username(session, target.username or "")
            name = f"username '{target.username}'"
        if user is None:
            raise UserNotFound(f"No user with {name}", extra={"index": index})
        resolved.pop(user.id, None)
        resolved[user.id] = (user.id, user.username, target.role)
    return list(resolved.values())


async def list_permissions(session: AsyncSession, *, event_id: int) -> list[dict[str, Any]]:
    """The permission list of an event, owner first."""
    rows = await access.permissions_of(session, [event_id])
    return [permission_body(p, name) for p, name in rows[event_id]]


async def share(
    session: AsyncSession,
    *,
    actor: CurrentUser,
    services: Services,
    ip: str | None,
    event_id: int,
    targets: Sequence[ShareTarget],
) -> list[dict[str, Any]]:
    """Grant roles (owner only); sharing with an existing collaborator changes the role."""
    found = await access.lock_event(session, user_id=actor.id, event_id=event_id, minimum="owner")
    event = found.event
    current = dict(found.audience)
    for user_id, _username, role in await _resolve_targets(session, targets):
        if user_id == event.owner_id:
            raise ValidationFailed(
                "The owner already has every right; share with someone else",
                loc=("body", "users"),
            )
        previous = current.get(user_id)
        if previous == role:
            continue
        if previous is None:
            session.add(
                Permission(event_id=event_id, user_id=user_id, role=role, granted_by=actor.id)
            )
            await feed.record(session, user_ids=[user_id], event_id=event_id, change="upsert")
            await _notify_one(session, services, actor, event, user_id, "event_shared")
            action = "shared"
        else:
            await _change_role(session, services, actor, event, user_id, role)
            action = "permission_changed"
        current[user_id] = role
        await audit.record(
            session,
            action=action,
            actor_id=actor.id,
            subject_user_id=event.owner_id,
            event_id=event_id,
            ip=ip,
            details={"user_id": user_id, "role": role, "previous_role": previous},
        )
    await session.flush()
    return await list_permissions(session, event_id=event_id)


async def _set_role(
    session: AsyncSession, event_id: int, user_id: int, role: str, granted_by: int
) -> Permission:
    permission = (
        await session.scalars(
            select(Permission).where(Permission.event_id == event_id, Permission.user_id == user_id)
        )
    ).one()
    permission.role = role
    permission.granted_by = granted_by
    return permission


async def _change_role(
    session: AsyncSession,
    services: Services,
    actor: CurrentUser,
    event: EventFields,
    user_id: int,
    role: str,
) -> None:
    """Set a collaborator's new role; their sync feed and notifications hear of it."""
    await _set_role(session, event.id, user_id, role, actor.id)
    # my_role is part of the synced event: the collaborator's devices must refetch it.
    await feed.record(session, user_ids=[user_id], event_id=event.id, change="upsert")
    await _notify_one(session, services, actor, event, user_id, "permission_changed")


async def _notify_one(
    session: AsyncSession,
    services: Services,
    actor: CurrentUser,
    event: EventFields,
    user_id: int,
    kind: str,
) -> None:
    await notifications.notify(
        session,
        services.broker,
        recipient_ids=[user_id],
        type=kind,
        event_id=event.id,
        event_title=event.title,
        actor_id=actor.id,
        actor_username=actor.username,
        version=event.version,
    )


async def update_permission(
    session: AsyncSession,
    *,
    actor: CurrentUser,
    services: Services,
    ip: str | None,
    event_id: int,
    user_id: int,
    role: str,
) -> dict[str, Any]:
    """Change a collaborator's role (owner only); the owner's own role cannot change."""
    found = await access.lock_event(session, user_id=actor.id, event_id=event_id, minimum="owner")
    if user_id == found.event.owner_id:
        raise ValidationFailed("The owner's permission cannot be changed", loc=("path", "user_id"))
    current = dict(found.audience)
    if user_id not in current:
        raise PermissionNotFound(f"User {user_id} has no permission on event {event_id}")
    if current[user_id] != role:
        await _change_role(session, services, actor, found.event, user_id, role)
        await audit.record(
            session,
            action="permission_changed",
            actor_id=actor.id,
            subject_user_id=found.event.owner_id,
            event_id=event_id,
            ip=ip,
            details={"user_id": user_id, "role": role, "previous_role": current[user_id]},
        )
    await session.flush()
    rows = await list_permissions(session, event_id=event_id)
    return next(p for p in rows if p["user_id"] == user_id)


async def revoke(
    session: AsyncSession,
    *,
    actor: CurrentUser,
    services: Services,
    ip: str | None,
    event_id: int,
    user_id: int,
) -> None:
    """Remove a collaborator (owner), or leave an event (the collaborator themself)."""
    minimum: Role = "viewer" if user_id == actor.id else "owner"
    found = await access.lock_event(session, user_id=actor.id, event_id=event_id, minimum=minimum)
    event = found.event
    if user_id == event.owner_id:
        raise ValidationFailed(
            "The owner cannot be removed from their event", loc=("path", "user_id")
        )
    permission = (
        await session.scalars(
            select(Permission).where(Permission.event_id == event_id, Permission.user_id == user_id)
        )
    ).first()
    if permission is None:
        raise PermissionNotFound(f"User {user_id} has no permission on event {event_id}")
    role = permission.role
    await session.delete(permission)
    await feed.record(session, user_ids=[user_id], event_id=event_id, change="delete")
    recipient = event.owner_id if user_id == actor.id else user_id
    await _notify_one(session, services, actor, event, recipient, "permission_revoked")
    await audit.record(
        session,
        action="unshared",
        actor_id=actor.id,
        subject_user_id=event.owner_id,
        event_id=event_id,
        ip=ip,
        details={"user_id": user_id, "previous_role": role},
    )
    await session.flush()
