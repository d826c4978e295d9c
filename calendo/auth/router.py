"""Auth endpoints: register, login (JSON or OAuth2 form), refresh, logout, me, user search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from calendo.auth import service
from calendo.auth.account_routes import account_router
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
from calendo.core.deps import ClientIP, ServicesDep, SessionDep, UnqueuedSessionDep
from calendo.core.errors import problem_responses
from calendo.core.routing import StrictQueryRoute

router = APIRouter(tags=["auth"], route_class=StrictQueryRoute)
users_router = APIRouter(tags=["users"], route_class=StrictQueryRoute)

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
    responses=problem_responses(409, 422, 429),
)
async def register(
    data: RegisterRequest, session: UnqueuedSessionDep, services: ServicesDep, ip: ClientIP
) -> TokenResponse:
    """Create an account; returns the user and a token pair."""
    return await service.register(
        session, settings=services.settings, hasher=services.hasher, data=data, ip=ip
    )


@router.post(
    "/login",
    response_model=TokenResponse,
    openapi_extra=_LOGIN_BODY,
    responses=problem_responses(401, 415, 422, 429),
)
async def login(
    request: Request, session: UnqueuedSessionDep, services: ServicesDep, ip: ClientIP
) -> TokenResponse:
    """Log in with a username or email and password (JSON, MessagePack or OAuth2 form)."""
    data = await _read_login(request)
    return await service.login(
        session,
        settings=services.settings,
        hasher=services.hasher,
        db=services.db,
        identifier=data.identifier,
        password=data.password,
        ip=ip,
    )


@router.post("/refresh", response_model=TokenResponse, responses=problem_responses(401, 422, 429))
async def refresh(
    data: RefreshRequest, session: UnqueuedSessionDep, services: ServicesDep, ip: ClientIP
) -> TokenResponse:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    return await service.refresh(
        session, settings=services.settings, db=services.db, token=data.refresh_token, ip=ip
    )


@router.post("/logout", status_code=204, responses=problem_responses(401, 422))
async def logout(
    user: CurrentUserDep,
    session: SessionDep,
    services: ServicesDep,
    ip: ClientIP,
    data: LogoutRequest | None = None,
) -> Response:
    """Revoke this login: its access and refresh tokens stop working at once."""
    await service.logout(
        session,
        settings=services.settings,
        user_id=user.id,
        session_id=user.session_id,
        refresh_token=data.refresh_token if data else None,
        ip=ip,
    )
    return Response(status_code=204)


@router.get("/me", response_model=UserRead, responses=problem_responses(401))
async def me(user: CurrentUserDep, session: SessionDep) -> UserRead:
    """The authenticated user."""
    users = await service.get_users(session, {user.id})
    return UserRead.model_validate(users[user.id])


# PATCH and DELETE /me, POST /me/password (auth/account_routes.py).
router.include_router(account_router)


@users_router.get("", response_model=UserSearchResult, responses=problem_responses(401, 422))
async def search_users(
    _user: CurrentUserDep,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=32, description="Username prefix")],
) -> UserSearchResult:
    """Find users by username prefix (at most 20), to share events with."""
    users = await service.search_users(session, prefix=q)
    return UserSearchResult(items=[UserBrief.model_validate(u) for u in users])
