"""All domain routers under ``/api``."""

from __future__ import annotations

from fastapi import APIRouter

from calendo.auth.router import router as auth_router
from calendo.auth.router import users_router


def build_api_router() -> APIRouter:
    """Assemble the API; each domain router declares its own auth dependency."""
    api = APIRouter(prefix="/api")
    api.include_router(auth_router, prefix="/auth")
    api.include_router(users_router, prefix="/users")
    return api
