"""The HTTP layer: every route of ``/api``, one module per domain, assembled here.

Routers sit above every domain (they read the caller from the request through
``auth.dependencies`` and call one use case), so no domain package imports another's
routes and the package graph stays one-way (docs/architecture.md, "Layers")."""

from __future__ import annotations

import re

from fastapi import APIRouter, FastAPI

from calendo.api.audit import router as audit_router
from calendo.api.auth import router as auth_router
from calendo.api.auth import users_router
from calendo.api.events import batch_router
from calendo.api.events import router as events_router
from calendo.api.feeds import router as feeds_router
from calendo.api.history import router as history_router
from calendo.api.imports import router as imports_router
from calendo.api.notifications import router as notifications_router
from calendo.api.occurrences import router as occurrences_router
from calendo.api.sharing import router as sharing_router
from calendo.api.sync import router as sync_router
from calendo.api.transactions import router as transactions_router

# Hot paths first: a request walks this list until a route matches, and each router included
# under another is matched once more per level, so every router sits directly on the app.
ROUTERS: tuple[tuple[APIRouter, str], ...] = (
    (events_router, "/events"),
    (batch_router, "/events"),
    (imports_router, "/events"),
    (occurrences_router, "/events"),
    (sharing_router, "/events"),
    (history_router, "/events"),
    (sync_router, "/sync"),
    (auth_router, "/auth"),
    (users_router, "/users"),
    (notifications_router, "/notifications"),
    (audit_router, "/audit"),
    (transactions_router, "/transactions"),
    (feeds_router, "/feeds"),
)

# The GETs that may answer text/calendar besides JSON and MessagePack (core/formats.py): the
# calendar list and one event; and the feeds, which answer nothing else.
CALENDAR_PATHS = re.compile(r"/api/events(?:/-?[0-9]+)?")
CALENDAR_ONLY_PATHS = re.compile(r"/api/feeds/[^/]+\.ics")

# The order of the groups in the OpenAPI document (and /docs), independent of ROUTERS.
OPENAPI_TAGS = [
    {"name": "auth", "description": "Accounts, login, token refresh and logout."},
    {"name": "users", "description": "Looking people up to share with."},
    {"name": "events", "description": "Events, recurrence, conflicts and batches."},
    {"name": "sharing", "description": "Who can see and edit an event."},
    {"name": "history", "description": "Versions, changelog, diffs, rollback and merge."},
    {"name": "notifications", "description": "Stored notifications and the live feed."},
    {"name": "sync", "description": "Incremental sync."},
    {"name": "audit", "description": "The audit trail."},
    {"name": "transactions", "description": "Several operations, all or nothing."},
    {
        "name": "feeds",
        "description": "iCalendar subscription feeds: secret URLs a calendar program polls.",
    },
    {"name": "operations", "description": "Health and metrics."},
]


def include_api(app: FastAPI) -> None:
    """Mount every domain router under ``/api``; each route declares its own auth dependency."""
    for router, prefix in ROUTERS:
        app.include_router(router, prefix="/api" + prefix)
