"""Sharing use cases: grant, change and revoke roles.

Each is an access change (``events.change.build_access_change``) applied through the same
pipeline as every event write (``events.repository.apply_changes``): the permission rows,
an audit row, a sync-feed row and a notification per user whose role changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendo.auth import service as auth
from calendo.auth.caller import CurrentUser
from calendo.core.deps import Services
from calendo.core.errors import NotFound, ValidationFailed
from calendo.events import access, repository
from calendo.events.change import Actor, build_access_change
from calendo.events.presenters import permission_body
from calendo.sharing.policy import Role
from calendo.sharing.schemas import ShareTarget


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
    wanted: list[tuple[int, str | None]] = []
    for user_id, _username, role in await _resolve_targets(session, targets):
        if user_id == found.event.owner_id:
            raise ValidationFailed(
                "The owner already has every right; share with someone else",
                loc=("body", "users"),
            )
        wanted.append((user_id, role))
    await _apply(session, services, found, wanted, Actor(actor.id, actor.username, ip=ip))
    return await list_permissions(session, event_id=event_id)


async def _apply(
    session: AsyncSession,
    services: Services,
    found: access.WriteAccess,
    wanted: Sequence[tuple[int, str | None]],
    actor: Actor,
) -> None:
    """Build the access change giving ``wanted`` roles, and apply it (``events.change``)."""
    change = build_access_change(found.event, found.audience, wanted, actor=actor)
    await repository.apply_changes(session, services.broker, [change])


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
    if user_id not in found.audience:
        raise PermissionNotFound(f"User {user_id} has no permission on event {event_id}")
    await _apply(
        session, services, found, [(user_id, role)], Actor(actor.id, actor.username, ip=ip)
    )
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
    if user_id == found.event.owner_id:
        raise ValidationFailed(
            "The owner cannot be removed from their event", loc=("path", "user_id")
        )
    if user_id not in found.audience:
        raise PermissionNotFound(f"User {user_id} has no permission on event {event_id}")
    await _apply(
        session, services, found, [(user_id, None)], Actor(actor.id, actor.username, ip=ip)
    )
