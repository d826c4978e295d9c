"""All domain routers under ``/api``."""

from __future__ import annotations

from fastapi import APIRouter

from calendo.audit.router import router as audit_router
from calendo.auth.router import router as auth_router
from calendo.auth.router import users_router
from calendo.events.router import router as events_router
from calendo.history.router import router as history_router
from calendo.notifications.router import router as notifications_router
from calendo.sharing.router import router as sharing_router
from calendo.sync.router import router as sync_router
from calendo.transactions.router import router as transactions_router


def build_api_router() -> APIRouter:
    """Assemble the API; each route declares its own auth dependency."""
    api = APIRouter(prefix="/api")
    api.include_router(auth_router, prefix="/auth")
    api.include_router(users_router, prefix="/users")
    api.include_router(events_router, prefix="/events")
    api.include_router(sharing_router, prefix="/events")
    api.include_router(history_router, prefix="/events")
    api.include_router(notifications_router, prefix="/notifications")
    api.include_router(sync_router, prefix="/sync")
    api.include_router(audit_router, prefix="/audit")
    api.include_router(transactions_router, prefix="/transactions")
    return api
