"""The route table of the app, flattened: every (method, path) it serves under ``/api``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from starlette.routing import WebSocketRoute

from calendo.app import create_app
from tests.conftest import make_settings

WS = "WS"


def _flat_routes(app: FastAPI) -> Iterator[Any]:
    """Every route, through included routers (FastAPI >= 0.16x keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Sorted ``(method, path)`` pairs under ``/api``; WebSocket routes have method ``WS``."""
    found: set[tuple[str, str]] = set()
    for route in _flat_routes(app):
        path = getattr(route, "path", None)
        if not path or not path.startswith("/api"):
            continue
        original = getattr(route, "original_route", route)
        if isinstance(original, WebSocketRoute) or getattr(route, "methods", None) is None:
            found.add((WS, path))
            continue
        found.update((method, path) for method in route.methods if method != "HEAD")
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def offline_app() -> FastAPI:
    """An app built only to read its routes and schema (its lifespan never runs)."""
    return create_app(make_settings("sqlite+aiosqlite:///:memory:", None))
