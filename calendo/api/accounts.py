"""Account endpoints: change the password, the email or the default time zone; delete the
account. Mounted on ``api.auth``'s router (under ``/api/auth``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request, Response

from calendo.accounts import deletion
from calendo.auth import accounts
from calendo.auth.caller import CurrentUser
from calendo.auth.dependencies import CurrentUserDep
from calendo.auth.schemas import AccountDeletion, AccountUpdate, PasswordChange, UserRead
from calendo.core import auth_limits
from calendo.core.deps import ClientIP, IndependentUnitDep, ServicesDep
from calendo.core.errors import problem_responses
from calendo.core.routing import StrictQueryRoute

# Unqueued units of work, as register and login take: the password is checked (and a new one
# hashed) before their transactions begin, so the slow Argon2 work holds no writer's turn.
account_router = APIRouter(route_class=StrictQueryRoute)


@asynccontextmanager
async def _password_attempt(request: Request, user: CurrentUser) -> AsyncIterator[None]:
    """Count the block's password check as a login of the caller's username: 429 before it
    while the limits say so; ``WrongPassword`` out of it is a failed login, anything else
    (a success included) gives the held unit back."""
    async with auth_limits.login_attempt(request, user.username) as attempt:
        try:
            yield
        except accounts.WrongPassword:
            await attempt.failed()
            raise


@account_router.patch(
    "/me",
    response_model=UserRead,
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def update_me(
    request: Request,
    user: CurrentUserDep,
    data: AccountUpdate,
    session: IndependentUnitDep,
    services: ServicesDep,
    ip: ClientIP,
) -> UserRead:
    """Change the account's email or default time zone.

    Only the fields sent change. A new `email` needs `current_password` (422 without it, 403
    `wrong-password` when it is wrong, which is audited as `password_check_failed`); an email
    another account has is 409. `timezone` is an IANA name (`Europe/Berlin`; an unknown one is
    422); it is the zone the account's times are rendered in when a read names none. A change
    is audited as `account_updated` with its `changed_fields`. With `current_password`:

    The password check is a login attempt to the auth limits: 429 with `Retry-After` before
    it while the client IP's failed logins (`CALENDO_RATE_LIMIT_AUTH`) are spent or the
    account's backoff runs; a wrong password counts as a failed login of the username
    (docs/api-notes.md, "Rate limits on the auth routes").
    """
    if data.current_password is None:
        account = await accounts.update_account(
            session, db=services.db, hasher=services.hasher, user=user, data=data, ip=ip
        )
    else:
        async with _password_attempt(request, user):
            account = await accounts.update_account(
                session, db=services.db, hasher=services.hasher, user=user, data=data, ip=ip
            )
    return UserRead.model_validate(account)


@account_router.post(
    "/me/password", status_code=204, responses=problem_responses(401, 403, 409, 422, 429)
)
async def change_password(
    request: Request,
    user: CurrentUserDep,
    data: PasswordChange,
    session: IndependentUnitDep,
    services: ServicesDep,
    ip: ClientIP,
) -> Response:
    """Change the password; every other login of the account ends at once.

    Needs `current_password` (403 `wrong-password` when it is wrong, audited as
    `password_check_failed`); `new_password` follows the registration rule (8 to 256
    characters). The login making the request stays valid, access and refresh token alike;
    the access and refresh tokens of every other login are refused from then on. Audited as
    `password_changed` with the number of `revoked_sessions`.

    The password check is a login attempt to the auth limits: 429 with `Retry-After` before
    it while the client IP's failed logins (`CALENDO_RATE_LIMIT_AUTH`) are spent or the
    account's backoff runs; a wrong password counts as a failed login of the username
    (docs/api-notes.md, "Rate limits on the auth routes").
    """
    async with _password_attempt(request, user):
        await accounts.change_password(
            session, db=services.db, hasher=services.hasher, user=user, data=data, ip=ip
        )
    return Response(status_code=204)


@account_router.delete("/me", status_code=204, responses=problem_responses(401, 403, 409, 422, 429))
async def delete_me(
    request: Request,
    user: CurrentUserDep,
    data: AccountDeletion,
    session: IndependentUnitDep,
    services: ServicesDep,
    ip: ClientIP,
) -> Response:
    """Delete the account (body: `{"password": ...}`; 403 `wrong-password` when it is wrong).

    Every event the account owns is deleted as `DELETE /api/events/{id}` deletes it (a
    `deleted` version noting "The owner deleted their account", collaborators notified with
    `event_deleted`, their sync feeds told); the account leaves every event shared with it as
    `DELETE /permissions/{me}` does (the owner is notified with `permission_revoked`). All its
    logins end at once, and its notifications and sync feed are erased. The history,
    notifications and audit entries that name it keep its id and username: the username stays
    retired (registering it again is 409), while the email is released for a new account.
    Audited as `account_deleted`. See docs/api-notes.md, "Deleting an account".

    The password check is a login attempt to the auth limits: 429 with `Retry-After` before
    it while the client IP's failed logins (`CALENDO_RATE_LIMIT_AUTH`) are spent or the
    account's backoff runs; a wrong password counts as a failed login of the username
    (docs/api-notes.md, "Rate limits on the auth routes").
    """
    async with _password_attempt(request, user):
        await deletion.delete_account(
            session, services=services, user=user, password=data.password, ip=ip
        )
    return Response(status_code=204)
