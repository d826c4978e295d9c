"""Auth endpoints: register, login (JSON or OAuth2 form), refresh, logout, me, user search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from calendo.api.accounts import account_router
from calendo.auth import service
from calendo.auth.dependencies import CurrentUserDep
from calendo.auth.schemas import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    UserBrief,
    UserRead,
    UserSearchResult,
)
from calendo.core import auth_limits
from calendo.core.auth_limits import documented_limits
from calendo.core.deps import (
    ClientIP,
    IndependentUnitDep,
    ReadUnitDep,
    ServicesDep,
    client_ip,
    services_of,
)
from calendo.core.errors import problem_responses
from calendo.core.routing import StrictQueryRoute
from calendo.core.uow import UnitOfWork

router = APIRouter(tags=["auth"], route_class=StrictQueryRoute)
users_router = APIRouter(tags=["users"], route_class=StrictQueryRoute)

# What the RateLimit-* headers of each anonymous auth route describe (core/auth_limits.py).
_FAILURE_BUCKET = (
    "the failed-login budget of the client IP (CALENDO_RATE_LIMIT_AUTH; on a 429 of the "
    "success budget, CALENDO_RATE_LIMIT_AUTH_SUCCESS)"
)
_SUCCESS_BUCKET = (
    "the client IP's budget of registrations and successful logins "
    "(CALENDO_RATE_LIMIT_AUTH_SUCCESS)"
)
_REFRESH_BUCKET = "the client IP's refresh budget (CALENDO_RATE_LIMIT_REFRESH)"

_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/LoginRequest"}},
            "application/msgpack": {"schema": {"$ref": "#/components/schemas/LoginRequest"}},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "username or email"},
                        "password": {"type": "string", "format": "password"},
                        "grant_type": {
                            "type": "string",
                            "enum": ["password"],
                            "description": "optional; any other grant is a 422",
                        },
                    },
                }
            },
        },
    }
}


def login_schemas() -> dict[str, Any]:
    """The component schemas the login body refers to (it is parsed by hand, so FastAPI does
    not register them itself)."""
    schema = LoginRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"LoginRequest": schema}


async def _read_login(request: Request) -> LoginRequest:
    """Parse the JSON body or the OAuth2 password form into one shape."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            grant = form.get("grant_type")
            if grant is not None and grant != "password":
                # RFC 6749 4.3.2: the password grant is the only one this form takes.
                raise RequestValidationError(
                    [
                        {
                            "type": "literal_error",
                            "loc": ("body", "grant_type"),
                            "msg": "Input should be 'password'",
                            "input": grant if isinstance(grant, str) else None,
                            "ctx": {"expected": "'password'"},
                        }
                    ]
                )
            fields = {k: v for k, v in form.items() if k in ("username", "password")}
            return LoginRequest.model_validate(fields)
        return LoginRequest.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
        ) from exc


@router.post(
    "/register",
    status_code=201,
    response_model=TokenResponse,
    responses=documented_limits(problem_responses(409, 422, 429), _SUCCESS_BUCKET, 201, 409, 429),
)
async def register(
    request: Request,
    data: RegisterRequest,
    session: IndependentUnitDep,
    services: ServicesDep,
    ip: ClientIP,
) -> TokenResponse:
    """Create an account; returns the user and a token pair.

    Every registration with a valid body counts against `CALENDO_RATE_LIMIT_AUTH_SUCCESS`
    (30/minute) per client IP, shared with successful logins, whatever its outcome (a 409
    tells whether a name is taken); over it, 429 with `Retry-After`. The `RateLimit-*`
    headers describe that budget.
    """
    await auth_limits.count_registration(request)
    return await service.register(
        session, settings=services.settings, hasher=services.hasher, data=data, ip=ip
    )


@router.post(
    "/login",
    response_model=TokenResponse,
    openapi_extra=_LOGIN_BODY,
    responses=documented_limits(
        problem_responses(401, 415, 422, 429), _FAILURE_BUCKET, 200, 401, 429
    ),
)
async def login(
    request: Request, session: IndependentUnitDep, services: ServicesDep, ip: ClientIP
) -> TokenResponse:
    """Log in with a username or email and password (JSON, MessagePack or OAuth2 form).

    The form's `grant_type` may be left out or be `password`; any other grant is a 422.

    Limits (docs/api-notes.md, "Rate limits on the auth routes"), checked before the password:
    failed logins per client IP (`CALENDO_RATE_LIMIT_AUTH`, 5/minute): once spent, every
    login from that IP is 429, even with the right password, until `Retry-After`. Failures
    also slow the account name, known or not: after `CALENDO_LOGIN_BACKOFF_AFTER` (3)
    failures from one IP, or `CALENDO_LOGIN_BACKOFF_ACCOUNT_AFTER` (10) from all IPs (the IPs
    the account logged in from in the last 30 days are spared that one), each attempt opens a
    wait that doubles from `CALENDO_LOGIN_BACKOFF_BASE_SECONDS` up to
    `CALENDO_LOGIN_BACKOFF_MAX_SECONDS` (60); an attempt during it is 429 with `Retry-After`.
    A success clears the account's failures and counts against
    `CALENDO_RATE_LIMIT_AUTH_SUCCESS` (30/minute per IP, shared with registrations; while it is
    spent, logins from the IP are 429). The `RateLimit-*` headers describe the failed-login
    budget of the client IP, except on a 429 of the success budget, which describes that one.
    """
    data = await _read_login(request)
    async with auth_limits.login_attempt(request, data.identifier) as attempt:
        tokens = await service.login(
            session,
            settings=services.settings,
            hasher=services.hasher,
            db=services.db,
            identifier=data.identifier,
            password=data.password,
            ip=ip,
        )
        await attempt.succeeded(tokens.user.username, tokens.user.email)
    return tokens


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=documented_limits(problem_responses(401, 422, 429), _REFRESH_BUCKET, 200, 401, 429),
)
async def refresh(
    request: Request,
    data: RefreshRequest,
    session: IndependentUnitDep,
    services: ServicesDep,
    ip: ClientIP,
) -> TokenResponse:
    """Exchange a refresh token for a new pair; the old refresh token stops working.

    Every refresh with a valid body counts against `CALENDO_RATE_LIMIT_REFRESH` (60/minute)
    per client IP, a budget of its own; over it, 429 with `Retry-After`. The `RateLimit-*`
    headers describe that budget.
    """
    await auth_limits.count_refresh(request)
    return await service.refresh(
        session, settings=services.settings, db=services.db, token=data.refresh_token, ip=ip
    )


@router.post("/logout", status_code=204, responses=problem_responses(401, 422))
async def logout(
    user: CurrentUserDep,
    request: Request,
    data: LogoutRequest | None = None,
) -> Response:
    """Revoke this login: its access and refresh tokens stop working at once."""
    services = services_of(request)
    async with UnitOfWork.write(services.db) as unit:
        await service.logout(
            unit,
            settings=services.settings,
            user_id=user.id,
            session_id=user.session_id,
            refresh_token=data.refresh_token if data else None,
            ip=client_ip(request),
        )
    return Response(status_code=204)


@router.get("/me", response_model=UserRead, responses=problem_responses(401))
async def me(user: CurrentUserDep, session: ReadUnitDep) -> UserRead:
    """The authenticated user."""
    users = await service.get_users(session, {user.id})
    return UserRead.model_validate(users[user.id])


# PATCH and DELETE /me, POST /me/password (api/accounts.py).
router.include_router(account_router)


@users_router.get("", response_model=UserSearchResult, responses=problem_responses(401, 422))
async def search_users(
    _user: CurrentUserDep,
    session: ReadUnitDep,
    q: Annotated[str, Query(min_length=1, max_length=32, description="Username prefix")],
) -> UserSearchResult:
    """Find users by username prefix (at most 20), to share events with."""
    users = await service.search_users(session, prefix=q)
    return UserSearchResult(items=[UserBrief.model_validate(u) for u in users])
